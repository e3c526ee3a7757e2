//! Safe retries against a real `mkfk-server` process: the Rust producer
//! behind a loopback proxy that passes its request to the server and drops
//! the answer (by staying silent, or by closing the connection), and a
//! server killed with SIGKILL after it stored a batch, then restarted on
//! the same directory. Each time the retry must get the offsets the first
//! attempt got, and the topic must hold exactly one copy of the batch.
//!
//! The proxy reads the HTTP/2 frames both ways (a 9-byte header each), so
//! it can drop whole answers and decode the `Produce` requests and replies
//! it passes: the tests see on the wire which producer id and sequence
//! each attempt carried, and what the dropped answer said. So that the
//! client can go on decoding the server's headers after some are dropped,
//! the proxy tells the server that the client keeps no header compression
//! table (HPACK's dynamic table: each header block could otherwise refer
//! to entries made by one the client never saw).

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::*;
use minikafka_client::{Client, ClientError, Code, OffsetRange, Producer, Record};
use minikafka_proto::trailers::EXPECTED_SEQUENCE;
use minikafka_proto::v1::{self, mini_kafka_client::MiniKafkaClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// HTTP/2 frame types and flags the proxy needs (RFC 9113, section 6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const ACK: u8 = 0x1;
const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const END_STREAM: u8 = 0x1;
const PADDED: u8 = 0x8;
/// What an HTTP/2 client sends before its first frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One `Produce` call seen by the proxy.
#[derive(Debug, Clone)]
struct Exchange {
    /// Which connection to the proxy (counted from 0) and which stream.
    connection: usize,
    stream: u32,
    request: v1::ProduceRequest,
    /// The server's answer, if it sent one with offsets.
    answer: Option<OffsetRange>,
    /// Whether the proxy kept the answer from the client.
    dropped: bool,
}

/// What the proxy does, and what it saw.
#[derive(Debug, Default)]
struct ProxyState {
    /// Where the server is (changed when it restarts elsewhere).
    upstream: String,
    /// How many of the next answers to keep from the client.
    answers_to_drop: usize,
    /// Whether a dropped answer also closes the client's connection (as a
    /// network failure would) rather than leaving the call unanswered.
    close_on_drop: bool,
    /// Every `Produce` call, in the order its request ended.
    exchanges: Vec<Exchange>,
    connections: usize,
}

/// A loopback TCP proxy in front of a server that can drop answers.
#[derive(Clone)]
struct Proxy {
    address: String,
    state: Arc<Mutex<ProxyState>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let proxy = Self {
            address: listener.local_addr().expect("address").to_string(),
            state: Arc::new(Mutex::new(ProxyState {
                upstream: upstream.to_owned(),
                ..ProxyState::default()
            })),
        };
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let connection = {
                    let mut state = accepting.state();
                    state.connections += 1;
                    state.connections - 1
                };
                tokio::spawn(accepting.clone().relay(client, connection));
            }
        });
        proxy
    }

    /// A producer of `topic` that reaches the server through the proxy,
    /// failing each attempt that takes longer than `attempt_timeout`.
    async fn producer(&self, topic: &str, attempt_timeout: Duration) -> Producer {
        Client::connect(&self.address)
            .await
            .expect("connect to the proxy")
            .with_timeout(attempt_timeout)
            .producer(topic)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the next `count` answers from the client; `close` also
    /// closes its connection at each.
    fn drop_answers(&self, count: usize, close: bool) {
        let mut state = self.state();
        state.answers_to_drop = count;
        state.close_on_drop = close;
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.state().exchanges.clone()
    }

    /// Relays one client connection until either side closes it, or an
    /// answer dropped by closing.
    async fn relay(self, client: TcpStream, connection: usize) {
        let upstream = self.state().upstream.clone();
        // A server that is down: the client sees its connection close.
        let Ok(server) = TcpStream::connect(&upstream).await else {
            return;
        };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::select! {
            () = self.requests(client_read, server_write, connection) => {}
            () = self.answers(server_read, client_write, connection) => {}
        }
    }

    /// Client to server: passes everything, noting each `Produce` request.
    async fn requests(
        &self,
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
        connection: usize,
    ) {
        let mut preface = [0u8; PREFACE.len()];
        if from.read_exact(&mut preface).await.is_err() || to.write_all(&preface).await.is_err() {
            return;
        }
        let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
        while let Some(mut frame) = read_frame(&mut from).await {
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                frame = without_header_table(&frame);
            }
            if frame.kind == DATA {
                bodies
                    .entry(frame.stream)
                    .or_default()
                    .extend_from_slice(frame.data());
                if frame.flags & END_STREAM != 0 {
                    let body = bodies.remove(&frame.stream).unwrap_or_default();
                    let request = grpc_message::<v1::ProduceRequest>(&body)
                        .expect("only Produce calls go through the proxy");
                    self.state().exchanges.push(Exchange {
                        connection,
                        stream: frame.stream,
                        request,
                        answer: None,
                        dropped: false,
                    });
                }
            }
            if to.write_all(&frame.bytes).await.is_err() {
                return;
            }
        }
    }

    /// Server to client: passes everything but the answers it is to drop,
    /// noting the offsets of every answer.
    async fn answers(
        &self,
        mut from: impl AsyncRead + Unpin,
        mut to: impl AsyncWrite + Unpin,
        connection: usize,
    ) {
        let mut dropping: Vec<u32> = Vec::new();
        let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
        while let Some(frame) = read_frame(&mut from).await {
            let answer_frame =
                frame.stream != 0 && matches!(frame.kind, DATA | HEADERS | CONTINUATION);
            let mut drop = false;
            if answer_frame {
                let mut state = self.state();
                let first_frame = !bodies.contains_key(&frame.stream);
                let body = bodies.entry(frame.stream).or_default();
                if dropping.contains(&frame.stream) {
                    drop = true;
                } else if first_frame && state.answers_to_drop > 0 {
                    // The first frame of an answer: drop all of it.
                    state.answers_to_drop -= 1;
                    dropping.push(frame.stream);
                    drop = true;
                }
                if frame.kind == DATA {
                    body.extend_from_slice(frame.data());
                }
                let answer = grpc_message::<v1::ProduceResponse>(body).map(|r| OffsetRange {
                    first: r.first_offset,
                    last: r.last_offset,
                });
                if let Some(exchange) = state
                    .exchanges
                    .iter_mut()
                    .find(|e| e.connection == connection && e.stream == frame.stream)
                {
                    exchange.dropped = drop;
                    exchange.answer = exchange.answer.or(answer);
                }
                if drop && frame.flags & END_STREAM != 0 && state.close_on_drop {
                    return;
                }
            }
            if !drop && to.write_all(&frame.bytes).await.is_err() {
                return;
            }
        }
    }
}

