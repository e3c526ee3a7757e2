//! The floor under every produce: a bare tonic unary call on this machine.
//!
//! `serve ADDRESS` answers `grpc.health.v1.Health/Check` with nothing behind
//! it (tonic-health); `call ADDRESS COUNT` makes COUNT such calls one at a
//! time on one connection and prints calls/s and latency percentiles. Run
//! the two as separate processes, as mkfk-server and mkfk-bench run, in the
//! same sitting as the benchmark it is compared with (docs/performance.md).

use std::time::Instant;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, address] if mode == "serve" => {
            let (_reporter, health) = tonic_health::server::health_reporter();
            let address = address
                .parse()
                .context("an address such as 127.0.0.1:19780")?;
            // The transport settings mkfk-server uses, so only the work
            // behind the call differs.
            Server::builder()
                .tcp_nodelay(true)
                .add_service(health)
                .serve(address)
                .await
                .context("serving")
        }
        [mode, address, count] if mode == "call" => {
            let count: u64 = count.parse().context("a number of calls")?;
            call(address, count).await
        }
        _ => bail!("usage: tonic_baseline serve ADDRESS | tonic_baseline call ADDRESS COUNT"),
    }
}

async fn call(address: &str, count: u64) -> anyhow::Result<()> {
    let channel = Channel::from_shared(format!("http://{address}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .context("connecting")?;
    let mut client = HealthClient::new(channel);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    // A few calls first, so the connection is up and warm.
    for _ in 0..100 {
        client.check(HealthCheckRequest::default()).await?;
    }
    let start = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        client.check(HealthCheckRequest::default()).await?;
        latency.saturating_record(sent.elapsed().as_micros() as u64);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{count} calls, {:.0}/s, p50 {} us, p99 {} us",
        count as f64 / seconds,
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99)
    );
    Ok(())
}
