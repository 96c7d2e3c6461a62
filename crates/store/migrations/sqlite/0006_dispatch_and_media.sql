-- Each sender's pacing schedule (the generic cell rate algorithm's
-- "theoretical arrival time", ms): when its carrier allowance is next free.
-- A row per sender lets nodes share it; a locked row is one node claiming.
CREATE TABLE sender_pacing (
    inbox_id INTEGER PRIMARY KEY REFERENCES inboxes(id) ON DELETE CASCADE,
    tat INTEGER NOT NULL
);

-- Every id a provider gave a sent message. A long SMPP message goes as
-- several parts, and a receipt names the part.
CREATE TABLE provider_refs (
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (inbox_id, provider_id)
);
CREATE INDEX provider_refs_message ON provider_refs (message_id);

-- Due rows per sender, so one sender's backlog is never scanned for another.
CREATE INDEX outbox_sender_due ON outbox (inbox_id, state, not_before, id);

-- Pictures and files of a message, kept in textdesk's media store. Inbound
-- media is fetched from the provider after the message is stored: until then
-- (or when fetching fails for good) the thread shows a placeholder. An agent's
-- upload has no message until the message that carries it is written.
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    uploaded_by INTEGER REFERENCES users(id),
    position INTEGER NOT NULL,
    source_url TEXT,
    content_type TEXT,
    size_bytes INTEGER,
    stored_name TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'stored', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (message_id, position)
);
CREATE INDEX media_pending ON media (state, next_attempt_at);

-- Delivery reports that arrived before the send they describe was recorded (a
-- provider may call back before its API answer reaches us). Applied when the
-- send is recorded; dropped after a day if none is.
CREATE TABLE early_reports (
    id INTEGER PRIMARY KEY,
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX early_reports_provider ON early_reports (inbox_id, provider_id);

-- Keys this installation keeps for itself (the one that signs media links),
-- shared by every node through the database.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
