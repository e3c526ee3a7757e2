//! The `request_validation` check: arbitrary sequences of requests sent to
//! both gRPC services (`minikafka.v1` and the original `protocol` API)
//! exactly as tonic hands them over, on a memory store, compared with a
//! model of what docs/api.md promises.
//!
//! What must hold, whatever the requests:
//! - nothing panics;
//! - a request is accepted exactly when it is valid: its topic follows the
//!   documented rules (1–249 characters of `[A-Za-z0-9._-]`, not `.` or
//!   `..`), a batch has payloads or records (not both, not neither), no
//!   payload, key or headers are over their limits, every header name is
//!   non-empty UTF-8, a sequence comes with a producer id and an expected
//!   next offset is not 0; an invalid one is refused with INVALID_ARGUMENT
//!   and changes nothing;
//! - produces number from 1 per topic; a producer's batch whose sequence
//!   was stored (one of its last 5) answers the original offsets and
//!   stores nothing, one out of order answers FAILED_PRECONDITION with the
//!   expected sequence in a trailer; a conditional produce whose expected
//!   next offset is wrong answers FAILED_PRECONDITION with the actual one
//!   and stores nothing (not even the topic);
//! - reads return what was stored, key and headers included, from where
//!   they asked, within the documented limits, NOT_FOUND for topics never
//!   produced to and OUT_OF_RANGE past the end;
//! - the topics listed at the end are the ones produced to.
//!
//! This file is compiled twice: by the fuzz crate (`fuzz/`, nightly) and,
//! through `#[path]`, by `server/tests/fuzz_requests.rs`, which runs
//! [`check`] over [`examples`] and the saved inputs on every `cargo test`,
//! so the check cannot rot between fuzzing sessions.
//!
//! # Input layout
//! A number (the server's message size limit), then requests, each an
//! operation byte (`% 6`: Produce, Poll, Subscribe, DescribeTopic, and the
//! original API's Produce and Poll) and its fields in order (a repeated
//! field is a count and that many values; a Produce's records each a
//! payload, a key, and a count of headers, each a name and a value). A number is
//! one byte below `0xfc`, or a tag (`0xfc`, `0xfd`, `0xfe`) and 2, 4 or 8
//! bytes LE; a string or bytes field is a length and that many bytes; an
//! optional field a byte (odd: present) and the field. Input that runs
//! out reads as zeros, so every input is some sequence of requests.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use minikafka_backends::{MemoryStore, RetentionAge, Timestamp};
use minikafka_proto::protocol::mini_kafka_server::MiniKafka as _;
use minikafka_proto::trailers::{EXPECTED_SEQUENCE, NEXT_OFFSET};
use minikafka_proto::v1::mini_kafka_server::MiniKafka as _;
use minikafka_proto::{protocol, v1};
use minikafka_server::ManualClock;
use minikafka_server::auth::Access;
use minikafka_server::service::checked_store::CheckedStore;
use minikafka_server::service::compat::{self, CompatService};
use minikafka_server::service::v1::V1Service;
use minikafka_server::settings::ServerDefaults;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Code, Request};

/// At most this many requests are taken from one input.
const MAX_CALLS: usize = 32;
/// A string or bytes field is cut to this many bytes: enough to cross the
/// topic-name limit, small enough to keep executions fast.
const MAX_FIELD: usize = 1024;
/// At most this many payloads (or records) per produce.
const MAX_PAYLOADS: usize = 16;
/// At most this many headers per record decoded: enough to cross the
/// server's limit below.
const MAX_DECODED_HEADERS: usize = 5;
/// The server's limits on keys and headers in every run, small so inputs
/// cross them.
const MAX_KEY_BYTES: usize = 8;
const MAX_HEADERS: usize = 3;
const MAX_HEADER_BYTES: usize = 16;
/// How many of a producer's batches the server remembers (docs/api.md).
const REMEMBERED_BATCHES: usize = 5;
/// docs/api.md: `max_messages` (and `max_batch`) 0 means 1,000, capped at
/// 10,000; `max_bytes` 0 means 1 MiB, capped at 2 MiB; subscriptions'
/// batches hold at most 1 MiB.
const DEFAULT_MAX_MESSAGES: u64 = 1_000;
const MAX_MESSAGES_CAP: u64 = 10_000;
const DEFAULT_MAX_BYTES: u64 = 1 << 20;
const MAX_BYTES_CAP: u64 = 2 << 20;
/// The time the server's clock shows.
const NOW: Timestamp = Timestamp::from_nanos(1_700_000_000_000_000_000);

