-- A poll an automation rule asked for ("send the satisfaction poll" on a
-- resolve): the rule's id. It goes even where the inbox does not poll every
-- conversation; NULL for the inbox's own poll after every resolve. No foreign
-- key: a rule deleted after it fired still sent (or arms) its one poll.
ALTER TABLE surveys ADD COLUMN rule_id BIGINT;
