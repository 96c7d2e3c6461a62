-- Why a message goes out (reply, notification, consent_confirmation): the gate
-- is asked again when the row is sent, and needs to know.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
