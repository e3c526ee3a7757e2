//! The SQLite writer thread: the only connection that writes. Every append
//! queued while it was busy is committed in one transaction, each batch in
//! its own savepoint so one failing batch fails alone.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use bytes::Bytes;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Shared, sqlite_error};
use crate::writer_thread::{Command, Next, group, next};
use crate::{Durability, OffsetRange, RemovalReport, StoreError, Timestamp, TopicName};

/// An append waiting for its group's commit.
struct Append {
    topic: TopicName,
    payloads: Vec<Bytes>,
    now: Timestamp,
    reply: oneshot::Sender<Result<OffsetRange, StoreError>>,
}

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

    /// Serves commands until every sender is gone, then checkpoints.
    pub fn run(mut self, commands: Receiver<Command>) {
        while let Some(first) = self.next_command(&commands) {
            let mut appends = Vec::new();
            for command in group(first, &commands) {
                match command {
                    Command::Append {
                        topic,
                        payloads,
                        now,
                        reply,
                    } => {
                        appends.push(Append {
                            topic,
                            payloads,
                            now,
                            reply,
                        });
                    }
                    Command::RemoveOlderThan { cutoff, reply } => {
                        self.commit(&mut appends);
                        let _ = reply.send(self.remove_older_than(cutoff));
                    }
                    Command::Sync { reply } => {
                        self.commit(&mut appends);
                        let _ = reply.send(self.checkpoint("FULL"));
                    }
                }
            }
            self.commit(&mut appends);
        }
        if let Err(error) = self.checkpoint("TRUNCATE") {
            tracing::error!(%error, "final checkpoint of the SQLite store failed");
        }
    }

    /// The next command; in interval mode, checkpoints (which syncs the WAL)
    /// when the interval is up. `None` once every sender is gone.
    fn next_command(&mut self, commands: &Receiver<Command>) -> Option<Command> {
        loop {
            let sync_due = match (self.durability, self.unsynced_since) {
                (Durability::Interval(interval), Some(since)) => Some(since + interval),
                _ => None,
            };
            match next(commands, sync_due) {
                Next::Command(command) => return Some(command),
                Next::Closed => return None,
                Next::SyncDue => {
                    if let Err(error) = self.checkpoint("PASSIVE") {
                        tracing::error!(%error, "interval checkpoint failed");
                    }
                }
            }
        }
    }

    /// Commits every pending append in one transaction, then answers each
    /// and wakes the readers of each topic that grew.
    fn commit(&mut self, appends: &mut Vec<Append>) {
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
                    let _ = append
                        .reply
                        .send(answer.map_err(|e| sqlite_error(&self.path, "appending to", e)));
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
        appends: &[Append],
    ) -> rusqlite::Result<Vec<rusqlite::Result<(OffsetRange, u64)>>> {
        let transaction = self.connection.unchecked_transaction()?;
        let mut outcomes = Vec::with_capacity(appends.len());
        for append in appends {
            transaction.execute_batch("SAVEPOINT batch")?;
            let outcome = insert_batch(&transaction, &append.topic, &append.payloads, append.now);
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
    fn remove_older_than(&mut self, cutoff: Timestamp) -> Result<RemovalReport, StoreError> {
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

/// Inserts one batch: creates the topic on first use, numbers the
/// messages from the topic's next offset, and moves the topic on. Returns
/// the batch's offsets and the topic's new next offset.
fn insert_batch(
    transaction: &Connection,
    topic: &TopicName,
    payloads: &[Bytes],
    now: Timestamp,
) -> rusqlite::Result<(OffsetRange, u64)> {
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
    let timestamp = nanos(now).max(newest);
    let mut insert = transaction.prepare_cached(
        "INSERT INTO messages (topic_id, offset, timestamp, payload) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (offset, payload) in (first..).zip(payloads) {
        insert.execute(params![id, offset, timestamp, &payload[..]])?;
    }
    let next = first + payloads.len() as i64;
    let bytes: i64 = payloads.iter().map(|p| p.len() as i64).sum();
    transaction
        .prepare_cached("UPDATE topics SET next_offset = ?2, newest_timestamp = ?3, size_bytes = size_bytes + ?4 WHERE id = ?1")?
        .execute(params![id, next, timestamp, bytes])?;
    Ok((
        OffsetRange {
            first: first as u64,
            last: next as u64 - 1,
        },
        next as u64,
    ))
}
