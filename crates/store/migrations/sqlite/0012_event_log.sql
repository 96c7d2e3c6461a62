-- One event log (see docs/decisions.md "The event log"): every change anyone
-- else cares about is a row here, written in the change's own transaction. It
-- is both the conversation's timeline (`timeline = 1`) and what live screens,
-- and later automations and webhooks, read in id order. `data` is the typed
-- core::event::DomainEvent as JSON with its version. Kept (no pruning) until the
-- account's retention policy exists. No message text or phone numbers, except
-- the words of a cancelled scheduled message, which the timeline showed before.
CREATE TABLE event_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    message_id INTEGER,
    kind TEXT NOT NULL,
    timeline INTEGER NOT NULL DEFAULT 0,
    actor_id INTEGER,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX event_log_account ON event_log (account_id, id);
CREATE INDEX event_log_timeline ON event_log (conversation_id, id) WHERE timeline = 1;

-- Old timeline rows, in their order, below every id a live client can hold
-- (ids <= 0), so a client resuming with an old Last-Event-ID is not sent them.
INSERT INTO event_log (id, account_id, conversation_id, message_id, kind, timeline, actor_id, data, created_at)
SELECT e.id - (SELECT MAX(id) FROM conversation_events) - 1, c.account_id, e.conversation_id,
       json_extract(e.data, '$.message_id'), e.kind, 1, e.actor_id, json_set(e.data, '$.type', e.kind), e.created_at
FROM conversation_events e JOIN conversations c ON c.id = e.conversation_id;

-- New ids follow the last live id given out, so Last-Event-IDs held by open
-- screens stay meaningful.
DELETE FROM sqlite_sequence WHERE name = 'event_log';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'event_log', COALESCE((SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'live_events'), 0);

DROP TABLE conversation_events;
DROP TABLE live_events;

-- Where each durable consumer of the log is: advanced in the same transaction
-- as the consumer's own effects.
CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
