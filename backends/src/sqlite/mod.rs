//! [`SqliteStore`]: every topic in one SQLite database file,
//! `ROOT/minikafka.sqlite3`, which any SQLite tool can open.
//!
//! # Who does what
//! rusqlite calls block, so none runs on the async runtime's threads:
//! - One writer thread ([`writer`]) owns the only writing connection. It
//!   takes every command queued while it was busy and commits all their
//!   batches in one transaction (group commit): one WAL sync for the group
//!   under `Durability::Always`.
//! - Reads run on tokio's blocking pool, each on one of a few read-only
//!   connections; WAL mode lets them read a consistent snapshot while the
//!   writer commits, and they only ever see committed (so, under `Always`,
//!   durable) data.
//! - Offset commits go to the writer thread too, into the same group and
//!   transaction as the appends queued with them, so many committers share
//!   one sync. Group reads (fetch, list, describe) query the
//!   `group_offsets` table on a read connection: nothing is loaded at
//!   start-up.
//!
//! Schema: [`schema_v1.sql`](schema_v1.sql) and the migrations
//! [`schema_v2.sql`](schema_v2.sql) (each topic's settings),
//! [`schema_v3.sql`](schema_v3.sql) (keys, headers and producers' latest
//! batches) and [`schema_v4.sql`](schema_v4.sql) (consumer groups'
//! committed offsets), versioned with `PRAGMA user_version` and marked as
//! ours with `PRAGMA application_id`.
//!
//! Safe retries: the writer thread keeps a [`ProducerTable`](crate::ProducerTable)
//! per topic that has producers, changes it only for batches in the
//! transaction being committed (and rebuilds it from the database if that
//! commit fails), and answers a duplicate with the rest of its group, after
//! the commit: never before the original is committed.

mod headers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::Semaphore;

use self::writer::Writer;
use crate::writer_thread::{self, Command, WriterThread};
use crate::{
    AppendNotifier, Batch, Creation, Durability, GroupName, Message, OffsetCommit, OffsetRange,
    ReadLimits, ReadResult, RemovalReport, RetentionAge, RetentionDefaults, SettingsChange, Store,
    StoreError, Timestamp, TopicInfo, TopicName, TopicSettings, TopicWatch,
};

/// The database's file name under the root directory.
pub const DATABASE_FILE: &str = "minikafka.sqlite3";
/// `PRAGMA application_id` of a minikafka database: "mkfk".
const APPLICATION_ID: i32 = 0x6D6B_666B;
/// The schema of each version, applied in order: version N is
/// `MIGRATIONS[N - 1]`. A later version adds a script that migrates from
/// the one before.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
];
/// How many reads run at once, each on its own connection.
const READERS: usize = 4;
/// The largest payload SQLite stores in one value (its default
/// `SQLITE_MAX_LENGTH`, which the bundled build keeps).
pub const MAX_PAYLOAD_BYTES: usize = 1_000_000_000;
/// How long a connection waits for a lock held by another before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How a [`SqliteStore`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// When commits are made durable.
    pub durability: Durability,
    /// The most producers remembered per topic for safe retries
    /// (`MINIKAFKA_MAX_PRODUCERS`): see [`ProducerTable`](crate::ProducerTable).
    pub max_producers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::default(),
            max_producers: crate::producers::DEFAULT_MAX_PRODUCERS,
        }
    }
}

/// The SQLite store. See the module documentation.
#[derive(Debug)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    writer: WriterThread,
}

