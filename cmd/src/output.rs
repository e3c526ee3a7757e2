//! How `mkfk-consumer` prints messages: the raw payload and a newline, or
//! one JSON object per line.

use std::io::{self, Write};

use base64::Engine;
use minikafka_client::Message;
use serde::Serialize;

/// The output formats of `mkfk-consumer --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The payload's bytes as they are, then a newline.
    Raw,
    /// `{"offset":1,"timestamp":"…","payload":"text"}`, with
    /// `payload_base64` instead of `payload` when the bytes are not UTF-8.
    Json,
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    offset: u64,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
}

/// Writes `message` to `out` in `format`.
pub fn write_message(out: &mut impl Write, format: Format, message: &Message) -> io::Result<()> {
    match format {
        Format::Raw => {
            out.write_all(&message.payload)?;
            out.write_all(b"\n")
        }
        Format::Json => {
            let text = std::str::from_utf8(&message.payload).ok();
            let line = JsonMessage {
                offset: message.offset,
                timestamp: humantime::format_rfc3339_millis(message.timestamp).to_string(),
                payload: text,
                payload_base64: match text {
                    Some(_) => None,
                    None => {
                        Some(base64::engine::general_purpose::STANDARD.encode(&message.payload))
                    }
                },
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;

    use super::*;

    fn message(payload: &'static [u8]) -> Message {
        Message {
            offset: 1,
            timestamp: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_299_000_123),
            payload: Bytes::from_static(payload),
            key: Bytes::new(),
            headers: Vec::new(),
        }
    }

    fn printed(format: Format, payload: &'static [u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, format, &message(payload)).expect("write to a Vec");
        out
    }

    #[test]
    fn raw_is_the_payload_and_a_newline() {
        assert_eq!(printed(Format::Raw, b"a\xffb"), b"a\xffb\n");
    }

    #[test]
    fn json_matches_the_documented_shape() {
        let line = String::from_utf8(printed(Format::Json, b"text \"q\"")).expect("utf-8");
        assert_eq!(
            line,
            "{\"offset\":1,\"timestamp\":\"2026-11-21T22:10:00.123Z\",\"payload\":\"text \\\"q\\\"\"}\n"
        );
    }

    #[test]
    fn json_carries_non_utf8_payloads_as_base64() {
        let line = String::from_utf8(printed(Format::Json, b"\xff\x00")).expect("utf-8");
        assert!(line.contains("\"payload_base64\":\"/wA=\""), "{line}");
        assert!(!line.contains("\"payload\":"), "{line}");
    }
}
