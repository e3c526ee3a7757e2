//! What both APIs share about reads: limits, positions and conversions.

use minikafka_backends::{Message, ReadLimits, ReadResult, Timestamp};
use minikafka_proto::v1;
use prost::Message as _;

/// Messages per read when the request leaves it to the server.
pub const DEFAULT_MAX_MESSAGES: usize = 1_000;
/// The most messages one read returns, whatever the request asks.
pub const MAX_MESSAGES_CAP: usize = 10_000;
/// Payload bytes per read when the request leaves it to the server.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;
/// The most message bytes (payloads, keys, header names and values) one
/// read returns, one larger message aside. A reply is also cut to stay
/// within the 4 MiB gRPC clients accept by default, framing included (see
/// [`poll_response`]): many small headers can carry more framing than
/// bytes.
pub const MAX_BYTES_CAP: usize = 2 * 1024 * 1024;

/// Replies larger than this are refused by gRPC clients that keep their
/// default receive limit, in every language.
pub const CLIENT_DEFAULT_RECEIVE_LIMIT: usize = 4 * 1024 * 1024;

/// The bytes a one-message v1 poll reply (the largest reply of either
/// API) adds around its payload, every field at its largest: the reply's
/// three offsets (a tag and a 10-byte varint each), the message's tag and
/// length (4 bytes below 2^28), its offset, its timestamp (tag, length,
/// 11 bytes of seconds, 6 of nanoseconds) and the payload's tag and length.
const POLL_REPLY_FRAMING: usize = 3 * 11 + (1 + 4) + 11 + (1 + 1 + 11 + 6) + (1 + 4);

/// The largest payload a gRPC client with the default receive limit can
/// read: its poll reply, framing included, is at most
/// [`CLIENT_DEFAULT_RECEIVE_LIMIT`].
pub const LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ: usize =
    CLIENT_DEFAULT_RECEIVE_LIMIT - POLL_REPLY_FRAMING;

/// The limits for a read, from a request's fields (0: the server default).
pub fn read_limits(max_messages: u32, max_bytes: u32) -> ReadLimits {
    let pick = |asked: u32, default: usize, cap: usize| match asked {
        0 => default,
        n => (n as usize).min(cap),
    };
    ReadLimits {
        max_messages: pick(max_messages, DEFAULT_MAX_MESSAGES, MAX_MESSAGES_CAP),
        max_bytes: pick(max_bytes, DEFAULT_MAX_BYTES, MAX_BYTES_CAP),
    }
}

/// Where the next read should start: past the last message returned, or,
/// when none was, at the first offset not yet read.
pub fn next_read_position(read_from: u64, result: &ReadResult) -> u64 {
    position_after(
        read_from,
        result.messages.last().map(|m| m.offset),
        result.earliest_offset,
    )
}

/// Past `last_returned`, or, when nothing was, at the first offset not yet
/// read of a topic whose earliest is `earliest_offset`.
fn position_after(read_from: u64, last_returned: Option<u64>, earliest_offset: u64) -> u64 {
    match last_returned {
        Some(last) => last + 1,
        None => read_from.max(earliest_offset),
    }
}

/// A store timestamp as a protobuf one.
pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    const NANOS_PER_SECOND: u64 = 1_000_000_000;
    let nanos = t.as_nanos();
    prost_types::Timestamp {
        seconds: (nanos / NANOS_PER_SECOND) as i64,
        nanos: (nanos % NANOS_PER_SECOND) as i32,
    }
}

/// A stored message as a v1 message; the payload is shared, not copied.
pub fn message(m: Message) -> v1::Message {
    v1::Message {
        offset: m.offset,
        timestamp: Some(timestamp(m.timestamp)),
        payload: m.payload,
        key: m.key,
        headers: m
            .headers
            .into_iter()
            .map(|h| v1::Header {
                name: h.name.into(),
                value: h.value,
            })
            .collect(),
    }
}

/// The most bytes a reply's messages take, framing included: what is left
/// of the 4 MiB clients accept once the reply's three offsets are framed.
const REPLY_MESSAGES_BUDGET: usize = CLIENT_DEFAULT_RECEIVE_LIMIT - 3 * 11;

