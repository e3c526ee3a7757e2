//! `mkfk-bench`: measures producing and consuming against a running server.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use minikafka_cmd::bench::{self, Config};

/// Measures a server: producers send messages to a topic as fast as they
/// can (or at --rate), consumers follow it, and the report gives messages
/// and megabytes (10^6 bytes of payloads, keys and headers) per second and
/// latency percentiles in microseconds.
///
/// Latencies: from each send call to its acknowledgement, and,
/// with consumers, from each message's send to its receipt (the send time
/// travels in the payload's first 8 bytes). Progress goes to standard error
/// once a second; the report (or, with --json, one JSON object and nothing
/// else) to standard output. Any error from the server ends the run with a
/// non-zero exit.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// Print the results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let Cli { config, json } = Cli::parse();
    if let Err(error) = config.check() {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, error)
            .exit();
    }
    minikafka_cmd::logging::init("warn");
    let workers = config.workers();
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
    if json {
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
