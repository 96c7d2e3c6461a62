-- Outgoing webhooks (issue 13): an account's subscriptions, and the outbox of
-- deliveries the event-log consumer writes and the sender posts.
CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- A JSON array of event type names.
    events TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    -- `whsec_…`, sealed with the vault (context `webhook_subscriptions:{id}`).
    secret TEXT NOT NULL,
    -- The first failed attempt since the last success: the start of a run of failures.
    failing_since INTEGER,
    -- Set when the subscription was switched off for failing (a notice for admins).
    disabled_at INTEGER,
    disabled_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhook_subscriptions_account ON webhook_subscriptions (account_id, id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    -- The event_log row it carries (none for a test ping).
    event_id INTEGER,
    -- The customer it is about: an erasure deletes their deliveries (payloads hold their words).
    contact_id INTEGER,
    -- `webhook-id`: the same on every attempt, so receivers can drop repeats.
    msg_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Due time; a claim moves it forward by the lease, so one sender holds it at a time.
    next_attempt_at INTEGER NOT NULL,
    -- After this no retry is scheduled: the delivery fails.
    give_up_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status_code INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
CREATE INDEX webhook_deliveries_contact ON webhook_deliveries (contact_id);
