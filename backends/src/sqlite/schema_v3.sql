-- minikafka SQLite schema, version 3 (PRAGMA user_version = 3): messages
-- with a key and headers, and each topic's producers' latest batches, so a
-- retried produce gets its original offsets after a restart too (issue
-- #15). Migrating adds columns and a table: no existing row is rewritten.

-- The message's key; NULL when it has none (every message stored before).
ALTER TABLE messages ADD COLUMN key BLOB;
-- The message's headers, in order, NULL when it has none. Each header is
-- its name's length (4 bytes, big-endian), its name (UTF-8, not empty),
-- its value's length (4 bytes, big-endian), its value.
ALTER TABLE messages ADD COLUMN headers BLOB;
-- What the message counts for in size_bytes, retention by size and a
-- read's byte limit: payload + key + every header's name and value bytes.
-- NULL when it has no key and no headers: then it is length(payload).
ALTER TABLE messages ADD COLUMN size INTEGER CHECK (size IS NULL OR size >= 0);
-- topics.size_bytes is from now on the sum of these sizes: for every
-- message stored before, that is its payload bytes, as it was counted.

-- The latest batches (at most 5) of each producer that sent a producer id,
-- per topic, written in the transaction that stores the batch: what the
-- store's dedup table is rebuilt from at start-up, replayed in offset
-- order. A sweep deletes the rows of producers idle past the producer
-- expiry, and of those past the topic's producer cap; deleting a topic
-- deletes its rows. Producer ids and sequences are 64-bit unsigned,
-- stored as the signed integer with the same bits.
CREATE TABLE producer_batches (
    topic_id     INTEGER NOT NULL REFERENCES topics (id),
    producer_id  INTEGER NOT NULL,
    sequence     INTEGER NOT NULL,
    -- The batch's offsets.
    first_offset INTEGER NOT NULL,
    last_offset  INTEGER NOT NULL,
    -- When it was stored: its messages' timestamp.
    timestamp    INTEGER NOT NULL,
    PRIMARY KEY (topic_id, first_offset)
) STRICT, WITHOUT ROWID;

-- A producer's rows, newest last: keeping only its latest batches is one
-- seek per append.
CREATE INDEX producer_batches_by_producer
    ON producer_batches (topic_id, producer_id, first_offset);
