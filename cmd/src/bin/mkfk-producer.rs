//! `mkfk-producer`: sends each line of standard input as one message.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use minikafka_client::{Client, Code, Header};
use minikafka_cmd::Target;
use minikafka_cmd::batching::{next_batch, spawn_line_reader};
use minikafka_cmd::records::{LineRecords, parse_header, parse_separator};

/// Sends each line of standard input to a topic as one message.
///
/// Piped input is sent in batches; a line typed at a terminal is sent at once.
/// The server and the topic's name are checked before any input is read.
/// Batches are sent with a producer id and sequence numbers, so a batch
/// whose answer was lost is retried without being stored twice.
#[derive(Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Split each line at the first SEP: the part before is the message's
    /// key, the rest its payload (like kafka-console-producer's parse.key).
    /// A line without SEP is refused, as kafka-console-producer refuses it:
    /// the lines before it are stored, it and the rest are not, and the
    /// exit status is 1
    #[arg(long, value_name = "SEP", value_parser = parse_separator)]
    key_separator: Option<String>,
    /// Add this header to every message (repeatable; kept in order, a name
    /// may repeat); the value is the text after the first '='
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    headers: Vec<Header>,
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
    let shape = LineRecords {
        key_separator: cli.key_separator,
        headers: cli.headers,
    };
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
        let total = batch.len();
        let messages = shape.messages(batch);
        let count = messages.len() as u64;
        // A line without the key separator cuts the batch short.
        let refused = messages.len() < total;
        if count > 0 {
            match messages.send(&producer).await {
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
        }
        if refused {
            let separator = shape.key_separator.as_deref().unwrap_or_default();
            break Err(format!(
                "line {} has no key separator {separator:?}; it and the lines after it were not stored",
                read + 1
            ));
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
