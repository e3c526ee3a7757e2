//! Rust client for minikafka: produce to and consume from topics, and
//! manage them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), minikafka_client::ClientError> {
//! use minikafka_client::{Client, Position};
//!
//! let client = Client::connect("127.0.0.1:9999").await?;
//! let offset = client.producer("orders").send("hello").await?;
//!
//! let mut consumer = client.consumer("orders", Position::Offset(offset));
//! let polled = consumer.poll(None).await?;
//! assert_eq!(polled.messages[0].payload, "hello");
//! // Persist this to resume here after a restart.
//! let resume_at = consumer.position();
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`Client`] — one connection, shared by the producers and consumers made
//!   from it (cheap to clone).
//! - [`Producer`] — appends to one topic; coalesces concurrent sends into
//!   batched requests ([`BatchOptions`]); idempotent by default, so it
//!   retries lost answers without storing a batch twice; conditional
//!   appends ([`Producer::send_records_expecting`]).
//! - [`Record`] — a message to produce with a key and [`Header`]s.
//! - [`Admin`] — creates, configures, deletes and lists topics
//!   ([`Client::admin`]).
//! - [`Consumer`] — reads one topic from a position it keeps: polls, long
//!   polls, or a [`Subscription`] stream that the server pushes to; from
//!   an offset, a time, or a group's committed position
//!   ([`Consumer::group`], [`Consumer::commit`], auto-commit).
//! - Groups: [`Client::commit_offset`], [`Client::fetch_offset`],
//!   [`Admin::list_groups`], [`Admin::describe_group`] (lag),
//!   [`Admin::delete_group`]; [`Client::offset_for_time`].
//! - [`ClientError`] — what can go wrong, each cause said once: the gRPC
//!   status when the server answered, [`ClientError::DataLoss`] with the
//!   offsets when a read reached damaged records, [`ClientError::Connect`]
//!   with the root cause when the server could not be reached,
//!   [`ClientError::NextOffsetMismatch`] and
//!   [`ClientError::SequenceOutOfOrder`] with the server's numbers.

mod address;
mod admin;
mod batcher;
mod client;
mod consumer;
mod error;
mod groups;
mod producer;
mod record;
mod sender;
mod subscription;

pub use address::endpoint_uri;
pub use admin::{
    Admin, Effective, EffectiveSettings, Retention, Setting, SettingSource, TopicChange,
    TopicSettings, UnknownSetting,
};
pub use batcher::BatchOptions;
pub use client::{Client, TlsOptions, TopicInfo};
pub use consumer::{Consumer, Gap, Message, Polled, Position};
pub use error::{
    ClientError, DAMAGED_FIRST_OFFSET, EXPECTED_SEQUENCE, NEXT_GOOD_OFFSET, NEXT_OFFSET,
};
pub use groups::{Commit, GroupInfo, GroupTopic};
pub use producer::{OffsetRange, Producer};
pub use record::{Header, Record};
pub use subscription::{ConnectionEvent, Subscription};
pub use tonic::Code;

/// The server address used when none is given.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:9999";
