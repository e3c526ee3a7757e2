//! `mkfk-consumer`: polls a topic and prints each message as it arrives.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use minikafka_client::{ClientError, Code, Consumer, Position};
use minikafka_cmd::Target;
use minikafka_cmd::output::{Format, write_message};

/// Polls a topic and prints each message on standard output; diagnostics
/// go to standard error.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// The first offset to print; 0 is the earliest retained message
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// How long to wait before polling again when caught up
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Exit after printing this many messages
    #[arg(long)]
    max: Option<u64>,
    /// How to print each message
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    minikafka_cmd::logging::init("warn");
    let Some(runtime) = minikafka_cmd::runtime("mkfk-consumer") else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): not a failure.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mkfk-consumer: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let from = match cli.from {
        0 => Position::Earliest,
        offset => Position::Offset(offset),
    };
    let mut consumer = Consumer::connect(&cli.target.host, cli.target.topic.as_str(), from).await?;
    let mut out = io::BufWriter::new(io::stdout());
    let mut remaining = cli.max.unwrap_or(u64::MAX);
    // Each condition is reported once when it starts, not on every retry.
    let mut waiting_for_topic = false;
    let mut server_unavailable = false;
    while remaining > 0 {
        let polled = match consumer.poll().await {
            Ok(polled) => polled,
            Err(error) => {
                let report = match error.code() {
                    Code::NotFound => &mut waiting_for_topic,
                    Code::Unavailable => &mut server_unavailable,
                    _ => return Err(error.into()),
                };
                if !*report {
                    eprintln!(
                        "mkfk-consumer: {}",
                        waiting_message(&error, &cli.target.topic)
                    );
                    *report = true;
                }
                tokio::time::sleep(cli.interval).await;
                continue;
            }
        };
        (waiting_for_topic, server_unavailable) = (false, false);
        if let Some(gap) = polled.gap {
            eprintln!(
                "mkfk-consumer: gap: retention removed {} unread messages (offsets {}..{})",
                gap.count(),
                gap.first,
                gap.last
            );
        }
        for message in polled
            .messages
            .iter()
            .take(usize::try_from(remaining).unwrap_or(usize::MAX))
        {
            write_message(&mut out, cli.format, message)?;
            remaining -= 1;
        }
        out.flush()?;
        if polled.messages.is_empty() {
            tokio::time::sleep(cli.interval).await;
        }
    }
    Ok(())
}

fn waiting_message(error: &ClientError, topic: &str) -> String {
    match error.code() {
        Code::NotFound => format!("waiting for topic '{topic}' to be created"),
        _ => format!("{error}; retrying"),
    }
}
