-- Consent is kept per sender scope: an inbox's own number by default
-- ('inbox:<id>'), or a scope several inboxes share (a messaging service's
-- pool). Events in scope 'account' (all earlier ones) apply to every scope.
ALTER TABLE inboxes ADD COLUMN consent_scope TEXT;
CREATE INDEX consent_events_scope ON consent_events (contact_id, scope, id);