/// One request, to one of the two services.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `minikafka.v1.MiniKafka/Produce`.
    Produce(v1::ProduceRequest),
    /// `minikafka.v1.MiniKafka/Poll`.
    Poll(v1::PollRequest),
    /// `minikafka.v1.MiniKafka/Subscribe`; the first batch is awaited.
    Subscribe(v1::SubscribeRequest),
    /// `minikafka.v1.MiniKafka/DescribeTopic`.
    Describe(v1::DescribeTopicRequest),
    /// `protocol.MiniKafka/Produce`, the original API.
    CompatProduce(protocol::ProduceRequest),
    /// `protocol.MiniKafka/Poll`, the original API.
    CompatPoll(protocol::PollRequest),
}

/// One fuzz input decoded: the server's limit and the requests in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `MINIKAFKA_MAX_MESSAGE_BYTES`.
    pub max_message_bytes: usize,
    /// The requests, sent one after another.
    pub calls: Vec<Call>,
}

/// Reads an input's fields; past its end, zeros.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn number(&mut self) -> u64 {
        let width = match self.byte() {
            0xfc => 2,
            0xfd => 4,
            0xfe | 0xff => 8,
            small => return u64::from(small),
        };
        let mut word = [0u8; 8];
        let bytes = self.take(width);
        word[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(word)
    }

    fn len(&mut self) -> usize {
        usize::try_from(self.number()).map_or(MAX_FIELD, |n| n.min(MAX_FIELD))
    }

    fn bytes(&mut self) -> Bytes {
        let len = self.len();
        Bytes::copy_from_slice(self.take(len))
    }

    fn string(&mut self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn present(&mut self) -> bool {
        self.byte() % 2 == 1
    }
}

/// Writes fields as [`Reader`] reads them: the inverse of [`decode`].
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn number(&mut self, n: u64) -> &mut Self {
        match n {
            0..0xfc => self.0.push(n as u8),
            0xfc..=0xffff => {
                self.0.push(0xfc);
                self.0.extend_from_slice(&(n as u16).to_le_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.0.push(0xfd);
                self.0.extend_from_slice(&(n as u32).to_le_bytes());
            }
            _ => {
                self.0.push(0xfe);
                self.0.extend_from_slice(&n.to_le_bytes());
            }
        }
        self
    }

    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        assert!(bytes.len() <= MAX_FIELD, "a field longer than MAX_FIELD");
        self.number(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
        self
    }

    fn present(&mut self, present: bool) -> &mut Self {
        self.0.push(u8::from(present));
        self
    }
}

/// Decodes an input into a run; every input is one.
pub fn decode(data: &[u8]) -> Run {
    let mut input = Reader(data);
    let max_message_bytes = usize::try_from(input.number()).unwrap_or(usize::MAX);
    let mut calls = Vec::new();
    while !input.0.is_empty() && calls.len() < MAX_CALLS {
        let call = match input.byte() % 6 {
            0 => Call::Produce(v1::ProduceRequest {
                topic: input.string(),
                payloads: (0..input.len().min(MAX_PAYLOADS))
                    .map(|_| input.bytes())
                    .collect(),
                records: (0..input.len().min(MAX_PAYLOADS))
                    .map(|_| v1::Record {
                        payload: input.bytes(),
                        key: input.bytes(),
                        headers: (0..input.len().min(MAX_DECODED_HEADERS))
                            .map(|_| v1::Header {
                                name: input.bytes(),
                                value: input.bytes(),
                            })
                            .collect(),
                    })
                    .collect(),
                producer_id: input.number(),
                sequence: input.number(),
                expected_next_offset: input.present().then(|| input.number()),
            }),
            1 => Call::Poll(v1::PollRequest {
                topic: input.string(),
                read_from: input.number(),
                max_messages: input.number() as u32,
                max_bytes: input.number() as u32,
                max_wait: input.present().then(|| prost_types::Duration {
                    seconds: input.number() as i64,
                    nanos: input.number() as u32 as i32,
                }),
                start: None,
            }),
            2 => Call::Subscribe(v1::SubscribeRequest {
                topic: input.string(),
                read_from: input.number(),
                max_batch: input.number() as u32,
                from_end: input.present(),
                start: None,
            }),
            3 => Call::Describe(v1::DescribeTopicRequest {
                topic: input.string(),
            }),
            4 => Call::CompatProduce(protocol::ProduceRequest {
                topic: input.present().then(|| protocol::Topic {
                    topic: input.string(),
                }),
                payload: input.present().then(|| protocol::Payload {
                    payload: input.bytes(),
                }),
            }),
            _ => Call::CompatPoll(protocol::PollRequest {
                topic: input.string(),
                read_from: input.present().then(|| protocol::MsgNumber {
                    msg_number: input.number() as u32,
                }),
            }),
        };
        calls.push(call);
    }
    Run {
        max_message_bytes,
        calls,
    }
}

