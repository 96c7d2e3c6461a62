-- Notes about a person (not about one conversation): what colleagues should
-- know whichever thread the customer writes in. The author may delete theirs.
CREATE TABLE contact_notes (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id),
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX contact_notes_contact ON contact_notes (contact_id, id);

-- Whether Enter sends a reply: NULL until the agent chooses (then Enter sends
-- on a keyboard and makes a new line on a touch screen), 1 or 0 once chosen.
ALTER TABLE users ADD COLUMN enter_sends INTEGER;
