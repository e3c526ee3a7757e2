//! Opening a topic directory after a clean stop or a crash.
//!
//! Sealed segments are trusted through their index files (a header check
//! and a length comparison, no scan), so start-up does not grow with the
//! data stored. The active segment is scanned record by record: a torn or
//! corrupt tail, or a batch cut short, is cut back to the last whole batch
//! with a warning. Damage anywhere else stops the store from opening,
//! unless [`Recovery::Truncate`] allows cutting the log there.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::Recovery;
use super::disk::{Disk, sync_dir, write_atomically};
use super::format::{self, SEGMENT_HEADER_LEN, SETTINGS_FILE, START_FILE, SegmentIndex};
use super::handles::FileCache;
use super::published::{SegmentView, Topic, TopicView};
use super::segment::{
    Damage, IndexBuilder, RecordCursor, SCAN_CHUNK, empty_segment, scan_segment, segment_view,
};
use crate::{StoreError, TopicSettings};

/// A recovered topic: its published state, and the active segment's
/// index as the writer continues it.
pub struct Recovered {
    /// The topic as readers will see it.
    pub topic: Arc<Topic>,
    /// The active segment's index, to be extended by appends.
    pub active_index: IndexBuilder,
}

/// Opens the topic stored in `dir`; `None` if it holds no segment (a topic
/// whose creation was cut short, which therefore never held a message).
pub fn open_topic(
    disk: &dyn Disk,
    files: &FileCache,
    dir: &Path,
    recovery: Recovery,
) -> Result<Option<Recovered>, StoreError> {
    let mut bases = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| StoreError::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(format!("listing {}", dir.display()), e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(base) = format::parse_segment_file_name(&file_name) {
            bases.push(base);
        } else if file_name.ends_with(".tmp") {
            // Left by a crash before its rename: the rename never happened.
            let _ = disk.remove_file(&entry.path());
        } else if !(file_name.ends_with(".index")
            || file_name.ends_with(".damaged")
            || file_name == START_FILE
            || file_name == SETTINGS_FILE)
        {
            tracing::warn!(file = %entry.path().display(), "ignoring a file the file store did not write");
        }
    }
    bases.sort_unstable();
    let Some(&last_base) = bases.last() else {
        return Ok(None);
    };

    let mut sealed = VecDeque::new();
    let mut active_base = last_base;
    for (i, pair) in bases.windows(2).enumerate() {
        let (base, next_base) = (pair[0], pair[1]);
        let path = dir.join(format::segment_file_name(base));
        match open_sealed(disk, files, open_segment(&path)?, base, path, next_base)? {
            Ok(segment) => sealed.push_back(segment),
            Err((file, path, good_len, damage)) => {
                if recovery != Recovery::Truncate {
                    return Err(damage.into_corrupt(&path));
                }
                tracing::warn!(
                    file = %path.display(), position = damage.position, reason = %damage.reason,
                    "MINIKAFKA_RECOVERY=truncate: cutting the log here; later segments are deleted"
                );
                for &later in &bases[i + 1..] {
                    remove_segment_files(disk, dir, later)?;
                }
                truncate(disk, &file, good_len, &path)?;
                sync_dir(disk, dir)?;
                active_base = base;
                break;
            }
        }
    }
    let path = dir.join(format::segment_file_name(active_base));
    let (active, active_index) = recover_active(
        disk,
        files,
        open_segment(&path)?,
        active_base,
        path,
        recovery,
    )?;

    let first = sealed.front().unwrap_or(&active);
    let (mut start_offset, mut start_position) = (first.base, SEGMENT_HEADER_LEN);
    match fs::read(dir.join(START_FILE)) {
        Ok(bytes) => match format::decode_start(&bytes) {
            Some((offset, position)) if offset >= first.base => {
                (start_offset, start_position) = (offset, position)
            }
            Some(_) => {}
            None => {
                tracing::warn!(dir = %dir.display(), "start file is damaged; retention will re-apply at the start-up sweep")
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StoreError::io(
                format!("reading {}", dir.join(START_FILE).display()),
                e,
            ));
        }
    }
    let lost_tail = start_offset > active.end;
    if lost_tail {
        tracing::warn!(
            dir = %dir.display(), start_offset, next_offset = active.end,
            "the log ends before its recorded start (a cut log, or a power cut with MINIKAFKA_FSYNC=never)"
        );
        (start_offset, start_position) = (active.end, active.len);
    }

    let mut view = TopicView {
        sealed,
        active,
        active_index: active_index.entries.clone(),
        start_offset,
        start_position,
        size_bytes: 0,
        oldest_timestamp: None,
    };
    view.normalize_start();
    if !position_holds(files, &view, view.start_offset, view.start_position)? {
        view.start_position = locate(files, &view, start_offset)?;
    }
    if lost_tail {
        // Recorded now, so the start is not found past the end again once
        // new messages fill the offsets up to it.
        let start = format::encode_start(view.start_offset, view.start_position);
        write_atomically(disk, &dir.join(START_FILE), &start, true)?;
    }
    view.size_bytes = view.readable_bytes();
    view.oldest_timestamp = view.read_oldest_timestamp(files);
    Ok(Some(Recovered {
        topic: Arc::new(Topic {
            dir: dir.to_owned(),
            settings: RwLock::new(read_settings(dir)?),
            view: RwLock::new(view),
            deleted: Default::default(),
        }),
        active_index,
    }))
}

