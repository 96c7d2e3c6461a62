-- A client's Idempotency-Key on a send (POST /api/v1/notifications, POST
-- /api/v1/conversations/{id}/messages), per account and endpoint. The row is
-- inserted in the transaction that stores the message, so the primary key
-- lets one message through per key however many requests race. `fingerprint`
-- is a hash of the request (a reuse with another request is refused);
-- `response` is the first answer, replayed to every repeat. Kept 24 hours.
-- The row goes with its message (cancelled, erased, expired by retention), so
-- no customer text outlives the message it was copied from.
CREATE TABLE idempotency_keys (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    endpoint TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    message_id BIGINT REFERENCES messages(id) ON DELETE CASCADE,
    response_status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, endpoint, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (account_id, created_at);
