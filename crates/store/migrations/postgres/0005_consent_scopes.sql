-- Consent is kept per sender scope: an inbox's own number by default
-- ('inbox:<id>'), or a scope several inboxes share (a messaging service's
-- pool). Events in scope 'account' (all earlier ones) apply to every scope.
ALTER TABLE inboxes ADD COLUMN consent_scope TEXT;
CREATE INDEX consent_events_scope ON consent_events (contact_id, scope, id);

-- A double opt-in question is noted in the ledger too ('opt_in_requested'); it
-- changes no state.
ALTER TABLE consent_events DROP CONSTRAINT consent_events_kind_check;
ALTER TABLE consent_events ADD CONSTRAINT consent_events_kind_check CHECK (kind IN ('opt_in', 'opt_out', 'opt_in_requested'));
