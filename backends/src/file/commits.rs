//! The commit log: every group's committed offsets, in
//! `ROOT/groups/commits.log`.
//!
//! Commits are appended as checksummed records and made durable with the
//! writer's group commit, sharing its syncs with appends. The live set is
//! held in memory (a [`GroupTable`]); when the log grows past twice the
//! live set (plus slack) it is rewritten to just the live set, atomically,
//! so start-up reads a log whose size follows the number of groups, not
//! the number of commits ever made. docs/storage.md has the byte layout.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::Recovery;
use super::disk::{self, Disk};
use crate::{GroupName, GroupTable, OffsetCommit, StoreError, Timestamp, TopicName};

/// The directory under the root that holds the commit log.
pub(crate) const GROUPS_DIR: &str = "groups";
/// The commit log's file name.
const LOG_FILE: &str = "commits.log";
/// The first bytes of a commit log: what it is, and its layout's version.
const MAGIC: &[u8; 8] = b"MKFKGRP1";
/// Each record's frame: body length (u32) and CRC-32C of the body (u32).
const FRAME: usize = 8;
/// Growth allowed past twice the live set before the log is compacted.
const COMPACTION_SLACK: u64 = 1 << 20;

/// One change the log records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A group's commit in a topic.
    Commit(GroupName, TopicName, OffsetCommit),
    /// A group removed (deleted, or expired).
    DeleteGroup(GroupName),
    /// A topic deleted: every group's commit in it goes.
    DeleteTopic(TopicName),
}

const COMMIT: u8 = 1;
const DELETE_GROUP: u8 = 2;
const DELETE_TOPIC: u8 = 3;

impl Entry {
    /// Appends the framed record to `out`.
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; FRAME]);
        let name = |out: &mut Vec<u8>, name: &str| {
            // Names are at most 249 bytes, so one byte holds the length.
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        };
        match self {
            Self::Commit(group, topic, commit) => {
                out.push(COMMIT);
                name(out, group.as_str());
                name(out, topic.as_str());
                out.extend_from_slice(&commit.offset.to_le_bytes());
                out.extend_from_slice(&commit.time.as_nanos().to_le_bytes());
                out.extend_from_slice(&(commit.metadata.len() as u32).to_le_bytes());
                out.extend_from_slice(commit.metadata.as_bytes());
            }
            Self::DeleteGroup(group) => {
                out.push(DELETE_GROUP);
                name(out, group.as_str());
            }
            Self::DeleteTopic(topic) => {
                out.push(DELETE_TOPIC);
                name(out, topic.as_str());
            }
        }
        let body_len = (out.len() - start - FRAME) as u32;
        let crc = crc32c::crc32c(&out[start + FRAME..]);
        out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
        out[start + 4..start + FRAME].copy_from_slice(&crc.to_le_bytes());
    }

    /// Decodes a record's body (its checksum already checked); `None` when
    /// it does not hold a valid entry.
    fn decode(body: &[u8]) -> Option<Self> {
        let mut cursor = Cursor(body);
        let entry = match cursor.byte()? {
            COMMIT => {
                let group = GroupName::new(cursor.name()?).ok()?;
                let topic = TopicName::new(cursor.name()?).ok()?;
                let offset = cursor.u64()?;
                let time = Timestamp::from_nanos(cursor.u64()?);
                let len = cursor.u32()? as usize;
                let metadata = String::from_utf8(cursor.take(len)?.to_vec()).ok()?;
                Self::Commit(
                    group,
                    topic,
                    OffsetCommit {
                        offset,
                        time,
                        metadata,
                    },
                )
            }
            DELETE_GROUP => Self::DeleteGroup(GroupName::new(cursor.name()?).ok()?),
            DELETE_TOPIC => Self::DeleteTopic(TopicName::new(cursor.name()?).ok()?),
            _ => return None,
        };
        cursor.0.is_empty().then_some(entry)
    }

    /// Applies the change to `table`.
    pub(crate) fn apply(self, table: &mut GroupTable) {
        match self {
            Self::Commit(group, topic, commit) => table.commit(&group, &topic, commit),
            Self::DeleteGroup(group) => {
                table.delete(&group);
            }
            Self::DeleteTopic(topic) => table.delete_topic(&topic),
        }
    }
}

