-- The first-run checklist on the inbox: shown to admins until every step is
-- done or one of them dismisses it (then this is when).
ALTER TABLE accounts ADD COLUMN setup_dismissed_at BIGINT;
