//! The SQLite writer thread: the only connection that writes. Every append
//! and offset commit queued while it was busy is committed in one
//! transaction, each in its own savepoint so one failing write fails
//! alone. It also owns the producer tables: only it reads or changes them,
//! in the order it stores batches.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::{
    Shared, SqliteOptions, TopicsWanted, headers, settings_from_columns, settings_to_columns,
    sqlite_error, topic_infos,
};
use crate::groups::check_commit;
use crate::producers::REMEMBERED_BATCHES;
use crate::writer_thread::{AppendRequest, CommitRequest, GroupCommit};
use crate::{
    Admission, Creation, Durability, GroupName, OffsetRange, ProducerSequence, ProducerTable,
    RemovalReport, RetentionDefaults, SettingsChange, StoreError, Timestamp, TopicName,
    TopicSettings,
};

/// The producer table of each topic that has producers, by topic id.
pub type Producers = HashMap<i64, ProducerTable>;

/// The writer thread's state.
pub struct Writer {
    connection: Connection,
    shared: Arc<Shared>,
    durability: Durability,
    /// Held for the writer's life: the root's lock.
    _lock: File,
    path: PathBuf,
    /// When the oldest commit not yet checkpointed happened (interval mode).
    unsynced_since: Option<Instant>,
    /// What the database's `producer_batches` say, plus the batches of the
    /// transaction being written.
    producers: Producers,
    /// The most producers a topic's table remembers.
    max_producers: usize,
}

/// A write taken into the group, kept as it came until the group's
/// transaction: SQLite writes nothing before it.
pub enum Write {
    /// A batch to append.
    Append(AppendRequest),
    /// A group's offset to commit.
    Commit(CommitRequest),
}

/// What writing an append came to: its offsets and the topic's next
/// offset, or why it was refused.
type AppendOutcome = Result<(OffsetRange, u64), StoreError>;

/// The writes of one group as they were written, each with its own
/// outcome, to be answered once the transaction is committed.
#[derive(Default)]
struct Written {
    /// Each append with its outcome.
    appends: Vec<(AppendRequest, AppendOutcome)>,
    /// Each commit, or why it was refused.
    commits: Vec<(CommitRequest, Result<(), StoreError>)>,
}

/// Nanoseconds as SQLite's signed integer (saturating: year 2262).
fn nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanos()).unwrap_or(i64::MAX)
}

impl Writer {
    /// A writer on `connection`.
    pub fn new(
        connection: Connection,
        shared: Arc<Shared>,
        options: SqliteOptions,
        producers: Producers,
        lock: File,
        path: PathBuf,
    ) -> Self {
        Self {
            connection,
            shared,
            durability: options.durability,
            _lock: lock,
            path,
            unsynced_since: None,
            producers,
            max_producers: options.max_producers,
        }
    }

