-- Secrets at rest (store::vault). Provider credentials (inbox_secrets) and the
-- server's keys (server_keys) keep their columns: a value is either plain text
-- from before this version or `sealed:v1:…`. The first start with a key seals
-- what is still plain and records here a value sealed with that key, so a later
-- start with another key is refused before anything is read or written.
CREATE TABLE secret_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    probe TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
