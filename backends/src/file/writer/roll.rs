//! Rolling: sealing the active segment (synced, with its index written
//! durably) and starting the next one.

use std::path::Path;

use super::TopicWriter;
use crate::file::disk::{Disk, write_atomically};
use crate::file::format::{self, SegmentIndex};
use crate::file::handles::FileCache;
use crate::file::segment::{IndexBuilder, create_segment};
use crate::{StoreError, TopicName};

/// Seals the active segment and starts a new one at the next offset. In
/// every durability mode the sealed segment is synced and its index
/// written durably: that costs one sync per segment, and means only the
/// active segment can ever be torn by a crash. A failed sync stops the
/// topic, as any failed sync of its data does.
pub(super) fn roll(
    disk: &dyn Disk,
    files: &FileCache,
    name: &TopicName,
    topic: &mut TopicWriter,
    dir: &Path,
) -> Result<(), StoreError> {
    let active = &topic.active;
    if let Err(error) = disk.sync_data(&*files.require(active)?) {
        return Err(topic.stop(name, &error));
    }
    let index = SegmentIndex {
        end_offset: active.end,
        log_len: active.len,
        newest_timestamp: active.newest_timestamp,
        size_bytes: active.size_bytes,
        entries: topic.index.entries.clone(),
        // The producers as of the segment's end: start-up begins from
        // here and replays only the segments after it.
        producers: Some(topic.producers.remembered()),
    };
    write_atomically(
        disk,
        &active.path.with_extension("index"),
        &format::encode_index(&index),
        true,
    )?;
    let next = create_segment(disk, files, dir, active.end)?;
    let sealed = std::mem::replace(&mut topic.active, next);
    topic.newly_sealed.push(sealed);
    topic.index = IndexBuilder::default();
    Ok(())
}
