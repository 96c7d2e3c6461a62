-- A synced template's header (text, or a picture, video or document given
-- when sending) and buttons (quick replies, URLs that may end in a variable),
-- as JSON, so the composer and the API can ask for their values.
ALTER TABLE channel_templates ADD COLUMN parts TEXT NOT NULL DEFAULT '{}';
