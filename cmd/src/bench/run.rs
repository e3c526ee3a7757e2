//! A run from start to report: connects the producers and consumers, waits
//! until every consumer is subscribed, starts the producer tasks, and adds
//! up what each task counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use minikafka_client::{Client, Producer, TlsOptions};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

use super::config::Config;
use super::consume::{ConsumerStats, consume};
use super::measure::{Percentiles, Tally, Throughput};
use super::payload::Extras;
use super::plan::Plan;
use super::produce::{ProducerStats, Shape, produce, send_warm_up};
use super::progress::{Progress, ProgressLine};
use super::report::{ConsumeReport, ProduceReport, Report, Setup};
use super::{SUBSCRIBE_WITHIN, client_error};

/// How often warm-up messages are sent while consumers subscribe.
const WARM_UP_EVERY: Duration = Duration::from_millis(50);

/// What one task ended with.
enum Outcome {
    Producer(ProducerStats),
    Consumer(usize, ConsumerStats),
}

type Tasks = JoinSet<anyhow::Result<Outcome>>;

/// Runs the benchmark; with `progress`, a progress line goes to standard
/// error at most once a second. Fails on the first error any producer or
/// consumer meets.
pub async fn run(config: Config, progress: bool) -> anyhow::Result<Report> {
    config.check().map_err(|e| anyhow!(e))?;
    let tls = config.target.server.tls()?;
    let epoch = Instant::now();
    let topic = config.target.topic.as_str();
    let (producer_count, consumer_count) =
        (config.producers.get() as usize, config.consumers as usize);
    let tasks_per_producer = config.tasks.get() as usize;

    let mut producers = Vec::with_capacity(producer_count);
    for i in 0..producer_count {
        let producer = connect(&config, &tls)
            .await
            .with_context(|| format!("producer {}", i + 1))?
            .producer(topic)
            .with_idempotence(config.idempotence);
        send_warm_up(&producer)
            .await
            .with_context(|| format!("producer {} cannot produce to '{topic}'", i + 1))?;
        producers.push(Arc::new(producer));
    }

    let counters = Arc::new(Progress::new(consumer_count));
    let mut tasks = Tasks::new();
    let (target_tx, target_rx) = watch::channel(None);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    for i in 0..consumer_count {
        let client = connect(&config, &tls)
            .await
            .with_context(|| format!("consumer {}", i + 1))?;
        let consumer = consume(
            i,
            client,
            topic.to_owned(),
            epoch,
            ready_tx.clone(),
            target_rx.clone(),
            Arc::clone(&counters),
        );
        tasks.spawn(async move { Ok(Outcome::Consumer(i, consumer.await?)) });
    }
    drop(ready_tx);
    if consumer_count > 0 {
        await_subscriptions(&producers[0], consumer_count, &mut ready_rx, &mut tasks).await?;
    }

    let start = Instant::now();
    let plan = Arc::new(Plan::new(config.limit, config.rate, start));
    let shape = Arc::new(Shape {
        batch: config.batch.get() as usize,
        size: config.size,
        extras: Extras::new(config.key_size, config.headers),
    });
    for (p, producer) in producers.iter().enumerate() {
        for _ in 0..tasks_per_producer {
            let producer = produce(
                p,
                Arc::clone(producer),
                Arc::clone(&plan),
                Arc::clone(&shape),
                epoch,
                Arc::clone(&counters),
            );
            tasks.spawn(async move { Ok(Outcome::Producer(producer.await?)) });
        }
    }
    let progress_line = progress.then(|| ProgressLine::start(Arc::clone(&counters), start));

    let mut producer_tasks_left = producer_count * tasks_per_producer;
    let (mut produced, mut calls, mut produce_end) = (Tally::default(), 0, start);
    let mut consumed: Vec<Option<ConsumerStats>> = (0..consumer_count).map(|_| None).collect();
    let outcome = loop {
        let Some(joined) = tasks.join_next().await else {
            break Ok(());
        };
        match task_result(joined) {
            Err(error) => break Err(error),
            Ok(Outcome::Producer(stats)) => {
                produced.add(&stats.tally);
                calls += stats.calls;
                produce_end = produce_end.max(stats.finished);
                producer_tasks_left -= 1;
                if producer_tasks_left == 0 {
                    // A consumer that already ended has failed, and that
                    // failure is what the run reports.
                    let _ = target_tx.send(Some(produced.messages));
                }
            }
            Ok(Outcome::Consumer(i, stats)) => consumed[i] = Some(stats),
        }
    };
    if let Some(progress_line) = progress_line {
        progress_line.stop().await;
    }
    outcome?;

    let consume = (consumer_count > 0).then(|| consume_report(&consumed, start));
    Ok(Report {
        config: Setup {
            config,
            threads: tokio::runtime::Handle::current().metrics().num_workers(),
        },
        produce: ProduceReport {
            throughput: Throughput::of(&produced, produce_end - start),
            calls,
            ack_latency_us: Percentiles::of(&produced.latency),
        },
        consume,
    })
}

/// One connection for the run, with the token if one was given.
async fn connect(config: &Config, tls: &TlsOptions) -> anyhow::Result<Client> {
    config.target.server.client(tls).await.map_err(client_error)
}

/// What the consumers received, each and together, counted from `start`.
fn consume_report(consumed: &[Option<ConsumerStats>], start: Instant) -> ConsumeReport {
    let mut all = Tally::default();
    let mut per_consumer = Vec::with_capacity(consumed.len());
    let mut last = start;
    for stats in consumed.iter().flatten() {
        let received = stats.last_received.unwrap_or(start);
        per_consumer.push(Throughput::of(&stats.tally, received - start));
        all.add(&stats.tally);
        last = last.max(received);
    }
    ConsumeReport {
        total: Throughput::of(&all, last - start),
        per_consumer,
        latency_us: Percentiles::of(&all.latency),
    }
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
    tasks: &mut Tasks,
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
        send_warm_up(producer)
            .await
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