/// Reads little-endian fields off the front of a record body.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn name(&mut self) -> Option<String> {
        let len = self.byte()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

/// The open commit log, owned by the writer.
#[derive(Debug)]
pub(crate) struct CommitLog {
    path: PathBuf,
    /// The open log; `None` until the first commit creates it, so a store
    /// whose users commit nothing has no commit log.
    file: Option<File>,
    /// Where the next record goes: the end of the last whole record.
    len: u64,
    /// The log's length after the last compaction (or at opening): it is
    /// compacted again once it grows past twice this plus slack.
    compacted_len: u64,
    /// Whether records were written since the last sync.
    unsynced: bool,
    /// Why a sync of the log failed, once one has: no later commit can be
    /// trusted to be durable, so commits are refused until a restart.
    stopped: Option<String>,
    /// Reused to encode records.
    buffer: Vec<u8>,
}

impl CommitLog {
    /// Opens the log under `root` (creating it when missing), and returns
    /// it with the live set it holds, keeping only commits in `topics` (a
    /// topic deleted just before a crash may have left its commits).
    /// A torn last record is cut; damage before the end is refused under
    /// [`Recovery::Strict`] and cut there under [`Recovery::Truncate`].
    pub(crate) fn open(
        disk: &dyn Disk,
        root: &Path,
        recovery: Recovery,
        topics: impl Fn(&TopicName) -> bool,
    ) -> Result<(Self, GroupTable), StoreError> {
        let path = root.join(GROUPS_DIR).join(LOG_FILE);
        if !path.exists() {
            let log = Self {
                path,
                file: None,
                len: MAGIC.len() as u64,
                compacted_len: MAGIC.len() as u64,
                unsynced: false,
                stopped: None,
                buffer: Vec::new(),
            };
            return Ok((log, GroupTable::new()));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(StoreError::NotOurs {
                path,
                detail: "it does not start with a minikafka commit log header".into(),
            });
        }
        let (entries, good_len) = parse(&bytes, &path, recovery)?;
        let mut table = GroupTable::new();
        for entry in entries {
            entry.apply(&mut table);
        }
        let stale: Vec<TopicName> = table
            .iter()
            .map(|(_, topic, _)| topic.clone())
            .filter(|topic| !topics(topic))
            .collect();
        for topic in stale {
            table.delete_topic(&topic);
        }
        let file = open_for_writing(&path)?;
        if good_len < bytes.len() as u64 {
            tracing::warn!(file = %path.display(), cut_at = good_len, "cutting the commit log's torn or damaged end");
            disk.set_len(&file, good_len)
                .and_then(|()| disk.sync_data(&file))
                .map_err(|e| StoreError::io(format!("cutting {}", path.display()), e))?;
        }
        let mut log = Self {
            path,
            file: Some(file),
            len: good_len,
            compacted_len: good_len,
            unsynced: false,
            stopped: None,
            buffer: Vec::new(),
        };
        log.compact_if_grown(disk, &table)?;
        Ok((log, table))
    }

    /// Writes `entry` at the end of the log (durable only once synced).
    /// On failure nothing counts as written: the next record goes to the
    /// same place.
    pub(crate) fn write(&mut self, disk: &dyn Disk, entry: &Entry) -> Result<(), StoreError> {
        if let Some(cause) = &self.stopped {
            return Err(StoreError::io(
                format!(
                    "the commit log {} takes no writes since a sync of it failed; restart the server",
                    self.path.display()
                ),
                std::io::Error::other(cause.clone()),
            ));
        }
        let file = match self.file.take() {
            Some(file) => file,
            None => self.create(disk)?,
        };
        let file = self.file.insert(file);
        self.buffer.clear();
        entry.encode(&mut self.buffer);
        disk.write_at(file, &self.buffer, self.len)
            .map_err(|e| StoreError::io(format!("writing {}", self.path.display()), e))?;
        self.len += self.buffer.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    /// Creates the log, empty, for its first record.
    fn create(&mut self, disk: &dyn Disk) -> Result<File, StoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        disk.create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        disk::write_atomically(disk, &self.path, MAGIC, true)?;
        self.len = MAGIC.len() as u64;
        self.compacted_len = self.len;
        open_for_writing(&self.path)
    }

