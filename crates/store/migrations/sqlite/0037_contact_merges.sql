-- Merging two contacts who are one person (F3). The contact merged away keeps
-- its row (its name, zone and attributes), hidden by `merged_into`, so an undo
-- can bring it back exactly; `contact_merges.moved` lists the rows that moved
-- (identities, conversations, notes, consent events) and the survivor's fields
-- before, as JSON.
ALTER TABLE contacts ADD COLUMN merged_into INTEGER;

CREATE TABLE contact_merges (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    survivor_id INTEGER NOT NULL REFERENCES contacts(id),
    merged_id INTEGER NOT NULL REFERENCES contacts(id),
    actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    moved TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    undone_at INTEGER
);
CREATE INDEX contact_merges_survivor ON contact_merges (account_id, survivor_id, id);
CREATE INDEX contact_merges_merged ON contact_merges (account_id, merged_id, id);
