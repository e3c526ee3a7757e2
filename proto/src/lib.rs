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
