//! `mkfk-producer`: sends each line of standard input as one message.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use minikafka_client::{Client, Code};
use minikafka_cmd::Target;
use minikafka_cmd::batching::{next_batch, spawn_line_reader};

/// Sends each line of standard input to a topic as one message.
///
/// Piped input is sent in batches; a line typed at a terminal is sent at once.
/// The server and the topic's name are checked before any input is read.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    target: Target,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    minikafka_cmd::logging::init("warn");
    let Some(runtime) = minikafka_cmd::runtime("mkfk-producer") else {
        return ExitCode::FAILURE;
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let producer = match connect(&cli.target).await {
        Ok(client) => client.producer(cli.target.topic.as_str()),
        Err(error) => {
            eprintln!("mkfk-producer: {error}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = std::io::stdin().is_terminal();
    let prompt = move || {
        if interactive {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
    };
    let mut lines = spawn_line_reader(
        std::io::BufReader::with_capacity(64 * 1024, std::io::stdin()),
        prompt,
    );
    let (mut stored, mut first, mut last) = (0u64, None, 0u64);
    let mut read = 0u64;
    let outcome = loop {
        let batch = match next_batch(&mut lines).await {
            None => break Ok(()),
            Some(Ok(batch)) => batch,
            Some(Err(error)) => break Err(format!("reading standard input failed: {error}")),
        };
        let count = batch.len() as u64;
        match producer.send_batch(batch).await {
            Ok(range) => {
                first.get_or_insert(range.first);
                last = range.last;
                stored += count;
                read += count;
            }
            Err(error) => {
                break Err(format!(
                    "lines {}..{} were not stored: {error}",
                    read + 1,
                    read + count
                ));
            }
        }
    };
    if interactive {
        eprintln!();
    }
    let messages = if stored == 1 { "message" } else { "messages" };
    let summary = match first {
        Some(first) => format!(
            "stored {stored} {messages} in '{}' (offsets {first}..{last})",
            cli.target.topic
        ),
        None => format!("stored 0 messages in '{}'", cli.target.topic),
    };
    match outcome {
        Ok(()) => {
            eprintln!("mkfk-producer: {summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mkfk-producer: {error}");
            eprintln!("mkfk-producer: {summary} before the failure");
            ExitCode::FAILURE
        }
    }
}

/// Connects and asks the server about the topic before any input is read,
/// so that no typed line is lost to a missing server or a bad name. The
/// server alone judges names (INVALID_ARGUMENT); a topic that does not
/// exist yet is fine: the first batch creates it.
async fn connect(target: &Target) -> anyhow::Result<Client> {
    let client = target.server.connect().await?;
    match client.describe_topic(&target.topic).await {
        Ok(_) => Ok(client),
        Err(error) if error.code() == Code::NotFound => Ok(client),
        Err(error) => Err(error.into()),
    }
}