/// Encodes a run as an input that [`decode`] gives back: how seeds are
/// written.
pub fn encode(run: &Run) -> Vec<u8> {
    let mut out = Writer::default();
    out.number(run.max_message_bytes as u64);
    for call in &run.calls {
        match call {
            Call::Produce(r) => {
                out.number(0).bytes(r.topic.as_bytes());
                out.number(r.payloads.len() as u64);
                for payload in &r.payloads {
                    out.bytes(payload);
                }
                out.number(r.records.len() as u64);
                for record in &r.records {
                    out.bytes(&record.payload).bytes(&record.key);
                    out.number(record.headers.len() as u64);
                    for header in &record.headers {
                        out.bytes(&header.name).bytes(&header.value);
                    }
                }
                out.number(r.producer_id)
                    .number(r.sequence)
                    .present(r.expected_next_offset.is_some());
                if let Some(expected) = r.expected_next_offset {
                    out.number(expected);
                }
            }
            Call::Poll(r) => {
                out.number(1).bytes(r.topic.as_bytes()).number(r.read_from);
                out.number(r.max_messages.into())
                    .number(r.max_bytes.into())
                    .present(r.max_wait.is_some());
                if let Some(wait) = r.max_wait {
                    out.number(wait.seconds as u64)
                        .number(u64::from(wait.nanos as u32));
                }
            }
            Call::Subscribe(r) => {
                out.number(2).bytes(r.topic.as_bytes()).number(r.read_from);
                out.number(r.max_batch.into()).present(r.from_end);
            }
            Call::Describe(r) => {
                out.number(3).bytes(r.topic.as_bytes());
            }
            Call::CompatProduce(r) => {
                out.number(4).present(r.topic.is_some());
                if let Some(topic) = &r.topic {
                    out.bytes(topic.topic.as_bytes());
                }
                out.present(r.payload.is_some());
                if let Some(payload) = &r.payload {
                    out.bytes(&payload.payload);
                }
            }
            Call::CompatPoll(r) => {
                out.number(5)
                    .bytes(r.topic.as_bytes())
                    .present(r.read_from.is_some());
                if let Some(from) = &r.read_from {
                    out.number(from.msg_number.into());
                }
            }
        }
    }
    out.0
}

/// The runtime every check shares, with time paused: long polls and
/// subscriptions wait in virtual time, which jumps ahead whenever every
/// task is idle, so a 30-second wait costs nothing.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a tokio runtime")
    })
}

/// Decodes an input and checks it: the fuzz target's whole body.
pub fn check_input(data: &[u8]) {
    check(&decode(data));
}

/// Sends the run's requests to a fresh server on a memory store, checking
/// every answer against the model (see the module documentation).
pub fn check(run: &Run) {
    runtime().block_on(async {
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let checked = CheckedStore::new(
            Arc::new(MemoryStore::new()),
            Arc::new(ManualClock::new(NOW)),
            ServerDefaults {
                retention: RetentionAge::Forever,
                max_message_bytes: run.max_message_bytes as u64,
                producer_expiry: RetentionAge::Forever,
                group_retention: RetentionAge::Forever,
                max_key_bytes: MAX_KEY_BYTES,
                max_headers: MAX_HEADERS,
                max_header_bytes: MAX_HEADER_BYTES,
            },
            true,
            shutdown.clone(),
            tasks.clone(),
            Arc::default(),
        );
        let mut server = Server {
            v1: V1Service::new(checked.clone()),
            compat: CompatService::new(checked),
            max_message_bytes: run.max_message_bytes,
            topics: BTreeMap::new(),
            producers: BTreeMap::new(),
        };
        for call in &run.calls {
            server.call(call).await;
        }
        server.check_list().await;
        shutdown.cancel();
        tasks.close();
        tasks.wait().await;
    });
}

/// Whether `name` follows docs/api.md's rules for topic names, written
/// out again here rather than borrowed from the code under test.
fn valid_topic(name: &str) -> bool {
    (1..=249).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name != "."
        && name != ".."
}

/// A request as tonic hands it to a service behind the server's
/// interceptor, with no auth file configured.
fn request<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(Access::Open);
    request
}

