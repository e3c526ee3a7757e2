//! Service `protocol.MiniKafka`: the original Go project's API, so its
//! clients work unchanged and get the answers the original gave.
//!
//! - Message numbers are `uint32`; offsets that do not fit answer
//!   OUT_OF_RANGE rather than wrap.
//! - A poll past the end, or of a topic whose messages have all expired,
//!   answers no payloads and `new_read_from` equal to `read_from`, as the
//!   original did (v1 answers OUT_OF_RANGE, and the earliest offset).
//! - The original accepts any string as a topic name; see [`v1_topic`]
//!   for how each maps to a v1 topic.

use minikafka_backends::TopicName;
use minikafka_backends::topic::MAX_TOPIC_NAME_LEN;
use minikafka_proto::protocol::{self, mini_kafka_server::MiniKafka};
use minikafka_proto::v1;
use tonic::{Code, Request, Response, Status};

use super::checked_store::CheckedStore;
use super::reading;
use crate::auth::Access;

/// The start of every v1 topic that holds a name v1 refuses (or one that
/// itself starts so); the rest is the lowercase hex of the name's UTF-8.
pub const MAPPED_PREFIX: &str = "_compat.";

/// The v1 topic behind `name`, a topic name of the original API.
///
/// A name v1 accepts that does not start with [`MAPPED_PREFIX`] is the
/// same topic on both APIs. Any other name (the empty one, `"some topic"`,
/// `"_compat.x"`) is the v1 topic `_compat.` followed by the lowercase hex
/// of its UTF-8 bytes: one name maps to one topic, and a v1 user finds it
/// by that rule. A name whose mapping would exceed v1's 249 characters is
/// refused with INVALID_ARGUMENT, every time.
pub fn v1_topic(name: &str) -> Result<TopicName, Status> {
    if !name.starts_with(MAPPED_PREFIX)
        && let Ok(topic) = TopicName::new(name)
    {
        return Ok(topic);
    }
    let mapped = format!("{MAPPED_PREFIX}{}", hex::encode(name.as_bytes()));
    TopicName::new(mapped.as_str()).map_err(|_| {
        Status::invalid_argument(format!(
            "topic {name:?} is stored under the v1 name {MAPPED_PREFIX}<hex of its bytes>, which \
             would be {} characters; the limit is {MAX_TOPIC_NAME_LEN}, so names of at most {} \
             bytes work",
            mapped.len(),
            (MAX_TOPIC_NAME_LEN - MAPPED_PREFIX.len()) / 2
        ))
    })
}

/// The original API over a store.
#[derive(Debug, Clone)]
pub struct CompatService {
    store: CheckedStore,
}

impl CompatService {
    /// Serves `store`.
    pub fn new(store: CheckedStore) -> Self {
        Self { store }
    }
}

fn msg_number(offset: u64) -> Result<protocol::MsgNumber, Status> {
    u32::try_from(offset)
        .map(|msg_number| protocol::MsgNumber { msg_number })
        .map_err(|_| {
            Status::out_of_range(format!(
                "message number {offset} does not fit the original API's uint32; use minikafka.v1"
            ))
        })
}

#[tonic::async_trait]
impl MiniKafka for CompatService {
    async fn produce(
        &self,
        request: Request<protocol::ProduceRequest>,
    ) -> Result<Response<protocol::MsgNumber>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        let topic = v1_topic(&request.topic.map(|t| t.topic).unwrap_or_default())?;
        let payload = request.payload.map(|p| p.payload).unwrap_or_default();
        access.may_produce(topic.as_str())?;
        // Refuse before storing when the number could not be answered: a
        // failed request must change nothing. (A topic not created yet is
        // left to `produce` to create.)
        if let Ok(info) = self.store.describe(topic.as_str()).await {
            msg_number(info.next_offset)?;
        }
        let request = v1::ProduceRequest {
            topic: topic.to_string(),
            payloads: vec![payload],
            ..v1::ProduceRequest::default()
        };
        let range = self.store.produce(request).await?;
        Ok(Response::new(msg_number(range.first)?))
    }

    async fn poll(
        &self,
        request: Request<protocol::PollRequest>,
    ) -> Result<Response<protocol::PollResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        let topic = v1_topic(&request.topic)?;
        access.may_consume(topic.as_str())?;
        let read_from = request.read_from.map_or(0, |n| u64::from(n.msg_number));
        let limits = reading::read_limits(0, 0);
        let messages = match self.store.read(topic.as_str(), read_from, limits).await {
            Ok(result) => result.messages,
            // Past the end: nothing yet, ask again from the same place.
            Err(status) if status.code() == Code::OutOfRange => Vec::new(),
            Err(status) => return Err(status),
        };
        // With nothing returned (caught up, past the end, or everything
        // expired) the original answers the position it was asked for.
        let new_read_from = messages.last().map_or(read_from, |last| last.offset + 1);
        Ok(Response::new(protocol::PollResponse {
            new_read_from: Some(msg_number(new_read_from)?),
            payloads: messages
                .into_iter()
                .map(|m| protocol::Payload { payload: m.payload })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_numbers_beyond_u32_are_out_of_range() {
        assert_eq!(msg_number(7).expect("fits").msg_number, 7);
        assert_eq!(
            msg_number(u64::from(u32::MAX)).expect("fits").msg_number,
            u32::MAX
        );
        let status = msg_number(u64::from(u32::MAX) + 1).expect_err("too large");
        assert_eq!(status.code(), tonic::Code::OutOfRange);
    }

    #[test]
    fn names_v1_accepts_are_the_same_topic_and_others_map_to_their_hex() {
        let mapped = |name: &str| v1_topic(name).expect("mapped").to_string();
        assert_eq!(mapped("orders.eu-1"), "orders.eu-1");
        assert_eq!(mapped("some topic"), "_compat.736f6d6520746f706963");
        assert_eq!(mapped(""), "_compat.");
        assert_eq!(mapped("a/b"), "_compat.612f62");
        assert_eq!(mapped("é"), "_compat.c3a9");
        // A v1 name in the mapped space maps too, so no two names share a topic.
        assert_eq!(
            mapped("_compat.612f62"),
            "_compat.5f636f6d7061742e363132663632"
        );
        assert_eq!(mapped(".."), "_compat.2e2e");
    }

    #[test]
    fn the_mapping_is_reversible() {
        let longest = "x ".repeat(60);
        for name in ["some topic", "", "a/b", "é ü", "_compat.", longest.as_str()] {
            let topic = v1_topic(name).expect("mapped").to_string();
            let hex = topic
                .strip_prefix(MAPPED_PREFIX)
                .expect("in the mapped space");
            let bytes = hex::decode(hex).expect("hex");
            assert_eq!(String::from_utf8(bytes).expect("UTF-8"), name);
        }
    }

    #[test]
    fn a_name_too_long_to_map_is_refused_saying_why() {
        let longest = "x ".repeat(60);
        assert_eq!(longest.len(), 120);
        assert!(v1_topic(&longest).is_ok());
        let status = v1_topic(&(longest + " ")).expect_err("too long");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("250 characters")
                && status.message().contains("at most 120 bytes"),
            "{}",
            status.message()
        );
    }
}
