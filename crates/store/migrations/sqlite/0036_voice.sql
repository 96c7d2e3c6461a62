-- Voice (issue 16): the agent's own phone (rung first by "call now"), each call
-- placed for a conversation with its latest status, and the call back queue.
ALTER TABLE users ADD COLUMN phone TEXT;

CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    agent_id INTEGER REFERENCES users(id),
    escalation_id INTEGER REFERENCES escalations(id) ON DELETE SET NULL,
    -- The provider's id (Twilio's CallSid), once it took the call.
    provider_id TEXT,
    -- queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled.
    status TEXT NOT NULL,
    duration_secs INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX calls_conversation ON calls (conversation_id, id);

CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- choosing (the customer was offered times), waiting, taken, called, cancelled.
    state TEXT NOT NULL,
    -- When to call; null while the customer is choosing.
    due_at INTEGER,
    -- The times offered to the customer (JSON list of milliseconds).
    offered TEXT NOT NULL DEFAULT '[]',
    -- Null when the customer asked by text.
    requested_by INTEGER REFERENCES users(id),
    taken_by INTEGER REFERENCES users(id),
    taken_at INTEGER,
    call_id INTEGER REFERENCES calls(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX callbacks_queue ON callbacks (account_id, state, due_at);
CREATE INDEX callbacks_conversation ON callbacks (conversation_id, state);
