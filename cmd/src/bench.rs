//! The benchmark behind `mkfk-bench`: producers and consumers against a
//! running server, measured with latency histograms.
//!
//! # How a run goes
//! 1. Each producer connects (its own [`Client`]) and sends one warm-up
//!    message, which creates the topic and checks that it can be written.
//! 2. Each consumer connects (its own [`Client`]) and follows the topic
//!    with [`Consumer::stream`](minikafka_client::Consumer::stream) from
//!    [`Position::End`]. Warm-up messages are sent until every consumer
//!    has received one, so all are subscribed before the measured part.
//! 3. `--tasks` tasks per producer, all sharing that producer, claim
//!    batches of messages from one shared [`Plan`] (which also paces them
//!    under `--rate`) until `--messages` are claimed or `--duration` is up.
//! 4. Consumers count messages until each has received as many as were
//!    produced; a consumer that receives nothing for [`STALL`] after the
//!    producers are done fails the run.
//!
//! Each payload carries its send time in its first 8 bytes (nanoseconds
//! since one [`Instant`] of this process, little-endian), so consumers can
//! measure produce-to-receive latency; warm-up messages carry
//! `u64::MAX` there and are not counted. Latencies go into hdrhistograms
//! (microseconds), so memory stays bounded however long the run.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use hdrhistogram::Histogram;
use minikafka_client::{Client, ClientError, Position, Producer};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

/// The bytes at the start of each payload that carry its send time.
pub const STAMP_BYTES: usize = 8;

/// The send time that marks a warm-up message.
const WARM_UP: u64 = u64::MAX;

/// How long consumers may take to receive a warm-up message (to subscribe).
pub const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(10);

/// How long a consumer may go without a message, once the producers are
/// done, before the run fails.
pub const STALL: Duration = Duration::from_secs(10);

/// How often warm-up messages are sent while consumers subscribe.
const WARM_UP_EVERY: Duration = Duration::from_millis(50);

/// Bytes in a megabyte, as reported (decimal, like the figures in
/// docs/performance.md).
const MB: f64 = 1_000_000.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server address.
    pub host: String,
    /// How to reach a server that serves TLS.
    pub tls: minikafka_client::TlsOptions,
    /// The token to send, for a server with tokens.
    pub token: Option<String>,
    /// The topic produced to and consumed from.
    pub topic: String,
    /// Producers, each with its own connection.
    pub producers: usize,
    /// Consumers, each with its own connection (0: none).
    pub consumers: usize,
    /// Concurrent tasks per producer, sharing that producer.
    pub tasks: usize,
    /// Messages per call: 1 sends each with `send`, more use `send_batch`.
    pub batch: usize,
    /// Payload size in bytes.
    pub size: usize,
    /// When producing stops.
    pub limit: Limit,
    /// Messages per second across all producers; `None`: as fast as they go.
    pub rate: Option<f64>,
}

/// When producing stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// After this many messages in all.
    Messages(u64),
    /// After this long.
    Duration(Duration),
}

impl Config {
    /// Why this configuration cannot run, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.producers == 0 || self.tasks == 0 || self.batch == 0 {
            return Err("--producers, --tasks and --batch must be at least 1".into());
        }
        if self.consumers > 0 && self.size < STAMP_BYTES {
            return Err(format!(
                "--size must be at least {STAMP_BYTES} when --consumers is above 0: \
                 each payload carries its send time in its first {STAMP_BYTES} bytes"
            ));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!("--rate must be a positive number, not {rate}"));
        }
        if self.limit == Limit::Messages(0) {
            return Err("--messages must be at least 1".into());
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// The plan the producer tasks share
// ---------------------------------------------------------------------------

/// Hands out the messages to produce, a batch at a time, to every producer
/// task, and says when each batch is due under a rate limit.
#[derive(Debug)]
pub struct Plan {
    claimed: AtomicU64,
    limit: Limit,
    rate: Option<f64>,
    start: Instant,
}

/// Messages a task is to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Their numbers in the run, from 0.
    pub messages: Range<u64>,
    /// When to send them (under a rate limit).
    pub send_at: Option<Instant>,
}

impl Plan {
    /// A plan for a run that starts at `start`.
    pub fn new(limit: Limit, rate: Option<f64>, start: Instant) -> Self {
        Self {
            claimed: AtomicU64::new(0),
            limit,
            rate,
            start,
        }
    }

