-- Web chat (issue 14): a visitor who left their number to continue by text.
-- The conversation itself moves to the SMS inbox (its inbox, identity and
-- contact change); this row remembers which web visitor it came from, so
-- their widget still finds it and says where it went, and which consent
-- entry holds the words they agreed to.
CREATE TABLE webchat_handoffs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL UNIQUE REFERENCES conversations(id) ON DELETE CASCADE,
    -- The web chat inbox and the visitor's id there (their webchat address).
    from_inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    visitor TEXT NOT NULL,
    to_inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    consent_id INTEGER REFERENCES consent_events(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX webchat_handoffs_visitor ON webchat_handoffs (from_inbox_id, visitor);
