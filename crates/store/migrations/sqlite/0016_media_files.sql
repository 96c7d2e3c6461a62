-- The orphan sweep asks which files in the media store a row still names.
CREATE INDEX media_stored_name ON media (stored_name);
