-- Reports (issue 15, F11): rollups kept by the `reports` consumer of the
-- event log, rebuilt from it by `textdesk report rebuild`.
--
-- One row per day (the business's clock) × inbox × team × agent × medium ×
-- label × metric × bucket. `label` is '' for every conversation, or one of
-- the conversation's labels (each count is filed once under '' and once per
-- label). Team and agent 0: none. `bucket` is a duration's histogram bucket,
-- an hour of the week, a score or a kind, by metric (core::report).
CREATE TABLE report_rollups (
    account_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    day TEXT NOT NULL,
    inbox_id INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    medium TEXT NOT NULL,
    metric TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, label, day, inbox_id, team_id, agent_id, medium, metric, bucket)
) WITHOUT ROWID;

-- The same counts by month (YYYY-MM), so a year's report reads twelve months'
-- rows, not 365 days' (days are read only for a period's partial months).
CREATE TABLE report_monthly (
    account_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    month TEXT NOT NULL,
    inbox_id INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    medium TEXT NOT NULL,
    metric TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    count INTEGER NOT NULL,
    total_ms INTEGER NOT NULL,
    PRIMARY KEY (account_id, label, month, inbox_id, team_id, agent_id, medium, metric, bucket)
) WITHOUT ROWID;

-- Each conversation's clocks and dimensions between events (core::report::ConvState as JSON);
-- `breached` when a target was missed in it.
CREATE TABLE report_clocks (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    breached INTEGER NOT NULL DEFAULT 0
);

-- What is counted once per contact (first text, first opt-in, one opt-out logged in several conversations).
CREATE TABLE report_once (
    account_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;

-- The monthly summary, claimed once per account and month across nodes.
CREATE TABLE report_summaries (
    account_id INTEGER NOT NULL,
    month TEXT NOT NULL,
    sent_via TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, month)
);
