//! The one seam between the file store and the disk.
//!
//! Every file-system operation of the store that can fail on a real disk
//! goes through [`Disk`]: writes (records, segment headers, indexes, start
//! files, kept damaged bytes), syncs of files and directories, truncation,
//! file and directory creation, renames and removals. Reads do not: a read
//! that fails is answered with its error and changes nothing. The store
//! runs on [`RealDisk`]; tests run it on a disk that fills up at a chosen
//! byte, part-way through a write as a real one does, or that fails a
//! chosen kind of operation, to prove what each failure costs.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::StoreError;

/// Where the file store's changes to the file system go.
pub(crate) trait Disk: Send + Sync + Debug {
    /// Writes all of `bytes` at `position`, or fails having written any
    /// prefix of them (as `FileExt::write_all_at` may).
    fn write_at(&self, file: &File, bytes: &[u8], position: u64) -> io::Result<()>;
    /// Makes `file`'s data (and the metadata needed to read it) durable.
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// Makes `file`'s data and all its metadata durable.
    fn sync_all(&self, file: &File) -> io::Result<()>;
    /// Cuts or extends `file` to `len` bytes.
    fn set_len(&self, file: &File, len: u64) -> io::Result<()>;
    /// Creates `path`, which must not exist, open for reading and writing.
    fn create_new(&self, path: &Path) -> io::Result<File>;
    /// Creates `path`, or empties it if it exists, open for writing.
    fn create_or_truncate(&self, path: &Path) -> io::Result<File>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file at `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates the directory `path` (its parent must exist).
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates the directory `path` and any missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Removes the empty directory `path`.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of directory `dir` (files created, renamed or
    /// removed in it) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The file system itself.
#[derive(Debug)]
pub(crate) struct RealDisk;

impl Disk for RealDisk {
    fn write_at(&self, file: &File, bytes: &[u8], position: u64) -> io::Result<()> {
        file.write_all_at(bytes, position)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_all(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
        file.set_len(len)
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    fn create_or_truncate(&self, path: &Path) -> io::Result<File> {
        File::create(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir).and_then(|d| d.sync_all())
    }
}

/// [`Disk::sync_dir`], failing with the directory named.
pub(crate) fn sync_dir(disk: &dyn Disk, dir: &Path) -> Result<(), StoreError> {
    disk.sync_dir(dir)
        .map_err(|e| StoreError::io(format!("syncing directory {}", dir.display()), e))
}

/// Replaces `path` with `bytes` so that a crash leaves either the old file
/// or the new one, never a mix: write a temporary file, sync it, rename it
/// over, sync the directory. With `durable` false the syncs are skipped
/// (the rename is still atomic, but a power cut may undo it). On failure
/// the temporary file is removed, so a full disk gets its space back, and
/// the old file is left as it was.
pub(crate) fn write_atomically(
    disk: &dyn Disk,
    path: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), StoreError> {
    let temporary = path.with_extension("tmp");
    let written = disk
        .create_or_truncate(&temporary)
        .map_err(|e| StoreError::io(format!("creating {}", temporary.display()), e))
        .and_then(|file| {
            disk.write_at(&file, bytes, 0)
                .map_err(|e| StoreError::io(format!("writing {}", temporary.display()), e))?;
            if durable {
                disk.sync_data(&file)
                    .map_err(|e| StoreError::io(format!("syncing {}", temporary.display()), e))?;
            }
            disk.rename(&temporary, path).map_err(|e| {
                StoreError::io(
                    format!("renaming {} to {}", temporary.display(), path.display()),
                    e,
                )
            })
        });
    if written.is_err() {
        let _ = disk.remove_file(&temporary);
    }
    written?;
    if durable {
        sync_dir(disk, path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) use faulty::{FaultyDisk, Operation};

#[cfg(test)]
mod faulty {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;

    /// A kind of operation a [`FaultyDisk`] can be told to fail.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Operation {
        /// `sync_data` and `sync_all` of a file.
        SyncFile,
        /// A rename.
        Rename,
        /// A file's removal.
        RemoveFile,
        /// A directory's sync.
        SyncDir,
        /// A directory's creation.
        CreateDir,
        /// A file's creation.
        CreateFile,
        /// `set_len`.
        SetLen,
    }

    /// A real disk with a settable amount of free space (a write larger
    /// than what is left writes what fits, then fails with `ENOSPC`), and
    /// operations that can be made to fail with `EIO`.
    #[derive(Debug, Default)]
    pub(crate) struct FaultyDisk {
        /// Bytes that may still be written; `None` while space is unlimited.
        free: Mutex<Option<u64>>,
        /// The operations that fail until healed, each on every path or
        /// only under one.
        failing: Mutex<Vec<(Operation, Option<PathBuf>)>>,
    }

    impl FaultyDisk {
        /// Leaves `bytes` of free space (`None`: unlimited, space freed).
        pub(crate) fn set_free(&self, bytes: Option<u64>) {
            *self.free.lock().expect("free space") = bytes;
        }

        /// Makes every `operation` fail, until [`FaultyDisk::heal`].
        pub(crate) fn fail(&self, operation: Operation) {
            self.failing.lock().expect("faults").push((operation, None));
        }

        /// Makes `operation` fail on paths under `dir` only.
        pub(crate) fn fail_under(&self, operation: Operation, dir: &Path) {
            let failing = (operation, Some(dir.to_owned()));
            self.failing.lock().expect("faults").push(failing);
        }

        /// Lets `operation` work again, everywhere.
        pub(crate) fn heal(&self, operation: Operation) {
            self.failing
                .lock()
                .expect("faults")
                .retain(|(o, _)| *o != operation);
        }

        /// `EIO` if `operation` is set to fail (on `path`, when it has one).
        fn check(&self, operation: Operation, path: Option<&Path>) -> io::Result<()> {
            let failing = self.failing.lock().expect("faults");
            let fails = failing.iter().any(|(o, under)| {
                *o == operation
                    && under
                        .as_deref()
                        .is_none_or(|dir| path.is_some_and(|p| p.starts_with(dir)))
            });
            if fails {
                return Err(io::Error::from_raw_os_error(5));
            }
            Ok(())
        }
    }

    impl Disk for FaultyDisk {
        fn write_at(&self, file: &File, bytes: &[u8], position: u64) -> io::Result<()> {
            let mut free = self.free.lock().expect("free space");
            let Some(left) = free.as_mut() else {
                return file.write_all_at(bytes, position);
            };
            let fits = (*left).min(bytes.len() as u64) as usize;
            file.write_all_at(&bytes[..fits], position)?;
            *left -= fits as u64;
            if fits < bytes.len() {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            Ok(())
        }

        fn sync_data(&self, file: &File) -> io::Result<()> {
            self.check(Operation::SyncFile, None)?;
            RealDisk.sync_data(file)
        }

        fn sync_all(&self, file: &File) -> io::Result<()> {
            self.check(Operation::SyncFile, None)?;
            RealDisk.sync_all(file)
        }

        fn set_len(&self, file: &File, len: u64) -> io::Result<()> {
            self.check(Operation::SetLen, None)?;
            RealDisk.set_len(file, len)
        }

        fn create_new(&self, path: &Path) -> io::Result<File> {
            self.check(Operation::CreateFile, Some(path))?;
            RealDisk.create_new(path)
        }

        fn create_or_truncate(&self, path: &Path) -> io::Result<File> {
            self.check(Operation::CreateFile, Some(path))?;
            RealDisk.create_or_truncate(path)
        }

        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.check(Operation::Rename, Some(to))?;
            RealDisk.rename(from, to)
        }

        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.check(Operation::RemoveFile, Some(path))?;
            RealDisk.remove_file(path)
        }

        fn create_dir(&self, path: &Path) -> io::Result<()> {
            self.check(Operation::CreateDir, Some(path))?;
            RealDisk.create_dir(path)
        }

        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            self.check(Operation::CreateDir, Some(path))?;
            RealDisk.create_dir_all(path)
        }

        fn remove_dir(&self, path: &Path) -> io::Result<()> {
            RealDisk.remove_dir(path)
        }

        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.check(Operation::SyncDir, Some(dir))?;
            RealDisk.sync_dir(dir)
        }
    }
}
