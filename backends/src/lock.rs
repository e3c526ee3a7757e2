//! The data directory's lock: one store (one server) at a time.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use crate::StoreError;

/// The file locked while a store has the root open.
const LOCK_FILE: &str = ".lock";

/// Takes the root's lock file, so two stores never share a directory.
pub fn lock_root(root: &Path) -> Result<File, StoreError> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
            root: root.to_owned(),
            lock_file: path,
        }),
        Err(fs::TryLockError::Error(e)) => {
            Err(StoreError::io(format!("locking {}", path.display()), e))
        }
    }
}
