//! Request validation: everything is checked here, before the store is
//! touched, so a bad request changes nothing.

use bytes::Bytes;
use minikafka_backends::{
    GroupName, Header, MAX_COMMIT_METADATA_BYTES, ProducerSequence, Record, Timestamp, TopicName,
};
use minikafka_proto::v1;
use tonic::Status;

/// Validates a topic name from a request: INVALID_ARGUMENT saying why not.
pub fn topic(name: &str) -> Result<TopicName, Status> {
    TopicName::new(name).map_err(|e| Status::invalid_argument(format!("invalid topic: {e}")))
}

/// Validates a group name from a request: INVALID_ARGUMENT saying why not.
pub fn group(name: &str) -> Result<GroupName, Status> {
    GroupName::new(name).map_err(|e| Status::invalid_argument(format!("invalid group: {e}")))
}

/// Checks a commit's metadata: at most 4 KiB.
pub fn commit_metadata(metadata: Option<String>) -> Result<String, Status> {
    let metadata = metadata.unwrap_or_default();
    if metadata.len() > MAX_COMMIT_METADATA_BYTES {
        return Err(Status::invalid_argument(format!(
            "metadata is {} bytes; a commit carries at most {MAX_COMMIT_METADATA_BYTES}",
            metadata.len()
        )));
    }
    Ok(metadata)
}

/// A time from a request (`OffsetForTime`, a read's start): absent or out
/// of range is INVALID_ARGUMENT naming `field`; a time before 1970 is the
/// epoch, before every message.
pub fn time(time: Option<prost_types::Timestamp>, field: &str) -> Result<Timestamp, Status> {
    let time = time.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))?;
    std::time::SystemTime::try_from(time)
        .map(Timestamp::from_system_time)
        .map_err(|e| Status::invalid_argument(format!("{field} is not a valid time: {e}")))
}

/// The server's limits on each produced message: its payload
/// (`MINIKAFKA_MAX_MESSAGE_BYTES`), key (`MINIKAFKA_MAX_KEY_BYTES`) and
/// headers (`MINIKAFKA_MAX_HEADERS`, `MINIKAFKA_MAX_HEADER_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// The largest payload accepted.
    pub max_message_bytes: u64,
    /// The largest key accepted.
    pub max_key_bytes: usize,
    /// The most headers on one message.
    pub max_headers: usize,
    /// The most bytes of header names and values on one message.
    pub max_header_bytes: usize,
}

/// A produce request's messages, checked: either `payloads` or `records`
/// (not both), at least one message, each within `limits`, every header
/// name non-empty UTF-8. A refusal names the message's index.
pub fn messages(
    payloads: Vec<Bytes>,
    records: Vec<v1::Record>,
    limits: &MessageLimits,
) -> Result<Vec<Record>, Status> {
    match (payloads.is_empty(), records.is_empty()) {
        (true, true) => Err(Status::invalid_argument(
            "a produce needs at least one payload; the batch was empty",
        )),
        (false, false) => Err(Status::invalid_argument(format!(
            "a produce gives either payloads or records, not both; this one had {} payloads \
             and {} records",
            payloads.len(),
            records.len()
        ))),
        (false, true) => {
            check_payloads(&payloads, limits.max_message_bytes)?;
            Ok(payloads.into_iter().map(Record::from_payload).collect())
        }
        (true, false) => records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                checked_record(record, limits).map_err(|problem| {
                    Status::invalid_argument(format!(
                        "records[{index}]: {problem}; nothing in the batch was stored"
                    ))
                })
            })
            .collect(),
    }
}

/// Checks a batch of plain payloads: each within `max_message_bytes`.
fn check_payloads(payloads: &[Bytes], max_message_bytes: u64) -> Result<(), Status> {
    match payloads
        .iter()
        .position(|p| p.len() as u64 > max_message_bytes)
    {
        None => Ok(()),
        Some(index) => Err(Status::invalid_argument(format!(
            "payload {index} is {} bytes; the largest message accepted is {max_message_bytes} bytes \
             (MINIKAFKA_MAX_MESSAGE_BYTES); nothing in the batch was stored",
            payloads[index].len()
        ))),
    }
}

