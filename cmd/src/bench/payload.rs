//! Payloads that carry their send time, so consumers can measure
//! produce-to-receive latency: the first [`STAMP_BYTES`] bytes hold
//! nanoseconds since one `Instant` of this process, little-endian; warm-up
//! messages hold `u64::MAX` there and are not counted.

use bytes::{BufMut, Bytes, BytesMut};

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
}
