-- Automation rules: what an account asks to happen on its own. `spec` is the
-- rule's checked JSON (core::automation::RuleSpec). Built-in rules (the
-- off-hours reply, the holding message) belong to one inbox each and are
-- made from its old settings on first start.
CREATE TABLE automation_rules (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    inbox_id INTEGER REFERENCES inboxes(id) ON DELETE CASCADE,
    builtin TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX automation_rules_account ON automation_rules (account_id, position, id);
CREATE UNIQUE INDEX automation_rules_builtin ON automation_rules (inbox_id, builtin) WHERE builtin IS NOT NULL;

-- "Once" made durable: a rule that may act once per closed period, per wait,
-- per scheduled run or per conversation writes its mark in the same
-- transaction as what it does, so two nodes (or a retry) act once.
CREATE TABLE automation_marks (
    rule_id INTEGER NOT NULL REFERENCES automation_rules(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL,
    mark INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (rule_id, conversation_id, mark)
);
