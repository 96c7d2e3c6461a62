-- Web chat (issue 14): a visitor who leaves a number to continue by text
-- proves it is theirs with a code texted to it before anything moves. A row
-- is one code: the number it went to (attached to no contact until the code
-- comes back), the page the visitor agreed on, how many wrong tries it took,
-- and when it expires. The code itself is not stored: it is derived from
-- `salt` with the server's key (services::webchat), so the database alone
-- cannot give it away. Rows are counted for the hourly limits (per number,
-- per visitor, shared by every node) and deleted a day after they were made.
CREATE TABLE phone_checks (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    from_inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    visitor TEXT NOT NULL,
    sms_inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    phone TEXT NOT NULL,
    page TEXT NOT NULL,
    salt TEXT NOT NULL,
    -- The text as sent, with `{code}` where the code goes.
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'burned')),
    wrong_tries INTEGER NOT NULL DEFAULT 0,
    -- What became of the text: queued, sent, failed or blocked; and why not.
    send_status TEXT NOT NULL DEFAULT 'queued',
    send_error TEXT,
    provider_id TEXT,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX phone_checks_phone ON phone_checks (phone, created_at);
CREATE INDEX phone_checks_visitor ON phone_checks (from_inbox_id, visitor, created_at);

-- The code's text leaves through the one outbox like every other, but it
-- belongs to no message or conversation (there is none for that number yet):
-- an outbox row names either its message or its phone check. SQLite cannot
-- drop a NOT NULL, so the table is rebuilt with its rows and indexes.
CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    message_id INTEGER UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown')),
    not_before INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_by TEXT,
    claimed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'reply',
    live_answer INTEGER NOT NULL DEFAULT 0,
    identity_id INTEGER,
    check_id INTEGER UNIQUE REFERENCES phone_checks(id) ON DELETE CASCADE,
    CHECK ((message_id IS NULL) <> (check_id IS NULL))
);
INSERT INTO outbox_new (id, message_id, inbox_id, state, not_before, attempts, last_error, claimed_by, claimed_at,
                        created_at, updated_at, kind, live_answer, identity_id)
SELECT id, message_id, inbox_id, state, not_before, attempts, last_error, claimed_by, claimed_at,
       created_at, updated_at, kind, live_answer, identity_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, not_before, id);
CREATE INDEX outbox_sender_due ON outbox (inbox_id, state, not_before, id);