    /// The next up to `batch` messages, or `None` when the run is over (as
    /// of `now`). Under a rate limit, message `n` is due `n / rate` seconds
    /// after the start, whichever task sends it.
    pub fn claim(&self, batch: u64, now: Instant) -> Option<Claim> {
        let first = self.claimed.fetch_add(batch, Ordering::Relaxed);
        let send_at = self
            .rate
            .map(|rate| self.start + Duration::from_secs_f64(first as f64 / rate));
        let end = match self.limit {
            Limit::Messages(limit) => {
                if first >= limit {
                    return None;
                }
                (first + batch).min(limit)
            }
            Limit::Duration(duration) => {
                if send_at.unwrap_or(now) >= self.start + duration {
                    return None;
                }
                first + batch
            }
        };
        Some(Claim {
            messages: first..end,
            send_at,
        })
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// The largest latency a histogram tells apart, in microseconds (an hour);
/// longer ones are recorded as this.
pub const HIGHEST_LATENCY_US: u64 = 3_600_000_000;

/// A histogram of latencies in microseconds, from 1 to
/// [`HIGHEST_LATENCY_US`] at 3 significant digits (about 190 KB, however
/// many are recorded). Record with `saturating_record`.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_US, 3)
        .expect("1 µs to an hour at 3 significant digits is within hdrhistogram's range")
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many latencies were recorded.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p99_9: u64,
    /// The largest.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `histogram` (all 0 when it is empty).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        Self {
            count: histogram.len(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// Messages and bytes moved in a time, and the rates they make.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    /// Messages.
    pub messages: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
}

impl Throughput {
    /// `messages` of `bytes` in all, moved in `elapsed`.
    pub fn new(messages: u64, bytes: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        let per_sec = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        Self {
            messages,
            bytes,
            seconds,
            messages_per_sec: per_sec(messages as f64),
            mb_per_sec: per_sec(bytes as f64 / MB),
        }
    }
}

/// The configuration, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    /// Server address.
    pub host: String,
    /// Topic.
    pub topic: String,
    /// Producers (connections).
    pub producers: usize,
    /// Tasks per producer.
    pub tasks: usize,
    /// Consumers (connections).
    pub consumers: usize,
    /// Messages per call.
    pub batch: usize,
    /// Payload bytes.
    pub size: usize,
    /// The message limit, when the run had one.
    pub messages: Option<u64>,
    /// The time limit in seconds, when the run had one.
    pub duration_seconds: Option<f64>,
    /// The rate limit (messages per second, all producers), if any.
    pub rate: Option<f64>,
    /// Worker threads of the benchmark's own async runtime.
    pub threads: usize,
}

/// What producing did.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    /// Messages acknowledged, from the start until the last acknowledgement.
    #[serde(flatten)]
    pub throughput: Throughput,
    /// `send` or `send_batch` calls made.
    pub calls: u64,
    /// From each call to its acknowledgement, in microseconds.
    pub ack_latency_us: Percentiles,
}

/// What consuming did.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumeReport {
    /// Every consumer's messages together, from the start until the last
    /// consumer received its last message.
    #[serde(flatten)]
    pub total: Throughput,
    /// Each consumer, from the start until it received its last message.
    pub per_consumer: Vec<Throughput>,
    /// From each message's send to its receipt, over all consumers, in
    /// microseconds.
    pub latency_us: Percentiles,
}

/// A run's results.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was run.
    pub config: ConfigReport,
    /// Producing.
    pub produce: ProduceReport,
    /// Consuming; `None` without consumers.
    pub consume: Option<ConsumeReport>,
}

/// `n` with commas between groups of three digits: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {}, p90 {}, p99 {}, p99.9 {}, max {} (mean {}, {} samples)",
            thousands(self.p50),
            thousands(self.p90),
            thousands(self.p99),
            thousands(self.p99_9),
            thousands(self.max),
            thousands(self.mean.round() as u64),
            thousands(self.count)
        )
    }
}

