//! What the stores' unit tests share.

use std::path::{Path, PathBuf};

use crate::file::{FileOptions, TOPICS_DIR};
use crate::{ReadLimits, Timestamp, TopicName};

/// Read everything there is.
pub const ALL: ReadLimits = ReadLimits {
    max_messages: usize::MAX,
    max_bytes: usize::MAX,
};

/// A topic name known to be valid.
pub fn t(name: &str) -> TopicName {
    TopicName::new(name).expect("valid")
}

/// A timestamp `n` nanoseconds after a fixed moment.
pub fn ts(n: u64) -> Timestamp {
    Timestamp::from_nanos(1_800_000_000_000_000_000 + n)
}

/// The file store's default options with segments rolling at `segment_bytes`.
pub fn options(segment_bytes: u64) -> FileOptions {
    FileOptions {
        segment_bytes,
        ..FileOptions::default()
    }
}

/// A topic's directory under a file store's `root`.
pub fn topic_dir(root: &Path, topic: &str) -> PathBuf {
    root.join(TOPICS_DIR).join(topic)
}
pub use crate::conformance::EXPIRE_BEFORE_NOW;
