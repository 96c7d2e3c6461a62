-- An inbox has a provider (channel_kind keeps its key: simulator, twilio,
-- smpp) and, separately, the medium it carries. Every inbox a provider could
-- add so far carries SMS; an inbox stored under a medium's name (whatsapp,
-- telegram…, never creatable but accepted by the old parser) keeps it as its
-- medium, and its provider name stays unknown until such a provider exists.
ALTER TABLE inboxes ADD COLUMN medium TEXT NOT NULL DEFAULT 'sms';
UPDATE inboxes SET medium = channel_kind
 WHERE channel_kind IN ('whatsapp', 'messenger', 'telegram', 'line', 'wechat', 'webchat');
