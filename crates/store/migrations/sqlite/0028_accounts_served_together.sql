-- no-transaction
-- One server serves every account (docs/decisions.md, "Accounts: every one served by one server").
-- E-mails become unique per account: the same person may work for two businesses, and one business
-- must not learn from a refused invitation that an address is a user of another. SQLite cannot drop
-- a column's UNIQUE, so `users` is rebuilt, with foreign keys off for the swap (the documented way:
-- with them on, dropping the old table would cascade into sessions, tokens and team members).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    enter_sends INTEGER,
    presence TEXT NOT NULL DEFAULT 'offline',
    presence_at INTEGER,
    seen_at INTEGER,
    UNIQUE (account_id, email)
);
INSERT INTO users_new (id, account_id, email, name, role, password_hash, active, created_at, enter_sends, presence, presence_at, seen_at)
    SELECT id, account_id, email, name, role, password_hash, active, created_at, enter_sends, presence, presence_at, seen_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
-- Signing in looks an e-mail up across accounts.
CREATE INDEX users_by_email ON users (email);

-- Failed sign-ins count per typed e-mail across the server: the lock must hold whichever account
-- the e-mail belongs to (or none). The counts are minutes-long, so they start again.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    email_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER
);

-- Host names an account is reached at: a request's Host picks the account for signing in and
-- the public pages. Stored lowercased, without a port.
CREATE TABLE account_hosts (
    host TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
);
CREATE INDEX account_hosts_account ON account_hosts (account_id);
COMMIT;
PRAGMA foreign_keys = ON;
