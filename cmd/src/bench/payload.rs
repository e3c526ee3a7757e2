//! Payloads that carry their send time, so consumers can measure
//! produce-to-receive latency: the first [`STAMP_BYTES`] bytes hold
//! nanoseconds since one `Instant` of this process, little-endian; warm-up
//! messages hold `u64::MAX` there and are not counted.

use bytes::{BufMut, Bytes, BytesMut};
use minikafka_client::{Header, Record};

/// The bytes at the start of each payload that carry its send time.
pub const STAMP_BYTES: usize = 8;

/// The send time that marks a warm-up message.
const WARM_UP: u64 = u64::MAX;

/// A payload of `size` bytes whose first [`STAMP_BYTES`] hold `sent_nanos`
/// (when it is that long); the rest is filler.
pub fn payload(size: usize, sent_nanos: u64) -> Bytes {
    let mut payload = BytesMut::with_capacity(size);
    if size >= STAMP_BYTES {
        payload.put_u64_le(sent_nanos);
    }
    payload.resize(size, b'x');
    payload.freeze()
}

/// The bytes of each header value `--headers` adds.
const HEADER_VALUE_BYTES: usize = 16;

/// The key and headers every message of a run carries (`--key-size`,
/// `--headers`); none by default.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    key: Bytes,
    headers: Vec<Header>,
}

impl Extras {
    /// A key of `key_size` bytes (none for 0) and `headers` headers named
    /// h1, h2, … with 16-byte values.
    pub fn new(key_size: usize, headers: u32) -> Self {
        Self {
            key: Bytes::from(vec![b'k'; key_size]),
            headers: (1..=headers)
                .map(|i| Header {
                    name: format!("h{i}"),
                    value: Bytes::from_static(&[b'v'; HEADER_VALUE_BYTES]),
                })
                .collect(),
        }
    }

    /// Whether messages are payloads alone, sent as before keys existed.
    pub fn is_empty(&self) -> bool {
        self.key.is_empty() && self.headers.is_empty()
    }

    /// What they add to each message's size: the key's bytes and the
    /// headers' names and values, as the server counts them.
    pub fn bytes(&self) -> usize {
        self.key.len()
            + self
                .headers
                .iter()
                .map(|header| header.name.len() + header.value.len())
                .sum::<usize>()
    }

    /// A message of `payload` with this key and these headers.
    pub fn record(&self, payload: Bytes) -> Record {
        Record {
            payload,
            key: self.key.clone(),
            headers: self.headers.clone(),
        }
    }
}

/// The payload of a warm-up message.
pub fn warm_up_payload() -> Bytes {
    Bytes::copy_from_slice(&WARM_UP.to_le_bytes())
}

/// What a received payload says about when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// A warm-up message: not counted.
    WarmUp,
    /// Sent at these nanoseconds since the benchmark's epoch.
    Sent(u64),
    /// Too short to carry a send time.
    Unstamped,
}

/// Reads the send time from the start of `payload`.
pub fn stamp(payload: &[u8]) -> Stamp {
    match payload.first_chunk::<STAMP_BYTES>() {
        None => Stamp::Unstamped,
        Some(bytes) => match u64::from_le_bytes(*bytes) {
            WARM_UP => Stamp::WarmUp,
            nanos => Stamp::Sent(nanos),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_send_time_and_warm_ups_are_marked() {
        let p = payload(100, 123_456_789);
        assert_eq!(p.len(), 100);
        assert_eq!(stamp(&p), Stamp::Sent(123_456_789));
        assert_eq!(stamp(&payload(8, 7)), Stamp::Sent(7));
        assert_eq!(payload(3, 7).as_ref(), b"xxx");
        assert_eq!(stamp(&payload(3, 7)), Stamp::Unstamped);
        assert_eq!(stamp(&payload(0, 7)), Stamp::Unstamped);
        assert_eq!(stamp(&warm_up_payload()), Stamp::WarmUp);
    }

    #[test]
    fn extras_give_each_message_the_key_and_headers() {
        assert!(Extras::new(0, 0).is_empty());
        let extras = Extras::new(16, 3);
        assert!(!extras.is_empty());
        // 16 key bytes, and three names of 2 bytes with 16-byte values.
        assert_eq!(extras.bytes(), 16 + 3 * (2 + 16));
        let record = extras.record(payload(100, 1));
        assert_eq!(record.key.len(), 16);
        let names: Vec<&str> = record.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["h1", "h2", "h3"]);
        assert_eq!(stamp(&record.payload), Stamp::Sent(1));
    }
}
