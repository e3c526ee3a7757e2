//! `mkfk-bench`: measures producing and consuming against a running server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use minikafka_cmd::Target;
use minikafka_cmd::bench::{self, Config, Limit};

/// Measures a server: producers send messages to a topic as fast as they
/// can (or at --rate), consumers follow it, and the report gives messages
/// and megabytes (10^6 bytes) per second and latency percentiles in
/// microseconds.
///
/// Latencies: from each send/send_batch call to its acknowledgement, and,
/// with consumers, from each message's send to its receipt (the send time
/// travels in the payload's first 8 bytes). Progress goes to standard error
/// once a second; the report (or, with --json, one JSON object and nothing
/// else) to standard output. Any error from the server ends the run with a
/// non-zero exit.
#[derive(Parser)]
#[command(name = "mkfk-bench", version)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Producers, each with its own connection
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    producers: u32,
    /// Consumers, each with its own connection, following the topic from
    /// its end; each must receive every message produced
    #[arg(long, default_value_t = 0)]
    consumers: u32,
    /// Messages to produce in all, across producers
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    messages: u64,
    /// Produce for this long instead of a number of messages (e.g. 10s)
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "messages")]
    duration: Option<Duration>,
    /// Payload size in bytes (at least 8 with consumers)
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Messages per send_batch call; 1 sends each message with send
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Concurrent tasks per producer, all sending through that one producer
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    tasks: u32,
    /// Messages per second across all producers (default: as fast as possible)
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Worker threads of this tool's async runtime (default: one per
    /// connection, producers plus consumers, up to one per CPU: each
    /// connection's work is serial, and on a machine shared with the server
    /// more threads take cores from it and wake tasks across threads)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Print the results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
}

fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "'{value}' is not a positive number of messages per second"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let tls = match cli.target.tls() {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("mkfk-bench: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        tls,
        token: cli.target.token.clone(),
        host: cli.target.host,
        topic: cli.target.topic,
        producers: cli.producers as usize,
        consumers: cli.consumers as usize,
        tasks: cli.tasks as usize,
        batch: cli.batch as usize,
        size: cli.size,
        limit: cli
            .duration
            .map_or(Limit::Messages(cli.messages), Limit::Duration),
        rate: cli.rate,
    };
    if let Err(error) = config.check() {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, error)
            .exit();
    }
    minikafka_cmd::logging::init("warn");
    let connections = (cli.producers + cli.consumers) as usize;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cli.threads.map_or(connections.min(cpus), |n| n as usize);
    let Some(runtime) = minikafka_cmd::runtime_with_workers("mkfk-bench", Some(workers)) else {
        return ExitCode::FAILURE;
    };
    let report = match runtime.block_on(bench::run(config, true)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("mkfk-bench: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if cli.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("mkfk-bench: cannot write the report as JSON: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{report}");
    }
    ExitCode::SUCCESS
}
