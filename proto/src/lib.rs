//! The minikafka gRPC API, generated from the .proto files in this crate.
//!
//! # Layout
//! - [`v1`]: service `minikafka.v1.MiniKafka`, the API new clients use.
//! - [`protocol`] — service `protocol.MiniKafka`, the original Go project's
//!   API, served unchanged so its clients keep working.
//! - [`trailers`] — the names of the trailers some error statuses carry.
//! - [`FILE_DESCRIPTOR_SET`] — the encoded descriptors, for server reflection.
//!
//! `bytes` fields are generated as [`bytes::Bytes`](prost::bytes::Bytes), so
//! a payload decoded from a request is not copied again.

/// `minikafka.v1`: the current API.
pub mod v1 {
    #![allow(missing_docs)]
    tonic::include_proto!("minikafka.v1");
}

/// What a [`v1::Retention`] means, written once for the server and the
/// Rust client.
impl v1::Retention {
    /// Removal of messages older than `age` (a longer age than protobuf
    /// can say is the longest it can).
    pub fn max_age(age: std::time::Duration) -> Self {
        let age = prost_types::Duration::try_from(age).unwrap_or(prost_types::Duration {
            seconds: i64::MAX,
            nanos: 999_999_999,
        });
        Self {
            retention: Some(v1::retention::Retention::MaxAge(age)),
        }
    }

    /// No removal by age.
    pub fn forever() -> Self {
        Self {
            retention: Some(v1::retention::Retention::Forever(true)),
        }
    }

    /// The age after which messages are removed: `Some(None)` for
    /// forever; `None` when it says neither a positive age nor
    /// `forever = true`.
    pub fn age(&self) -> Option<Option<std::time::Duration>> {
        match self.retention? {
            v1::retention::Retention::Forever(true) => Some(None),
            v1::retention::Retention::Forever(false) => None,
            v1::retention::Retention::MaxAge(age) => std::time::Duration::try_from(age)
                .ok()
                .filter(|age| !age.is_zero())
                .map(Some),
        }
    }
}

/// `protocol`: the original Go minikafka API, wire-identical.
pub mod protocol {
    #![allow(missing_docs)]
    tonic::include_proto!("protocol");
}

/// The names of the trailers (gRPC metadata on an error status) that carry
/// what a client needs to act on the error; part of the API, like the
/// messages (docs/api.md).
pub mod trailers {
    /// On DATA_LOSS: the first offset that cannot be read (decimal).
    pub const DAMAGED_FIRST_OFFSET: &str = "minikafka-damaged-first-offset";
    /// On DATA_LOSS: the first readable offset after the damage, where a
    /// reader that skips it goes on (decimal).
    pub const NEXT_GOOD_OFFSET: &str = "minikafka-next-good-offset";
    /// On FAILED_PRECONDITION for a produce whose sequence is out of order:
    /// the sequence the server expects next from that producer (decimal).
    pub const EXPECTED_SEQUENCE: &str = "minikafka-expected-sequence";
    /// On FAILED_PRECONDITION for a conditional produce whose
    /// expected_next_offset was wrong: the topic's actual next offset
    /// (decimal).
    pub const NEXT_OFFSET: &str = "minikafka-next-offset";
}

/// The encoded `FileDescriptorSet` of every .proto file here (and the
/// well-known types they import), for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("minikafka_descriptor");

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    use super::FILE_DESCRIPTOR_SET;

    #[test]
    fn a_retention_says_a_positive_age_or_forever() {
        use std::time::Duration;

        use crate::v1::{Retention, retention};

        let hour = Duration::from_secs(3_600);
        assert_eq!(Retention::max_age(hour).age(), Some(Some(hour)));
        assert_eq!(Retention::forever().age(), Some(None));
        assert_eq!(
            Retention::max_age(Duration::MAX)
                .age()
                .flatten()
                .map(|a| a.as_secs()),
            Some(i64::MAX as u64)
        );
        assert_eq!(Retention::max_age(Duration::ZERO).age(), None);
        assert_eq!(Retention::default().age(), None);
        let forever_false = Retention {
            retention: Some(retention::Retention::Forever(false)),
        };
        assert_eq!(forever_false.age(), None);
        let negative = Retention {
            retention: Some(retention::Retention::MaxAge(prost_types::Duration {
                seconds: -1,
                nanos: 0,
            })),
        };
        assert_eq!(negative.age(), None);
    }

    #[test]
    fn descriptor_set_decodes_and_names_both_services() {
        let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|file| {
                let package = file.package().to_owned();
                file.service
                    .iter()
                    .map(move |s| format!("{package}.{}", s.name()))
            })
            .collect();
        assert!(
            services.contains(&"minikafka.v1.MiniKafka".to_owned()),
            "{services:?}"
        );
        assert!(
            services.contains(&"protocol.MiniKafka".to_owned()),
            "{services:?}"
        );
    }

    #[test]
    fn v1_field_numbers_match_the_public_contract() {
        let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let file = set
            .file
            .iter()
            .find(|f| f.package() == "minikafka.v1")
            .expect("minikafka.v1 is in the set");
        let field = |message: &str, field: &str| -> i32 {
            let m = file
                .message_type
                .iter()
                .find(|m| m.name() == message)
                .unwrap_or_else(|| panic!("message {message}"));
            m.field
                .iter()
                .find(|f| f.name() == field)
                .unwrap_or_else(|| panic!("field {message}.{field}"))
                .number()
        };
        assert_eq!(field("ProduceRequest", "payloads"), 2);
        assert_eq!(field("ProduceResponse", "last_offset"), 2);
        assert_eq!(field("PollRequest", "max_wait"), 5);
        assert_eq!(field("PollResponse", "next_offset"), 4);
        assert_eq!(field("SubscribeRequest", "max_batch"), 3);
        assert_eq!(field("Message", "payload"), 3);
        assert_eq!(field("TopicInfo", "oldest_timestamp"), 6);
    }
}