/// One record, checked against `limits`, as the store takes it; or what
/// is wrong with it.
fn checked_record(record: v1::Record, limits: &MessageLimits) -> Result<Record, String> {
    if record.payload.len() as u64 > limits.max_message_bytes {
        return Err(format!(
            "the payload is {} bytes; the largest message accepted is {} bytes \
             (MINIKAFKA_MAX_MESSAGE_BYTES)",
            record.payload.len(),
            limits.max_message_bytes
        ));
    }
    if record.key.len() > limits.max_key_bytes {
        return Err(format!(
            "the key is {} bytes; the largest key accepted is {} bytes (MINIKAFKA_MAX_KEY_BYTES)",
            record.key.len(),
            limits.max_key_bytes
        ));
    }
    if record.headers.len() > limits.max_headers {
        return Err(format!(
            "{} headers; at most {} are accepted on one message (MINIKAFKA_MAX_HEADERS)",
            record.headers.len(),
            limits.max_headers
        ));
    }
    let header_bytes: usize = record
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    if header_bytes > limits.max_header_bytes {
        return Err(format!(
            "the headers' names and values are {header_bytes} bytes; at most {} are accepted on \
             one message (MINIKAFKA_MAX_HEADER_BYTES)",
            limits.max_header_bytes
        ));
    }
    let headers = record
        .headers
        .into_iter()
        .enumerate()
        .map(|(index, header)| {
            let name = match String::from_utf8(header.name.to_vec()) {
                Ok(name) if name.is_empty() => {
                    return Err(format!("headers[{index}] has an empty name"));
                }
                Ok(name) => name,
                Err(_) => return Err(format!("headers[{index}]'s name is not UTF-8")),
            };
            Ok(Header {
                name,
                value: header.value,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Record {
        payload: record.payload,
        key: record.key,
        headers,
    })
}

/// A produce's producer and sequence: none without a `producer_id`, when
/// `sequence` must be 0 too.
pub fn producer(producer_id: u64, sequence: u64) -> Result<Option<ProducerSequence>, Status> {
    match (producer_id, sequence) {
        (0, 0) => Ok(None),
        (0, sequence) => Err(Status::invalid_argument(format!(
            "sequence {sequence} was given without a producer_id; a sequence numbers the batches \
             of one producer, so send both or neither"
        ))),
        (producer_id, sequence) => Ok(Some(ProducerSequence {
            producer_id,
            sequence,
        })),
    }
}

/// A produce's `expected_next_offset`: offsets start at 1, so 0 can never
/// be a topic's next offset.
pub fn expected_next_offset(expected: Option<u64>) -> Result<Option<u64>, Status> {
    match expected {
        Some(0) => Err(Status::invalid_argument(
            "expected_next_offset 0 is not an offset: offsets start at 1 (the next offset of a \
             topic that does not exist yet); leave it out for an unconditional produce",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    const LIMITS: MessageLimits = MessageLimits {
        max_message_bytes: 10,
        max_key_bytes: 4,
        max_headers: 2,
        max_header_bytes: 8,
    };

    fn header(name: &'static [u8], value: &'static [u8]) -> v1::Header {
        v1::Header {
            name: Bytes::from_static(name),
            value: Bytes::from_static(value),
        }
    }

    fn record(key: &'static [u8], headers: Vec<v1::Header>) -> v1::Record {
        v1::Record {
            payload: Bytes::from_static(b"p"),
            key: Bytes::from_static(key),
            headers,
        }
    }

    /// The message of the refusal of `records`, which must be
    /// INVALID_ARGUMENT.
    fn refusal(records: Vec<v1::Record>) -> String {
        let status = messages(Vec::new(), records, &LIMITS).expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        status.message().to_owned()
    }

    #[test]
    fn bad_topics_are_invalid_arguments_naming_the_problem() {
        let status = topic("a/b").expect_err("slash");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("'a/b'"), "{}", status.message());
        assert!(topic("").is_err() && topic("..").is_err());
        assert_eq!(topic("ok.topic-1").expect("valid").as_str(), "ok.topic-1");
    }

    #[test]
    fn batches_must_be_non_empty_and_within_the_message_limit() {
        let empty = messages(Vec::new(), Vec::new(), &LIMITS).expect_err("empty");
        assert_eq!(empty.code(), Code::InvalidArgument);
        let batch = vec![
            Bytes::from_static(b"0123456789"),
            Bytes::from_static(b"01234567890"),
        ];
        let status = messages(batch.clone(), Vec::new(), &LIMITS).expect_err("too large");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("payload 1 is 11 bytes"),
            "{}",
            status.message()
        );
        let fits = messages(batch[..1].to_vec(), Vec::new(), &LIMITS).expect("fits");
        assert_eq!(fits, vec![Record::from_payload(batch[0].clone())]);
        let no_room = MessageLimits {
            max_message_bytes: 0,
            ..LIMITS
        };
        assert!(
            messages(vec![Bytes::new()], Vec::new(), &no_room).is_ok(),
            "an empty payload always fits"
        );
    }

    #[test]
    fn payloads_and_records_together_are_refused() {
        let status =
            messages(vec![Bytes::new()], vec![record(b"", vec![])], &LIMITS).expect_err("both");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().contains("either payloads or records"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn records_within_the_limits_keep_key_and_headers_in_order() {
        let records = vec![
            record(b"", vec![]),
            record(
                b"kkkk",
                vec![header(b"n", b"\xff\x00"), header(b"n", b"abc")],
            ),
        ];
        let checked = messages(Vec::new(), records, &LIMITS).expect("within the limits");
        assert_eq!(checked[0], Record::from_payload("p"));
        assert_eq!(checked[1].key, Bytes::from_static(b"kkkk"));
        let headers: Vec<(&str, &[u8])> = checked[1]
            .headers
            .iter()
            .map(|h| (h.name.as_str(), &h.value[..]))
            .collect();
        assert_eq!(headers, [("n", &b"\xff\x00"[..]), ("n", &b"abc"[..])]);
    }

    #[test]
    fn each_limit_is_refused_naming_the_record_and_the_limit() {
        let fine = || record(b"", vec![]);
        let cases = [
            (
                v1::Record {
                    payload: Bytes::from_static(b"01234567890"),
                    ..fine()
                },
                "records[1]: the payload is 11 bytes; the largest message accepted is 10 bytes (MINIKAFKA_MAX_MESSAGE_BYTES)",
            ),
            (
                record(b"12345", vec![]),
                "records[1]: the key is 5 bytes; the largest key accepted is 4 bytes (MINIKAFKA_MAX_KEY_BYTES)",
            ),
            (
                record(b"", vec![header(b"a", b""); 3]),
                "records[1]: 3 headers; at most 2 are accepted on one message (MINIKAFKA_MAX_HEADERS)",
            ),
            (
                record(b"", vec![header(b"name", b"12345")]),
                "records[1]: the headers' names and values are 9 bytes; at most 8 are accepted on one message (MINIKAFKA_MAX_HEADER_BYTES)",
            ),
            (
                record(b"", vec![header(b"a", b""), header(b"", b"v")]),
                "records[1]: headers[1] has an empty name",
            ),
            (
                record(b"", vec![header(b"\xc3\x28", b"")]),
                "records[1]: headers[0]'s name is not UTF-8",
            ),
        ];
        for (bad, expected) in cases {
            let message = refusal(vec![fine(), bad, fine()]);
            assert_eq!(
                message,
                format!("{expected}; nothing in the batch was stored")
            );
        }
        let at_the_limits = record(b"1234", vec![header(b"ab", b"cd"), header(b"ef", b"gh")]);
        assert!(messages(Vec::new(), vec![at_the_limits], &LIMITS).is_ok());
    }

    #[test]
    fn a_sequence_needs_a_producer() {
        assert_eq!(producer(0, 0).expect("none"), None);
        assert_eq!(
            producer(7, 0).expect("from 0"),
            Some(ProducerSequence {
                producer_id: 7,
                sequence: 0
            })
        );
        let status = producer(0, 3).expect_err("sequence alone");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("sequence 3 was given without a producer_id"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn an_expected_next_offset_of_0_is_refused() {
        assert_eq!(expected_next_offset(None).expect("none"), None);
        assert_eq!(expected_next_offset(Some(1)).expect("one"), Some(1));
        let status = expected_next_offset(Some(0)).expect_err("zero");
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}
