//! The offline check of a file store's data directory
//! (`mkfk-server verify`): every record of every segment of every topic
//! against its checksum and its place in the offset sequence.
//!
//! It only reads: it takes no lock, writes nothing and repairs nothing, so
//! it is safe on a copy of a live directory and harmless on a live one
//! (a segment that retention deletes while it runs is skipped).

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{self, SEGMENT_HEADER_LEN, TOPICS_DIR};
use super::segment::{RecordCursor, SCAN_CHUNK, resume_after_damage};
use crate::{StoreError, TopicName};

/// What [`verify`] found in a data directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Topic directories checked.
    pub topics: usize,
    /// Segment files checked.
    pub segments: usize,
    /// Records whose checksum and offset verified.
    pub records: u64,
    /// Every damaged range, in topic, segment and position order.
    pub damage: Vec<DamagedRange>,
}

/// A run of records that fail their checks, and where good ones start
/// again: what a read would answer `DATA_LOSS` for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRange {
    /// The topic.
    pub topic: TopicName,
    /// The segment file holding the damage.
    pub segment: PathBuf,
    /// Where in it the damage starts (byte).
    pub position: u64,
    /// The first offset that cannot be read.
    pub first_offset: u64,
    /// The first offset after the damage that can be read; `None` when
    /// nothing after it in the log can (the damage runs to the end of the
    /// last segment).
    pub next_good_offset: Option<u64>,
    /// What is wrong.
    pub detail: String,
}

impl fmt::Display for DamagedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (topic, segment, position) = (&self.topic, self.segment.display(), self.position);
        write!(f, "topic '{topic}': {segment} at byte {position}: ")?;
        match self.next_good_offset {
            Some(next) if next > self.first_offset => write!(
                f,
                "offsets {}..={} are damaged ({}); the first good offset after them is {next}",
                self.first_offset,
                next - 1,
                self.detail
            ),
            Some(next) => write!(f, "{}; offset {next} reads on", self.detail),
            None => write!(
                f,
                "offsets from {} on are damaged ({}); nothing after them can be read",
                self.first_offset, self.detail
            ),
        }
    }
}

/// Checks every record of every segment of every topic under `root` (a
/// file store's data directory) against its checksum and offset, and
/// returns each damaged range. Read-only and lock-free: see the module
/// documentation. An incomplete write at the very end of a topic's last
/// segment (with no whole record after it) is what a crash or a write in
/// progress leaves, and what recovery cuts away: it is not damage.
/// Fails only when the directory cannot be read.
pub fn verify(root: &Path) -> Result<VerifyReport, StoreError> {
    let topics_dir = root.join(TOPICS_DIR);
    if !topics_dir.is_dir() {
        return Err(StoreError::io(
            format!(
                "{} holds no file store to check (it has no {TOPICS_DIR} directory)",
                root.display()
            ),
            io::Error::from(io::ErrorKind::NotFound),
        ));
    }
    let mut report = VerifyReport::default();
    for (topic, dir) in sorted_entries(&topics_dir, |name| TopicName::new(name).ok())? {
        if !dir.is_dir() {
            continue;
        }
        report.topics += 1;
        let bases: Vec<u64> = sorted_entries(&dir, format::parse_segment_file_name)?
            .into_iter()
            .map(|(base, _)| base)
            .collect();
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(format::segment_file_name(base));
            let next_base = bases.get(i + 1).copied();
            match verify_segment(&topic, &path, base, next_base, &mut report) {
                Ok(()) => report.segments += 1,
                // Deleted by retention since it was listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
            }
        }
    }
    Ok(report)
}

/// The entries of `dir` whose names `parse` accepts, sorted by what it
/// makes of them.
fn sorted_entries<T: Ord>(
    dir: &Path,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<(T, PathBuf)>, StoreError> {
    let listing = |e| StoreError::io(format!("listing {}", dir.display()), e);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(listing)? {
        let entry = entry.map_err(listing)?;
        if let Some(parsed) = entry.file_name().to_str().and_then(&parse) {
            found.push((parsed, entry.path()));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Checks one segment, adding what it finds to `report`. `next_base` is
/// the next segment's base, `None` for the topic's last segment.
fn verify_segment(
    topic: &TopicName,
    path: &Path,
    base: u64,
    next_base: Option<u64>,
    report: &mut VerifyReport,
) -> io::Result<()> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let damaged = |position, first_offset, next_good_offset, detail| DamagedRange {
        topic: topic.clone(),
        segment: path.to_owned(),
        position,
        first_offset,
        next_good_offset,
        detail,
    };
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    let segment_format = match file.read_exact_at(&mut header, 0) {
        Ok(()) => format::decode_segment_header(&header)
            .filter(|&(found, _)| found == base)
            .map(|(_, segment_format)| segment_format),
        Err(_) => None,
    };
    let Some(segment_format) = segment_format else {
        // A last segment shorter than its header: its creation was cut
        // short, and recovery rewrites it; it never held a record.
        if next_base.is_none() && len < SEGMENT_HEADER_LEN {
            return Ok(());
        }
        let index = index_entries(path);
        let resumed =
            resume_after_damage(&file, 0, base.saturating_sub(1), &index, len, next_base)?;
        let detail = format!("no valid segment header for offset {base}");
        report
            .damage
            .push(damaged(0, base, resumed.map(|r| r.offset), detail));
        return Ok(());
    };
    let mut cursor = RecordCursor::new(
        &file,
        SEGMENT_HEADER_LEN,
        len,
        Some(base),
        SCAN_CHUNK,
        segment_format,
    );
    loop {
        let damage = match cursor.next_record()? {
            Ok(Some(_)) => {
                report.records += 1;
                continue;
            }
            Ok(None) => break,
            Err(damage) => damage,
        };
        let damaged_offset = cursor.expected_offset().unwrap_or(base);
        let index = index_entries(path);
        let resumed = resume_after_damage(
            &file,
            damage.position,
            damaged_offset,
            &index,
            len,
            next_base,
        )?;
        let Some(resumed) = resumed else {
            // Only an unfinished write after it, at the end of the log.
            break;
        };
        report.damage.push(damaged(
            damage.position,
            damaged_offset,
            Some(resumed.offset),
            damage.reason,
        ));
        cursor = RecordCursor::new(
            &file,
            resumed.position,
            len,
            Some(resumed.offset),
            SCAN_CHUNK,
            segment_format,
        );
    }
    let end = cursor.expected_offset().unwrap_or(base);
    if let Some(next_base) = next_base
        && end != next_base
    {
        let detail =
            format!("the segment ends at offset {end} but the next one starts at {next_base}");
        report
            .damage
            .push(damaged(len, end, Some(next_base), detail));
    }
    Ok(())
}

/// The entries of a segment's index file, if it has a whole one: anchors
/// for finding good records after damage (each is checked before use).
fn index_entries(segment: &Path) -> Vec<(u64, u64)> {
    std::fs::read(segment.with_extension("index"))
        .ok()
        .and_then(|bytes| format::decode_index_entries(&bytes))
        .map(|(_, entries)| entries)
        .unwrap_or_default()
}
