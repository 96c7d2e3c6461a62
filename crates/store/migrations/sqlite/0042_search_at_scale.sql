-- Search at 100k conversations / 1M messages (issue 17). A search keeps the
-- newest matches of each kind, read newest first from an index
-- (crates/store/src/search.rs).

-- Words: the message index again, now also with two- and three-letter
-- prefixes, so a short prefix of a common word ("the", "ap") reads one list
-- instead of merging every word it begins. Accents stay folded.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3');
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

-- Digits anywhere in an address ("5550902" in +14155550902): FTS5's trigram
-- tokenizer answers LIKE '%…%' of three characters or more from its index.
CREATE VIRTUAL TABLE contact_identities_digits USING fts5(address, content='contact_identities', content_rowid='id', tokenize='trigram');
CREATE TRIGGER contact_identities_digits_insert AFTER INSERT ON contact_identities BEGIN
    INSERT INTO contact_identities_digits (rowid, address) VALUES (new.id, new.address);
END;
CREATE TRIGGER contact_identities_digits_delete AFTER DELETE ON contact_identities BEGIN
    INSERT INTO contact_identities_digits (contact_identities_digits, rowid, address) VALUES ('delete', old.id, old.address);
END;
CREATE TRIGGER contact_identities_digits_update AFTER UPDATE OF address ON contact_identities BEGIN
    INSERT INTO contact_identities_digits (contact_identities_digits, rowid, address) VALUES ('delete', old.id, old.address);
    INSERT INTO contact_identities_digits (rowid, address) VALUES (new.id, new.address);
END;
INSERT INTO contact_identities_digits (contact_identities_digits) VALUES ('rebuild');