    /// Commits every pending write in one transaction, then answers each
    /// and wakes the readers of each topic that grew.
    fn commit_group(&mut self, writes: &mut Vec<Write>) {
        if writes.is_empty() {
            return;
        }
        let mut written = Written::default();
        match self.write_group(writes, &mut written) {
            Ok(()) => {
                for (append, outcome) in written.appends {
                    let answer = outcome.map(|(range, next)| {
                        self.shared.notifier.appended(&append.topic, next);
                        range
                    });
                    let _ = append.reply.send(answer);
                }
                for (commit, outcome) in written.commits {
                    let _ = commit.reply.send(outcome);
                }
                if self.durability != Durability::Always {
                    self.unsynced_since.get_or_insert_with(Instant::now);
                }
            }
            Err(error) => {
                // Rolled back: the tables may hold batches that were not stored.
                self.reload_producers();
                let (code, message) = (error.sqlite_error_code(), error.to_string());
                let failure = || {
                    let error = rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error {
                            code: code.unwrap_or(ErrorCode::Unknown),
                            extended_code: 0,
                        },
                        Some(message.clone()),
                    );
                    sqlite_error(&self.path, "committing to", error)
                };
                for (append, _) in written.appends {
                    let _ = append.reply.send(Err(failure()));
                }
                for (commit, _) in written.commits {
                    let _ = commit.reply.send(Err(failure()));
                }
                for write in writes.drain(..) {
                    match write {
                        Write::Append(append) => {
                            let _ = append.reply.send(Err(failure()));
                        }
                        Write::Commit(commit) => {
                            let _ = commit.reply.send(Err(failure()));
                        }
                    }
                }
            }
        }
    }

    /// Rereads the producer tables from the database, after a failed
    /// commit left in them batches it did not store.
    fn reload_producers(&mut self) {
        match load_producers(&self.connection, self.max_producers) {
            Ok(producers) => self.producers = producers,
            Err(error) => {
                // Remembering a batch that was not stored would answer its
                // retry with offsets holding nothing; forgetting can at
                // worst store a retry twice.
                tracing::error!(%error, "could not reread the producers after a failed commit; forgetting them all");
                self.producers.clear();
            }
        }
    }

    /// Writes each write of `writes` in its own savepoint inside one
    /// transaction, moving it with its outcome into `written`. On an error
    /// that fails the whole transaction, the writes not yet written are
    /// left in `writes` (and those written in `written`) to be answered
    /// with it.
    fn write_group(
        &mut self,
        writes: &mut Vec<Write>,
        written: &mut Written,
    ) -> rusqlite::Result<()> {
        let transaction = self.connection.unchecked_transaction()?;
        // Popped from the end, in the order they came.
        writes.reverse();
        while let Some(write) = writes.pop() {
            match write {
                Write::Append(append) => {
                    let mut producers = ProducersOf {
                        tables: &mut self.producers,
                        max_producers: self.max_producers,
                    };
                    let outcome = in_savepoint(&transaction, &self.path, "appending to", || {
                        insert_batch(&transaction, &append, &mut producers)
                    });
                    match outcome {
                        Ok(outcome) => written.appends.push((append, outcome)),
                        Err(error) => {
                            writes.push(Write::Append(append));
                            return Err(error);
                        }
                    }
                }
                Write::Commit(commit) => {
                    let outcome =
                        in_savepoint(&transaction, &self.path, "committing an offset to", || {
                            insert_commit(&transaction, &commit)
                        });
                    match outcome {
                        Ok(outcome) => written.commits.push((commit, outcome)),
                        Err(error) => {
                            writes.push(Write::Commit(commit));
                            return Err(error);
                        }
                    }
                }
            }
        }
        transaction.commit()
    }

    /// For each topic holding messages: deletes those stored before its
    /// retention's cutoff (its own age, else the default), found by binary
    /// search over offsets (timestamps never decrease along them), then the
    /// oldest until it is within its `retention_bytes`; forgets the
    /// producers idle past the producer expiry, and the rows of those past
    /// the cap; and removes the groups idle past the group retention. One
    /// transaction.
    fn remove_expired(
        &mut self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        let idle_cutoff = defaults.producer_expiry.cutoff(now);
        let group_cutoff = defaults.group_retention.cutoff(now);
        let max_producers = self.max_producers;
        let remove = || -> rusqlite::Result<RemovalReport> {
            let transaction = self.connection.unchecked_transaction()?;
            let topics: Vec<(i64, i64, i64, TopicSettings)> = transaction
                .prepare_cached(
                    "SELECT id, start_offset, next_offset, retention_nanos, retention_bytes
                     FROM topics WHERE start_offset < next_offset",
                )?
                .query_map([], |row| {
                    let settings = settings_from_columns(row.get(3)?, row.get(4)?, None);
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, settings))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut report = RemovalReport::default();
            for (id, start, next, settings) in topics {
                let mut keep_from = start;
                if let Some(cutoff) = settings.retention.unwrap_or(defaults.age).cutoff(now) {
                    keep_from = first_at_or_after(&transaction, id, start, next, cutoff)?;
                }
                if let Some(limit) = settings.retention_bytes {
                    keep_from = keep_from.max(first_within(&transaction, id, keep_from, limit)?);
                }
                if keep_from > start {
                    let (messages, bytes) = remove_before(&transaction, id, start, keep_from)?;
                    report.messages_removed += messages;
                    report.bytes_removed += bytes;
                }
            }
            forget_producers(&transaction, idle_cutoff, max_producers)?;
            if let Some(cutoff) = group_cutoff {
                report.groups_removed = remove_idle_groups(&transaction, cutoff)?;
            }
            transaction.commit()?;
            Ok(report)
        };
        let report =
            remove().map_err(|e| sqlite_error(&self.path, "removing expired messages from", e))?;
        if let Some(cutoff) = idle_cutoff {
            self.producers.retain(|_, table| {
                table.forget_idle(cutoff);
                !table.is_empty()
            });
        }
        Ok(report)
    }

    /// Gives the database's free pages back to the file system (where
    /// `auto_vacuum` is incremental; elsewhere later writes reuse them).
    fn give_back_free_pages(&self) -> rusqlite::Result<()> {
        // Each step of the pragma frees one page: step it to the end.
        let mut vacuum = self
            .connection
            .prepare_cached("PRAGMA incremental_vacuum")?;
        let mut freed = vacuum.query([])?;
        while freed.next()?.is_some() {}
        Ok(())
    }

    /// Checkpoints the WAL into the database, syncing both.
    fn checkpoint(&mut self, mode: &str) -> Result<(), StoreError> {
        self.connection
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
            .map_err(|e| sqlite_error(&self.path, "checkpointing", e))?;
        self.unsynced_since = None;
        Ok(())
    }
}