/// One HTTP/2 frame, as read.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    /// The whole frame: its 9-byte header and its payload.
    bytes: Vec<u8>,
}

impl Frame {
    /// A DATA frame's data, without padding.
    fn data(&self) -> &[u8] {
        let payload = &self.bytes[9..];
        if self.flags & PADDED == 0 {
            return payload;
        }
        let pad = usize::from(payload[0]);
        &payload[1..payload.len() - pad]
    }
}

/// The client's SETTINGS frame, saying it keeps no header compression
/// table (a header table size of 0), whatever it said.
fn without_header_table(settings: &Frame) -> Frame {
    let mut payload: Vec<u8> = settings.bytes[9..]
        .chunks_exact(6)
        .filter(|entry| u16::from_be_bytes([entry[0], entry[1]]) != SETTINGS_HEADER_TABLE_SIZE)
        .flatten()
        .copied()
        .collect();
    payload.extend_from_slice(&SETTINGS_HEADER_TABLE_SIZE.to_be_bytes());
    payload.extend_from_slice(&0u32.to_be_bytes());
    let len = u32::try_from(payload.len())
        .expect("a small frame")
        .to_be_bytes();
    let mut bytes = vec![len[1], len[2], len[3], SETTINGS, settings.flags, 0, 0, 0, 0];
    bytes.extend_from_slice(&payload);
    Frame {
        kind: SETTINGS,
        flags: settings.flags,
        stream: 0,
        bytes,
    }
}

async fn read_frame(from: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
    let mut header = [0u8; 9];
    from.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut bytes = header.to_vec();
    bytes.resize(9 + len, 0);
    from.read_exact(&mut bytes[9..]).await.ok()?;
    Some(Frame {
        kind: header[3],
        flags: header[4],
        stream: u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff,
        bytes,
    })
}

