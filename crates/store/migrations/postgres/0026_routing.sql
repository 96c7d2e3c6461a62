-- Routing: how each team hands out its conversations and how many an agent
-- holds at most; each member's turn; each person's presence and when a tab of
-- theirs was last open; a note on a conversation that has been offered to its
-- returning customer's last agent (so it is said once).
ALTER TABLE teams ADD COLUMN assignment TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE teams ADD COLUMN capacity BIGINT NOT NULL DEFAULT 10;
ALTER TABLE team_members ADD COLUMN last_assigned_at BIGINT;
ALTER TABLE users ADD COLUMN presence TEXT NOT NULL DEFAULT 'offline';
ALTER TABLE users ADD COLUMN presence_at BIGINT;
ALTER TABLE users ADD COLUMN seen_at BIGINT;
ALTER TABLE conversations ADD COLUMN routed_at BIGINT;
