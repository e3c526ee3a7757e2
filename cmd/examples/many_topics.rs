//! How the server does with very many topics: `many_topics ADDRESS COUNT
//! [TASKS]` produces one message to each of COUNT new topics (`many-0`,
//! `many-1`, …) from TASKS concurrent tasks (default 64), then lists every
//! topic through every page, and prints the rates. docs/performance.md
//! ("Many topics") runs it against an mkfk-server started under
//! `ulimit -n 1024`, and reads the server's memory and start-up time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use minikafka_client::Client;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (address, count, tasks) = match args.as_slice() {
        [address, count] => (address, count, "64"),
        [address, count, tasks] => (address, count, tasks.as_str()),
        _ => bail!("usage: many_topics ADDRESS COUNT [TASKS]"),
    };
    let count: usize = count.parse().context("COUNT: a whole number")?;
    let tasks: usize = tasks.parse().context("TASKS: a whole number")?;
    let client = Client::connect(address.as_str()).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut producers = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (client, next) = (client.clone(), Arc::clone(&next));
        producers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(());
                }
                client
                    .producer(format!("many-{i}"))
                    .send(format!("message of topic {i}"))
                    .await
                    .with_context(|| format!("producing to many-{i}"))?;
            }
        }));
    }
    for producer in producers {
        producer.await??;
    }
    let produced = started.elapsed();
    println!(
        "produced 1 message to each of {count} topics in {:.1} s: {:.0} topics/s",
        produced.as_secs_f64(),
        count as f64 / produced.as_secs_f64()
    );

    let started = Instant::now();
    let topics = client.list_topics().await?;
    let listed = started.elapsed();
    println!(
        "listed {} topics through every page in {:.2} s",
        topics.len(),
        listed.as_secs_f64()
    );
    Ok(())
}