/// What readers and the writer share.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// Idle read connections.
    readers: Mutex<Vec<Connection>>,
    /// One permit per read connection.
    permits: Semaphore,
    notifier: AppendNotifier,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `root`, migrating an older
    /// schema. Refuses, without changing it, a file that is not a minikafka
    /// database or was written by a newer minikafka.
    pub fn open(root: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let root = root.as_ref();
        std::fs::create_dir_all(root)
            .map_err(|e| StoreError::io(format!("creating {}", root.display()), e))?;
        let lock = crate::lock::lock_root(root)?;
        let path = root.join(DATABASE_FILE);
        let connection = open_for_writing(&path, options.durability)?;
        let producers = writer::load_producers(&connection, options.max_producers)
            .map_err(|e| sqlite_error(&path, "reading the producers of", e))?;
        let shared = Arc::new(Shared {
            path: path.clone(),
            readers: Mutex::new(Vec::new()),
            permits: Semaphore::new(READERS),
            notifier: AppendNotifier::new(),
        });
        let writer = Writer::new(
            connection,
            Arc::clone(&shared),
            options,
            producers,
            lock,
            path,
        );
        let writer = WriterThread::spawn("mkfk-sqlite-writer", move |commands| {
            writer_thread::run(&Mutex::new(writer), &commands)
        })?;
        Ok(Self { shared, writer })
    }

    /// Runs `read` on a read connection, on the blocking pool.
    async fn with_reader<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self
            .shared
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let idle = shared
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let connection = match idle {
                Some(connection) => connection,
                None => open_for_reading(&shared.path)?,
            };
            let result = read(&connection);
            shared
                .readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
            result
        })
        .await
        .map_err(|e| {
            StoreError::io(
                "an SQLite read task failed",
                std::io::Error::other(e.to_string()),
            )
        })?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if let Some(large) = batch
            .records
            .iter()
            .find(|r| r.payload.len() > MAX_PAYLOAD_BYTES)
        {
            return Err(StoreError::MessageTooLarge {
                size: large.payload.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        self.writer.append(topic, batch, now).await
    }

    async fn read(
        &self,
        topic: &TopicName,
        from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, StoreError> {
        let (topic, path) = (topic.clone(), self.shared.path.clone());
        self.with_reader(move |connection| {
            read(connection, &topic, from, limits, &path).map_err(|e| e.into_store_error(&path))
        })
        .await
    }

    async fn offset_for_time(&self, topic: &TopicName, time: Timestamp) -> Result<u64, StoreError> {
        let (topic, path) = (topic.clone(), self.shared.path.clone());
        self.with_reader(move |connection| {
            offset_for_time(connection, &topic, time).map_err(|e| e.into_store_error(&path))
        })
        .await
    }

    async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        self.writer.commit_offset(group, topic, commit).await
    }

    async fn fetch_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
    ) -> Result<Option<OffsetCommit>, StoreError> {
        let (group, topic, path) = (group.clone(), topic.clone(), self.shared.path.clone());
        self.with_reader(move |connection| {
            fetch_offset(connection, &group, &topic).map_err(|e| e.into_store_error(&path))
        })
        .await
    }

    async fn list_groups(
        &self,
        after: Option<&GroupName>,
        limit: usize,
    ) -> Result<Vec<GroupName>, StoreError> {
        let (after, path) = (after.cloned(), self.shared.path.clone());
        self.with_reader(move |connection| {
            list_groups(connection, after.as_ref(), limit)
                .map_err(|e| sqlite_error(&path, "reading", e))
        })
        .await
    }

    async fn describe_group(
        &self,
        group: &GroupName,
    ) -> Result<Vec<(TopicName, OffsetCommit)>, StoreError> {
        let (group, path) = (group.clone(), self.shared.path.clone());
        self.with_reader(move |connection| {
            let commits = describe_group(connection, &group)
                .map_err(|e| sqlite_error(&path, "reading", e))?;
            if commits.is_empty() {
                return Err(StoreError::GroupNotFound(group));
            }
            Ok(commits)
        })
        .await
    }

    async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        self.writer.delete_group(group).await
    }

    async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        self.writer.create_topic(topic, settings).await
    }

    async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        self.writer.update_topic(topic, change).await
    }

    async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        self.writer.delete_topic(topic).await
    }

    async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.writer.enforce_retention(now, defaults).await
    }

    async fn describe(&self, topic: &TopicName) -> Result<TopicInfo, StoreError> {
        let (topic, path) = (topic.clone(), self.shared.path.clone());
        self.with_reader(move |connection| {
            let mut infos = topic_infos(connection, TopicsWanted::One(&topic))
                .map_err(|e| sqlite_error(&path, "reading", e))?;
            infos.pop().ok_or(StoreError::TopicNotFound(topic))
        })
        .await
    }

    async fn list(
        &self,
        after: Option<&TopicName>,
        limit: usize,
    ) -> Result<Vec<TopicInfo>, StoreError> {
        let (after, path) = (after.cloned(), self.shared.path.clone());
        self.with_reader(move |connection| {
            topic_infos(connection, TopicsWanted::Page(after.as_ref(), limit))
                .map_err(|e| sqlite_error(&path, "reading", e))
        })
        .await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.writer.call(|reply| Command::Sync { reply }).await
    }

    fn watch(&self, topic: &TopicName) -> TopicWatch {
        self.shared.notifier.watch(topic)
    }
}

