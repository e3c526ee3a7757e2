//! [`StoreError`]: every way a store operation can fail.
//!
//! The server maps each variant to one gRPC status code, in one place; the
//! messages are written for the person who reads them in a client or a log.

use std::io;
use std::path::PathBuf;

use crate::TopicName;

/// Why a store operation failed. A failed operation changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A read or describe named a topic that was never created.
    #[error("topic '{0}' not found")]
    TopicNotFound(TopicName),
    /// An append carried no payload.
    #[error("a produce needs at least one payload; the batch was empty")]
    EmptyBatch,
    /// A read asked for an offset past the topic's next offset. Offsets never
    /// go back, so no such read can ever succeed.
    #[error(
        "read_from {requested} is beyond the end of topic '{topic}' (its next offset is {next_offset})"
    )]
    OffsetOutOfRange {
        /// The topic read.
        topic: TopicName,
        /// The offset asked for.
        requested: u64,
        /// The offset the topic's next message will get.
        next_offset: u64,
    },
    /// The disk (or quota) is full; retrying after space is freed can work.
    #[error("storage is full: {context}: {source}")]
    StorageFull {
        /// What the store was doing.
        context: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// Stored bytes failed their checks: nothing is served from them.
    #[error("corrupt data in {path} at byte {position}: {detail}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Where in it the damage starts.
        position: u64,
        /// What is wrong.
        detail: String,
    },
    /// The data at the store's path belongs to something else (another
    /// program, or a newer minikafka): it was left untouched.
    #[error("{path} is not a store this minikafka can use: {detail}; it was left untouched")]
    NotOurs {
        /// The file or directory found.
        path: PathBuf,
        /// What it is instead.
        detail: String,
    },
    /// The store has shut down and takes no more requests.
    #[error("the store is shut down")]
    Closed,
    /// Any other I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing, naming the file involved.
        context: String,
        /// The operating system's error.
        source: io::Error,
    },
}

impl StoreError {
    /// Wraps an I/O error with what the store was doing, telling a full
    /// disk (which a client can wait out) from other failures.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        let context = context.into();
        // ENOSPC and EDQUOT: no space left, on the device or in the quota.
        if matches!(
            source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) {
            Self::StorageFull { context, source }
        } else {
            Self::Io { context, source }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_apart_from_other_io_errors() {
        let full = StoreError::io("appending", io::Error::from_raw_os_error(28));
        assert!(matches!(full, StoreError::StorageFull { .. }), "{full:?}");
        let quota = StoreError::io("appending", io::Error::from_raw_os_error(122));
        assert!(matches!(quota, StoreError::StorageFull { .. }), "{quota:?}");
        let other = StoreError::io("appending", io::Error::from_raw_os_error(5));
        assert!(matches!(other, StoreError::Io { .. }), "{other:?}");
        assert!(other.to_string().starts_with("appending: "), "{other}");
    }
}