/// What a read may return according to the model: the offset it starts
/// at, the messages stored from there on and the next offset; or the code
/// it must fail with.
type Expected<'a> = Result<(u64, &'a [v1::Record], u64), Code>;

/// The batches the model remembers of one producer in one topic, oldest
/// first: (sequence, first offset, last offset).
type Remembered = Vec<(u64, u64, u64)>;

/// The services under test, and the model of what they stored.
struct Server {
    v1: V1Service,
    compat: CompatService,
    max_message_bytes: usize,
    /// Every topic produced to, with its messages from offset 1.
    topics: BTreeMap<String, Vec<v1::Record>>,
    /// Per (topic, producer id), the producer's latest batches.
    producers: BTreeMap<(String, u64), Remembered>,
}

/// A message's size as docs/api.md counts it for `max_bytes` and
/// `size_bytes`: payload, key, and every header's name and value.
fn size(record: &v1::Record) -> u64 {
    let headers: usize = record
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    (record.payload.len() + record.key.len() + headers) as u64
}

/// A record of a payload only, as the `payloads` field and the original
/// API store them.
fn plain(payload: &Bytes) -> v1::Record {
    v1::Record {
        payload: payload.clone(),
        ..v1::Record::default()
    }
}

impl Server {
    async fn call(&mut self, call: &Call) {
        match call {
            Call::Produce(r) => {
                let answer = self.v1.produce(request(r.clone())).await;
                let range = answer.map(|a| {
                    let a = a.into_inner();
                    (a.first_offset, a.last_offset)
                });
                self.produced_v1(r, range, call);
            }
            Call::CompatProduce(r) => {
                let name = r.topic.as_ref().map_or("", |t| &t.topic);
                let payload = r
                    .payload
                    .as_ref()
                    .map(|p| p.payload.clone())
                    .unwrap_or_default();
                let answer = self.compat.produce(request(r.clone())).await;
                let range = answer.map(|a| {
                    let n = u64::from(a.into_inner().msg_number);
                    (n, n)
                });
                // Every name maps to a v1 topic, or is refused as too long.
                match compat::v1_topic(name) {
                    Ok(topic) => {
                        let valid = payload.len() <= self.max_message_bytes;
                        self.produced(topic.as_str(), valid, vec![plain(&payload)], range, call);
                    }
                    Err(_) => assert_eq!(
                        range.map_err(|status| status.code()),
                        Err(Code::InvalidArgument),
                        "{call:?}"
                    ),
                }
            }
            Call::Poll(r) => {
                let answer = self.v1.poll(request(r.clone())).await;
                let expected = self.expected(&r.topic, r.read_from);
                let limits = (r.max_messages, r.max_bytes);
                match (expected, answer) {
                    (Err(code), Err(status)) => assert_eq!(status.code(), code, "{call:?}"),
                    (Ok((start, stored, next)), Ok(answer)) => {
                        let answer = answer.into_inner();
                        check_batch(&answer, start, stored, next, limits, call);
                    }
                    (expected, answer) => {
                        panic!("{call:?}: expected {expected:?}, answered {answer:?}")
                    }
                }
            }
            Call::CompatPoll(r) => {
                let read_from = r.read_from.map_or(0, |n| u64::from(n.msg_number));
                let answer = self.compat.poll(request(r.clone())).await;
                let expected = match compat::v1_topic(&r.topic) {
                    Ok(topic) => self.expected(topic.as_str(), read_from),
                    Err(_) => Err(Code::InvalidArgument),
                };
                match (expected, answer) {
                    // Past the end the original answers nothing, and the
                    // position it was asked for.
                    (Err(Code::OutOfRange), Ok(answer)) => {
                        let answer = answer.into_inner();
                        assert!(answer.payloads.is_empty(), "{call:?}");
                        assert_eq!(
                            answer.new_read_from.map(|n| u64::from(n.msg_number)),
                            Some(read_from),
                            "{call:?}"
                        );
                    }
                    (Err(code), Err(status)) => assert_eq!(status.code(), code, "{call:?}"),
                    (Ok((start, stored, next)), Ok(answer)) => {
                        let answer = answer.into_inner();
                        // The original API carries payloads only; as a v1
                        // batch they are checked the same way, against the
                        // payloads stored.
                        let stored: Vec<v1::Record> =
                            stored.iter().map(|r| plain(&r.payload)).collect();
                        let batch = v1::PollResponse {
                            messages: (start..)
                                .zip(answer.payloads)
                                .map(|(offset, p)| v1::Message {
                                    offset,
                                    timestamp: None,
                                    payload: p.payload,
                                    ..v1::Message::default()
                                })
                                .collect(),
                            new_read_from: answer.new_read_from.map_or(0, |n| n.msg_number.into()),
                            earliest_offset: 1,
                            next_offset: next,
                        };
                        check_batch(&batch, start, &stored, next, (0, 0), call);
                    }
                    (expected, answer) => {
                        panic!("{call:?}: expected {expected:?}, answered {answer:?}")
                    }
                }
            }
            Call::Subscribe(r) => self.subscribe(r, call).await,
            Call::Describe(r) => {
                let answer = self.v1.describe_topic(request(r.clone())).await;
                match (self.expected(&r.topic, 0), answer) {
                    (Err(code), Err(status)) => assert_eq!(status.code(), code, "{call:?}"),
                    (Ok((_, stored, next)), Ok(info)) => {
                        let info = info.into_inner();
                        let bytes: u64 = stored.iter().map(size).sum();
                        assert_eq!(
                            (
                                info.name.as_str(),
                                info.earliest_offset,
                                info.next_offset,
                                info.message_count,
                                info.size_bytes
                            ),
                            (r.topic.as_str(), 1, next, next - 1, bytes),
                            "{call:?}"
                        );
                    }
                    (expected, answer) => {
                        panic!("{call:?}: expected {expected:?}, answered {answer:?}")
                    }
                }
            }
        }
    }

