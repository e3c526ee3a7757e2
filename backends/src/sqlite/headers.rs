//! How a message's headers are kept in its `headers` column (see
//! `schema_v3.sql`): each header is its name's length (4 bytes,
//! big-endian), its UTF-8 name, its value's length (4 bytes, big-endian)
//! and its value, one after the other, in order.

use bytes::{BufMut, Bytes};

use crate::Header;

/// The bytes of `headers` for the `headers` column; `None` (NULL) when
/// there are none, so a plain message costs nothing.
pub fn encode(headers: &[Header]) -> Option<Vec<u8>> {
    if headers.is_empty() {
        return None;
    }
    let size = headers
        .iter()
        .map(|h| 8 + h.name.len() + h.value.len())
        .sum();
    let mut encoded = Vec::with_capacity(size);
    for header in headers {
        for part in [header.name.as_bytes(), &header.value[..]] {
            // SQLite holds at most 10^9 bytes in a value, so every length fits.
            encoded.put_u32(u32::try_from(part.len()).unwrap_or(u32::MAX));
            encoded.put_slice(part);
        }
    }
    Some(encoded)
}

/// The headers `encode` made of them; what is wrong when the bytes are not
/// such an encoding.
pub fn decode(mut encoded: &[u8]) -> Result<Vec<Header>, String> {
    let mut headers = Vec::new();
    while !encoded.is_empty() {
        let name = take(&mut encoded).ok_or("a header's name is cut short")?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| format!("header {} has a name that is not UTF-8", headers.len()))?;
        let value = take(&mut encoded).ok_or("a header's value is cut short")?;
        headers.push(Header {
            name,
            value: Bytes::copy_from_slice(value),
        });
    }
    Ok(headers)
}

/// One length-prefixed part from the front of `encoded`.
fn take<'a>(encoded: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (length, rest) = encoded.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    if rest.len() < length {
        return None;
    }
    let (part, rest) = rest.split_at(length);
    *encoded = rest;
    Some(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, value: &[u8]) -> Header {
        Header {
            name: name.to_owned(),
            value: Bytes::copy_from_slice(value),
        }
    }

    #[test]
    fn headers_round_trip_in_order_with_repeats_and_empty_values() {
        let headers = vec![
            header("trace", b"a"),
            header("\u{e9}", &[0, 255]),
            header("trace", b""),
        ];
        let encoded = encode(&headers).expect("some");
        assert_eq!(
            encoded,
            b"\0\0\0\x05trace\0\0\0\x01a\0\0\0\x02\xc3\xa9\0\0\0\x02\0\xff\0\0\0\x05trace\0\0\0\0"
        );
        assert_eq!(decode(&encoded).expect("decode"), headers);
        assert_eq!(encode(&[]), None);
    }

    #[test]
    fn damaged_encodings_are_refused() {
        let encoded = encode(&[header("name", b"value")]).expect("some");
        for cut in 1..encoded.len() {
            assert!(decode(&encoded[..cut]).is_err(), "cut at {cut}");
        }
        let not_utf8 = b"\0\0\0\x01\xff\0\0\0\0";
        assert_eq!(
            decode(not_utf8),
            Err("header 0 has a name that is not UTF-8".to_owned())
        );
    }
}
