-- An automatic answer to the message that just came in (the off-hours reply):
-- a reply in a live exchange, which the dispatcher's second look must not
-- hold until the morning whatever the account's live window.
ALTER TABLE outbox ADD COLUMN live_answer INTEGER NOT NULL DEFAULT 0;