    /// Syncs the records written since the last sync. A failure stops the
    /// log (see [`CommitLog::write`]).
    pub(crate) fn sync(&mut self, disk: &dyn Disk) -> Result<(), StoreError> {
        let Some(file) = self.file.as_ref().filter(|_| self.unsynced) else {
            return Ok(());
        };
        match disk.sync_data(file) {
            Ok(()) => {
                self.unsynced = false;
                Ok(())
            }
            Err(error) => {
                tracing::error!(file = %self.path.display(), %error, "a sync of the commit log failed: commits are refused until a restart");
                self.stopped = Some(error.to_string());
                Err(StoreError::io(
                    format!("syncing {}", self.path.display()),
                    error,
                ))
            }
        }
    }

    /// Rewrites the log to the live set in `table` when it has grown past
    /// twice its size after the last compaction plus slack: a temporary
    /// file, synced, renamed over the log, so a crash leaves one or the
    /// other whole.
    pub(crate) fn compact_if_grown(
        &mut self,
        disk: &dyn Disk,
        table: &GroupTable,
    ) -> Result<(), StoreError> {
        if self.len <= 2 * self.compacted_len + COMPACTION_SLACK
            || self.stopped.is_some()
            || self.file.is_none()
        {
            return Ok(());
        }
        let mut bytes = MAGIC.to_vec();
        for (group, topic, commit) in table.iter() {
            Entry::Commit(group.clone(), topic.clone(), commit.clone()).encode(&mut bytes);
        }
        disk::write_atomically(disk, &self.path, &bytes, true)?;
        self.file = Some(open_for_writing(&self.path)?);
        tracing::debug!(file = %self.path.display(), from = self.len, to = bytes.len(), "compacted the commit log");
        self.len = bytes.len() as u64;
        self.compacted_len = self.len;
        self.unsynced = false;
        Ok(())
    }
}

/// Opens the log at `path` to write records into it.
fn open_for_writing(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))
}