impl GroupCommit for Writer {
    /// An SQLite append or offset commit is written at commit, all the
    /// group's in one transaction: until then it is kept as it came.
    type Taken = Write;

    fn sync_due(&self) -> Option<Instant> {
        match (self.durability, self.unsynced_since) {
            (Durability::Interval(interval), Some(since)) => Some(since + interval),
            _ => None,
        }
    }

    fn take(&mut self, append: AppendRequest, group: &mut Vec<Write>) {
        group.push(Write::Append(append));
    }

    fn commit(&mut self, group: &mut Vec<Write>) {
        self.commit_group(group);
    }

    fn take_commit(&mut self, commit: CommitRequest, group: &mut Vec<Write>) {
        group.push(Write::Commit(commit));
    }

    fn create_topic(
        &mut self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        let create = || -> rusqlite::Result<Result<Creation, StoreError>> {
            let existing = topic_infos(&self.connection, TopicsWanted::One(topic))?.pop();
            if let Some(existing) = existing {
                return Ok(crate::store::create_existing(
                    topic,
                    &existing.settings,
                    &settings,
                ));
            }
            insert_topic(&self.connection, topic, &settings)?;
            Ok(Ok(Creation::Created))
        };
        create().map_err(|e| sqlite_error(&self.path, "creating a topic in", e))?
    }

    fn update_topic(
        &mut self,
        topic: &TopicName,
        change: &SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        let update = || -> rusqlite::Result<Option<TopicSettings>> {
            let transaction = self.connection.unchecked_transaction()?;
            let Some(existing) = topic_infos(&transaction, TopicsWanted::One(topic))?.pop() else {
                return Ok(None);
            };
            let mut settings = existing.settings;
            settings.apply(change);
            let (retention, retention_bytes, max_message_bytes) = settings_to_columns(&settings);
            transaction
                .prepare_cached("UPDATE topics SET retention_nanos = ?2, retention_bytes = ?3, max_message_bytes = ?4 WHERE name = ?1")?
                .execute(params![topic.as_str(), retention, retention_bytes, max_message_bytes])?;
            transaction.commit()?;
            Ok(Some(settings))
        };
        update()
            .map_err(|e| sqlite_error(&self.path, "updating a topic in", e))?
            .ok_or_else(|| StoreError::TopicNotFound(topic.clone()))
    }

