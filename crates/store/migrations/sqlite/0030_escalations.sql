-- Escalations (issue 16): each time a conversation was raised to a supervisor,
-- a video call (and later a call, a call back or email), with the reason, the
-- supervisor it went to and what was sent. The event log holds the same as
-- `escalated` events; this table lists them per conversation and feeds the
-- supervisors' "Escalated" view.
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    -- supervisor, call, callback, video or email.
    kind TEXT NOT NULL,
    reason TEXT,
    actor_id INTEGER REFERENCES users(id),
    supervisor_id INTEGER REFERENCES users(id),
    -- 1 when the agent stayed assigned and the supervisor watches.
    kept_agent INTEGER NOT NULL DEFAULT 0,
    -- A video call's meeting link.
    link TEXT,
    -- The text that carried the link to the customer.
    message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX escalations_conversation ON escalations (conversation_id, id);
CREATE INDEX escalations_supervisor ON escalations (supervisor_id, conversation_id);
