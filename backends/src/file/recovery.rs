//! Opening a topic directory after a clean stop or a crash.
//!
//! Sealed segments are trusted through their index files (a header check
//! and a length comparison, no scan), so start-up does not grow with the
//! data stored. The active segment is scanned record by record: a torn or
//! corrupt tail, or a batch cut short, is cut back to the last whole batch
//! with a warning. Damage anywhere else stops the store from opening,
//! unless [`Recovery::Truncate`] allows cutting the log there. The
//! producer table comes from the newest sealed segment's snapshot and the
//! active segment's scan.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::Recovery;
use super::disk::{Disk, sync_dir, write_atomically};
use super::format::{
    self, SEGMENT_HEADER_LEN, SETTINGS_FILE, START_FILE, SegmentFormat, SegmentIndex,
};
use super::handles::FileCache;
use super::published::{SegmentView, Topic, TopicView};
use super::segment::{
    Contents, Damage, IndexBuilder, ProducerBatch, RecordCursor, SCAN_CHUNK, empty_segment,
    scan_segment, segment_view,
};
use crate::producers::RememberedProducer;
use crate::{ProducerTable, StoreError, TopicSettings};

/// A recovered topic: its published state, and the active segment's
/// index as the writer continues it.
pub struct Recovered {
    /// The topic as readers will see it.
    pub topic: Arc<Topic>,
    /// The active segment's index, to be extended by appends.
    pub active_index: IndexBuilder,
    /// The topic's producers, rebuilt from what is stored.
    pub producers: ProducerTable,
}