    /// Deletes the topic's row, its messages, its producers and every
    /// group's commit in it in one transaction: a crash leaves it whole or gone. The freed pages are
    /// reused by later writes (and given back to the file system where
    /// `auto_vacuum` is on).
    fn delete_topic(&mut self, topic: &TopicName) -> Result<u64, StoreError> {
        let delete = || -> rusqlite::Result<Option<(i64, u64)>> {
            let transaction = self.connection.unchecked_transaction()?;
            let found: Option<(i64, i64, i64)> = transaction
                .prepare_cached("SELECT id, start_offset, next_offset FROM topics WHERE name = ?1")?
                .query_row([topic.as_str()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some((id, start, next)) = found else {
                return Ok(None);
            };
            for table in ["messages", "producer_batches", "group_offsets"] {
                transaction
                    .prepare_cached(&format!("DELETE FROM {table} WHERE topic_id = ?1"))?
                    .execute([id])?;
            }
            transaction
                .prepare_cached("DELETE FROM topics WHERE id = ?1")?
                .execute([id])?;
            transaction.commit()?;
            Ok(Some((id, (next - start) as u64)))
        };
        let (id, held) = delete()
            .map_err(|e| sqlite_error(&self.path, "deleting a topic from", e))?
            .ok_or_else(|| StoreError::TopicNotFound(topic.clone()))?;
        // A topic created again may get the same id: it starts with none.
        self.producers.remove(&id);
        // The delete is done; giving its pages back is a bonus.
        if let Err(error) = self.give_back_free_pages() {
            tracing::warn!(%error, "could not give a deleted topic's pages back to the file system");
        }
        if self.durability != Durability::Always {
            self.unsynced_since.get_or_insert_with(Instant::now);
        }
        self.shared.notifier.deleted(topic);
        Ok(held)
    }

    /// Deletes the group's rows; the pages they free are reused.
    fn delete_group(&mut self, group: &GroupName) -> Result<u64, StoreError> {
        let deleted = self
            .connection
            .prepare_cached("DELETE FROM group_offsets WHERE group_name = ?1")
            .and_then(|mut delete| delete.execute([group.as_str()]))
            .map_err(|e| sqlite_error(&self.path, "deleting a group from", e))?;
        if deleted == 0 {
            return Err(StoreError::GroupNotFound(group.clone()));
        }
        if self.durability != Durability::Always {
            self.unsynced_since.get_or_insert_with(Instant::now);
        }
        Ok(deleted as u64)
    }

    fn enforce_retention(
        &mut self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.remove_expired(now, defaults)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.checkpoint("FULL")
    }

    /// A checkpoint syncs the WAL.
    fn sync_interval(&mut self) {
        if let Err(error) = self.checkpoint("PASSIVE") {
            tracing::error!(%error, "interval checkpoint failed");
        }
    }

    fn finish(&mut self) {
        if let Err(error) = self.checkpoint("TRUNCATE") {
            tracing::error!(%error, "final checkpoint of the SQLite store failed");
        }
    }
}

/// The last offset an SQLite topic can number: its next offset, one more,
/// must still fit the signed 64-bit column.
const LAST_OFFSET: i64 = i64::MAX - 1;

/// Adds a topic with `settings` and no messages; its offsets start at 1.
fn insert_topic(
    transaction: &Connection,
    topic: &TopicName,
    settings: &TopicSettings,
) -> rusqlite::Result<i64> {
    let (retention, retention_bytes, max_message_bytes) = settings_to_columns(settings);
    transaction
        .prepare_cached(
            "INSERT INTO topics (name, start_offset, next_offset, newest_timestamp, size_bytes, retention_nanos, retention_bytes, max_message_bytes) VALUES (?1, 1, 1, 0, 0, ?2, ?3, ?4)",
        )?
        .execute(params![topic.as_str(), retention, retention_bytes, max_message_bytes])?;
    Ok(transaction.last_insert_rowid())
}

/// The first offset in `start..next` of topic `id` stored at or after
/// `cutoff` (`next` if none), by binary search: timestamps never decrease
/// along offsets. Retention's cutoff and `offset_for_time` both use it.
pub(super) fn first_at_or_after(
    transaction: &Connection,
    id: i64,
    start: i64,
    next: i64,
    cutoff: Timestamp,
) -> rusqlite::Result<i64> {
    let (mut low, mut high) = (start, next);
    let mut timestamp_at = transaction
        .prepare_cached("SELECT timestamp FROM messages WHERE topic_id = ?1 AND offset = ?2")?;
    while low < high {
        let middle = low + (high - low) / 2;
        let timestamp: i64 = timestamp_at.query_row(params![id, middle], |row| row.get(0))?;
        if timestamp < nanos(cutoff) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// A message's size in SQL (see `schema_v3.sql`): what size_bytes and
/// retention by size count.
const MESSAGE_SIZE: &str = "coalesce(size, length(payload))";

/// The first offset from which topic `id`'s messages (those from `from`
/// on) hold at most `limit` bytes. Reads only the sizes, oldest first, and
/// stops as soon as enough are counted.
fn first_within(transaction: &Connection, id: i64, from: i64, limit: u64) -> rusqlite::Result<i64> {
    let held: i64 = transaction
        .prepare_cached(&format!("SELECT coalesce(sum({MESSAGE_SIZE}), 0) FROM messages WHERE topic_id = ?1 AND offset >= ?2"))?
        .query_row(params![id, from], |row| row.get(0))?;
    let mut over = (held as u64).saturating_sub(limit);
    let mut statement = transaction.prepare_cached(&format!(
        "SELECT offset, {MESSAGE_SIZE} FROM messages WHERE topic_id = ?1 AND offset >= ?2 ORDER BY offset",
    ))?;
    let mut rows = statement.query(params![id, from])?;
    let mut keep_from = from;
    while over > 0 {
        let Some(row) = rows.next()? else { break };
        let (offset, len): (i64, i64) = (row.get(0)?, row.get(1)?);
        over = over.saturating_sub(len as u64);
        keep_from = offset + 1;
    }
    Ok(keep_from)
}

/// Deletes topic `id`'s messages in `start..keep_from` and moves its start
/// (and oldest timestamp) there; the messages and bytes removed.
fn remove_before(
    transaction: &Connection,
    id: i64,
    start: i64,
    keep_from: i64,
) -> rusqlite::Result<(u64, u64)> {
    let bytes: i64 = transaction
        .prepare_cached(&format!("SELECT coalesce(sum({MESSAGE_SIZE}), 0) FROM messages WHERE topic_id = ?1 AND offset < ?2"))?
        .query_row(params![id, keep_from], |row| row.get(0))?;
    transaction
        .prepare_cached("DELETE FROM messages WHERE topic_id = ?1 AND offset < ?2")?
        .execute(params![id, keep_from])?;
    transaction
        .prepare_cached(
            "UPDATE topics SET start_offset = ?2, size_bytes = size_bytes - ?3,
                oldest_timestamp = (SELECT timestamp FROM messages WHERE topic_id = ?1 AND offset = ?2)
             WHERE id = ?1",
        )?
        .execute(params![id, keep_from, bytes])?;
    Ok(((keep_from - start) as u64, bytes as u64))
}

/// Runs `write` in a savepoint: what it wrote is rolled back if it fails,
/// refused (its store error) or by SQLite (named as `doing` the database at
/// `path`), so a failed write leaves nothing and fails alone. The outer
/// error is SQLite's failing the savepoint itself, which fails the
/// transaction.
fn in_savepoint<T>(
    transaction: &Connection,
    path: &Path,
    doing: &str,
    write: impl FnOnce() -> rusqlite::Result<Result<T, StoreError>>,
) -> rusqlite::Result<Result<T, StoreError>> {
    transaction.execute_batch("SAVEPOINT write")?;
    let outcome = write()
        .map_err(|e| sqlite_error(path, doing, e))
        .and_then(|outcome| outcome);
    if outcome.is_err() {
        transaction.execute_batch("ROLLBACK TO write")?;
    }
    transaction.execute_batch("RELEASE write")?;
    Ok(outcome)
}

/// Records a group's commit, replacing its earlier one in the topic, after
/// checking that the topic exists ([`StoreError::TopicNotFound`]) and the
/// offset is within 1 to its next offset as of the appends before it in
/// the transaction ([`StoreError::CommitOutOfRange`]).
fn insert_commit(
    transaction: &Connection,
    request: &CommitRequest,
) -> rusqlite::Result<Result<(), StoreError>> {
    let CommitRequest {
        group,
        topic,
        commit,
        ..
    } = request;
    let found: Option<(i64, i64)> = transaction
        .prepare_cached("SELECT id, next_offset FROM topics WHERE name = ?1")?
        .query_row([topic.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((id, next)) = found else {
        return Ok(Err(StoreError::TopicNotFound(topic.clone())));
    };
    if let Err(error) = check_commit(group, topic, commit.offset, next as u64) {
        return Ok(Err(error));
    }
    transaction
        .prepare_cached(
            "INSERT INTO group_offsets (group_name, topic_id, offset, time, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (group_name, topic_id) DO UPDATE
             SET offset = excluded.offset, time = excluded.time, metadata = excluded.metadata",
        )?
        .execute(params![
            group.as_str(),
            id,
            commit.offset as i64,
            nanos(commit.time),
            commit.metadata
        ])?;
    Ok(Ok(()))
}

/// Deletes the rows of every group whose newest commit, in any topic, is
/// older than `cutoff`; how many groups that was.
fn remove_idle_groups(transaction: &Connection, cutoff: Timestamp) -> rusqlite::Result<u64> {
    let idle = "SELECT group_name FROM group_offsets GROUP BY group_name HAVING max(time) < ?1";
    let groups: i64 = transaction
        .prepare_cached(&format!("SELECT count(*) FROM ({idle})"))?
        .query_row([nanos(cutoff)], |row| row.get(0))?;
    if groups > 0 {
        transaction
            .prepare_cached(&format!(
                "DELETE FROM group_offsets WHERE group_name IN ({idle})"
            ))?
            .execute([nanos(cutoff)])?;
    }
    Ok(groups as u64)
}

/// The producer tables, for [`insert_batch`].
struct ProducersOf<'a> {
    tables: &'a mut Producers,
    max_producers: usize,
}

/// Rebuilds every topic's producer table from `producer_batches`,
/// replaying each topic's rows in the order their batches were stored.
pub fn load_producers(
    connection: &Connection,
    max_producers: usize,
) -> rusqlite::Result<Producers> {
    let mut producers = Producers::new();
    let mut statement = connection.prepare(
        "SELECT topic_id, producer_id, sequence, first_offset, last_offset, timestamp
         FROM producer_batches ORDER BY topic_id, first_offset",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let producer = ProducerSequence {
            producer_id: row.get::<_, i64>(1)? as u64,
            sequence: row.get::<_, i64>(2)? as u64,
        };
        let offsets = OffsetRange {
            first: row.get::<_, i64>(3)? as u64,
            last: row.get::<_, i64>(4)? as u64,
        };
        producers
            .entry(row.get(0)?)
            .or_insert_with(|| ProducerTable::new(max_producers))
            .record(
                producer,
                offsets,
                Timestamp::from_nanos(row.get::<_, i64>(5)? as u64),
            );
    }
    Ok(producers)
}

/// Writes producer `producer`'s batch to `producer_batches`, keeping only
/// its latest [`REMEMBERED_BATCHES`] there.
fn remember_batch(
    transaction: &Connection,
    id: i64,
    producer: ProducerSequence,
    offsets: OffsetRange,
    timestamp: i64,
) -> rusqlite::Result<()> {
    let producer_id = producer.producer_id as i64;
    transaction
        .prepare_cached(
            "INSERT INTO producer_batches (topic_id, producer_id, sequence, first_offset, last_offset, timestamp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            id,
            producer_id,
            producer.sequence as i64,
            offsets.first as i64,
            offsets.last as i64,
            timestamp
        ])?;
    transaction
        .prepare_cached(
            "DELETE FROM producer_batches WHERE topic_id = ?1 AND producer_id = ?2 AND first_offset < (
                SELECT first_offset FROM producer_batches WHERE topic_id = ?1 AND producer_id = ?2
                ORDER BY first_offset DESC LIMIT 1 OFFSET ?3)",
        )?
        .execute(params![id, producer_id, REMEMBERED_BATCHES as i64 - 1])?;
    Ok(())
}

/// Deletes from `producer_batches` the rows of producers whose latest
/// batch was stored before `idle_cutoff`, and in each topic those of the
/// least recently active past `max_producers`: what the tables forget, so
/// a restart does not bring them back.
fn forget_producers(
    transaction: &Connection,
    idle_cutoff: Option<Timestamp>,
    max_producers: usize,
) -> rusqlite::Result<()> {
    if let Some(cutoff) = idle_cutoff {
        transaction
            .prepare_cached(
                "DELETE FROM producer_batches WHERE (topic_id, producer_id) IN (
                    SELECT topic_id, producer_id FROM producer_batches
                    GROUP BY topic_id, producer_id HAVING max(timestamp) < ?1)",
            )?
            .execute([nanos(cutoff)])?;
    }
    transaction
        .prepare_cached(
            "DELETE FROM producer_batches WHERE (topic_id, producer_id) IN (
                SELECT topic_id, producer_id FROM (
                    SELECT topic_id, producer_id, row_number() OVER (
                        PARTITION BY topic_id ORDER BY max(timestamp) DESC) AS recency
                    FROM producer_batches GROUP BY topic_id, producer_id)
                WHERE recency > ?1)",
        )?
        .execute([i64::try_from(max_producers).unwrap_or(i64::MAX)])?;
    Ok(())
}

