//! [`StoreError`]: every way a store operation can fail.
//!
//! The server maps each variant to one gRPC status code, in one place; the
//! messages are written for the person who reads them in a client or a log.

use std::io;

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
    /// Any other I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What the store was doing, naming the file involved.
        context: String,
        /// The operating system's error.
        source: io::Error,
    },
}