    /// Checks a v1 produce's answer against the rules (validation, then
    /// the producer's sequence, then the expected next offset), and keeps
    /// what it stored.
    fn produced_v1(
        &mut self,
        r: &v1::ProduceRequest,
        answer: Result<(u64, u64), tonic::Status>,
        call: &Call,
    ) {
        let valid = r.payloads.is_empty() != r.records.is_empty()
            && r.payloads.iter().all(|p| p.len() <= self.max_message_bytes)
            && r.records.iter().all(|record| self.valid_record(record))
            && (r.producer_id != 0 || r.sequence == 0)
            && r.expected_next_offset != Some(0);
        let records: Vec<v1::Record> = if r.records.is_empty() {
            r.payloads.iter().map(plain).collect()
        } else {
            r.records.clone()
        };
        if !valid || !valid_topic(&r.topic) {
            return self.produced(&r.topic, valid, records, answer, call);
        }
        let producer = (r.topic.clone(), r.producer_id);
        let remembered = self.producers.get(&producer);
        if r.producer_id != 0
            && let Some(batches) = remembered
        {
            let &(last, _, _) = batches.last().expect("never empty");
            let expected = last.wrapping_add(1);
            if r.sequence != expected {
                match batches
                    .iter()
                    .find(|(sequence, _, _)| *sequence == r.sequence)
                {
                    Some(&(_, first, last)) => assert_eq!(
                        answer.map_err(|s| s.code()),
                        Ok((first, last)),
                        "{call:?}: a stored sequence answers its offsets"
                    ),
                    None => assert_refused(answer, EXPECTED_SEQUENCE, expected, call),
                }
                return;
            }
        }
        let next = self.topics.get(&r.topic).map_or(1, |t| t.len() as u64 + 1);
        if let Some(expected) = r.expected_next_offset
            && expected != next
        {
            return assert_refused(answer, NEXT_OFFSET, next, call);
        }
        if r.producer_id != 0
            && let Ok((first, last)) = answer
        {
            let batches = self.producers.entry(producer).or_default();
            if batches.len() == REMEMBERED_BATCHES {
                batches.remove(0);
            }
            batches.push((r.sequence, first, last));
        }
        self.produced(&r.topic, true, records, answer, call);
    }

    /// Whether a record is within the run's limits, its header names
    /// non-empty UTF-8.
    fn valid_record(&self, record: &v1::Record) -> bool {
        let header_bytes: usize = record
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum();
        record.payload.len() <= self.max_message_bytes
            && record.key.len() <= MAX_KEY_BYTES
            && record.headers.len() <= MAX_HEADERS
            && header_bytes <= MAX_HEADER_BYTES
            && record
                .headers
                .iter()
                .all(|h| !h.name.is_empty() && std::str::from_utf8(&h.name).is_ok())
    }