/// The entries of a whole log and the length of its good prefix.
fn parse(bytes: &[u8], path: &Path, recovery: Recovery) -> Result<(Vec<Entry>, u64), StoreError> {
    let mut entries = Vec::new();
    let mut position = MAGIC.len();
    while position < bytes.len() {
        let rest = &bytes[position..];
        let body = rest.get(..FRAME).and_then(|frame| {
            let len = u32::from_le_bytes(frame[..4].try_into().ok()?) as usize;
            let crc = u32::from_le_bytes(frame[4..].try_into().ok()?);
            let body = rest.get(FRAME..FRAME + len)?;
            (crc32c::crc32c(body) == crc).then_some(body)
        });
        match body.and_then(Entry::decode) {
            Some(entry) => {
                position += FRAME + body.map_or(0, <[u8]>::len);
                entries.push(entry);
            }
            None => {
                // A record cut short by a crash is the log's last: nothing
                // whole follows it. Anything else is damage.
                let torn = rest.len() < FRAME
                    || u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize + FRAME
                        >= rest.len();
                if !torn && recovery == Recovery::Strict {
                    return Err(StoreError::Corrupt {
                        path: path.to_owned(),
                        position: position as u64,
                        detail: "a commit record fails its checksum before the log's end; start with MINIKAFKA_RECOVERY=truncate to cut the commit log there (the commits after it are lost)".into(),
                    });
                }
                break;
            }
        }
    }
    Ok((entries, position as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::disk::RealDisk;

    fn group(name: &str) -> GroupName {
        GroupName::new(name).expect("valid group")
    }

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).expect("valid topic")
    }

    fn commit(offset: u64) -> OffsetCommit {
        OffsetCommit {
            offset,
            time: Timestamp::from_nanos(offset * 1_000),
            metadata: format!("m{offset}"),
        }
    }

    fn open(root: &Path, recovery: Recovery) -> Result<(CommitLog, GroupTable), StoreError> {
        CommitLog::open(&RealDisk, root, recovery, |_| true)
    }

    #[test]
    fn entries_round_trip_and_a_reopen_rebuilds_the_live_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = open(dir.path(), Recovery::Strict).expect("open");
        let entries = [
            Entry::Commit(group("g"), topic("t"), commit(5)),
            Entry::Commit(group("g"), topic("u"), commit(7)),
            Entry::Commit(group("h"), topic("t"), commit(2)),
            Entry::Commit(group("g"), topic("t"), commit(3)),
            Entry::DeleteTopic(topic("u")),
            Entry::DeleteGroup(group("h")),
        ];
        for entry in &entries {
            log.write(&RealDisk, entry).expect("write");
        }
        log.sync(&RealDisk).expect("sync");
        drop(log);
        let (_, table) = open(dir.path(), Recovery::Strict).expect("reopen");
        let mut expected = GroupTable::new();
        expected.commit(&group("g"), &topic("t"), commit(3));
        assert_eq!(table, expected);
    }

    #[test]
    fn a_torn_tail_is_cut_and_damage_inside_is_refused_unless_truncating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = open(dir.path(), Recovery::Strict).expect("open");
        for offset in 1..=3 {
            let entry = Entry::Commit(group("g"), topic(&format!("t{offset}")), commit(offset));
            log.write(&RealDisk, &entry).expect("write");
        }
        drop(log);
        let path = dir.path().join(GROUPS_DIR).join(LOG_FILE);
        let whole = std::fs::read(&path).expect("read");

        // A crash mid-record: the last record is cut short.
        std::fs::write(&path, &whole[..whole.len() - 3]).expect("tear");
        let (_, table) = open(dir.path(), Recovery::Strict).expect("a torn tail is cut");
        assert_eq!(table.iter().count(), 2);
        assert!(std::fs::metadata(&path).expect("meta").len() < whole.len() as u64 - 3);

        // A flipped byte in the first record, with whole records after it.
        let mut damaged = whole.clone();
        damaged[MAGIC.len() + FRAME + 2] ^= 0xff;
        std::fs::write(&path, &damaged).expect("damage");
        let error = open(dir.path(), Recovery::Strict).expect_err("strict refuses");
        assert!(
            matches!(&error, StoreError::Corrupt { path: p, position, .. } if *p == path && *position == MAGIC.len() as u64),
            "{error:?}"
        );
        assert_eq!(
            std::fs::read(&path).expect("read"),
            damaged,
            "left untouched"
        );
        let (_, table) = open(dir.path(), Recovery::Truncate).expect("truncate cuts");
        assert!(table.is_empty());
    }

    #[test]
    fn the_log_is_compacted_to_the_live_set_once_it_has_grown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, mut table) = open(dir.path(), Recovery::Strict).expect("open");
        let mut offset = 0;
        while log.len <= 2 * log.compacted_len + COMPACTION_SLACK {
            offset += 1;
            let entry = Entry::Commit(group("g"), topic("t"), commit(offset));
            log.write(&RealDisk, &entry).expect("write");
            entry.apply(&mut table);
        }
        log.compact_if_grown(&RealDisk, &table).expect("compact");
        let path = dir.path().join(GROUPS_DIR).join(LOG_FILE);
        let len = std::fs::metadata(&path).expect("meta").len();
        assert!(len < 100, "one live commit left: {len} bytes");
        log.write(&RealDisk, &Entry::Commit(group("h"), topic("t"), commit(1)))
            .expect("writes go on after compaction");
        drop(log);
        let (_, reopened) = open(dir.path(), Recovery::Strict).expect("reopen");
        assert_eq!(
            reopened.fetch(&group("g"), &topic("t")),
            Some(&commit(offset))
        );
        assert_eq!(reopened.fetch(&group("h"), &topic("t")), Some(&commit(1)));
    }

    #[test]
    fn commits_of_topics_that_are_gone_are_dropped_at_opening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = open(dir.path(), Recovery::Strict).expect("open");
        log.write(
            &RealDisk,
            &Entry::Commit(group("g"), topic("gone"), commit(1)),
        )
        .expect("write");
        log.write(
            &RealDisk,
            &Entry::Commit(group("g"), topic("kept"), commit(1)),
        )
        .expect("write");
        drop(log);
        let (_, table) = CommitLog::open(&RealDisk, dir.path(), Recovery::Strict, |t| {
            t.as_str() == "kept"
        })
        .expect("reopen");
        assert_eq!(table.describe(&group("g")).map(|c| c.len()), Some(1));
    }
}
