-- A customer still waiting past a reply target is counted as a missed target
-- by a periodic sweep (issue 15): one mark per conversation and wait (its
-- `conversations.waiting_since`), claimed with the `sla_missed` event in one
-- transaction, so a wait is marked once across nodes and restarts.
CREATE TABLE sla_marks (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    waiting_since INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    marked_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, waiting_since)
) WITHOUT ROWID;

-- The monthly summary is recorded as sent only once the mail server took it:
-- until then the row is a claim (`sent_at` empty) that a failed send gives
-- back. Summaries claimed before this version went (or were given up).
ALTER TABLE report_summaries ADD COLUMN sent_at INTEGER;
UPDATE report_summaries SET sent_at = created_at;