/// A read's result as a v1 poll response (also each batch of a
/// subscription). The messages are cut, in order, where the reply would
/// go over the 4 MiB gRPC clients accept by default, keeping at least one:
/// the read limits count message bytes, not their protobuf framing, which
/// for many small headers is the larger part. `new_read_from` follows the
/// last message kept, so nothing is skipped.
pub fn poll_response(read_from: u64, result: ReadResult) -> v1::PollResponse {
    let mut messages = Vec::with_capacity(result.messages.len());
    let mut reply_bytes = 0;
    for stored in result.messages {
        let message = message(stored);
        let len = message.encoded_len();
        let framed = 1 + prost::length_delimiter_len(len) + len;
        if !messages.is_empty() && reply_bytes + framed > REPLY_MESSAGES_BUDGET {
            break;
        }
        reply_bytes += framed;
        messages.push(message);
    }
    v1::PollResponse {
        new_read_from: position_after(
            read_from,
            messages.last().map(|m| m.offset),
            result.earliest_offset,
        ),
        earliest_offset: result.earliest_offset,
        next_offset: result.next_offset,
        messages,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn result(offsets: &[u64], earliest: u64, next: u64) -> ReadResult {
        let messages = offsets
            .iter()
            .map(|&offset| Message {
                offset,
                timestamp: Timestamp::default(),
                payload: Bytes::new(),
                key: Bytes::new(),
                headers: Vec::new(),
            })
            .collect();
        ReadResult {
            messages,
            earliest_offset: earliest,
            next_offset: next,
        }
    }

    #[test]
    fn limits_default_at_zero_and_are_capped() {
        assert_eq!(
            read_limits(0, 0),
            ReadLimits {
                max_messages: 1_000,
                max_bytes: 1 << 20
            }
        );
        assert_eq!(
            read_limits(5, 100),
            ReadLimits {
                max_messages: 5,
                max_bytes: 100
            }
        );
        assert_eq!(
            read_limits(u32::MAX, u32::MAX),
            ReadLimits {
                max_messages: MAX_MESSAGES_CAP,
                max_bytes: MAX_BYTES_CAP
            }
        );
    }

    #[test]
    fn the_next_position_follows_the_last_message_or_skips_a_gap() {
        assert_eq!(next_read_position(3, &result(&[3, 4], 1, 9)), 5);
        assert_eq!(next_read_position(9, &result(&[], 1, 9)), 9, "caught up");
        assert_eq!(next_read_position(0, &result(&[], 4, 4)), 4, "empty topic");
        assert_eq!(next_read_position(2, &result(&[], 7, 7)), 7, "all expired");
    }

    /// A reply to one poll of one message of `payload` bytes, every other
    /// field at its largest.
    fn largest_reply_len(payload: usize) -> usize {
        use prost::Message as _;
        v1::PollResponse {
            new_read_from: u64::MAX,
            earliest_offset: u64::MAX,
            next_offset: u64::MAX,
            messages: vec![v1::Message {
                offset: u64::MAX,
                timestamp: Some(prost_types::Timestamp {
                    seconds: i64::MIN,
                    nanos: 999_999_999,
                }),
                payload: Bytes::from(vec![0; payload]),
                ..v1::Message::default()
            }],
        }
        .encoded_len()
    }

    #[test]
    fn the_largest_payload_default_clients_read_fills_their_limit_exactly() {
        let largest = LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ;
        assert_eq!(largest_reply_len(largest), CLIENT_DEFAULT_RECEIVE_LIMIT);
        assert!(largest_reply_len(largest + 1) > CLIENT_DEFAULT_RECEIVE_LIMIT);
        assert!(largest < 4 * 1024 * 1024, "4 MiB itself does not fit");
    }

    #[test]
    fn a_reply_of_many_small_headers_is_cut_within_what_clients_accept() {
        use minikafka_backends::Header;
        // Each message counts 64 bytes of header names but carries four
        // times as much framing: 10,000 of them (within max_messages and
        // max_bytes) would make a reply of about 3.5 MiB of framing alone.
        let headers: Vec<Header> = (0..64)
            .map(|i| Header {
                name: char::from(b'a' + i % 26).to_string(),
                value: Bytes::from_static(b"vv"),
            })
            .collect();
        let mut read = result(&(1..=10_000).collect::<Vec<_>>(), 1, 10_001);
        for m in &mut read.messages {
            m.headers.clone_from(&headers);
        }
        let reply = poll_response(1, read);
        assert!(reply.encoded_len() <= CLIENT_DEFAULT_RECEIVE_LIMIT);
        let kept = reply.messages.len() as u64;
        assert!((1..10_000).contains(&kept), "cut, not emptied: {kept}");
        assert_eq!(
            reply.new_read_from,
            kept + 1,
            "the next read goes on after the cut"
        );
        assert_eq!(reply.messages[0].headers.len(), 64);
        assert_eq!(&reply.messages[0].headers[1].name[..], b"b");

        let mut huge = result(&[1, 2], 1, 3);
        huge.messages[0].payload = Bytes::from(vec![0; CLIENT_DEFAULT_RECEIVE_LIMIT]);
        let reply = poll_response(1, huge);
        assert_eq!(reply.messages.len(), 1, "one message however large");
        assert_eq!(reply.new_read_from, 2);
    }

    #[test]
    fn timestamps_split_into_seconds_and_nanos() {
        let t = timestamp(Timestamp::from_nanos(1_795_000_000_123_456_789));
        assert_eq!((t.seconds, t.nanos), (1_795_000_000, 123_456_789));
    }
}
