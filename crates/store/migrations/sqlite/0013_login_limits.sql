-- Who did what, when, from where: account-scoped and general (sign-in lockouts
-- now; erasures and other sensitive acts later). `actor_user_id` is empty for
-- the system or an anonymous visitor; `subject` names what the entry is about.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    at INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    ip TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_recent ON audit_log (account_id, id);

-- Failed sign-ins per typed e-mail (its SHA-256), known or not, so a lockout
-- says nothing about which e-mails have accounts. Shared by every node.
CREATE TABLE login_failures (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    email_hash TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER,
    PRIMARY KEY (account_id, email_hash)
);

-- For the idle timeout: the last time the session was used (minute precision).
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
