//! [`StoreError`]: every way a store operation can fail.
//!
//! The server maps each variant to one gRPC status code, in one place; the
//! messages are written for the person who reads them in a client or a log.

use std::io;
use std::path::PathBuf;

use crate::{GroupName, TopicName, TopicSettings};

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
    /// A payload reached the store over its own record limit (the server
    /// refuses smaller ones first, so this means a server limit set above
    /// what the store can hold).
    #[error("a payload of {size} bytes is over the store's limit of {limit} bytes")]
    MessageTooLarge {
        /// The payload's size.
        size: usize,
        /// The most the store holds in one message.
        limit: usize,
    },
    /// The topic has handed out the last offset a store can number.
    #[error(
        "topic '{topic}' has used up its offsets (the last is {last_offset}); produce to a new topic"
    )]
    OffsetsExhausted {
        /// The topic appended to.
        topic: TopicName,
        /// The last offset it can hold.
        last_offset: u64,
    },
    /// A sync of the topic's data failed, so what it holds past its last
    /// good sync may not be on disk: it takes no more writes until the
    /// server restarts and recovers it. Reads of synced data go on.
    #[error(
        "topic '{topic}' takes no writes since a sync of its data failed ({cause}); reads go on; restart the server to recover it"
    )]
    TopicStopped {
        /// The stopped topic.
        topic: TopicName,
        /// Why the sync failed, as the operating system said it.
        cause: String,
    },
    /// A producer's batch came out of order: its sequence skips ahead of
    /// the next one expected, or is older than the batches the store
    /// remembers for that producer. Nothing was stored.
    #[error(
        "topic '{topic}': producer {producer_id} sent sequence {received}, but the next expected from it is {expected}{}",
        if .received < .expected { " (older than the batches remembered, so its offsets cannot be given)" } else { "" }
    )]
    SequenceOutOfOrder {
        /// The topic appended to.
        topic: TopicName,
        /// The producer.
        producer_id: u64,
        /// The sequence the batch carried.
        received: u64,
        /// The sequence the store expects next from that producer.
        expected: u64,
    },
    /// A conditional append named a next offset the topic does not have.
    /// Nothing was stored.
    #[error(
        "topic '{topic}': the append expected next offset {expected}, but the topic's next offset is {actual}"
    )]
    NextOffsetMismatch {
        /// The topic appended to.
        topic: TopicName,
        /// The next offset the append expected.
        expected: u64,
        /// The topic's actual next offset.
        actual: u64,
    },
    /// A group was named that has no commit in any topic.
    #[error("group '{0}' not found: it has no committed offset in any topic")]
    GroupNotFound(GroupName),
    /// A commit named an offset outside 1..=the topic's next offset. The
    /// committed offset is the next one to read, so the topic's next offset
    /// is the highest that can be committed.
    #[error(
        "group '{group}' cannot commit offset {offset} in topic '{topic}': a committed offset is the next one to read, from 1 up to the topic's next offset {next_offset}"
    )]
    CommitOutOfRange {
        /// The group committing.
        group: GroupName,
        /// The topic.
        topic: TopicName,
        /// The offset asked for.
        offset: u64,
        /// The topic's next offset: the highest that can be committed.
        next_offset: u64,
    },
    /// Records inside the topic's log fail their checks: the messages
    /// before them read normally, these cannot be served.
    #[error(
        "topic '{topic}': offsets {first_offset}..={} are damaged on disk and cannot be read; the first good offset after them is {next_good_offset}",
        .next_good_offset.saturating_sub(1)
    )]
    DataLoss {
        /// The damaged topic.
        topic: TopicName,
        /// The first offset that cannot be read.
        first_offset: u64,
        /// The first offset after the damage that can be read (or the
        /// topic's next offset, when nothing after it can).
        next_good_offset: u64,
    },
    /// The disk (or quota) is full; retrying after space is freed can work.
    #[error("storage is full: {context}: {cause}")]
    StorageFull {
        /// What the store was doing.
        context: String,
        /// The operating system's error; said in the message, not chained
        /// as a source, so that printing the chain says it once.
        cause: io::Error,
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
    /// Another store (another server) has the data directory open: two
    /// never share one.
    #[error("{} is in use by another minikafka server (it holds {})", .root.display(), .lock_file.display())]
    InUse {
        /// The data directory.
        root: PathBuf,
        /// The lock file the other store holds.
        lock_file: PathBuf,
    },
    /// The store has shut down and takes no more requests.
    #[error("the store is shut down")]
    Closed,
    /// A create named a topic that exists with other settings.
    #[error("topic '{topic}' already exists with other settings ({})", describe_settings(.settings))]
    TopicExists {
        /// The topic.
        topic: TopicName,
        /// The settings it has.
        settings: TopicSettings,
    },
    /// The process has no file descriptor left (EMFILE or ENFILE).
    #[error(
        "the server ran out of file descriptors: {context}: {cause}; raise its open-file limit (ulimit -n)"
    )]
    TooManyOpenFiles {
        /// What the store was doing.
        context: String,
        /// The operating system's error; said in the message, not chained.
        cause: io::Error,
    },
    /// Any other I/O failure.
    #[error("{context}: {cause}")]
    Io {
        /// What the store was doing, naming the file involved.
        context: String,
        /// The operating system's error; said in the message, not chained
        /// as a source, so that printing the chain says it once.
        cause: io::Error,
    },
}

