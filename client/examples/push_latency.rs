//! Produce-to-receive latency at a fixed rate: one task produces single
//! messages on a timer, one subscription receives them, and each message
//! carries its send time.
//!
//! ```sh
//! cargo run --release -p minikafka-client --example push_latency -- [HOST] [RATE] [SECONDS]
//! ```
//!
//! Defaults: 127.0.0.1:9999, 1,000 messages/s, 10 s. Prints p50, p90, p99,
//! p99.9 and max over all messages after the first second (warm-up).

use std::time::{Duration, Instant};

use futures::StreamExt;
use minikafka_client::{Client, Position};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1:9999".into());
    let rate: u64 = args.next().map_or(Ok(1_000), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let topic = format!("latency-{}", std::process::id());
    let total = rate * seconds;

    let client = Client::connect(&host).await?;
    let producer = client.producer(topic.as_str());
    producer.send("warm-up").await?;
    let mut stream = client
        .consumer(topic.as_str(), Position::Offset(2))
        .stream();
    let start = Instant::now();

    let sender = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for _ in 0..total {
            ticks.tick().await;
            let sent = start.elapsed().as_nanos() as u64;
            producer
                .send(sent.to_le_bytes().to_vec())
                .await
                .expect("produce");
        }
    });

    let mut latencies = Vec::with_capacity(total as usize);
    while latencies.len() < total as usize {
        let message = stream.next().await.ok_or("the stream ended")??;
        let received = start.elapsed().as_nanos() as u64;
        let sent = u64::from_le_bytes(message.payload[..8].try_into()?);
        if sent >= 1_000_000_000 {
            latencies.push(received - sent);
        } else {
            latencies.push(u64::MAX); // warm-up: not counted
        }
    }
    sender.await?;
    latencies.retain(|&l| l != u64::MAX);
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1_000.0;
    println!(
        "{rate}/s for {seconds}s, {} messages measured: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    Ok(())
}