/// The topic's own settings from its settings file (none: it follows the
/// server's defaults). A damaged file stops the store from opening: the
/// settings decide what retention removes, so they are never guessed.
pub fn read_settings(dir: &Path) -> Result<TopicSettings, StoreError> {
    let path = dir.join(SETTINGS_FILE);
    match fs::read(&path) {
        Ok(bytes) => format::decode_settings(&bytes).ok_or_else(|| StoreError::Corrupt {
            path,
            position: 0,
            detail: "not a settings file this minikafka wrote".to_owned(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TopicSettings::default()),
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}

/// Whether the record at `position` in the segment holding `offset` has it.
fn position_holds(
    files: &FileCache,
    view: &TopicView,
    offset: u64,
    position: u64,
) -> Result<bool, StoreError> {
    if offset == view.next_offset() {
        return Ok(position == view.active.len);
    }
    let segment = view.segment_of(offset);
    let file = files.require(segment)?;
    let mut cursor = RecordCursor::new(&file, position, segment.len, Some(offset), 4096);
    Ok(matches!(cursor.next_record(), Ok(Ok(Some(_)))))
}

/// Finds where the record with `offset` starts, from the segment's start.
pub fn locate(files: &FileCache, view: &TopicView, offset: u64) -> Result<u64, StoreError> {
    if offset >= view.next_offset() {
        return Ok(view.active.len);
    }
    let segment = view.segment_of(offset);
    let file = files.require(segment)?;
    let mut cursor = RecordCursor::new(
        &file,
        SEGMENT_HEADER_LEN,
        segment.len,
        Some(segment.base),
        SCAN_CHUNK,
    );
    loop {
        let position = cursor.position();
        match cursor
            .next_record()
            .map_err(|e| StoreError::io(format!("reading {}", segment.path.display()), e))?
        {
            Ok(Some(record)) if record.header.offset == offset => return Ok(position),
            Ok(Some(_)) => {}
            Ok(None) => return Ok(segment.len),
            Err(damage) => return Err(damage.into_corrupt(&segment.path)),
        }
    }
}

fn open_segment(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))
}

fn file_len(file: &File, path: &Path) -> Result<u64, StoreError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| StoreError::io(format!("reading the size of {}", path.display()), e))
}

fn truncate(disk: &dyn Disk, file: &File, len: u64, path: &Path) -> Result<(), StoreError> {
    disk.set_len(file, len)
        .map_err(|e| StoreError::io(format!("truncating {}", path.display()), e))?;
    disk.sync_all(file)
        .map_err(|e| StoreError::io(format!("syncing {}", path.display()), e))
}

