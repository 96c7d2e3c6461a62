-- The account's label catalogue. Conversations keep the label's name in
-- conversation_labels.label (the list filters by it); renaming a label renames it
-- there too. Names are unique per account regardless of case.
CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX labels_account_name ON labels (account_id, LOWER(name));

-- Labels typed freely before the catalogue existed were stored lowercased by the
-- API; any written otherwise are folded to lowercase first (a conversation holding
-- two spellings of one keeps one), then every name in use becomes a catalogue entry.
DELETE FROM conversation_labels
WHERE EXISTS (SELECT 1 FROM conversation_labels o
              WHERE o.conversation_id = conversation_labels.conversation_id
                AND LOWER(o.label) = LOWER(conversation_labels.label) AND o.label < conversation_labels.label);
UPDATE conversation_labels SET label = LOWER(label) WHERE label <> LOWER(label);
INSERT INTO labels (account_id, name, color, created_at)
SELECT c.account_id, cl.label, '#4b5563', CAST(strftime('%s', 'now') AS INTEGER) * 1000
FROM conversation_labels cl JOIN conversations c ON c.id = cl.conversation_id
GROUP BY c.account_id, cl.label;
