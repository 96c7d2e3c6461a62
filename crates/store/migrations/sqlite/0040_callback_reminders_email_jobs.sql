-- Issue 16's gaps: a call back's reminder when it falls due (sent once, by
-- whichever node marks it first), and the emails automations ask for, sent by
-- a worker after the engine's transaction (never inside it).
ALTER TABLE callbacks ADD COLUMN reminded_at INTEGER;
CREATE INDEX callbacks_due ON callbacks (state, due_at);

CREATE TABLE email_jobs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- The rule that asked (null once the rule is deleted).
    rule_id INTEGER REFERENCES automation_rules(id) ON DELETE SET NULL,
    -- transcript or request.
    content TEXT NOT NULL,
    -- queued, sent, failed.
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When it may be tried (again).
    next_at INTEGER NOT NULL,
    -- A node's claim while it talks to the mail server; another takes over after it.
    lease_until INTEGER,
    -- The mail server's words on the last failure (never the message).
    last_error TEXT,
    escalation_id INTEGER REFERENCES escalations(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX email_jobs_due ON email_jobs (state, next_at);
