-- Consent is kept per sender scope: an inbox's own number by default
-- ('inbox:<id>'), or a scope several inboxes share (a messaging service's
-- pool). Events in scope 'account' (all earlier ones) apply to every scope.
ALTER TABLE inboxes ADD COLUMN consent_scope TEXT;

-- A double opt-in question is noted in the ledger too ('opt_in_requested'); it
-- changes no state. SQLite cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE consent_events_new (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('opt_in', 'opt_out', 'opt_in_requested')),
    source TEXT NOT NULL,
    evidence TEXT NOT NULL DEFAULT '',
    actor_id INTEGER REFERENCES users(id),
    message_id INTEGER REFERENCES messages(id),
    created_at INTEGER NOT NULL
);
INSERT INTO consent_events_new SELECT id, contact_id, scope, kind, source, evidence, actor_id, message_id, created_at FROM consent_events;
DROP TABLE consent_events;
ALTER TABLE consent_events_new RENAME TO consent_events;
CREATE INDEX consent_events_contact ON consent_events (contact_id, id);
CREATE INDEX consent_events_scope ON consent_events (contact_id, scope, id);