/// Inserts one batch, checking first, in this order: the payloads against
/// the topic's own limit ([`StoreError::MessageTooLarge`]), that the topic
/// exists or may be created ([`StoreError::TopicNotFound`]), the producer's
/// sequence (a batch stored already is answered with its offsets and not
/// stored again; [`StoreError::SequenceOutOfOrder`]), the
/// condition ([`StoreError::NextOffsetMismatch`]; a missing topic's next
/// offset is 1, and it is created only once that passes), and that its
/// offsets fit ([`StoreError::OffsetsExhausted`] past [`LAST_OFFSET`]).
/// Then numbers the messages from the topic's next offset, moves the topic
/// on, and records a producer's batch in `producer_batches` and its table.
/// Returns the batch's offsets and the topic's next offset, or the store
/// error that refuses it (having written nothing).
#[allow(clippy::type_complexity)]
fn insert_batch(
    transaction: &Connection,
    append: &AppendRequest,
    producers: &mut ProducersOf<'_>,
) -> rusqlite::Result<Result<(OffsetRange, u64), StoreError>> {
    let (topic, batch) = (&append.topic, &append.batch);
    let records = &batch.records;
    let existing: Option<(i64, i64, i64, bool, Option<i64>)> = transaction
        .prepare_cached(
            "SELECT id, next_offset, newest_timestamp, start_offset = next_offset, max_message_bytes
             FROM topics WHERE name = ?1",
        )?
        .query_row([topic.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })
        .optional()?;
    let (id, first, newest, was_empty) = match existing {
        Some((id, first, newest, was_empty, max_message_bytes)) => {
            let own = TopicSettings {
                max_message_bytes: max_message_bytes.map(|b| b as u64),
                ..TopicSettings::default()
            };
            if let Err(error) = own.check_sizes(records) {
                return Ok(Err(error));
            }
            (Some(id), first, newest, was_empty)
        }
        None if batch.create_topic => (None, 1, 0, true),
        None => return Ok(Err(StoreError::TopicNotFound(topic.clone()))),
    };
    if let (Some(producer), Some(table)) =
        (batch.producer, id.and_then(|id| producers.tables.get(&id)))
    {
        match table.admit(topic, producer) {
            Ok(Admission::Append) => {}
            Ok(Admission::Duplicate(offsets)) => return Ok(Ok((offsets, first as u64))),
            Err(error) => return Ok(Err(error)),
        }
    }
    if let Err(mismatch) = batch.check_next_offset(topic, first as u64) {
        return Ok(Err(mismatch));
    }
    let fits = i64::try_from(records.len())
        .ok()
        .and_then(|count| (first - 1).checked_add(count))
        .is_some_and(|last| last <= LAST_OFFSET);
    if !fits {
        return Ok(Err(StoreError::OffsetsExhausted {
            topic: topic.clone(),
            last_offset: LAST_OFFSET as u64,
        }));
    }
    let id = match id {
        Some(id) => id,
        None => insert_topic(transaction, topic, &TopicSettings::default())?,
    };
    let timestamp = nanos(append.now).max(newest);
    let mut insert = transaction.prepare_cached(
        "INSERT INTO messages (topic_id, offset, timestamp, payload, key, headers, size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut bytes = 0i64;
    // Not `(first..).zip(..)`: that steps past the last offset once more
    // than it yields, and overflows when the batch ends at i64::MAX.
    for (i, record) in records.iter().enumerate() {
        let plain = record.key.is_empty() && record.headers.is_empty();
        let size = record.size() as i64;
        bytes += size;
        insert.execute(params![
            id,
            first + i as i64,
            timestamp,
            &record.payload[..],
            (!record.key.is_empty()).then_some(&record.key[..]),
            headers::encode(&record.headers),
            (!plain).then_some(size),
        ])?;
    }
    let next = first + records.len() as i64;
    transaction
        .prepare_cached("UPDATE topics SET next_offset = ?2, newest_timestamp = ?3, size_bytes = size_bytes + ?4, oldest_timestamp = CASE WHEN ?5 THEN ?3 ELSE oldest_timestamp END WHERE id = ?1")?
        .execute(params![id, next, timestamp, bytes, was_empty])?;
    let offsets = OffsetRange {
        first: first as u64,
        last: next as u64 - 1,
    };
    if let Some(producer) = batch.producer {
        remember_batch(transaction, id, producer, offsets, timestamp)?;
        let max_producers = producers.max_producers;
        producers
            .tables
            .entry(id)
            .or_insert_with(|| ProducerTable::new(max_producers))
            .record(producer, offsets, Timestamp::from_nanos(timestamp as u64));
    }
    Ok(Ok((offsets, next as u64)))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use tokio::sync::{Semaphore, oneshot};

    use super::*;
    use crate::sqlite::{DATABASE_FILE, open_for_writing};
    use crate::test_support::{t, ts};
    use crate::{AppendNotifier, Batch};

    fn writer_at(root: &std::path::Path) -> Writer {
        let path = root.join(DATABASE_FILE);
        let connection = open_for_writing(&path, Durability::Always).expect("open");
        let producers = load_producers(&connection, 10).expect("load");
        let shared = Arc::new(Shared {
            path: path.clone(),
            readers: Mutex::new(Vec::new()),
            permits: Semaphore::new(1),
            notifier: AppendNotifier::new(),
        });
        let lock = crate::lock::lock_root(root).expect("lock");
        let options = SqliteOptions {
            max_producers: 10,
            ..SqliteOptions::default()
        };
        Writer::new(connection, shared, options, producers, lock, path)
    }

    type Answer = oneshot::Receiver<Result<OffsetRange, StoreError>>;

    fn from_producer(sequence: u64, payloads: &[&'static str]) -> (AppendRequest, Answer) {
        let (reply, answer) = oneshot::channel();
        let batch = Batch {
            producer: Some(ProducerSequence {
                producer_id: 7,
                sequence,
            }),
            ..Batch::new(
                payloads
                    .iter()
                    .map(|p| Bytes::from_static(p.as_bytes()))
                    .collect(),
            )
        };
        let request = AppendRequest {
            topic: t("t"),
            batch,
            now: ts(1),
            reply,
        };
        (request, answer)
    }

    fn stored_messages(writer: &Writer) -> i64 {
        writer
            .connection
            .query_row("SELECT count(*) FROM messages", [], |row| row.get(0))
            .expect("count")
    }

    /// A retry queued in the same group as its original is its duplicate:
    /// stored once, and both answered with the same offsets only once the
    /// group is committed.
    #[test]
    fn a_retry_in_its_originals_group_is_answered_with_it_after_the_commit() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut writer = writer_at(dir.path());
        let (original, mut original_answer) = from_producer(0, &["a", "b"]);
        let (retry, mut retry_answer) = from_producer(0, &["a", "b"]);
        let (next, mut next_answer) = from_producer(1, &["c"]);
        let mut group = Vec::new();
        for request in [original, retry, next] {
            writer.take(request, &mut group);
        }
        assert!(original_answer.try_recv().is_err() && retry_answer.try_recv().is_err());
        assert_eq!(
            stored_messages(&writer),
            0,
            "nothing written before the commit"
        );
        writer.commit(&mut group);
        let answer = |a: &mut Answer| a.try_recv().expect("answered").expect("stored");
        let first = OffsetRange { first: 1, last: 2 };
        assert_eq!(answer(&mut original_answer), first);
        assert_eq!(answer(&mut retry_answer), first);
        assert_eq!(answer(&mut next_answer), OffsetRange { first: 3, last: 3 });
        assert_eq!(stored_messages(&writer), 3);
    }

    fn commit_request(
        topic: &str,
        offset: u64,
    ) -> (CommitRequest, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let request = CommitRequest {
            group: GroupName::new("g").expect("valid group"),
            topic: t(topic),
            commit: crate::OffsetCommit {
                offset,
                time: ts(2),
                metadata: String::new(),
            },
            reply,
        };
        (request, answer)
    }

    /// Commits queued with appends are written in the same transaction,
    /// after the appends before them (so a commit may name offsets appended
    /// in its own group), each refused one alone; none is answered before
    /// the transaction is committed.
    #[test]
    fn commits_share_the_groups_transaction_and_fail_alone() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut writer = writer_at(dir.path());
        let (append, mut appended) = from_producer(0, &["a", "b"]);
        let (after_it, mut after_answer) = commit_request("t", 3);
        let (too_far, mut too_far_answer) = commit_request("t", 4);
        let (missing, mut missing_answer) = commit_request("missing", 1);
        let mut group = Vec::new();
        writer.take(append, &mut group);
        for request in [after_it, too_far, missing] {
            writer.take_commit(request, &mut group);
        }
        assert!(after_answer.try_recv().is_err(), "not answered before");
        writer.commit(&mut group);
        assert!(appended.try_recv().expect("answered").is_ok());
        assert!(after_answer.try_recv().expect("answered").is_ok());
        assert!(matches!(
            too_far_answer.try_recv().expect("answered"),
            Err(StoreError::CommitOutOfRange { next_offset: 3, .. })
        ));
        assert!(matches!(
            missing_answer.try_recv().expect("answered"),
            Err(StoreError::TopicNotFound(_))
        ));
        let rows: Vec<(String, i64)> = writer
            .connection
            .prepare("SELECT group_name, offset FROM group_offsets")
            .expect("prepare")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(rows, [("g".to_owned(), 3)]);
    }

    /// After a failed commit the tables are reread from the database: a
    /// batch remembered in memory but never committed is forgotten, and the
    /// committed ones are remembered.
    #[test]
    fn rereading_the_producers_forgets_what_was_not_committed() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut writer = writer_at(dir.path());
        let (original, _answer) = from_producer(0, &["a"]);
        let mut group = vec![Write::Append(original)];
        writer.commit(&mut group);
        let id = *writer.producers.keys().next().expect("a table");
        let phantom = ProducerSequence {
            producer_id: 7,
            sequence: 1,
        };
        let nowhere = OffsetRange { first: 2, last: 2 };
        let table = writer.producers.get_mut(&id).expect("table");
        table.record(phantom, nowhere, ts(2));
        writer.reload_producers();
        let table = &writer.producers[&id];
        assert_eq!(
            table.admit(&t("t"), phantom).expect("admitted"),
            Admission::Append
        );
        let committed = ProducerSequence {
            sequence: 0,
            ..phantom
        };
        assert_eq!(
            table.admit(&t("t"), committed).expect("admitted"),
            Admission::Duplicate(OffsetRange { first: 1, last: 1 })
        );
    }
}
