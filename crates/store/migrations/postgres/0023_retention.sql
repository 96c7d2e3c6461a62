-- An account's retention policy: messages and media of resolved conversations
-- older than `months` are deleted or redacted. `last_run_at` is also the
-- schedule's lease: a node runs the policy only if it moves it forward.
CREATE TABLE retention_policies (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id),
    months BIGINT NOT NULL CHECK (months >= 1),
    action TEXT NOT NULL CHECK (action IN ('delete', 'redact')),
    updated_at BIGINT NOT NULL,
    last_run_at BIGINT
);
CREATE INDEX messages_created ON messages (created_at);
