//! [`Record`] and [`Header`]: a message to produce, with its key and
//! headers.

use bytes::Bytes;
use minikafka_proto::v1;

/// One header of a message: a name and a value, as in Kafka. A name may
/// appear more than once in a message, and order is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Non-empty; the server refuses an empty name.
    pub name: String,
    /// Any bytes.
    pub value: Bytes,
}

/// One message to produce: its payload, and optionally a key and headers
/// (tracing context, content type, a schema id). The server limits the
/// key's size, the number of headers and their bytes (docs/api.md).
///
/// ```
/// use minikafka_client::Record;
///
/// let record = Record::new("order 17 shipped")
///     .with_key("order-17")
///     .with_header("content-type", "text/plain")
///     .with_header("trace-id", "4bf92f35");
/// assert_eq!(record.headers.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The bytes to store.
    pub payload: Bytes,
    /// The message's key; empty for none.
    pub key: Bytes,
    /// The message's headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record of `payload`, with no key and no headers.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            ..Self::default()
        }
    }

    /// The same record with `key`.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = key.into();
        self
    }

    /// The same record with one more header, after those it has.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// The bytes it counts for on the server (and in a batch's size):
    /// payload, key, and every header's name and value.
    pub fn size(&self) -> usize {
        self.payload.len()
            + self.key.len()
            + self
                .headers
                .iter()
                .map(|h| h.name.len() + h.value.len())
                .sum::<usize>()
    }

    /// Whether it is a payload alone, which the `payloads` field carries.
    pub(crate) fn is_plain(&self) -> bool {
        self.key.is_empty() && self.headers.is_empty()
    }
}

impl From<Record> for v1::Record {
    fn from(record: Record) -> Self {
        Self {
            payload: record.payload,
            key: record.key,
            headers: record
                .headers
                .into_iter()
                .map(|h| v1::Header {
                    name: h.name.into(),
                    value: h.value,
                })
                .collect(),
        }
    }
}

/// Headers as the server sent them (their names are UTF-8: the server
/// refuses others before storing them).
pub(crate) fn headers(headers: Vec<v1::Header>) -> Vec<Header> {
    headers
        .into_iter()
        .map(|h| Header {
            name: String::from_utf8_lossy(&h.name).into_owned(),
            value: h.value,
        })
        .collect()
}