    /// Checks the answer to a produce of `records` whose fields are
    /// `valid` (the topic is checked here) and that is not a duplicate or
    /// refused by a condition, and keeps what it stored.
    fn produced(
        &mut self,
        topic: &str,
        valid: bool,
        records: Vec<v1::Record>,
        answer: Result<(u64, u64), tonic::Status>,
        call: &Call,
    ) {
        let valid = valid && valid_topic(topic);
        match answer {
            Ok((first, last)) => {
                assert!(valid, "accepted an invalid request: {call:?}");
                let stored = self.topics.entry(topic.to_owned()).or_default();
                let expected_first = stored.len() as u64 + 1;
                assert_eq!(
                    (first, last),
                    (expected_first, expected_first + records.len() as u64 - 1),
                    "{call:?}"
                );
                stored.extend(records);
            }
            Err(status) => {
                assert!(!valid, "refused a valid request: {call:?}: {status:?}");
                assert_eq!(status.code(), Code::InvalidArgument, "{call:?}");
            }
        }
    }

    /// What a read of `topic` from `read_from` must give.
    fn expected(&self, topic: &str, read_from: u64) -> Expected<'_> {
        if !valid_topic(topic) {
            return Err(Code::InvalidArgument);
        }
        let stored = self.topics.get(topic).ok_or(Code::NotFound)?;
        let next = stored.len() as u64 + 1;
        if read_from > next {
            return Err(Code::OutOfRange);
        }
        let start = read_from.max(1);
        Ok((start, &stored[(start - 1) as usize..], next))
    }

    /// Subscribes, and checks the stream's first item: a batch when there
    /// are messages from where it starts, an error when that is past the
    /// end, and nothing (within a virtual second) otherwise.
    async fn subscribe(&self, r: &v1::SubscribeRequest, call: &Call) {
        let answer = self.v1.subscribe(request(r.clone())).await;
        let stream = match answer {
            Err(status) => {
                assert!(!valid_topic(&r.topic), "refused {call:?}: {status:?}");
                assert_eq!(status.code(), Code::InvalidArgument, "{call:?}");
                return;
            }
            Ok(stream) => stream.into_inner(),
        };
        assert!(valid_topic(&r.topic), "accepted {call:?}");
        let mut batches = stream.into_inner();
        let first = tokio::time::timeout(Duration::from_secs(1), batches.recv()).await;
        // From the end, `read_from` does not matter: docs/api.md.
        let expected = match self.expected(&r.topic, r.read_from) {
            _ if r.from_end => None,
            Err(Code::NotFound) => None,
            Ok((_, [], _)) => None,
            other => Some(other),
        };
        match (expected, first) {
            (None, Err(_elapsed)) => {}
            (Some(Err(code)), Ok(Some(Err(status)))) => {
                assert_eq!(status.code(), code, "{call:?}");
            }
            (Some(Ok((start, stored, next))), Ok(Some(Ok(batch)))) => {
                check_batch(&batch, start, stored, next, (r.max_batch, 0), call);
            }
            (expected, first) => {
                panic!("{call:?}: expected {expected:?} first, got {first:?}")
            }
        }
    }

    /// The topics listed are exactly the ones produced to, with their
    /// numbering.
    async fn check_list(&self) {
        let listed = self
            .v1
            .list_topics(request(v1::ListTopicsRequest {
                page_size: u32::MAX,
                page_token: String::new(),
            }))
            .await
            .expect("listing topics")
            .into_inner();
        let listed: Vec<(String, u64)> = listed
            .topics
            .into_iter()
            .map(|t| (t.name, t.next_offset))
            .collect();
        let expected: Vec<(String, u64)> = self
            .topics
            .iter()
            .map(|(name, stored)| (name.clone(), stored.len() as u64 + 1))
            .collect();
        assert_eq!(listed, expected, "the topics produced to, and only those");
    }
}

/// Checks that a produce was refused with FAILED_PRECONDITION carrying
/// `number` in the trailer `key`.
fn assert_refused(answer: Result<(u64, u64), tonic::Status>, key: &str, number: u64, call: &Call) {
    let status = answer.expect_err(&format!("{call:?}: refused with {key}"));
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "{call:?}: {status:?}"
    );
    let trailer = status.metadata().get(key).and_then(|v| v.to_str().ok());
    assert_eq!(
        trailer,
        Some(number.to_string().as_str()),
        "{call:?}: {status:?}"
    );
}

