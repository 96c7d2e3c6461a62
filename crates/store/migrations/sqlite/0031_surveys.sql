-- Satisfaction polls by text (issue 15, F10): at most one per conversation.
-- `due` waits for its time after the resolve (due_at NULL while the
-- conversation is open again); then `sent`, `answered` (a score), `commented`
-- (the customer said what went wrong after a low score), `expired` (no answer
-- in time) or `suppressed` (`reason`: opted_out, never_wrote, recent_poll,
-- switched_off, or the gate's block code). The agent and team are the
-- conversation's when it was resolved. The event log holds the same as
-- survey_* events; this row is what the sender, the reply reader and the API read.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id) ON DELETE CASCADE,
    -- csat, nps or yes_no.
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    due_at INTEGER,
    score INTEGER,
    comment TEXT,
    agent_id INTEGER REFERENCES users(id),
    team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    answer_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    followup_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    comment_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    sent_at INTEGER,
    answered_at INTEGER,
    commented_at INTEGER,
    -- Until when a reply is read as the answer (or, after the follow-up, as the comment).
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX surveys_conversation ON surveys (conversation_id);
CREATE INDEX surveys_due ON surveys (state, due_at);
CREATE INDEX surveys_waiting ON surveys (contact_id, inbox_id, state);
CREATE INDEX surveys_contact_sent ON surveys (contact_id, sent_at);
CREATE INDEX surveys_answer ON surveys (answer_message_id);