impl StoreError {
    /// Wraps an I/O error with what the store was doing, telling a full
    /// disk (which a client can wait out) from other failures.
    pub fn io(context: impl Into<String>, cause: io::Error) -> Self {
        let context = context.into();
        // EMFILE and ENFILE: no descriptor left, in the process or the system.
        if matches!(cause.raw_os_error(), Some(23 | 24)) {
            return Self::TooManyOpenFiles { context, cause };
        }
        // ENOSPC and EDQUOT: no space left, on the device or in the quota.
        if matches!(
            cause.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) {
            Self::StorageFull { context, cause }
        } else {
            Self::Io { context, cause }
        }
    }
}

/// A topic's own settings in words, for [`StoreError::TopicExists`].
fn describe_settings(settings: &TopicSettings) -> String {
    let mut parts = Vec::new();
    match settings.retention {
        Some(crate::RetentionAge::MaxAge(age)) => parts.push(format!("retention {age:?}")),
        Some(crate::RetentionAge::Forever) => parts.push("retention forever".to_owned()),
        None => {}
    }
    if let Some(bytes) = settings.retention_bytes {
        parts.push(format!("retention_bytes {bytes}"));
    }
    if let Some(bytes) = settings.max_message_bytes {
        parts.push(format!("max_message_bytes {bytes}"));
    }
    if parts.is_empty() {
        "the server's defaults".to_owned()
    } else {
        parts.join(", ")
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

    #[test]
    fn running_out_of_descriptors_says_so_and_what_to_do() {
        for errno in [23, 24] {
            let error = StoreError::io("opening /x/t/1.log", io::Error::from_raw_os_error(errno));
            assert!(
                matches!(error, StoreError::TooManyOpenFiles { .. }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.starts_with("the server ran out of file descriptors: opening /x/t/1.log: ")
                    && message.ends_with("; raise its open-file limit (ulimit -n)"),
                "{message}"
            );
        }
    }

    #[test]
    fn an_existing_topic_is_told_with_its_settings() {
        let topic = TopicName::new("t").expect("valid");
        let error = StoreError::TopicExists {
            topic: topic.clone(),
            settings: TopicSettings {
                retention: Some(crate::RetentionAge::Forever),
                retention_bytes: Some(10),
                max_message_bytes: None,
            },
        };
        assert_eq!(
            error.to_string(),
            "topic 't' already exists with other settings (retention forever, retention_bytes 10)"
        );
        let defaults = StoreError::TopicExists {
            topic,
            settings: TopicSettings::default(),
        };
        assert_eq!(
            defaults.to_string(),
            "topic 't' already exists with other settings (the server's defaults)"
        );
    }

    #[test]
    fn an_io_cause_is_said_once_when_the_chain_is_printed() {
        let error = StoreError::io("creating /x/topics", io::Error::from_raw_os_error(17));
        assert!(std::error::Error::source(&error).is_none());
        assert_eq!(
            error.to_string(),
            format!("creating /x/topics: {}", io::Error::from_raw_os_error(17))
        );
    }

    #[test]
    fn damage_names_the_topic_the_range_and_where_reading_can_go_on() {
        let error = StoreError::DataLoss {
            topic: TopicName::new("orders").expect("valid"),
            first_offset: 17,
            next_good_offset: 21,
        };
        assert_eq!(
            error.to_string(),
            "topic 'orders': offsets 17..=20 are damaged on disk and cannot be read; the first good offset after them is 21"
        );
    }
}
