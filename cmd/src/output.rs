//! How `mkfk-consumer` prints messages: the raw payload (after the key and
//! a tab, with `--print-key`) and a newline, or one JSON object per line.

use std::io::{self, Write};

use base64::Engine;
use minikafka_client::Message;
use serde::Serialize;

/// The output formats of `mkfk-consumer --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The payload's bytes as they are, then a newline.
    Raw,
    /// One object per line: `{"offset":1,"timestamp":"…","payload":"text"}`,
    /// then `"key":"…"` when the message has a key, and
    /// `"headers":[{"name":"…","value":"…"}, …]`, in order, when it has
    /// headers. Bytes that are not UTF-8 go in `payload_base64`,
    /// `key_base64` or `value_base64` instead, as standard base64.
    Json,
}

/// How each message is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Raw or JSON.
    pub format: Format,
    /// In raw output, print the key (empty when the message has none) and
    /// a tab before the payload. JSON always carries the key.
    pub print_key: bool,
}

/// Bytes for JSON: the text when they are UTF-8, else base64 (for the
/// field's `_base64` twin).
struct Text<'a> {
    text: Option<&'a str>,
    base64: Option<String>,
}

impl<'a> Text<'a> {
    fn of(bytes: &'a [u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self {
                text: Some(text),
                base64: None,
            },
            Err(_) => Self {
                text: None,
                base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            },
        }
    }
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    offset: u64,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_base64: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    headers: Vec<JsonHeader<'a>>,
}

#[derive(Serialize)]
struct JsonHeader<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<String>,
}

/// Writes `message` to `out` as `output` says.
pub fn write_message(out: &mut impl Write, output: Output, message: &Message) -> io::Result<()> {
    match output.format {
        Format::Raw => {
            if output.print_key {
                out.write_all(&message.key)?;
                out.write_all(b"\t")?;
            }
            out.write_all(&message.payload)?;
            out.write_all(b"\n")
        }
        Format::Json => {
            let payload = Text::of(&message.payload);
            // An empty key is no key: left out, as are no headers.
            let key = (!message.key.is_empty()).then(|| Text::of(&message.key));
            let (key, key_base64) = key.map_or((None, None), |key| (key.text, key.base64));
            let line = JsonMessage {
                offset: message.offset,
                timestamp: humantime::format_rfc3339_millis(message.timestamp).to_string(),
                payload: payload.text,
                payload_base64: payload.base64,
                key,
                key_base64,
                headers: message
                    .headers
                    .iter()
                    .map(|header| {
                        let value = Text::of(&header.value);
                        JsonHeader {
                            name: &header.name,
                            value: value.text,
                            value_base64: value.base64,
                        }
                    })
                    .collect(),
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
    use minikafka_client::Header;

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
        print(format, false, &message(payload))
    }

    fn print(format: Format, print_key: bool, message: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, Output { format, print_key }, message).expect("write to a Vec");
        out
    }

    fn keyed(key: &'static [u8], headers: &[(&str, &'static [u8])]) -> Message {
        Message {
            key: Bytes::from_static(key),
            headers: headers
                .iter()
                .map(|(name, value)| Header {
                    name: (*name).to_owned(),
                    value: Bytes::from_static(value),
                })
                .collect(),
            ..message(b"p")
        }
    }

    #[test]
    fn raw_is_the_payload_and_a_newline() {
        assert_eq!(printed(Format::Raw, b"a\xffb"), b"a\xffb\n");
        // Key and headers are not shown without --print-key.
        assert_eq!(
            print(Format::Raw, false, &keyed(b"k", &[("h", b"v")])),
            b"p\n"
        );
    }

    #[test]
    fn print_key_puts_the_key_and_a_tab_first() {
        assert_eq!(
            print(Format::Raw, true, &keyed(b"k\xff", &[])),
            b"k\xff\tp\n"
        );
        assert_eq!(print(Format::Raw, true, &message(b"no key")), b"\tno key\n");
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

    #[test]
    fn json_carries_the_key_and_headers_in_order_base64_where_not_utf8() {
        let message = keyed(
            b"user-1",
            &[("trace", b"a"), ("bin", b"\xff\x00"), ("trace", b"")],
        );
        let line = String::from_utf8(print(Format::Json, false, &message)).expect("utf-8");
        assert_eq!(
            line,
            "{\"offset\":1,\"timestamp\":\"2026-11-21T22:10:00.123Z\",\"payload\":\"p\",\
             \"key\":\"user-1\",\"headers\":[{\"name\":\"trace\",\"value\":\"a\"},\
             {\"name\":\"bin\",\"value_base64\":\"/wA=\"},{\"name\":\"trace\",\"value\":\"\"}]}\n"
        );
        let binary_key =
            String::from_utf8(print(Format::Json, true, &keyed(b"\xfe", &[]))).expect("utf-8");
        assert!(
            binary_key.contains("\"key_base64\":\"/g==\""),
            "{binary_key}"
        );
        assert!(!binary_key.contains("\"key\":"), "{binary_key}");
    }
}
