-- Canned responses: an agent types /shortcut in the composer and gets the body,
-- its {variables} filled in for the conversation. The shortcut is unique per account.
CREATE TABLE canned_responses (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    shortcut TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, shortcut)
);
