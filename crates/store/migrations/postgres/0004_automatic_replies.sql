-- Automatic replies go once: the off-hours reply once per closed period (named
-- by the opening it promised), the holding message once per wait (named by
-- the wait's start).
ALTER TABLE conversations ADD COLUMN off_hours_replied_for BIGINT;
ALTER TABLE conversations ADD COLUMN acknowledged_wait BIGINT;