fn remove_segment_files(disk: &dyn Disk, dir: &Path, base: u64) -> Result<(), StoreError> {
    for name in [
        format::segment_file_name(base),
        format::index_file_name(base),
    ] {
        match disk.remove_file(&dir.join(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::io(
                    format!("deleting {}", dir.join(name).display()),
                    e,
                ));
            }
        }
    }
    Ok(())
}

fn check_header(file: &File, base: u64, path: &Path) -> Result<(), Damage> {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) if format::decode_segment_header(&header) == Some(base) => Ok(()),
        _ => Err(Damage {
            position: 0,
            reason: format!(
                "{} has no valid segment header for offset {base}",
                path.display()
            ),
        }),
    }
}

/// A sealed segment that failed its checks: the file, its path, the length
/// of its intact part, and what is wrong.
type SealedFailure = (File, PathBuf, u64, Damage);

/// Opens a sealed segment through its index; rebuilds a missing or damaged
/// index by scanning the segment.
fn open_sealed(
    disk: &dyn Disk,
    files: &FileCache,
    file: File,
    base: u64,
    path: PathBuf,
    next_base: u64,
) -> Result<Result<SegmentView, SealedFailure>, StoreError> {
    let len = file_len(&file, &path)?;
    if let Err(damage) = check_header(&file, base, &path) {
        return Ok(Err((file, path, 0, damage)));
    }
    // Only the index's header is read: it has its own checksum, and the
    // entries are checked when a read first loads them.
    let index_path = path.with_extension("index");
    let trusted = read_index_header(&index_path)
        .filter(|h| h.log_len == len && h.end_offset == next_base && h.entry_count > 0);
    let (end_offset, newest_timestamp) = match trusted {
        Some(header) => (header.end_offset, header.newest_timestamp),
        None => {
            let scan = scan_segment(&file, base, len, &path)?;
            if let Some(damage) = scan.damage {
                return Ok(Err((file, path, scan.good_len, damage)));
            }
            if scan.end_offset != next_base {
                let damage = Damage {
                    position: scan.good_len,
                    reason: format!(
                        "segment ends at offset {} but the next segment starts at {next_base}",
                        scan.end_offset
                    ),
                };
                return Ok(Err((file, path, scan.good_len, damage)));
            }
            tracing::warn!(file = %index_path.display(), "rebuilt a missing or damaged index");
            let index = SegmentIndex {
                end_offset: scan.end_offset,
                log_len: len,
                newest_timestamp: scan.newest_timestamp,
                entries: scan.index,
            };
            // The index only spares the next start-up this scan: a full
            // disk must not keep the store from opening.
            match write_atomically(disk, &index_path, &format::encode_index(&index), true) {
                Err(StoreError::StorageFull { context, .. }) => {
                    tracing::warn!(file = %index_path.display(), %context, "no space to save the rebuilt index; the next start-up rebuilds it again")
                }
                written => written?,
            }
            (index.end_offset, index.newest_timestamp)
        }
    };
    Ok(Ok(segment_view(
        files,
        file,
        base,
        end_offset,
        len,
        newest_timestamp,
        path,
    )?))
}

