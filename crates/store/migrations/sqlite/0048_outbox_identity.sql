-- The address a queued message goes to, fixed when it is written: a reply
-- sent through another of the customer's channels (the composer's picker)
-- moves the conversation to that channel, and a message still waiting on the
-- old one must go to the old address. NULL (rows written before 0048): the
-- conversation's identity. Identities are never deleted (erasure overwrites
-- them), so no foreign key is needed to keep it pointing somewhere.
ALTER TABLE outbox ADD COLUMN identity_id INTEGER;
