-- Message templates a provider approved (WhatsApp's), as last synced from the
-- provider, per inbox: the only messages that may go once a channel's reply
-- window has closed. A message sent as a template keeps which one and the
-- values it was filled with (JSON), so a retry sends the same.
CREATE TABLE channel_templates (
    id INTEGER PRIMARY KEY,
    inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    body TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    UNIQUE (inbox_id, name, language)
);
ALTER TABLE messages ADD COLUMN template TEXT;
