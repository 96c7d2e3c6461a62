-- Self-service flows. `spec` is the flow's checked JSON (core::flow::FlowSpec).
-- A conversation a flow is answering is the bot's (`conversations.bot` = 1):
-- it is not waiting for a person, not routed, not in the unassigned queue.
ALTER TABLE conversations ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;

CREATE TABLE flows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX flows_name ON flows (account_id, name);

-- One running flow per conversation: where the customer is, how many replies
-- in a row it did not understand, and a lookup waiting to be made (its input
-- and the lease of the node making it). The row is deleted when the flow ends.
CREATE TABLE flow_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    flow_id INTEGER NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    misses INTEGER NOT NULL DEFAULT 0,
    after_message_id INTEGER NOT NULL DEFAULT 0,
    lookup_input TEXT,
    lookup_lease_until INTEGER,
    timeout_at INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX flow_sessions_conversation ON flow_sessions (conversation_id);
CREATE INDEX flow_sessions_timeout ON flow_sessions (timeout_at);
