//! The one seam between the file store and the bytes it puts on disk.
//!
//! Every write that can take space (records, segment headers, indexes,
//! start files, kept damaged bytes) goes through [`Disk::write_at`]. The
//! store runs on [`RealDisk`]; tests run it on a disk that fills up at a
//! chosen byte, part-way through a write as a real one does, to prove that a
//! full disk costs nothing that was acknowledged and leaves no partial
//! record behind.

use std::fmt::Debug;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Where the file store's writes go.
pub(crate) trait Disk: Send + Sync + Debug {
    /// Writes all of `bytes` at `position`, or fails having written any
    /// prefix of them (as `FileExt::write_all_at` may).
    fn write_at(&self, file: &File, bytes: &[u8], position: u64) -> io::Result<()>;
}

/// The file system itself.
#[derive(Debug)]
pub(crate) struct RealDisk;

impl Disk for RealDisk {
    fn write_at(&self, file: &File, bytes: &[u8], position: u64) -> io::Result<()> {
        file.write_all_at(bytes, position)
    }
}

#[cfg(test)]
pub(crate) use filling::FillingDisk;

#[cfg(test)]
mod filling {
    use std::sync::Mutex;

    use super::*;

    /// A disk with a settable amount of free space: a write larger than what
    /// is left writes what fits, then fails with `ENOSPC`.
    #[derive(Debug, Default)]
    pub(crate) struct FillingDisk {
        /// Bytes that may still be written; `None` while space is unlimited.
        free: Mutex<Option<u64>>,
    }

    impl FillingDisk {
        /// Leaves `bytes` of free space (`None`: unlimited, space freed).
        pub(crate) fn set_free(&self, bytes: Option<u64>) {
            *self.free.lock().expect("free space") = bytes;
        }
    }

    impl Disk for FillingDisk {
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
    }
}