impl fmt::Display for Throughput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages, {:.1} MB in {:.3} s: {} msg/s, {:.1} MB/s",
            thousands(self.messages),
            self.bytes as f64 / MB,
            self.seconds,
            thousands(self.messages_per_sec.round() as u64),
            self.mb_per_sec
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let calls = if c.batch == 1 {
            "send".to_owned()
        } else {
            format!("send_batch of {}", c.batch)
        };
        let limit = match (c.messages, c.duration_seconds) {
            (_, Some(seconds)) => format!("for {seconds} s"),
            (Some(messages), None) => format!("{} messages", thousands(messages)),
            (None, None) => String::new(),
        };
        let rate = c
            .rate
            .map(|r| format!(" at {} msg/s", thousands(r.round() as u64)))
            .unwrap_or_default();
        let each = if c.producers > 1 { " each" } else { "" };
        let consumers = match c.consumers {
            0 => "no consumers".to_owned(),
            n => plural(n, "consumer", "consumers"),
        };
        writeln!(
            f,
            "mkfk-bench: '{}' on {}: {limit}{rate}, {} x {}{each}, {calls}, {}-byte payloads, {consumers}, {}",
            c.topic,
            c.host,
            plural(c.producers, "producer", "producers"),
            plural(c.tasks, "task", "tasks"),
            c.size,
            plural(c.threads, "client thread", "client threads"),
        )?;
        let p = &self.produce;
        writeln!(
            f,
            "produced: {} ({} {} calls)",
            p.throughput,
            thousands(p.calls),
            if c.batch == 1 { "send" } else { "send_batch" }
        )?;
        writeln!(f, "  acknowledgement latency (µs): {}", p.ack_latency_us)?;
        if let Some(consume) = &self.consume {
            writeln!(f, "consumed: {} (all consumers)", consume.total)?;
            for (i, one) in consume.per_consumer.iter().enumerate() {
                writeln!(f, "  consumer {}: {one}", i + 1)?;
            }
            writeln!(
                f,
                "  produce-to-receive latency (µs): {}",
                consume.latency_us
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/// Counters the progress line reads while the run goes on.
#[derive(Debug)]
struct Progress {
    produced: AtomicU64,
    /// Per consumer.
    consumed: Vec<AtomicU64>,
}

/// What one task ended with.
enum Outcome {
    Producer(ProducerStats),
    Consumer(usize, ConsumerStats),
}

struct ProducerStats {
    messages: u64,
    bytes: u64,
    calls: u64,
    finished: Instant,
    /// Acknowledgement latencies, kept per task so that recording one
    /// takes no lock shared with other tasks.
    latency: Histogram<u64>,
}

struct ConsumerStats {
    messages: u64,
    bytes: u64,
    last_received: Option<Instant>,
    latency: Histogram<u64>,
}

/// One connection, with the token if one was given.
async fn connect(config: &Config) -> Result<Client, minikafka_client::ClientError> {
    let client = Client::connect_with(&config.host, &config.tls).await?;
    match &config.token {
        Some(token) => client.with_token(token),
        None => Ok(client),
    }
}

/// Runs the benchmark; with `progress`, a progress line goes to standard
/// error at most once a second. Fails on the first error any producer or
/// consumer meets.
pub async fn run(config: Config, progress: bool) -> anyhow::Result<Report> {
    config.check().map_err(|e| anyhow!(e))?;
    let epoch = Instant::now();
    let topic = config.topic.as_str();

    let mut producers = Vec::with_capacity(config.producers);
    for i in 0..config.producers {
        let client = connect(&config)
            .await
            .map_err(client_error)
            .with_context(|| format!("producer {}", i + 1))?;
        let producer = client.producer(topic);
        producer
            .send(warm_up_payload())
            .await
            .map_err(client_error)
            .with_context(|| format!("producer {} cannot produce to '{topic}'", i + 1))?;
        producers.push(Arc::new(producer));
    }

    let counters = Arc::new(Progress {
        produced: AtomicU64::new(0),
        consumed: (0..config.consumers).map(|_| AtomicU64::new(0)).collect(),
    });
    let mut tasks: JoinSet<anyhow::Result<Outcome>> = JoinSet::new();
    let (target_tx, target_rx) = watch::channel(None);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    for i in 0..config.consumers {
        let client = connect(&config)
            .await
            .map_err(client_error)
            .with_context(|| format!("consumer {}", i + 1))?;
        tasks.spawn(consume(
            i,
            client,
            config.topic.clone(),
            epoch,
            ready_tx.clone(),
            target_rx.clone(),
            Arc::clone(&counters),
        ));
    }
    drop(ready_tx);
    if config.consumers > 0 {
        await_subscriptions(&producers[0], config.consumers, &mut ready_rx, &mut tasks).await?;
    }

    let start = Instant::now();
    let plan = Arc::new(Plan::new(config.limit, config.rate, start));
    for (p, producer) in producers.iter().enumerate() {
        for _ in 0..config.tasks {
            tasks.spawn(produce(
                p,
                Arc::clone(producer),
                Arc::clone(&plan),
                (config.batch, config.size),
                epoch,
                Arc::clone(&counters),
            ));
        }
    }
    let reporter = progress.then(|| tokio::spawn(report_progress(Arc::clone(&counters), start)));

    let mut producer_tasks_left = config.producers * config.tasks;
    let (mut produced, mut produced_bytes, mut calls, mut produce_end) = (0, 0, 0, start);
    let mut ack_latency = histogram();
    let mut consumed: Vec<Option<ConsumerStats>> = (0..config.consumers).map(|_| None).collect();
    let outcome = loop {
        let Some(joined) = tasks.join_next().await else {
            break Ok(());
        };
        match task_result(joined) {
            Err(error) => break Err(error),
            Ok(Outcome::Producer(stats)) => {
                produced += stats.messages;
                produced_bytes += stats.bytes;
                calls += stats.calls;
                produce_end = produce_end.max(stats.finished);
                // Same bounds, so adding cannot run out of range.
                let _ = ack_latency.add(&stats.latency);
                producer_tasks_left -= 1;
                if producer_tasks_left == 0 {
                    // A consumer that already ended has failed, and that
                    // failure is what the run reports.
                    let _ = target_tx.send(Some(produced));
                }
            }
            Ok(Outcome::Consumer(i, stats)) => consumed[i] = Some(stats),
        }
    };
    if let Some(reporter) = reporter {
        reporter.abort();
        let _ = reporter.await;
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[K");
        }
    }
    outcome?;

    let consume = (config.consumers > 0).then(|| {
        let mut latency = histogram();
        let mut per_consumer = Vec::with_capacity(consumed.len());
        let (mut messages, mut bytes, mut last) = (0, 0, start);
        for stats in consumed.iter().flatten() {
            let received = stats.last_received.unwrap_or(start);
            per_consumer.push(Throughput::new(
                stats.messages,
                stats.bytes,
                received - start,
            ));
            messages += stats.messages;
            bytes += stats.bytes;
            last = last.max(received);
            // Same bounds, so adding cannot run out of range.
            let _ = latency.add(&stats.latency);
        }
        ConsumeReport {
            total: Throughput::new(messages, bytes, last - start),
            per_consumer,
            latency_us: Percentiles::of(&latency),
        }
    });
    let (messages, duration_seconds) = match config.limit {
        Limit::Messages(n) => (Some(n), None),
        Limit::Duration(d) => (None, Some(d.as_secs_f64())),
    };
    Ok(Report {
        config: ConfigReport {
            host: config.host,
            topic: config.topic,
            producers: config.producers,
            tasks: config.tasks,
            consumers: config.consumers,
            batch: config.batch,
            size: config.size,
            messages,
            duration_seconds,
            rate: config.rate,
            threads: tokio::runtime::Handle::current().metrics().num_workers(),
        },
        produce: ProduceReport {
            throughput: Throughput::new(produced, produced_bytes, produce_end - start),
            calls,
            ack_latency_us: Percentiles::of(&ack_latency),
        },
        consume,
    })
}

/// A finished task's outcome, with a panic or a task that should not have
/// ended yet as errors.
fn task_result(joined: Result<anyhow::Result<Outcome>, JoinError>) -> anyhow::Result<Outcome> {
    joined.map_err(|e| anyhow!("a benchmark task failed: {e}"))?
}

/// Sends warm-up messages through `producer` until each of `consumers`
/// has received one, so every subscription is in place.
async fn await_subscriptions(
    producer: &Producer,
    consumers: usize,
    ready: &mut mpsc::UnboundedReceiver<usize>,
    tasks: &mut JoinSet<anyhow::Result<Outcome>>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SUBSCRIBE_WITHIN;
    let mut subscribed = 0;
    while subscribed < consumers {
        if Instant::now() >= deadline {
            bail!(
                "only {subscribed} of {consumers} consumers received a warm-up message \
                 within {SUBSCRIBE_WITHIN:?}"
            );
        }
        producer
            .send(warm_up_payload())
            .await
            .map_err(client_error)
            .context("sending a warm-up message failed")?;
        let next_warm_up = tokio::time::sleep(WARM_UP_EVERY);
        tokio::pin!(next_warm_up);
        while subscribed < consumers {
            tokio::select! {
                Some(_) = ready.recv() => subscribed += 1,
                Some(joined) = tasks.join_next() => {
                    task_result(joined)?;
                    bail!("a consumer ended before the benchmark started");
                }
                () = &mut next_warm_up => break,
            }
        }
    }
    Ok(())
}

/// One producer task: claims batches from `plan` and sends them through
/// `producer` (shared with the producer's other tasks) until the plan is
/// done.
async fn produce(
    index: usize,
    producer: Arc<Producer>,
    plan: Arc<Plan>,
    (batch, size): (usize, usize),
    epoch: Instant,
    counters: Arc<Progress>,
) -> anyhow::Result<Outcome> {
    let mut stats = ProducerStats {
        messages: 0,
        bytes: 0,
        calls: 0,
        finished: Instant::now(),
        latency: histogram(),
    };
    while let Some(claim) = plan.claim(batch as u64, Instant::now()) {
        if let Some(at) = claim.send_at {
            tokio::time::sleep_until(at.into()).await;
        }
        let count = claim.messages.end - claim.messages.start;
        let sent = Instant::now();
        // Every message of one call has the same send time, so one payload
        // serves them all.
        let payload = payload(size, (sent - epoch).as_nanos() as u64);
        let result = if batch == 1 {
            producer.send(payload).await.map(drop)
        } else {
            let payloads = std::iter::repeat_n(payload, count as usize);
            producer.send_batch(payloads).await.map(drop)
        };
        result.map_err(client_error).with_context(|| {
            format!(
                "producer {}: sending messages {}..={} of the run failed",
                index + 1,
                claim.messages.start + 1,
                claim.messages.end
            )
        })?;
        let acknowledged = Instant::now();
        stats.latency.saturating_record(micros(acknowledged - sent));
        stats.messages += count;
        stats.bytes += count * size as u64;
        stats.calls += 1;
        stats.finished = acknowledged;
        counters.produced.fetch_add(count, Ordering::Relaxed);
    }
    Ok(Outcome::Producer(stats))
}

/// One consumer: follows the topic from its end, signals `ready` on its
/// first warm-up message, then counts messages until it has as many as
/// `target` says were produced.
async fn consume(
    index: usize,
    client: Client,
    topic: String,
    epoch: Instant,
    ready: mpsc::UnboundedSender<usize>,
    mut target: watch::Receiver<Option<u64>>,
    counters: Arc<Progress>,
) -> anyhow::Result<Outcome> {
    let name = format!("consumer {}", index + 1);
    let mut stream = client.consumer(topic, Position::End).stream();
    let mut ready = Some(ready);
    let mut stats = ConsumerStats {
        messages: 0,
        bytes: 0,
        last_received: None,
        latency: histogram(),
    };
    loop {
        let wanted = *target.borrow_and_update();
        if wanted.is_some_and(|wanted| stats.messages >= wanted) {
            return Ok(Outcome::Consumer(index, stats));
        }
        let item = tokio::select! {
            item = stream.next() => item,
            changed = target.changed() => {
                changed.with_context(|| format!("{name}: the benchmark ended"))?;
                continue;
            }
            () = tokio::time::sleep(STALL), if wanted.is_some() => bail!(
                "{name} received {} of {} messages, then nothing for {STALL:?}",
                stats.messages,
                wanted.unwrap_or_default()
            ),
        };
        let message = match item {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(client_error(error).context(format!("{name} failed"))),
            None => bail!("{name}: the subscription ended"),
        };
        let received = Instant::now();
        let stamp = stamp(&message.payload);
        if stamp == Stamp::WarmUp {
            if let Some(ready) = ready.take() {
                // The benchmark waits for this; if it is gone, it has failed.
                let _ = ready.send(index);
            }
            continue;
        }
        if ready.is_some() {
            // Not produced by this run: nothing is, before every consumer
            // has had a warm-up message.
            continue;
        }
        if let Stamp::Sent(sent) = stamp {
            let received_nanos = (received - epoch).as_nanos() as u64;
            stats
                .latency
                .saturating_record(received_nanos.saturating_sub(sent) / 1_000);
        }
        stats.messages += 1;
        stats.bytes += message.payload.len() as u64;
        stats.last_received = Some(received);
        counters.consumed[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// `error` as a message: its `Display` already says all there is, and
/// keeping its source out of the chain keeps `{:#}` from saying it twice.
fn client_error(error: ClientError) -> anyhow::Error {
    anyhow!("{error}")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Prints how many messages were produced (and received by the slowest
/// consumer) once a second, with the rates over that second, until aborted.
async fn report_progress(counters: Arc<Progress>, start: Instant) {
    let every = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at((start + every).into(), every);
    let in_place = std::io::stderr().is_terminal();
    let (mut last_produced, mut last_consumed, mut last_at) = (0, 0, start);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let seconds = (now - last_at).as_secs_f64().max(f64::EPSILON);
        let rate = |now: u64, before: u64| thousands(((now - before) as f64 / seconds) as u64);
        let produced = counters.produced.load(Ordering::Relaxed);
        let mut line = format!(
            "produced {} ({}/s)",
            thousands(produced),
            rate(produced, last_produced)
        );
        let consumed = counters
            .consumed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min();
        if let Some(consumed) = consumed {
            line += &format!(
                ", consumed {} ({}/s)",
                thousands(consumed),
                rate(consumed, last_consumed.min(consumed))
            );
            last_consumed = consumed;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = if in_place {
            write!(stderr, "\r\x1b[Kmkfk-bench: {line}")
        } else {
            writeln!(stderr, "mkfk-bench: {line}")
        };
        let _ = stderr.flush();
        (last_produced, last_at) = (produced, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_in_threes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(123_456), "123,456");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

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
    fn a_message_limit_is_shared_out_to_the_last_partial_batch() {
        let start = Instant::now();
        let plan = Plan::new(Limit::Messages(250), None, start);
        let claims: Vec<_> = std::iter::from_fn(|| plan.claim(100, start))
            .map(|c| c.messages)
            .collect();
        assert_eq!(claims, [0..100, 100..200, 200..250]);
        assert_eq!(plan.claim(100, start), None, "stays done");
    }

    #[test]
    fn a_rate_spaces_messages_evenly_from_the_start() {
        let start = Instant::now();
        let plan = Plan::new(Limit::Messages(1_000), Some(1_000.0), start);
        let at = |claim: Option<Claim>| claim.and_then(|c| c.send_at).map(|t| t - start);
        assert_eq!(at(plan.claim(10, start)), Some(Duration::ZERO));
        assert_eq!(at(plan.claim(10, start)), Some(Duration::from_millis(10)));
        assert_eq!(at(plan.claim(1, start)), Some(Duration::from_millis(20)));
    }

    #[test]
    fn a_duration_ends_claims_when_it_is_up_or_when_the_rate_would_pass_it() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let plan = Plan::new(Limit::Duration(second), None, start);
        assert_eq!(plan.claim(5, start).map(|c| c.messages), Some(0..5));
        assert_eq!(plan.claim(5, start + second), None);

        let paced = Plan::new(Limit::Duration(second), Some(10.0), start);
        let claims = std::iter::from_fn(|| paced.claim(1, start)).count();
        assert_eq!(claims, 10, "messages 0..10 are due within the second");
    }

    #[test]
    fn percentiles_are_ordered_and_in_microseconds() {
        let mut h = histogram();
        for micros in 1..=10_000 {
            h.saturating_record(micros);
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 10_000);
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p99_9 && p.p99_9 <= p.max);
        assert!((4_990..=5_010).contains(&p.p50), "{p:?}");
        assert!((9_990..=10_010).contains(&p.max), "{p:?}");
    }

    #[test]
    fn throughput_is_per_second_and_in_decimal_megabytes() {
        let t = Throughput::new(2_000, 2_000_000, Duration::from_millis(500));
        assert_eq!(t.messages_per_sec, 4_000.0);
        assert_eq!(t.mb_per_sec, 4.0);
        assert_eq!(Throughput::new(5, 5, Duration::ZERO).messages_per_sec, 0.0);
    }

    #[test]
    fn consumers_need_room_for_the_send_time() {
        let config = Config {
            host: "127.0.0.1:9999".into(),
            tls: Default::default(),
            token: None,
            topic: "t".into(),
            producers: 1,
            consumers: 1,
            tasks: 1,
            batch: 1,
            size: 7,
            limit: Limit::Messages(10),
            rate: None,
        };
        let error = config.check().expect_err("7 bytes");
        assert!(error.contains("--size must be at least 8"), "{error}");
        assert_eq!(
            Config {
                consumers: 0,
                ..config.clone()
            }
            .check(),
            Ok(())
        );
        assert_eq!(
            Config {
                size: 8,
                ..config.clone()
            }
            .check(),
            Ok(())
        );
        assert!(
            Config {
                rate: Some(0.0),
                size: 8,
                ..config
            }
            .check()
            .is_err()
        );
    }
}