/// Checks one batch read from `start`: the messages stored from there,
/// in order, as many as the limits allow (at least one if any), and the
/// positions the reply gives.
fn check_batch(
    batch: &v1::PollResponse,
    start: u64,
    stored: &[v1::Record],
    next: u64,
    (max_messages, max_bytes): (u32, u32),
    call: &Call,
) {
    let limit = |asked: u32, default: u64, cap: u64| match asked {
        0 => default,
        n => u64::from(n).min(cap),
    };
    let max_messages = limit(max_messages, DEFAULT_MAX_MESSAGES, MAX_MESSAGES_CAP);
    let max_bytes = limit(max_bytes, DEFAULT_MAX_BYTES, MAX_BYTES_CAP);
    let got: Vec<(u64, v1::Record)> = batch
        .messages
        .iter()
        .map(|m| {
            let record = v1::Record {
                payload: m.payload.clone(),
                key: m.key.clone(),
                headers: m.headers.clone(),
            };
            (m.offset, record)
        })
        .collect();
    let want: Vec<(u64, v1::Record)> = (start..)
        .zip(stored.iter().cloned())
        .take(got.len())
        .collect();
    assert_eq!(got, want, "{call:?}: the messages stored from {start}");
    assert!(
        got.len() as u64 <= max_messages,
        "{call:?}: {} messages",
        got.len()
    );
    let bytes: u64 = got.iter().map(|(_, record)| size(record)).sum();
    assert!(
        got.len() <= 1 || bytes <= max_bytes,
        "{call:?}: {bytes} message bytes"
    );
    assert!(
        !got.is_empty() || stored.is_empty(),
        "{call:?}: nothing returned though messages are there"
    );
    let new_read_from = got.last().map_or(start, |(offset, _)| offset + 1);
    assert_eq!(
        (
            batch.new_read_from,
            batch.earliest_offset,
            batch.next_offset
        ),
        (new_read_from, 1, next),
        "{call:?}: the positions in the reply"
    );
}

