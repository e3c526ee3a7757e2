//! [`FileCache`]: the segment files kept open, a bounded number of them.
//!
//! A store with many topics cannot keep a descriptor open for each of
//! their segments: the process would run out of them long before the disk
//! runs out of space. Segments are known by path and identity instead, and
//! opened on use; the least recently used handles are closed once more than
//! [`FileOptions::open_files`](super::FileOptions::open_files) are open. A
//! read or write in flight holds its own `Arc` of the handle, so closing
//! never pulls a file from under it.

use std::fs::{File, OpenOptions};
use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

use super::published::{SegmentId, SegmentView};
use crate::StoreError;

/// Which file a segment is (device and inode): a path that names another
/// file now (its topic deleted and created again) is never read as it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    /// The identity of the open `file`, found at `path`.
    pub fn of(file: &File, path: &Path) -> Result<Self, StoreError> {
        let metadata = file.metadata().map_err(|e| {
            StoreError::io(format!("reading the metadata of {}", path.display()), e)
        })?;
        Ok(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }
}

/// The open segment files, least recently used closed first.
#[derive(Debug)]
pub struct FileCache {
    open: Mutex<LruCache<SegmentId, Arc<File>>>,
}

impl FileCache {
    /// A cache keeping at most `capacity` files open (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            open: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Keeps `file`, just created or opened, as segment `id`'s handle.
    pub fn adopt(&self, id: SegmentId, file: File) {
        self.lock().put(id, Arc::new(file));
    }

    /// The segment's file, opened if it is not open; `None` if it is gone
    /// (deleted by retention or with its topic), so its path is missing or
    /// names another file.
    pub fn get(&self, segment: &SegmentView) -> Result<Option<Arc<File>>, StoreError> {
        // Opened under the lock, so a segment deleted and forgotten is
        // never put back by an open that raced the delete.
        let mut open = self.lock();
        if let Some(file) = open.get(&segment.id) {
            return Ok(Some(Arc::clone(file)));
        }
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(&segment.path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::io(
                    format!("opening {}", segment.path.display()),
                    e,
                ));
            }
        };
        if FileIdentity::of(&file, &segment.path)? != segment.identity {
            return Ok(None);
        }
        let file = Arc::new(file);
        open.put(segment.id, Arc::clone(&file));
        Ok(Some(file))
    }

    /// The segment's file, which must still exist (the writer's segments,
    /// which only it deletes).
    pub fn require(&self, segment: &SegmentView) -> Result<Arc<File>, StoreError> {
        self.get(segment)?.ok_or_else(|| {
            StoreError::io(
                format!("opening {}", segment.path.display()),
                std::io::ErrorKind::NotFound.into(),
            )
        })
    }

    /// Closes segment `id`'s handle (once reads in flight let go of it):
    /// its file was deleted.
    pub fn forget(&self, id: SegmentId) {
        self.lock().pop(&id);
    }

    /// How many files are open through the cache (for tests).
    #[cfg(test)]
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<SegmentId, Arc<File>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::Timestamp;
    use crate::file::format::SegmentFormat;
    use crate::file::segment::{Contents, segment_view};

    /// A segment view of a new file `name` in `dir`, its handle in `files`.
    fn segment(files: &FileCache, dir: &Path, name: &str) -> SegmentView {
        let path = dir.join(name);
        let file = File::create(&path).expect("create");
        let contents = Contents {
            end: 1,
            len: 0,
            newest_timestamp: Timestamp::default(),
            size_bytes: 0,
        };
        segment_view(files, file, 1, SegmentFormat::V2, contents, path).expect("view")
    }

    #[test]
    fn at_most_capacity_files_stay_open_and_closed_ones_open_again() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = FileCache::new(2);
        let segments: Vec<SegmentView> = (0..5)
            .map(|i| segment(&files, dir.path(), &format!("{i}.log")))
            .collect();
        assert_eq!(files.len(), 2);
        for segment in &segments {
            assert!(files.get(segment).expect("open").is_some());
            assert!(files.len() <= 2);
        }
        files.forget(segments[4].id);
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn a_deleted_file_or_another_at_its_path_is_gone() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let files = FileCache::new(1);
        let deleted = segment(&files, dir.path(), "a.log");
        let replaced = segment(&files, dir.path(), "b.log");
        fs::remove_file(&deleted.path).expect("delete");
        // Replaced by another file at the same path, as a topic deleted and
        // made again would do.
        fs::remove_file(&replaced.path).expect("delete");
        fs::write(&replaced.path, b"another file").expect("write");
        files.forget(replaced.id);
        assert!(files.get(&deleted).expect("no error").is_none());
        assert!(files.get(&replaced).expect("no error").is_none());
        assert!(matches!(
            files.require(&replaced),
            Err(StoreError::Io { .. })
        ));
    }
}
