//! `mkfk-consumer`: prints the messages of a topic as they arrive.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use minikafka_client::{Code, Consumer, Message, Position};
use minikafka_cmd::Target;
use minikafka_cmd::output::{Format, write_message};

/// Prints the messages of a topic on standard output as they are stored;
/// diagnostics go to standard error.
///
/// By default it follows the topic: the server pushes each message as it is
/// stored, and a topic that does not exist yet is waited for.
#[derive(clap::Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Where to start: an offset, 0 for the earliest retained message, or
    /// `end` for only messages stored from now on
    #[arg(long, default_value = "0", value_parser = parse_from)]
    from: Position,
    /// Exit at the end of the topic instead of following it
    #[arg(long)]
    no_follow: bool,
    /// The longest wait between attempts to reach the server again when
    /// the connection is lost
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Exit after printing this many messages
    #[arg(long)]
    max: Option<u64>,
    /// How to print each message
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    format: Format,
}

fn parse_from(value: &str) -> Result<Position, String> {
    match value {
        "end" => Ok(Position::End),
        "0" => Ok(Position::Earliest),
        offset => offset
            .parse()
            .map(Position::Offset)
            .map_err(|_| format!("'{offset}' is neither an offset nor 'end'")),
    }
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
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

/// Prints messages and reports gaps, counting down `--max`.
struct Printer {
    out: io::BufWriter<io::Stdout>,
    format: Format,
    remaining: u64,
    /// The offset expected next, once known: a message past it means
    /// retention removed the ones in between.
    expected: Option<u64>,
}

impl Printer {
    fn print(&mut self, message: &Message) -> io::Result<()> {
        if let Some(expected) = self.expected
            && message.offset > expected
        {
            report_gap(expected, message.offset - 1);
        }
        self.expected = Some(message.offset + 1);
        write_message(&mut self.out, self.format, message)?;
        self.remaining -= 1;
        Ok(())
    }

    fn done(&self) -> bool {
        self.remaining == 0
    }
}

fn report_gap(first: u64, last: u64) {
    eprintln!(
        "mkfk-consumer: gap: retention removed {} unread messages (offsets {first}..{last})",
        last - first + 1
    );
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let consumer = cli
        .target
        .connect()
        .await?
        .consumer(cli.target.topic.as_str(), cli.from)
        .with_max_backoff(cli.interval);
    let mut printer = Printer {
        out: io::BufWriter::new(io::stdout()),
        format: cli.format,
        remaining: cli.max.unwrap_or(u64::MAX),
        expected: match cli.from {
            Position::Offset(offset) => Some(offset),
            Position::Earliest | Position::End => None,
        },
    };
    if cli.no_follow {
        print_to_the_end(consumer, &mut printer).await
    } else {
        follow(consumer, &mut printer, &cli.target.topic).await
    }
}

/// Polls until a poll comes back empty.
async fn print_to_the_end(mut consumer: Consumer, printer: &mut Printer) -> anyhow::Result<()> {
    while !printer.done() {
        let polled = consumer.poll(None).await?;
        if let Some(gap) = polled.gap {
            report_gap(gap.first, gap.last);
            printer.expected = None;
        }
        if polled.messages.is_empty() {
            break;
        }
        for message in &polled.messages {
            printer.print(message)?;
            if printer.done() {
                break;
            }
        }
        printer.out.flush()?;
    }
    Ok(())
}

/// Prints what the server pushes, flushing whenever no more is ready.
async fn follow(consumer: Consumer, printer: &mut Printer, topic: &str) -> anyhow::Result<()> {
    if let Err(error) = consumer.client().describe_topic(topic).await {
        if error.code() != Code::NotFound {
            return Err(error.into());
        }
        eprintln!("mkfk-consumer: waiting for topic '{topic}' to be created");
    }
    let mut messages = consumer.stream();
    while !printer.done() {
        let Some(message) = messages.next().await else {
            break;
        };
        printer.print(&message?)?;
        // Take whatever else has already arrived before flushing.
        while !printer.done() {
            match messages.next().now_or_never() {
                Some(Some(message)) => printer.print(&message?)?,
                _ => break,
            }
        }
        printer.out.flush()?;
    }
    Ok(())
}