/// The message of a gRPC body (a compression byte, a 4-byte length, the
/// message), once it is all there.
fn grpc_message<M: prost::Message + Default>(body: &[u8]) -> Option<M> {
    let len = u32::from_be_bytes(body.get(1..5)?.try_into().ok()?) as usize;
    M::decode(body.get(5..5 + len)?).ok()
}

/// Records with keys and headers, named by `tag`.
fn records(tag: &str, count: usize) -> Vec<Record> {
    (0..count)
        .map(|i| {
            Record::new(format!("{tag}-{i}"))
                .with_key(format!("key-{i}"))
                .with_header("tag", tag.to_owned())
                .with_header("binary", vec![0xff, i as u8])
        })
        .collect()
}

/// Checks that `topic` holds `earlier` messages and then exactly one copy
/// of `batch`, key and headers intact, at `range`.
async fn assert_one_copy(
    client: &Client,
    topic: &str,
    earlier: usize,
    batch: &[Record],
    range: OffsetRange,
) {
    let messages = read_all(client, topic, earlier + batch.len()).await;
    let stored: Vec<(u64, Record)> = messages[earlier..]
        .iter()
        .map(|m| {
            let record = Record {
                payload: m.payload.clone(),
                key: m.key.clone(),
                headers: m.headers.clone(),
            };
            (m.offset, record)
        })
        .collect();
    let expected: Vec<(u64, Record)> = (range.first..).zip(batch.iter().cloned()).collect();
    assert_eq!(stored, expected, "one copy, where the first attempt put it");
    assert_eq!(range.last - range.first + 1, batch.len() as u64);
}

/// Stores `count` plain messages first, so offsets do not start at 1.
async fn fill(client: &Client, topic: &str, count: usize) {
    let payloads = (0..count).map(|i| format!("before-{i}"));
    client
        .producer(topic)
        .send_batch(payloads)
        .await
        .expect("produce the messages before");
}

/// The exchanges of `proxy` whose request carried `(producer_id, sequence)`.
fn attempts(proxy: &Proxy, producer_id: u64, sequence: u64) -> Vec<Exchange> {
    proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.request.producer_id == producer_id && e.request.sequence == sequence)
        .collect()
}

