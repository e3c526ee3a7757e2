-- minikafka SQLite schema, version 4 (PRAGMA user_version = 4): each
-- consumer group's committed offset per topic (issue #16). Migrating adds a
-- table: no existing row is rewritten.

-- A group's position in a topic: the next offset it will read (Kafka's
-- convention). Written in the writer's transactions with the appends, so
-- commits share their syncs. A group exists while it has a row here;
-- deleting a topic deletes its rows in the same transaction, and the sweep
-- deletes the rows of groups whose newest commit is older than the group
-- retention. Reads need no start-up load: the table is queried.
CREATE TABLE group_offsets (
    group_name TEXT    NOT NULL,
    topic_id   INTEGER NOT NULL REFERENCES topics (id),
    -- From 1 to the topic's next offset when it was committed.
    offset     INTEGER NOT NULL CHECK (offset >= 1),
    -- When it was committed, in nanoseconds since the Unix epoch.
    time       INTEGER NOT NULL,
    -- What the application stored with it: '' when nothing.
    metadata   TEXT    NOT NULL,
    PRIMARY KEY (group_name, topic_id)
) STRICT, WITHOUT ROWID;

-- A deleted topic's rows are found without a scan.
CREATE INDEX group_offsets_by_topic ON group_offsets (topic_id);