/// Opens the topic stored in `dir`; `None` if it holds no segment (a topic
/// whose creation was cut short, which therefore never held a message).
pub fn open_topic(
    disk: &dyn Disk,
    files: &FileCache,
    dir: &Path,
    recovery: Recovery,
    max_producers: usize,
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
    let mut index_headers = Vec::new();
    let mut active_base = last_base;
    for (i, pair) in bases.windows(2).enumerate() {
        let (base, next_base) = (pair[0], pair[1]);
        let path = dir.join(format::segment_file_name(base));
        match open_sealed(disk, files, open_segment(&path)?, base, path, next_base)? {
            Ok((segment, header)) => {
                sealed.push_back(segment);
                index_headers.push(header);
            }
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
    let (active, active_index, active_batches) = recover_active(
        disk,
        files,
        open_segment(&path)?,
        active_base,
        path,
        recovery,
    )?;

    let first = sealed.front().unwrap_or(&active);
    let (mut start_offset, mut start_position) = (first.base, SEGMENT_HEADER_LEN);
    let mut skipped_bytes = None;
    match fs::read(dir.join(START_FILE)) {
        Ok(bytes) => match format::decode_start(&bytes) {
            Some(start) if start.offset >= first.base => {
                (start_offset, start_position) = (start.offset, start.position);
                skipped_bytes = start.skipped_bytes;
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
        skipped_bytes = Some(active.size_bytes);
    }

    let mut view = TopicView {
        sealed,
        active,
        active_index: active_index.entries.clone(),
        start_offset,
        start_position,
        start_skipped_bytes: skipped_bytes.unwrap_or_default(),
        size_bytes: 0,
        oldest_timestamp: None,
    };
    view.normalize_start();
    let start_segment = view.segment_of(view.start_offset);
    let in_segment = view.start_offset - start_segment.base;
    if in_segment > 0 {
        let holds = position_holds(files, &view, view.start_offset, view.start_position)?;
        match skipped_bytes {
            Some(_) if holds => {}
            // A v1 start file in a v1 segment: its records' sizes follow
            // from their positions.
            None if holds && start_segment.format == SegmentFormat::V1 => {
                view.start_skipped_bytes =
                    format::v1_payload_bytes(SEGMENT_HEADER_LEN, view.start_position, in_segment);
            }
            _ => {
                (view.start_position, view.start_skipped_bytes) =
                    locate(files, &view, start_offset)?;
            }
        }
    }
    if lost_tail {
        // Recorded now, so the start is not found past the end again once
        // new messages fill the offsets up to it.
        let start = format::encode_start(
            view.start_offset,
            view.start_position,
            view.start_skipped_bytes,
        );
        write_atomically(disk, &dir.join(START_FILE), &start, true)?;
    }
    let producers = rebuild_producers(
        disk,
        files,
        &view.sealed,
        &index_headers,
        &active_batches,
        max_producers,
    )?;
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
        producers,
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
    let mut cursor = RecordCursor::new(
        &file,
        position,
        segment.len,
        Some(offset),
        4096,
        segment.format,
    );
    Ok(matches!(cursor.next_record(), Ok(Ok(Some(_)))))
}

/// Finds where the record with `offset` starts, from the segment's start,
/// and the message bytes of the records before it there.
pub fn locate(files: &FileCache, view: &TopicView, offset: u64) -> Result<(u64, u64), StoreError> {
    if offset >= view.next_offset() {
        return Ok((view.active.len, view.active.size_bytes));
    }
    let segment = view.segment_of(offset);
    let file = files.require(segment)?;
    let mut cursor = RecordCursor::new(
        &file,
        SEGMENT_HEADER_LEN,
        segment.len,
        Some(segment.base),
        SCAN_CHUNK,
        segment.format,
    );
    let mut skipped = 0;
    loop {
        let position = cursor.position();
        match cursor
            .next_record()
            .map_err(|e| StoreError::io(format!("reading {}", segment.path.display()), e))?
        {
            Ok(Some(record)) if record.header.offset == offset => return Ok((position, skipped)),
            Ok(Some(record)) => skipped += record.body.size(),
            Ok(None) => return Ok((segment.len, skipped)),
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

fn check_header(file: &File, base: u64, path: &Path) -> Result<SegmentFormat, Damage> {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    match file
        .read_exact_at(&mut header, 0)
        .map(|()| format::decode_segment_header(&header))
    {
        Ok(Some((found, format))) if found == base => Ok(format),
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

/// Opens a sealed segment through its index (returning the index's
/// header too); rebuilds a missing or damaged index by scanning the
/// segment.
fn open_sealed(
    disk: &dyn Disk,
    files: &FileCache,
    file: File,
    base: u64,
    path: PathBuf,
    next_base: u64,
) -> Result<Result<(SegmentView, Option<format::IndexHeader>), SealedFailure>, StoreError> {
    let len = file_len(&file, &path)?;
    let segment_format = match check_header(&file, base, &path) {
        Ok(segment_format) => segment_format,
        Err(damage) => return Ok(Err((file, path, 0, damage))),
    };
    // Only the index's header is read: it has its own checksum, and the
    // entries are checked when a read first loads them.
    let index_path = path.with_extension("index");
    let trusted = read_index_header(&index_path)
        .filter(|h| h.log_len == len && h.end_offset == next_base && h.entry_count > 0);
    let contents = match trusted {
        Some(header) => Contents {
            end: header.end_offset,
            len,
            newest_timestamp: header.newest_timestamp,
            // A v1 index is only ever a v1 segment's.
            size_bytes: header.size_bytes.unwrap_or_else(|| {
                format::v1_payload_bytes(SEGMENT_HEADER_LEN, len, header.end_offset - base)
            }),
        },
        None => {
            let scan = scan_segment(&file, base, len, segment_format, &path)?;
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
                size_bytes: scan.size_bytes,
                entries: scan.index,
                producers: None,
            };
            // The index only spares the next start-up this scan: a full
            // disk must not keep the store from opening.
            match write_atomically(disk, &index_path, &format::encode_index(&index), true) {
                Err(StoreError::StorageFull { context, .. }) => {
                    tracing::warn!(file = %index_path.display(), %context, "no space to save the rebuilt index; the next start-up rebuilds it again")
                }
                written => written?,
            }
            Contents {
                end: index.end_offset,
                len,
                newest_timestamp: index.newest_timestamp,
                size_bytes: index.size_bytes,
            }
        }
    };
    let view = segment_view(files, file, base, segment_format, contents, path)?;
    Ok(Ok((view, trusted)))
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
) -> Result<(SegmentView, IndexBuilder, Vec<ProducerBatch>), StoreError> {
    let len = file_len(&file, &path)?;
    let header = check_header(&file, base, &path);
    if len < SEGMENT_HEADER_LEN || header.is_err() {
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
            empty_segment(files, file, base, path, SegmentFormat::V2)?,
            IndexBuilder::default(),
            Vec::new(),
        ));
    }
    let mut segment_format = header.unwrap_or(SegmentFormat::V2);
    let scan = scan_segment(&file, base, len, segment_format, &path)?;
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
    if segment_format == SegmentFormat::V1 && scan.good_len == SEGMENT_HEADER_LEN {
        // An empty v1 segment has nothing to keep in v1: it becomes v2 in
        // place, where a v1 segment with records is sealed at the first
        // append (a segment's records all have one layout).
        disk.write_at(&file, &format::encode_segment_header(base), 0)
            .and_then(|()| disk.sync_all(&file))
            .map_err(|e| {
                StoreError::io(format!("rewriting the header of {}", path.display()), e)
            })?;
        segment_format = SegmentFormat::V2;
    }
    let contents = Contents {
        end: scan.end_offset,
        len: scan.good_len,
        newest_timestamp: scan.newest_timestamp,
        size_bytes: scan.size_bytes,
    };
    let view = segment_view(files, file, base, segment_format, contents, path)?;
    Ok((
        view,
        IndexBuilder {
            entries: scan.index,
        },
        scan.producer_batches,
    ))
}

/// Rebuilds a topic's producer table without reading every segment: from
/// the snapshot in the index of the newest sealed segment that has one,
/// then the producer batches of the (v2) segments after it, the active
/// one's from its start-up scan. A v1 segment holds no producers, and
/// nothing before it does either, so the walk back stops there. Only
/// when the newest snapshot is missing or damaged are sealed segments
/// read, back to an older snapshot, a v1 segment or the log's start; the
/// newest sealed segment's index then gets the snapshot it lacked, so the
/// next start-up does not read them again.
fn rebuild_producers(
    disk: &dyn Disk,
    files: &FileCache,
    sealed: &VecDeque<SegmentView>,
    index_headers: &[Option<format::IndexHeader>],
    active_batches: &[ProducerBatch],
    max_producers: usize,
) -> Result<ProducerTable, StoreError> {
    let mut table = ProducerTable::new(max_producers);
    let mut replay_from = 0;
    for (i, segment) in sealed.iter().enumerate().rev() {
        if segment.format == SegmentFormat::V1 {
            replay_from = i + 1;
            break;
        }
        let snapshot = index_headers
            .get(i)
            .copied()
            .flatten()
            .and_then(|header| read_snapshot(&segment.path.with_extension("index"), header));
        if let Some(producers) = snapshot {
            for producer in &producers {
                table.restore(producer);
            }
            replay_from = i + 1;
            break;
        }
        tracing::warn!(file = %segment.path.display(), "no producer snapshot in this segment's index: reading the segment to rebuild the producers");
    }
    let mut newest_scan = None;
    for segment in sealed.iter().skip(replay_from) {
        let file = files.require(segment)?;
        let scan = scan_segment(
            &file,
            segment.base,
            segment.len,
            segment.format,
            &segment.path,
        )?;
        if let Some(damage) = &scan.damage {
            // Damage in a sealed segment is the reads' to report; the
            // producers stored after it are still remembered.
            tracing::warn!(file = %segment.path.display(), position = damage.position, reason = %damage.reason, "damage while rebuilding the producer table: batches after it are not remembered");
        }
        for batch in &scan.producer_batches {
            table.record(batch.producer, batch.offsets, batch.timestamp);
        }
        newest_scan = Some((segment, scan));
    }
    if let Some((segment, scan)) = newest_scan
        && scan.damage.is_none()
    {
        let index = SegmentIndex {
            end_offset: scan.end_offset,
            log_len: segment.len,
            newest_timestamp: scan.newest_timestamp,
            size_bytes: scan.size_bytes,
            entries: scan.index,
            producers: Some(table.remembered()),
        };
        let path = segment.path.with_extension("index");
        // Like a rebuilt index, it only spares the next start-up a scan.
        if let Err(error) = write_atomically(disk, &path, &format::encode_index(&index), true) {
            tracing::warn!(file = %path.display(), %error, "could not save the rebuilt producer snapshot; the next start-up rebuilds it again");
        }
    }
    for batch in active_batches {
        table.record(batch.producer, batch.offsets, batch.timestamp);
    }
    Ok(table)
}

/// The producer snapshot of the index file at `path`, whose header is
/// `header`; `None` if it has none or it is damaged.
fn read_snapshot(path: &Path, header: format::IndexHeader) -> Option<Vec<RememberedProducer>> {
    let (at, len, crc) = header.snapshot?;
    let mut bytes = vec![0u8; len as usize];
    if len > 0 {
        File::open(path).ok()?.read_exact_at(&mut bytes, at).ok()?;
    }
    format::decode_snapshot(&bytes, crc)
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
    // Long enough for either version's header; a v1 index is 44 bytes
    // and more (its first entry), so the read is whole either way.
    let mut bytes = [0u8; format::INDEX_HEADER_LEN];
    let read = file.read_at(&mut bytes, 0).ok()?;
    let bytes = &bytes[..read];
    let header = format::decode_index_header(bytes)?;
    let len = file.metadata().ok()?.len();
    (len == header.file_len()).then_some(header)
}
