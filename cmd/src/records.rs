//! How `mkfk-producer` turns lines into messages: with `--key-separator`,
//! the key before the first separator and the payload after it, as
//! `kafka-console-producer`'s `parse.key` does; with `--header`, the same
//! headers on every message.

use bytes::Bytes;
use minikafka_client::{ClientError, Header, OffsetRange, Producer, Record};

/// Parses one `--header name=value`: split at the first `=`, so a value may
/// hold `=`; the name must not be empty (the server refuses empty names).
pub fn parse_header(argument: &str) -> Result<Header, String> {
    match argument.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok(Header {
            name: name.to_owned(),
            value: Bytes::copy_from_slice(value.as_bytes()),
        }),
        _ => Err(format!(
            "'{argument}' is not a header: give name=value, with a non-empty name"
        )),
    }
}

/// Parses `--key-separator`: any non-empty string.
pub fn parse_separator(argument: &str) -> Result<String, String> {
    if argument.is_empty() {
        return Err("the key separator must not be empty".to_owned());
    }
    Ok(argument.to_owned())
}

/// How each line of input becomes a message.
#[derive(Debug, Clone, Default)]
pub struct LineRecords {
    /// Split each line into key and payload at the first of these bytes.
    pub key_separator: Option<String>,
    /// Headers every message gets, in order.
    pub headers: Vec<Header>,
}

impl LineRecords {
    /// Whether every line is just a payload (no key, no headers), sent as
    /// payloads exactly as before these options existed.
    pub fn plain(&self) -> bool {
        self.key_separator.is_none() && self.headers.is_empty()
    }

    /// The messages `lines` stand for, up to the first line without the
    /// key separator (a shorter batch than the lines says one was refused).
    pub fn messages(&self, lines: Vec<Bytes>) -> Messages {
        if self.plain() {
            return Messages::Payloads(lines);
        }
        Messages::Records(
            lines
                .into_iter()
                .map_while(|line| self.record(line))
                .collect(),
        )
    }

    /// The message `line` stands for; `None` when a key separator is set
    /// and the line has none (kafka-console-producer refuses such a line
    /// too).
    pub fn record(&self, line: Bytes) -> Option<Record> {
        let mut record = match &self.key_separator {
            None => Record::new(line),
            Some(separator) => {
                let separator = separator.as_bytes();
                let at = line
                    .windows(separator.len())
                    .position(|window| window == separator)?;
                Record::new(line.slice(at + separator.len()..)).with_key(line.slice(..at))
            }
        };
        record.headers.extend(self.headers.iter().cloned());
        Some(record)
    }
}

/// A batch of messages to send.
#[derive(Debug)]
pub enum Messages {
    /// Payloads alone, sent as a produce's `payloads`.
    Payloads(Vec<Bytes>),
    /// Messages with keys or headers.
    Records(Vec<Record>),
}

impl Messages {
    /// How many messages the batch holds.
    pub fn len(&self) -> usize {
        match self {
            Messages::Payloads(payloads) => payloads.len(),
            Messages::Records(records) => records.len(),
        }
    }

    /// Whether the batch holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends the batch (atomically) through `producer`.
    pub async fn send(self, producer: &Producer) -> Result<OffsetRange, ClientError> {
        match self {
            Messages::Payloads(payloads) => producer.send_batch(payloads).await,
            Messages::Records(records) => producer.send_records(records).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(separator: &str, line: &'static [u8]) -> Option<(Bytes, Bytes)> {
        let lines = LineRecords {
            key_separator: Some(separator.to_owned()),
            headers: Vec::new(),
        };
        lines
            .record(Bytes::from_static(line))
            .map(|record| (record.key, record.payload))
    }

    #[test]
    fn a_line_is_split_at_the_first_separator() {
        let pair = |key: &'static [u8], payload: &'static [u8]| {
            Some((Bytes::from_static(key), Bytes::from_static(payload)))
        };
        assert_eq!(
            split(":", b"user-1:{\"a\":1}"),
            pair(b"user-1", b"{\"a\":1}")
        );
        assert_eq!(split(":", b"k:v:w"), pair(b"k", b"v:w"));
        assert_eq!(split("::", b"a:b::c"), pair(b"a:b", b"c"));
        assert_eq!(split("\t", b"\tpayload"), pair(b"", b"payload"));
        assert_eq!(split(":", b"key:"), pair(b"key", b""));
        assert_eq!(split(":", b"k\xff:\x00"), pair(b"k\xff", b"\x00"));
    }

    #[test]
    fn a_line_without_the_separator_has_no_record() {
        assert_eq!(split(":", b"no separator"), None);
        assert_eq!(split(":", b""), None);
        assert_eq!(split("::", b"a:b"), None);
    }

    #[test]
    fn a_batch_stops_at_the_first_line_without_the_separator() {
        let lines = LineRecords {
            key_separator: Some("=".to_owned()),
            headers: Vec::new(),
        };
        let batch = ["a=1", "b=2", "bad", "c=3"].map(|line| Bytes::from_static(line.as_bytes()));
        assert_eq!(lines.messages(batch.to_vec()).len(), 2);
        let plain = LineRecords::default().messages(batch.to_vec());
        assert!(matches!(plain, Messages::Payloads(ref payloads) if payloads.len() == 4));
    }

    #[test]
    fn every_message_gets_the_headers_in_order() {
        let lines = LineRecords {
            key_separator: None,
            headers: vec![
                parse_header("trace=a=b").expect("a header"),
                parse_header("empty=").expect("a header"),
                parse_header("trace=2").expect("a header"),
            ],
        };
        assert!(!lines.plain());
        let record = lines.record(Bytes::from_static(b"line")).expect("a record");
        assert_eq!(record.payload, Bytes::from_static(b"line"));
        assert!(record.key.is_empty());
        let headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|header| (header.name.as_str(), header.value.as_ref()))
            .collect();
        assert_eq!(
            headers,
            [("trace", &b"a=b"[..]), ("empty", b""), ("trace", b"2")]
        );
    }

    #[test]
    fn bad_headers_and_separators_are_refused_naming_them() {
        for bad in ["novalue", "=value", ""] {
            let error = parse_header(bad).expect_err(bad);
            assert!(error.contains(&format!("'{bad}'")), "{error}");
        }
        assert!(parse_separator("").is_err());
        assert_eq!(parse_separator("\t"), Ok("\t".to_owned()));
        assert!(LineRecords::default().plain());
    }
}
