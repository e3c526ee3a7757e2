-- minikafka SQLite schema, version 1 (PRAGMA user_version = 1).
--
-- Offsets and timestamps are SQLite INTEGERs (signed 64-bit): offsets up to
-- 2^63 - 1, timestamps in nanoseconds since the Unix epoch up to 2262.

-- One row per topic. The topic's numbering lives here, not in `messages`,
-- so it survives the removal of every message and a restart.
CREATE TABLE topics (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    -- The first offset still readable (moved forward by retention).
    start_offset     INTEGER NOT NULL,
    -- The offset the next message will get.
    next_offset      INTEGER NOT NULL,
    -- The newest timestamp ever stored, so timestamps never go back.
    newest_timestamp INTEGER NOT NULL,
    -- The payload bytes of the messages from start_offset on.
    size_bytes       INTEGER NOT NULL
) STRICT;

-- One row per message, keyed by (topic, offset): a read from any offset is
-- one B-tree seek, and retention deletes a prefix of offsets.
-- Timestamps never decrease along a topic's offsets, which is what lets
-- retention find its cutoff by binary search instead of a scan.
CREATE TABLE messages (
    topic_id  INTEGER NOT NULL REFERENCES topics (id),
    offset    INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    payload   BLOB    NOT NULL,
    PRIMARY KEY (topic_id, offset)
) STRICT, WITHOUT ROWID;