/// Hand-made runs covering each rule once, for the stable test and as
/// seeds for the fuzzer.
pub fn examples() -> Vec<Run> {
    let produce = |topic: &str, payloads: &[&'static [u8]]| {
        Call::Produce(v1::ProduceRequest {
            topic: topic.to_owned(),
            payloads: payloads.iter().map(|p| Bytes::from_static(p)).collect(),
            ..v1::ProduceRequest::default()
        })
    };
    let poll = |topic: &str, read_from, max_messages, max_bytes, wait: Option<(i64, i32)>| {
        Call::Poll(v1::PollRequest {
            topic: topic.to_owned(),
            read_from,
            max_messages,
            max_bytes,
            max_wait: wait.map(|(seconds, nanos)| prost_types::Duration { seconds, nanos }),
            start: None,
        })
    };
    let subscribe = |topic: &str, read_from, max_batch, from_end| {
        Call::Subscribe(v1::SubscribeRequest {
            topic: topic.to_owned(),
            read_from,
            max_batch,
            from_end,
            start: None,
        })
    };
    let describe = |topic: &str| {
        Call::Describe(v1::DescribeTopicRequest {
            topic: topic.to_owned(),
        })
    };
    let record = |key: &'static [u8], headers: &[(&'static [u8], &'static [u8])]| v1::Record {
        payload: Bytes::from_static(b"p"),
        key: Bytes::from_static(key),
        headers: headers
            .iter()
            .map(|&(name, value)| v1::Header {
                name: Bytes::from_static(name),
                value: Bytes::from_static(value),
            })
            .collect(),
    };
    let produce_records = |topic: &str,
                           records: Vec<v1::Record>,
                           (producer_id, sequence): (u64, u64),
                           expected_next_offset: Option<u64>| {
        Call::Produce(v1::ProduceRequest {
            topic: topic.to_owned(),
            records,
            producer_id,
            sequence,
            expected_next_offset,
            ..v1::ProduceRequest::default()
        })
    };
    let longest = "x".repeat(249);
    let too_long = "x".repeat(250);
    vec![
        Run {
            max_message_bytes: 8,
            calls: vec![
                produce("orders", &[b"a", b"bb", b"ccc"]),
                produce("orders", &[]),
                produce("orders", &[b"123456789"]),
                produce("orders", &[b"12345678"]),
                produce("a/b", &[b"x"]),
                poll("orders", 0, 0, 0, None),
                poll("orders", 2, 1, 0, None),
                poll("orders", 1, 0, 2, None),
                poll("orders", 5, 0, 0, Some((1, 0))),
                poll("orders", 6, 0, 0, None),
                poll("missing", 0, 0, 0, Some((30, 999_999_999))),
                poll("missing", 0, 0, 0, Some((-1, 0))),
                poll("", 0, 0, 0, None),
                describe("orders"),
                describe("missing"),
                describe(".."),
            ],
        },
        Run {
            max_message_bytes: 0,
            calls: vec![
                produce(&longest, &[b""]),
                produce(&too_long, &[b""]),
                produce(".", &[b""]),
                produce("...", &[b"", b""]),
                produce("é", &[b""]),
                produce("a b", &[b""]),
                produce("Orders.v2_eu-west", &[b"x"]),
                subscribe("...", 0, 1, false),
                subscribe("...", 3, 0, false),
                subscribe("...", 4, 0, false),
                subscribe("...", 0, 0, true),
                subscribe("...", 99, 0, true),
                subscribe("later", 0, 0, false),
                subscribe("a/b", 0, 0, false),
            ],
        },
        Run {
            max_message_bytes: 4,
            calls: vec![
                Call::CompatProduce(protocol::ProduceRequest {
                    topic: Some(protocol::Topic {
                        topic: "legacy".into(),
                    }),
                    payload: Some(protocol::Payload {
                        payload: Bytes::from_static(b"old"),
                    }),
                }),
                Call::CompatProduce(protocol::ProduceRequest {
                    topic: Some(protocol::Topic {
                        topic: "legacy".into(),
                    }),
                    payload: None,
                }),
                Call::CompatProduce(protocol::ProduceRequest {
                    topic: None,
                    payload: None,
                }),
                Call::CompatPoll(protocol::PollRequest {
                    topic: "legacy".into(),
                    read_from: None,
                }),
                Call::CompatPoll(protocol::PollRequest {
                    topic: "legacy".into(),
                    read_from: Some(protocol::MsgNumber { msg_number: 9 }),
                }),
                Call::CompatPoll(protocol::PollRequest {
                    topic: "nope".into(),
                    read_from: Some(protocol::MsgNumber { msg_number: 1 }),
                }),
            ],
        },
        Run {
            max_message_bytes: 4,
            calls: vec![
                // Keys and headers: kept exactly, limits, bad names.
                produce_records(
                    "keyed",
                    vec![
                        record(b"k1", &[(b"a", b"1"), (b"a", b"\xff"), (b"b", b"")]),
                        record(b"", &[]),
                    ],
                    (0, 0),
                    None,
                ),
                produce_records("keyed", vec![record(b"123456789", &[])], (0, 0), None),
                produce_records(
                    "keyed",
                    vec![record(b"", &[(&b"a"[..], &b""[..]); 4])],
                    (0, 0),
                    None,
                ),
                produce_records(
                    "keyed",
                    vec![record(b"", &[(b"name", b"0123456789abc")])],
                    (0, 0),
                    None,
                ),
                produce_records("keyed", vec![record(b"", &[(b"", b"v")])], (0, 0), None),
                produce_records("keyed", vec![record(b"", &[(b"\xc3", b"v")])], (0, 0), None),
                Call::Produce(v1::ProduceRequest {
                    topic: "keyed".into(),
                    payloads: vec![Bytes::from_static(b"x")],
                    records: vec![record(b"", &[])],
                    ..v1::ProduceRequest::default()
                }),
                poll("keyed", 0, 0, 0, None),
                poll("keyed", 1, 0, 1, None),
                subscribe("keyed", 2, 0, false),
                describe("keyed"),
                Call::CompatPoll(protocol::PollRequest {
                    topic: "keyed".into(),
                    read_from: None,
                }),
                // Producers: retries of the last five, gaps, separate ids.
                produce_records("dedup", vec![record(b"", &[])], (7, 10), None),
                produce_records("dedup", vec![record(b"", &[]); 2], (7, 11), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 10), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 13), None),
                produce_records("dedup", vec![record(b"", &[])], (8, 13), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 12), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 13), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 14), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 15), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 10), None),
                produce_records("dedup", vec![record(b"", &[])], (7, 11), None),
                produce_records("dedup", vec![record(b"", &[])], (0, 3), None),
                // Conditional appends: a missing topic's next offset is 1.
                produce_records("cond", vec![record(b"", &[])], (0, 0), Some(2)),
                describe("cond"),
                produce_records("cond", vec![record(b"", &[])], (0, 0), Some(0)),
                produce_records("cond", vec![record(b"", &[])], (0, 0), Some(1)),
                produce_records("cond", vec![record(b"", &[])], (5, 1), Some(2)),
                produce_records("cond", vec![record(b"", &[])], (5, 1), Some(2)),
                produce_records("cond", vec![record(b"", &[])], (5, 2), Some(2)),
            ],
        },
    ]
}
