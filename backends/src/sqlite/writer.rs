//! The SQLite writer thread: the only connection that writes. Every append
//! queued while it was busy is committed in one transaction, each batch in
//! its own savepoint so one failing batch fails alone.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::{Shared, sqlite_error};
use crate::writer_thread::{AppendRequest, GroupCommit};
use crate::{Durability, OffsetRange, RemovalReport, StoreError, Timestamp, TopicName};

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
        durability: Durability,
        lock: File,
        path: PathBuf,
    ) -> Self {
        Self {
            connection,
            shared,
            durability,
            _lock: lock,
            path,
            unsynced_since: None,
        }
    }

    /// Commits every pending append in one transaction, then answers each
    /// and wakes the readers of each topic that grew.
    fn commit_group(&mut self, appends: &mut Vec<AppendRequest>) {
        if appends.is_empty() {
            return;
        }
        let outcomes = self.write_group(appends);
        match outcomes {
            Ok(outcomes) => {
                for (append, outcome) in appends.drain(..).zip(outcomes) {
                    let answer = outcome.map(|(range, next)| {
                        self.shared.notifier.appended(&append.topic, next);
                        range
                    });
                    let _ = append.reply.send(answer);
                }
                if self.durability != Durability::Always {
                    self.unsynced_since.get_or_insert_with(Instant::now);
                }
            }
            Err(error) => {
                let (code, message) = (error.sqlite_error_code(), error.to_string());
                for append in appends.drain(..) {
                    let error = rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error {
                            code: code.unwrap_or(ErrorCode::Unknown),
                            extended_code: 0,
                        },
                        Some(message.clone()),
                    );
                    let _ =
                        append
                            .reply
                            .send(Err(sqlite_error(&self.path, "committing to", error)));
                }
            }
        }
    }

    /// Writes each append in its own savepoint inside one transaction; the
    /// outcome of each, or the error that failed the whole transaction.
    #[allow(clippy::type_complexity)]
    fn write_group(
        &self,
        appends: &[AppendRequest],
    ) -> rusqlite::Result<Vec<Result<(OffsetRange, u64), StoreError>>> {
        let transaction = self.connection.unchecked_transaction()?;
        let mut outcomes = Vec::with_capacity(appends.len());
        for append in appends {
            transaction.execute_batch("SAVEPOINT batch")?;
            let outcome = insert_batch(&transaction, &append.topic, &append.payloads, append.now)
                .map_err(|e| sqlite_error(&self.path, "appending to", e))
                .and_then(|outcome| outcome);
            if outcome.is_err() {
                transaction.execute_batch("ROLLBACK TO batch")?;
            }
            transaction.execute_batch("RELEASE batch")?;
            outcomes.push(outcome);
        }
        transaction.commit()?;
        Ok(outcomes)
    }

    /// Deletes, in each topic, the messages before the first one stored at
    /// or after `cutoff`, found by binary search over offsets (timestamps
    /// never decrease along them): no table scan.
    fn remove_expired(&mut self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
        let remove = || -> rusqlite::Result<RemovalReport> {
            let transaction = self.connection.unchecked_transaction()?;
            let topics: Vec<(i64, i64, i64)> = transaction
                .prepare_cached("SELECT id, start_offset, next_offset FROM topics WHERE start_offset < next_offset")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut report = RemovalReport::default();
            for (id, start, next) in topics {
                let (mut low, mut high) = (start, next);
                let mut timestamp_at = transaction.prepare_cached(
                    "SELECT timestamp FROM messages WHERE topic_id = ?1 AND offset = ?2",
                )?;
                while low < high {
                    let middle = low + (high - low) / 2;
                    let timestamp: i64 =
                        timestamp_at.query_row(params![id, middle], |row| row.get(0))?;
                    if timestamp < nanos(cutoff) {
                        low = middle + 1;
                    } else {
                        high = middle;
                    }
                }
                if low == start {
                    continue;
                }
                let bytes: i64 = transaction
                    .prepare_cached("SELECT coalesce(sum(length(payload)), 0) FROM messages WHERE topic_id = ?1 AND offset < ?2")?
                    .query_row(params![id, low], |row| row.get(0))?;
                transaction
                    .prepare_cached("DELETE FROM messages WHERE topic_id = ?1 AND offset < ?2")?
                    .execute(params![id, low])?;
                transaction
                    .prepare_cached("UPDATE topics SET start_offset = ?2, size_bytes = size_bytes - ?3 WHERE id = ?1")?
                    .execute(params![id, low, bytes])?;
                report.messages_removed += (low - start) as u64;
                report.bytes_removed += bytes as u64;
            }
            transaction.commit()?;
            Ok(report)
        };
        remove().map_err(|e| sqlite_error(&self.path, "removing expired messages from", e))
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
    /// An SQLite append is written at commit, all the group's in one
    /// transaction: until then it is kept as it came.
    type Taken = AppendRequest;

    fn sync_due(&self) -> Option<Instant> {
        match (self.durability, self.unsynced_since) {
            (Durability::Interval(interval), Some(since)) => Some(since + interval),
            _ => None,
        }
    }

    fn take(&mut self, append: AppendRequest, group: &mut Vec<AppendRequest>) {
        group.push(append);
    }

    fn commit(&mut self, group: &mut Vec<AppendRequest>) {
        self.commit_group(group);
    }

    fn remove_older_than(&mut self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
        self.remove_expired(cutoff)
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

/// Inserts one batch: creates the topic on first use, numbers the
/// messages from the topic's next offset, and moves the topic on. Returns
/// the batch's offsets and the topic's new next offset, or
/// [`StoreError::OffsetsExhausted`] (inserting nothing) when they would
/// run past [`LAST_OFFSET`].
#[allow(clippy::type_complexity)]
fn insert_batch(
    transaction: &Connection,
    topic: &TopicName,
    payloads: &[Bytes],
    now: Timestamp,
) -> rusqlite::Result<Result<(OffsetRange, u64), StoreError>> {
    let existing: Option<(i64, i64, i64)> = transaction
        .prepare_cached("SELECT id, next_offset, newest_timestamp FROM topics WHERE name = ?1")?
        .query_row([topic.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let (id, first, newest) = match existing {
        Some(row) => row,
        None => {
            transaction
                .prepare_cached(
                    "INSERT INTO topics (name, start_offset, next_offset, newest_timestamp, size_bytes) VALUES (?1, 1, 1, 0, 0)",
                )?
                .execute([topic.as_str()])?;
            (transaction.last_insert_rowid(), 1, 0)
        }
    };
    let fits = i64::try_from(payloads.len())
        .ok()
        .and_then(|count| (first - 1).checked_add(count))
        .is_some_and(|last| last <= LAST_OFFSET);
    if !fits {
        return Ok(Err(StoreError::OffsetsExhausted {
            topic: topic.clone(),
            last_offset: LAST_OFFSET as u64,
        }));
    }
    let timestamp = nanos(now).max(newest);
    let mut insert = transaction.prepare_cached(
        "INSERT INTO messages (topic_id, offset, timestamp, payload) VALUES (?1, ?2, ?3, ?4)",
    )?;
    // Not `(first..).zip(..)`: that steps past the last offset once more
    // than it yields, and overflows when the batch ends at i64::MAX.
    for (i, payload) in payloads.iter().enumerate() {
        insert.execute(params![id, first + i as i64, timestamp, &payload[..]])?;
    }
    let next = first + payloads.len() as i64;
    let bytes: i64 = payloads.iter().map(|p| p.len() as i64).sum();
    transaction
        .prepare_cached("UPDATE topics SET next_offset = ?2, newest_timestamp = ?3, size_bytes = size_bytes + ?4 WHERE id = ?1")?
        .execute(params![id, next, timestamp, bytes])?;
    Ok(Ok((
        OffsetRange {
            first: first as u64,
            last: next as u64 - 1,
        },
        next as u64,
    )))
}
