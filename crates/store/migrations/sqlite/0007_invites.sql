-- One-time sign-in links: an admin invites someone (or sends a new link), the
-- person opens /invite/<token> and sets a password. Only the SHA-256 of the
-- token is kept; a link works once, for seven days.
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX invites_user ON invites (user_id, id);