async fn dropped_answer_is_retried(close: bool) {
    let server = Server::start();
    let direct = server.client().await;
    fill(&direct, "orders", 3).await;
    let proxy = Proxy::start(&server.address).await;
    // Long enough that the first answer is surely back (and dropped)
    // before the client gives up on it.
    let producer = proxy.producer("orders", Duration::from_secs(1)).await;
    proxy.drop_answers(1, close);

    let batch = records("first", 4);
    let range = producer
        .send_records(batch.clone())
        .await
        .expect("the retry is answered");

    let first = proxy.exchanges()[0].clone();
    assert!(first.dropped, "the first answer was dropped: {first:?}");
    assert_ne!(first.request.producer_id, 0, "an idempotent request");
    assert_eq!(
        first.answer,
        Some(range),
        "the retry got the offsets the first attempt got"
    );
    let tries = attempts(&proxy, first.request.producer_id, first.request.sequence);
    assert!(tries.len() >= 2, "retried: {tries:?}");
    assert!(
        tries
            .iter()
            .all(|e| e.request.records == first.request.records),
        "every attempt carried the same batch"
    );
    assert_eq!(range, OffsetRange { first: 4, last: 7 });
    assert_one_copy(&direct, "orders", 3, &batch, range).await;

    // The lane goes on: the next batch is the producer's next sequence.
    let next = producer
        .send_records(records("second", 1))
        .await
        .expect("produce");
    assert_eq!(next, OffsetRange { first: 8, last: 8 });
    let last = proxy.exchanges().pop().expect("an exchange");
    assert_eq!(
        (last.request.producer_id, last.request.sequence),
        (first.request.producer_id, first.request.sequence + 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_never_comes_is_retried_and_stored_once() {
    dropped_answer_is_retried(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_lost_with_its_connection_is_retried_and_stored_once() {
    dropped_answer_is_retried(true).await;
}

/// Safe retries are checked before the condition: the retry of a stored
/// conditional append finds the topic moved on by its own first attempt,
/// and gets that attempt's offsets, not a mismatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_conditional_append_gets_its_offsets_not_a_mismatch() {
    let server = Server::start();
    let direct = server.client().await;
    fill(&direct, "ledger", 2).await;
    let proxy = Proxy::start(&server.address).await;
    let producer = proxy.producer("ledger", Duration::from_secs(1)).await;
    proxy.drop_answers(1, false);
    let batch = records("event", 2);
    let range = producer
        .send_records_expecting(3, batch.clone())
        .await
        .expect("the retry is answered with the first attempt's offsets");
    assert_eq!(range, OffsetRange { first: 3, last: 4 });
    let seen = proxy.exchanges();
    assert!(seen[0].dropped && seen[0].answer == Some(range), "{seen:?}");
    assert!(seen.len() >= 2, "retried: {seen:?}");
    assert!(
        seen.iter()
            .all(|e| e.request.expected_next_offset == Some(3)),
        "every attempt carried the condition"
    );
    assert_one_copy(&direct, "ledger", 2, &batch, range).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_answers_all_drop_is_stored_once_and_its_producer_id_retired() {
    let server = Server::start();
    let direct = server.client().await;
    let proxy = Proxy::start(&server.address).await;
    let producer = proxy
        .producer("lost", Duration::from_millis(200))
        .await
        .with_retry_for(Duration::from_millis(800));
    proxy.drop_answers(usize::MAX, false);
    let batch = records("lost", 2);
    let error = producer
        .send_records(batch.clone())
        .await
        .expect_err("no answer ever arrives");
    assert!(error.is_transient(), "{error}");
    let seen = proxy.exchanges();
    assert!(seen.len() >= 2, "retried until the retry time ran out");
    let first = &seen[0];
    let range = first.answer.expect("the server answered with offsets");
    assert!(
        seen.iter().all(|e| e.request == first.request),
        "every attempt the same: {seen:?}"
    );
    // (The last attempt, cut short by the retry time, may have no answer.)
    assert!(
        seen.iter()
            .filter(|e| e.answer.is_some())
            .all(|e| e.dropped && e.answer == Some(range)),
        "every answer the first one's, none let through: {seen:?}"
    );
    assert_one_copy(&direct, "lost", 0, &batch, range).await;

    // Its outcome was unknown to the producer: that id is never used
    // again, so no other batch can be taken for this one.
    proxy.drop_answers(0, false);
    let next = producer
        .send_records(records("after", 1))
        .await
        .expect("produce");
    assert_eq!(next, OffsetRange { first: 3, last: 3 });
    let last = proxy.exchanges().pop().expect("an exchange");
    assert_ne!(last.request.producer_id, first.request.producer_id);
    assert_ne!(last.request.producer_id, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_a_dropped_answer_is_an_error_and_no_id_is_sent() {
    let server = Server::start();
    let proxy = Proxy::start(&server.address).await;
    let producer = proxy
        .producer("plain", Duration::from_millis(300))
        .await
        .with_idempotence(false);
    proxy.drop_answers(1, false);
    let error = producer
        .send_records(records("plain", 1))
        .await
        .expect_err("not retried");
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    let seen = proxy.exchanges();
    assert_eq!(seen.len(), 1, "one attempt: {seen:?}");
    assert_eq!(
        (seen[0].request.producer_id, seen[0].request.sequence),
        (0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_each_take_a_lane_and_are_each_stored_once() {
    let server = Server::start();
    let direct = server.client().await;
    let proxy = Proxy::start(&server.address).await;
    let producer = proxy.producer("lanes", Duration::from_millis(500)).await;
    // Some answers are lost on the way: their batches are retried.
    proxy.drop_answers(3, false);
    let sends = (0..8).map(|task| {
        let producer = producer.clone();
        tokio::spawn(async move {
            let batch = records(&format!("task{task}"), 2);
            let range = producer.send_records(batch.clone()).await.expect("produce");
            (batch, range)
        })
    });
    let mut stored = Vec::new();
    for send in sends {
        stored.push(send.await.expect("the task"));
    }
    let messages = read_all(&direct, "lanes", 16).await;
    for (batch, range) in &stored {
        let at: Vec<_> = messages
            .iter()
            .filter(|m| (range.first..=range.last).contains(&m.offset))
            .map(|m| m.payload.clone())
            .collect();
        let sent: Vec<_> = batch.iter().map(|r| r.payload.clone()).collect();
        assert_eq!(at, sent, "each batch once, at its offsets");
    }
    // A lane is one request at a time: no two requests in flight shared a
    // producer id and sequence unless one was a retry of the other.
    for exchange in proxy.exchanges() {
        let same = attempts(
            &proxy,
            exchange.request.producer_id,
            exchange.request.sequence,
        );
        assert!(
            same.iter()
                .all(|e| e.request.records == exchange.request.records),
            "one batch per producer id and sequence"
        );
    }
}

fn server_on(root: &Path, backend: &str) -> Server {
    let root = root.to_str().expect("a UTF-8 temporary path");
    Server::start_with(&[("MINIKAFKA_BACKEND", backend), ("MINIKAFKA_ROOT_DIR", root)])
}

async fn grpc(address: &str) -> MiniKafkaClient<tonic::transport::Channel> {
    MiniKafkaClient::connect(format!("http://{address}"))
        .await
        .expect("connect")
}

/// A `Produce` of `batch` by `producer_id` with `sequence`.
fn produce_request(batch: &[Record], producer_id: u64, sequence: u64) -> v1::ProduceRequest {
    v1::ProduceRequest {
        topic: "events".into(),
        records: batch.iter().cloned().map(Into::into).collect(),
        producer_id,
        sequence,
        ..v1::ProduceRequest::default()
    }
}

async fn produce(
    grpc: &mut MiniKafkaClient<tonic::transport::Channel>,
    request: v1::ProduceRequest,
) -> Result<OffsetRange, tonic::Status> {
    let reply = grpc.produce(request).await?.into_inner();
    Ok(OffsetRange {
        first: reply.first_offset,
        last: reply.last_offset,
    })
}

/// Stores batches with producer ids, kills the server with SIGKILL,
/// restarts it on the same directory and retries them.
async fn retries_after_kill_9_get_the_original_offsets(backend: &str) {
    let root = tempfile::tempdir().expect("temporary directory");
    let mut server = server_on(root.path(), backend);
    let direct = server.client().await;
    fill(&direct, "events", 2).await;
    let mut grpc_before = grpc(&server.address).await;
    const PRODUCER: u64 = 0x5eed_1234_abcd_0001;
    let batches: Vec<Vec<Record>> = (0..3).map(|i| records(&format!("b{i}"), 3)).collect();
    let mut ranges = Vec::new();
    for (sequence, batch) in (40..).zip(&batches) {
        let range = produce(&mut grpc_before, produce_request(batch, PRODUCER, sequence))
            .await
            .expect("stored");
        ranges.push(range);
    }
    assert_eq!(ranges[0], OffsetRange { first: 3, last: 5 });

    server.crash();
    let server = server_on(root.path(), backend);
    let mut grpc_after = grpc(&server.address).await;
    for (sequence, (batch, range)) in (40..).zip(batches.iter().zip(&ranges)) {
        let retried = produce(&mut grpc_after, produce_request(batch, PRODUCER, sequence))
            .await
            .expect("a retry is answered");
        assert_eq!(retried, *range, "sequence {sequence}: the original offsets");
    }
    let direct = server.client().await;
    let info = direct.describe_topic("events").await.expect("describe");
    assert_eq!(info.next_offset, 12, "no second copy: {info:?}");
    for (batch, range) in batches.iter().zip(&ranges) {
        let earlier = (range.first - 1) as usize;
        let mut consumer =
            direct.consumer("events", minikafka_client::Position::Offset(range.first));
        let polled = consumer.poll(None).await.expect("poll");
        let read: Vec<Record> = polled
            .messages
            .into_iter()
            .take(batch.len())
            .map(|m| Record {
                payload: m.payload,
                key: m.key,
                headers: m.headers,
            })
            .collect();
        assert_eq!(&read, batch, "the batch at {earlier} is the one sent");
    }

    // The producer goes on after its last stored sequence; a gap is refused.
    let next = records("b3", 1);
    let stored = produce(&mut grpc_after, produce_request(&next, PRODUCER, 43))
        .await
        .expect("the next sequence");
    assert_eq!(
        stored,
        OffsetRange {
            first: 12,
            last: 12
        }
    );
    let gap = produce(&mut grpc_after, produce_request(&next, PRODUCER, 45))
        .await
        .expect_err("a gap");
    assert_eq!(gap.code(), tonic::Code::FailedPrecondition, "{gap:?}");
    let expected = gap
        .metadata()
        .get(EXPECTED_SEQUENCE)
        .map(|v| v.to_str().ok());
    assert_eq!(expected, Some(Some("44")), "{gap:?}");
    let info = direct.describe_topic("events").await.expect("describe");
    assert_eq!(info.next_offset, 13, "the gap stored nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_file_store_answers_retries_with_the_original_offsets() {
    retries_after_kill_9_get_the_original_offsets("file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_sqlite_answers_retries_with_the_original_offsets() {
    retries_after_kill_9_get_the_original_offsets("sqlite").await;
}

/// The Rust producer itself across a crash: its answer is dropped, the
/// server is killed and restarted on the same directory (at another
/// port, which the proxy follows), and the producer's own retries get the
/// original offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_retries_across_a_kill_9_and_gets_the_original_offsets() {
    let root = tempfile::tempdir().expect("temporary directory");
    let mut server = server_on(root.path(), "file");
    fill(&server.client().await, "events", 5).await;
    let proxy = Proxy::start(&server.address).await;
    let producer: Producer = proxy
        .producer("events", Duration::from_millis(500))
        .await
        .with_retry_for(Duration::from_secs(20));
    proxy.drop_answers(1, false);
    let batch = records("crash", 3);
    let sending = tokio::spawn({
        let batch = batch.clone();
        async move { producer.send_records(batch).await }
    });

    let deadline = Instant::now() + DEADLINE;
    let dropped = loop {
        let exchanges = proxy.exchanges().into_iter();
        if let Some(first) = exchanges.filter(|e| e.dropped).find(|e| e.answer.is_some()) {
            break first;
        }
        assert!(Instant::now() < deadline, "no answer dropped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    server.crash();
    let server = server_on(root.path(), "file");
    proxy.state().upstream = server.address.clone();

    let range = sending
        .await
        .expect("the sending task")
        .expect("answered after the restart");
    assert_eq!(
        dropped.answer,
        Some(range),
        "the offsets stored before the crash"
    );
    assert_eq!(range, OffsetRange { first: 6, last: 8 });
    let tries = attempts(
        &proxy,
        dropped.request.producer_id,
        dropped.request.sequence,
    );
    assert!(
        tries.iter().any(|e| e.connection > 0 && !e.dropped),
        "answered by the restarted server: {tries:?}"
    );
    assert_one_copy(&server.client().await, "events", 5, &batch, range).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_append_is_refused_with_the_next_offset() {
    let server = Server::start();
    let producer = server.client().await.producer("ledger");
    let error = producer
        .send_records_expecting(2, records("x", 1))
        .await
        .expect_err("the topic does not exist: its next offset is 1");
    match &error {
        ClientError::NextOffsetMismatch {
            next_offset,
            message,
        } => {
            assert_eq!(*next_offset, 1);
            assert!(message.contains("expected next offset 2"), "{message}");
        }
        other => panic!("not NextOffsetMismatch: {other:?}"),
    }
    assert_eq!(error.code(), Code::FailedPrecondition);
    let client = server.client().await;
    let missing = client.describe_topic("ledger").await.expect_err("not made");
    assert_eq!(missing.code(), Code::NotFound);
    let range = producer
        .send_records_expecting(1, records("x", 2))
        .await
        .expect("1 creates it");
    assert_eq!(range, OffsetRange { first: 1, last: 2 });
    let range = producer
        .send_records_expecting(3, records("y", 1))
        .await
        .expect("3 is next");
    assert_eq!(range, OffsetRange { first: 3, last: 3 });
    let error = producer
        .send_records_expecting(3, records("z", 1))
        .await
        .expect_err("3 is taken");
    assert!(
        matches!(
            error,
            ClientError::NextOffsetMismatch { next_offset: 4, .. }
        ),
        "{error:?}"
    );
    assert_eq!(
        client
            .describe_topic("ledger")
            .await
            .expect("describe")
            .next_offset,
        4
    );
}
