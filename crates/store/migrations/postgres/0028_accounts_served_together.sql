-- One server serves every account (docs/decisions.md, "Accounts: every one served by one server").
-- E-mails become unique per account: the same person may work for two businesses, and one business
-- must not learn from a refused invitation that an address is a user of another.
ALTER TABLE users DROP CONSTRAINT users_email_key;
ALTER TABLE users ADD CONSTRAINT users_account_email UNIQUE (account_id, email);
-- Signing in looks an e-mail up across accounts.
CREATE INDEX users_by_email ON users (email);

-- Failed sign-ins count per typed e-mail across the server: the lock must hold whichever account
-- the e-mail belongs to (or none). The counts are minutes-long, so they start again.
DROP TABLE login_failures;
CREATE TABLE login_failures (
    email_hash TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Host names an account is reached at: a request's Host picks the account for signing in and
-- the public pages. Stored lowercased, without a port.
CREATE TABLE account_hosts (
    host TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
);
CREATE INDEX account_hosts_account ON account_hosts (account_id);
