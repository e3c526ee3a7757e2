//! Commits per second through a real server: `commit_rate ADDRESS
//! [COMMITTERS] [SECONDS]` makes a topic of 1,000 messages, then COMMITTERS
//! concurrent tasks (default 64), each its own group, commit offsets 1,
//! 2, … for SECONDS (default 5) and prints the rate and the median and p99
//! latency of a commit. docs/performance.md ("Consumer groups") runs it
//! against mkfk-server with MINIKAFKA_FSYNC=always and never: with group
//! commit, concurrent commits share syncs.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use minikafka_client::Client;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (address, committers, seconds) = match args.as_slice() {
        [address] => (address, "64", "5"),
        [address, committers] => (address, committers.as_str(), "5"),
        [address, committers, seconds] => (address, committers.as_str(), seconds.as_str()),
        _ => bail!("usage: commit_rate ADDRESS [COMMITTERS] [SECONDS]"),
    };
    let committers: usize = committers.parse().context("COMMITTERS: a whole number")?;
    let run_for = Duration::from_secs(seconds.parse().context("SECONDS: a whole number")?);
    let client = Client::connect(address.as_str()).await?;
    let payloads: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    client.producer("commit-rate").send_batch(payloads).await?;

    let started = Instant::now();
    let mut tasks = Vec::with_capacity(committers);
    for task in 0..committers {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let group = format!("committer-{task}");
            let mut latencies = Vec::new();
            let mut offset = 0;
            while started.elapsed() < run_for {
                offset = offset % 1_000 + 1;
                let sent = Instant::now();
                client
                    .commit_offset(&group, "commit-rate", offset, None)
                    .await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{committers} committers: {:.0} commits/s, p50 {:?}, p99 {:?} ({} commits in {:.1} s)",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        latencies.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