/// Opens the active segment: scans it, and cuts a torn or corrupt tail back
/// to the last whole batch.
fn recover_active(
    disk: &dyn Disk,
    files: &FileCache,
    file: File,
    base: u64,
    path: PathBuf,
    recovery: Recovery,
) -> Result<(SegmentView, IndexBuilder), StoreError> {
    let len = file_len(&file, &path)?;
    if len < SEGMENT_HEADER_LEN || check_header(&file, base, &path).is_err() {
        // Fewer bytes than a header: its creation was cut short, and it
        // never held a record.
        let empty = len < SEGMENT_HEADER_LEN;
        if !empty && recovery != Recovery::Truncate {
            let damage = Damage {
                position: 0,
                reason: format!(
                    "{} has no valid segment header for offset {base}",
                    path.display()
                ),
            };
            return Err(damage.into_corrupt(&path));
        }
        tracing::warn!(file = %path.display(), bytes = len, "rewriting the header of a segment whose creation was cut short");
        disk.set_len(&file, 0)
            .map_err(|e| StoreError::io(format!("truncating {}", path.display()), e))?;
        disk.write_at(&file, &format::encode_segment_header(base), 0)
            .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))?;
        disk.sync_all(&file)
            .map_err(|e| StoreError::io(format!("syncing {}", path.display()), e))?;
        return Ok((
            empty_segment(files, file, base, path)?,
            IndexBuilder::default(),
        ));
    }
    let scan = scan_segment(&file, base, len, &path)?;
    if let Some(damage) = &scan.damage {
        let cut = read_range(&file, scan.good_len, len, &path)?;
        let after_damage = (damage.position - scan.good_len) as usize;
        match valid_record_in(&cut, after_damage + 1, scan.end_offset) {
            // Only garbage after the damage: a write the crash tore.
            None => tracing::warn!(
                file = %path.display(),
                position = damage.position,
                first_lost_offset = scan.end_offset,
                bytes_dropped = len - scan.good_len,
                reason = %damage.reason,
                "cutting a torn or corrupt tail back to the last whole batch"
            ),
            // Whole records follow the damage: either the unsynced part of
            // the last writes, written back out of order before a power cut,
            // or damage to data that was synced. The log is cut either way
            // (the records after a gap cannot be served in order), but the
            // bytes are kept beside the segment, never destroyed.
            Some(found) => {
                let kept = path.with_extension("log.damaged");
                write_atomically(disk, &kept, &cut, true)?;
                tracing::error!(
                    file = %path.display(),
                    position = damage.position,
                    reason = %damage.reason,
                    first_lost_offset = scan.end_offset,
                    valid_record_at = scan.good_len + found as u64,
                    bytes_dropped = len - scan.good_len,
                    kept_in = %kept.display(),
                    "damage inside the active segment with valid records after it: cutting the log there"
                );
            }
        }
        truncate(disk, &file, scan.good_len, &path)?;
    }
    let view = segment_view(
        files,
        file,
        base,
        scan.end_offset,
        scan.good_len,
        scan.newest_timestamp,
        path,
    )?;
    Ok((
        view,
        IndexBuilder {
            entries: scan.index,
        },
    ))
}

/// The bytes of `file[from..to]`.
fn read_range(file: &File, from: u64, to: u64, path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![0u8; (to - from) as usize];
    file.read_exact_at(&mut bytes, from)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    Ok(bytes)
}

/// The position of the first record in `bytes[from..]` that is whole, has
/// a valid checksum and an offset at or after `min_offset`: evidence that
/// what precedes it is damage rather than the end of the log.
fn valid_record_in(bytes: &[u8], from: usize, min_offset: u64) -> Option<usize> {
    let max_offset = min_offset.saturating_add((bytes.len() / format::RECORD_HEADER_LEN) as u64);
    (from..bytes.len().saturating_sub(format::RECORD_HEADER_LEN)).find(|&at| {
        let header = format::decode_record_header(&bytes[at..]);
        (min_offset..max_offset).contains(&header.offset)
            && at + header.record_len() <= bytes.len()
            && format::record_crc_matches(&header, &bytes[at..at + header.record_len()])
    })
}

/// The header of an index file whose length matches it; `None` if
/// missing, short or damaged.
fn read_index_header(path: &Path) -> Option<format::IndexHeader> {
    let file = File::open(path).ok()?;
    let mut bytes = [0u8; format::INDEX_HEADER_LEN];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let header = format::decode_index_header(&bytes)?;
    let len = file.metadata().ok()?.len();
    (len == header.file_len()).then_some(header)
}
