-- The conversation list: mentions, full-text search, and an index for every
-- view, filter and sort the list offers, so a page is a range scan + LIMIT.

-- A private note that @-mentions a colleague; one row per (note, colleague).
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    UNIQUE (message_id, user_id)
);
CREATE INDEX mentions_user ON mentions (user_id, conversation_id, created_at);

CREATE INDEX conversations_activity ON conversations (account_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_assignee_list ON conversations (account_id, assignee_id, status, last_activity_at DESC, id DESC);
CREATE INDEX conversations_inbox_list ON conversations (account_id, inbox_id, status, last_activity_at DESC, id DESC);
CREATE INDEX conversations_team_list ON conversations (account_id, team_id, status, last_activity_at DESC, id DESC);
CREATE INDEX conversations_priority_list ON conversations (account_id, priority, status, last_activity_at DESC, id DESC);
-- Longest waiting first; conversations nobody waits on sort last (the key the store's waiting sort uses).
CREATE INDEX conversations_waiting ON conversations (account_id, status, (COALESCE(waiting_since, 9007199254740991)), id);
CREATE INDEX conversation_labels_by_label ON conversation_labels (label, conversation_id);

-- Word and prefix search. External-content tables: the text lives once, in
-- messages and contacts; triggers keep the index in step whatever path writes.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE contacts_fts USING fts5(name, content='contacts', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO contacts_fts (rowid, name) VALUES (new.id, new.name);
END;
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