/// A read's own failure (not found, out of range) or SQLite's.
enum ReadError {
    Store(StoreError),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for ReadError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sql(error)
    }
}

impl ReadError {
    fn into_store_error(self, path: &Path) -> StoreError {
        match self {
            Self::Store(error) => error,
            Self::Sql(error) => sqlite_error(path, "reading", error),
        }
    }
}

/// A topic's id, first held offset and next offset; not found when absent.
fn topic_bounds(snapshot: &Connection, topic: &TopicName) -> Result<(i64, i64, i64), ReadError> {
    snapshot
        .prepare_cached("SELECT id, start_offset, next_offset FROM topics WHERE name = ?1")?
        .query_row([topic.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?
        .ok_or_else(|| ReadError::Store(StoreError::TopicNotFound(topic.clone())))
}

/// Where a read from `time` starts, in one snapshot (so retention cannot
/// remove the offsets searched part-way): a binary search of point queries
/// over the held offsets, O(log n) with no index on timestamps.
fn offset_for_time(
    connection: &Connection,
    topic: &TopicName,
    time: Timestamp,
) -> Result<u64, ReadError> {
    let snapshot = connection.unchecked_transaction()?;
    let (id, start, next) = topic_bounds(&snapshot, topic)?;
    Ok(writer::first_at_or_after(&snapshot, id, start, next, time)? as u64)
}

/// `group`'s commit in `topic`, in one snapshot with the topic's row (so a
/// deleted topic is not found rather than answering its old commit).
fn fetch_offset(
    connection: &Connection,
    group: &GroupName,
    topic: &TopicName,
) -> Result<Option<OffsetCommit>, ReadError> {
    let snapshot = connection.unchecked_transaction()?;
    let (id, _, _) = topic_bounds(&snapshot, topic)?;
    let commit = snapshot
        .prepare_cached(
            "SELECT offset, time, metadata FROM group_offsets WHERE group_name = ?1 AND topic_id = ?2",
        )?
        .query_row(params![group.as_str(), id], |row| {
            Ok(OffsetCommit {
                offset: row.get::<_, i64>(0)? as u64,
                time: Timestamp::from_nanos(row.get::<_, i64>(1)? as u64),
                metadata: row.get(2)?,
            })
        })
        .optional()?;
    Ok(commit)
}

/// Up to `limit` group names after `after`, in name order: the primary
/// key's order, so a page is one range of the index.
fn list_groups(
    connection: &Connection,
    after: Option<&GroupName>,
    limit: usize,
) -> rusqlite::Result<Vec<GroupName>> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT group_name FROM group_offsets WHERE ?1 IS NULL OR group_name > ?1 ORDER BY group_name LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![after.map(GroupName::as_str), limit], |row| {
        row.get::<_, String>(0)
    })?;
    let mut names = Vec::new();
    for name in rows {
        // Names were validated before they were stored.
        if let Ok(name) = GroupName::new(name?) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Every commit of `group`, in topic name order (empty: no such group).
fn describe_group(
    connection: &Connection,
    group: &GroupName,
) -> rusqlite::Result<Vec<(TopicName, OffsetCommit)>> {
    let mut statement = connection.prepare_cached(
        "SELECT t.name, g.offset, g.time, g.metadata FROM group_offsets g
         JOIN topics t ON t.id = g.topic_id WHERE g.group_name = ?1 ORDER BY t.name",
    )?;
    let rows = statement.query_map([group.as_str()], |row| {
        let commit = OffsetCommit {
            offset: row.get::<_, i64>(1)? as u64,
            time: Timestamp::from_nanos(row.get::<_, i64>(2)? as u64),
            metadata: row.get(3)?,
        };
        Ok((row.get::<_, String>(0)?, commit))
    })?;
    let mut commits = Vec::new();
    for row in rows {
        let (name, commit) = row?;
        // Names were validated before they were stored.
        if let Ok(name) = TopicName::new(name) {
            commits.push((name, commit));
        }
    }
    Ok(commits)
}

/// Reads in one snapshot: the topic's bounds and the messages agree.
fn read(
    connection: &Connection,
    topic: &TopicName,
    from: u64,
    limits: ReadLimits,
    path: &Path,
) -> Result<ReadResult, ReadError> {
    let snapshot = connection.unchecked_transaction()?;
    let (id, start, next) = topic_bounds(&snapshot, topic)?;
    let (start, next) = (start as u64, next as u64);
    if from > next {
        return Err(ReadError::Store(StoreError::OffsetOutOfRange {
            topic: topic.clone(),
            requested: from,
            next_offset: next,
        }));
    }
    let max_messages = limits.max_messages.max(1);
    let mut statement = snapshot.prepare_cached(
        "SELECT offset, timestamp, payload, key, headers FROM messages WHERE topic_id = ?1 AND offset >= ?2 ORDER BY offset LIMIT ?3",
    )?;
    let mut rows = statement.query(params![
        id,
        from.max(start) as i64,
        max_messages.min(i64::MAX as usize) as i64
    ])?;
    let mut messages = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let offset = row.get::<_, i64>(0)? as u64;
        let blob = |column| -> rusqlite::Result<Option<Bytes>> {
            let value = row.get_ref(column)?.as_blob_or_null()?;
            Ok(value.map(Bytes::copy_from_slice))
        };
        let encoded = row
            .get_ref(4)?
            .as_blob_or_null()
            .map_err(rusqlite::Error::from)?;
        let headers = match encoded {
            None => Vec::new(),
            Some(encoded) => headers::decode(encoded).map_err(|detail| {
                ReadError::Store(StoreError::Corrupt {
                    path: path.to_owned(),
                    position: 0,
                    detail: format!("topic '{topic}', offset {offset}: {detail}"),
                })
            })?,
        };
        let message = Message {
            offset,
            timestamp: Timestamp::from_nanos(row.get::<_, i64>(1)? as u64),
            payload: blob(2)?.unwrap_or_default(),
            key: blob(3)?.unwrap_or_default(),
            headers,
        };
        if !messages.is_empty() && bytes + message.size() > limits.max_bytes {
            break;
        }
        bytes += message.size();
        messages.push(message);
    }
    Ok(ReadResult {
        messages,
        earliest_offset: start,
        next_offset: next,
    })
}

/// Which topics [`topic_infos`] describes.
enum TopicsWanted<'a> {
    /// Just this one.
    One(&'a TopicName),
    /// Up to this many after this name (or from the first), in name order.
    Page(Option<&'a TopicName>, usize),
}

/// The columns of `topics` that describe one, in the order
/// [`topic_info_from_row`] reads them.
const TOPIC_COLUMNS: &str = "name, start_offset, next_offset, size_bytes, oldest_timestamp, \
    retention_nanos, retention_bytes, max_message_bytes";

/// Describes the topics wanted, from the `topics` table alone.
fn topic_infos(
    connection: &Connection,
    wanted: TopicsWanted<'_>,
) -> rusqlite::Result<Vec<TopicInfo>> {
    let (sql, after, limit) = match wanted {
        TopicsWanted::One(name) => (
            format!("SELECT {TOPIC_COLUMNS} FROM topics WHERE name = ?1 LIMIT ?2"),
            Some(name),
            1,
        ),
        TopicsWanted::Page(after, limit) => (
            format!(
                "SELECT {TOPIC_COLUMNS} FROM topics WHERE ?1 IS NULL OR name > ?1 ORDER BY name LIMIT ?2"
            ),
            after,
            limit,
        ),
    };
    let mut statement = connection.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(
        params![after.map(TopicName::as_str), limit],
        topic_info_from_row,
    )?;
    let mut infos = Vec::new();
    for row in rows {
        // Names were validated before they were stored.
        if let Some(info) = row? {
            infos.push(info);
        }
    }
    Ok(infos)
}

/// One topic's description from a row of [`TOPIC_COLUMNS`].
fn topic_info_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<TopicInfo>> {
    let Ok(name) = TopicName::new(row.get::<_, String>(0)?) else {
        return Ok(None);
    };
    let (start, next) = (row.get::<_, i64>(1)? as u64, row.get::<_, i64>(2)? as u64);
    Ok(Some(TopicInfo {
        name,
        earliest_offset: start,
        next_offset: next,
        message_count: next - start,
        size_bytes: row.get::<_, i64>(3)? as u64,
        oldest_timestamp: row
            .get::<_, Option<i64>>(4)?
            .map(|t| Timestamp::from_nanos(t as u64)),
        settings: settings_from_columns(row.get(5)?, row.get(6)?, row.get(7)?),
    }))
}

/// A topic's settings from its three columns (see `schema_v2.sql`).
fn settings_from_columns(
    retention_nanos: Option<i64>,
    retention_bytes: Option<i64>,
    max_message_bytes: Option<i64>,
) -> TopicSettings {
    TopicSettings {
        retention: retention_nanos.map(|nanos| match u64::try_from(nanos) {
            Ok(nanos) => RetentionAge::MaxAge(Duration::from_nanos(nanos)),
            Err(_) => RetentionAge::Forever,
        }),
        retention_bytes: retention_bytes.map(|b| b as u64),
        max_message_bytes: max_message_bytes.map(|b| b as u64),
    }
}

/// A topic's settings as its three columns (see `schema_v2.sql`).
fn settings_to_columns(settings: &TopicSettings) -> (Option<i64>, Option<i64>, Option<i64>) {
    let saturating = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    (
        settings.retention.map(|retention| match retention {
            RetentionAge::MaxAge(age) => i64::try_from(age.as_nanos()).unwrap_or(i64::MAX),
            RetentionAge::Forever => -1,
        }),
        settings.retention_bytes.map(saturating),
        settings.max_message_bytes.map(saturating),
    )
}

/// Turns an SQLite error into a store error naming the database.
fn sqlite_error(path: &Path, doing: &str, error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let code = error.sqlite_error_code();
    let context = format!("{doing} {}", path.display());
    match code {
        Some(ErrorCode::DiskFull) => StoreError::StorageFull {
            context,
            cause: std::io::Error::from_raw_os_error(28),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: path.to_owned(),
            position: 0,
            detail: error.to_string(),
        },
        _ => StoreError::Io {
            context,
            cause: std::io::Error::other(error.to_string()),
        },
    }
}

/// Opens the writing connection: checks the file is ours (changing nothing
/// if not), creates or migrates the schema, and sets WAL mode and the
/// durability.
fn open_for_writing(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(|e| sqlite_error(path, "opening", e))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(path, "configuring", e))?;
    let version = check_ours(&connection, path)?;
    let setup = || -> rusqlite::Result<()> {
        if version == 0 {
            // Only a new database can take it (before any table exists): a
            // deleted topic's pages then go back to the file system.
            connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // FULL syncs the WAL at every commit; NORMAL only at checkpoints,
        // which loses recent commits on a power cut but never corrupts.
        let synchronous = if durability == Durability::Always {
            "FULL"
        } else {
            "NORMAL"
        };
        connection.pragma_update(None, "synchronous", synchronous)?;
        // Keep a WAL that grew under load from staying that large.
        connection.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        Ok(())
    };
    setup().map_err(|e| sqlite_error(path, "configuring", e))?;
    migrate(&connection, version).map_err(|e| sqlite_error(path, "migrating", e))?;
    Ok(connection)
}

/// The schema version of the database at `path` (0: new and empty), or why
/// it is not one this minikafka may touch. Reads only.
fn check_ours(connection: &Connection, path: &Path) -> Result<usize, StoreError> {
    let not_ours = |detail: String| StoreError::NotOurs {
        path: path.to_owned(),
        detail,
    };
    let read = || -> rusqlite::Result<(i32, i64, i64)> {
        let application_id =
            connection.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let version = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let objects =
            connection.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))?;
        Ok((application_id, version, objects))
    };
    let (application_id, version, objects) = read().map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => not_ours("it is not an SQLite database".into()),
        _ => sqlite_error(path, "opening", e),
    })?;
    if application_id == 0 && version == 0 && objects == 0 {
        return Ok(0);
    }
    if application_id != APPLICATION_ID {
        return Err(not_ours(format!(
            "it is an SQLite database of another application (application_id {application_id})"
        )));
    }
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(not_ours(format!(
            "it was written by a newer minikafka (schema version {version}; this one knows up to {})",
            MIGRATIONS.len()
        )));
    }
    Ok(version)
}

/// Applies the migrations after `version`, all in one transaction.
fn migrate(connection: &Connection, version: usize) -> rusqlite::Result<()> {
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    let transaction = connection.unchecked_transaction()?;
    for script in &MIGRATIONS[version..] {
        transaction.execute_batch(script)?;
    }
    transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
    transaction.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    transaction.commit()
}

/// Opens a read connection.
fn open_for_reading(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection =
        Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, "opening", e))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(path, "configuring", e))?;
    connection
        .pragma_update(None, "query_only", true)
        .map_err(|e| sqlite_error(path, "configuring", e))?;
    Ok(connection)
}

#[cfg(test)]
mod tests;
