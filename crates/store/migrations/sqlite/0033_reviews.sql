-- Quality review (issue 15, F12). A review is one conversation in the
-- supervisors' queue: why it is there (a set of reasons, each once), the agent
-- it reviews, and once scored the reviewer's scores against the rubric as it
-- was then, their comment and the overall percentage. A conversation has at
-- most one review waiting; once scored, a new reason queues it again.
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    agent_id INTEGER REFERENCES users(id),
    -- Comma-separated `core::review::ReviewReason`s: sample, low_score, escalated, sla_breach.
    reasons TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    reviewer_id INTEGER REFERENCES users(id),
    -- JSON: the rubric scored against, and one score (1-5 or null) per criterion.
    rubric TEXT,
    scores TEXT,
    comment TEXT NOT NULL DEFAULT '',
    overall INTEGER,
    scored_at INTEGER
);
CREATE UNIQUE INDEX reviews_one_waiting ON reviews (conversation_id) WHERE scored_at IS NULL;
CREATE INDEX reviews_queue ON reviews (account_id, scored_at, queued_at);
CREATE INDEX reviews_agent ON reviews (account_id, agent_id, id);

-- The business's rubric and weekly sample size (defaults while absent).
CREATE TABLE review_settings (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
    sample_size INTEGER NOT NULL,
    rubric TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The weeks whose sample was drawn, once per account across nodes.
CREATE TABLE review_samples (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    week TEXT NOT NULL,
    drawn_at INTEGER NOT NULL,
    picked INTEGER NOT NULL,
    PRIMARY KEY (account_id, week)
);

-- The audit trail is append-only: no statement may change or remove an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
-- The audit page's filters: by action, and by person.
CREATE INDEX audit_log_action ON audit_log (account_id, action, id);
CREATE INDEX audit_log_actor ON audit_log (account_id, actor_user_id, id);
