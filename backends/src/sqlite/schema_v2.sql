-- minikafka SQLite schema, version 2 (PRAGMA user_version = 2): each
-- topic's own settings, and its oldest timestamp kept with its bounds so a
-- listing reads no message rows.

-- Retention by age in nanoseconds: NULL follows the server's default, -1
-- keeps messages forever.
ALTER TABLE topics ADD COLUMN retention_nanos INTEGER
    CHECK (retention_nanos IS NULL OR retention_nanos >= -1);
-- The most payload bytes the topic keeps; NULL: no limit.
ALTER TABLE topics ADD COLUMN retention_bytes INTEGER
    CHECK (retention_bytes IS NULL OR retention_bytes > 0);
-- The largest payload the topic accepts; NULL: the server's limit.
ALTER TABLE topics ADD COLUMN max_message_bytes INTEGER
    CHECK (max_message_bytes IS NULL OR max_message_bytes > 0);
-- The timestamp of the message at start_offset; NULL when it holds none.
ALTER TABLE topics ADD COLUMN oldest_timestamp INTEGER;

UPDATE topics SET oldest_timestamp = (
    SELECT m.timestamp FROM messages m
    WHERE m.topic_id = topics.id AND m.offset = topics.start_offset
);
