//! Storage for minikafka: the [`Store`] trait and its implementations.
//!
//! Nothing here knows about gRPC: the server validates requests, passes the
//! time in, and maps [`StoreError`] to status codes in one place.
//!
//! # Layout
//! - [`store`] — the [`Store`] trait, the contract every store keeps.
//! - [`types`] — what flows through it: [`Timestamp`], [`Message`],
//!   [`ReadLimits`], [`ReadResult`], [`TopicInfo`].
//! - [`topic`] — [`TopicName`], a validated topic name.
//! - [`error`] — [`StoreError`].
//! - [`file`] — [`FileStore`], the append-only segment log on disk, and
//!   [`file::verify`], its offline check.
//! - [`memory`] — [`MemoryStore`], everything in memory.
//! - [`sqlite`] — [`SqliteStore`], one SQLite database file.
//! - [`groups`] — [`GroupTable`], groups' committed offsets in memory.
//! - [`notify`] — [`AppendNotifier`], how waiting readers learn of appends.
//! - [`open`] — [`StoreConfig`] and [`open_store`]: choosing and opening a store.
//! - `conformance` (feature `conformance`): the scenarios every store passes.

pub mod error;
pub mod file;
pub mod groups;
mod lock;
pub mod memory;
pub mod notify;
pub mod open;
pub mod producers;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod test_support;
pub mod topic;
pub mod types;
mod writer_thread;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::StoreError;
pub use file::{FileOptions, FileStore, Recovery};
pub use groups::GroupTable;
pub use memory::{MemoryOptions, MemoryStore};
pub use notify::{AppendNotifier, TopicWatch};
pub use open::{OpenStoreError, StoreConfig, StoreKind, open_store};
pub use producers::{Admission, ProducerTable};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;
pub use topic::{GroupName, NameError, TopicName, TopicNameError};
pub use types::{
    Batch, Creation, DEFAULT_GROUP_RETENTION, Durability, Header, MAX_COMMIT_METADATA_BYTES,
    Message, OffsetCommit, OffsetRange, ProducerSequence, ReadLimits, ReadResult, Record,
    RemovalReport, RetentionAge, RetentionDefaults, SettingsChange, Timestamp, TopicInfo,
    TopicSettings,
};
