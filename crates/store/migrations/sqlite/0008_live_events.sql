-- The live events agents' screens follow, kept for a day so a client that lost
-- its connection resumes from the last id it saw (SSE Last-Event-ID). Only ids
-- and kinds: message text and phone numbers stay in their own tables.
CREATE TABLE live_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    conversation_id INTEGER NOT NULL,
    message_id INTEGER,
    inbound INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX live_events_account ON live_events (account_id, id);
CREATE INDEX live_events_created ON live_events (created_at);
