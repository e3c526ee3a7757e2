//! `mkfk-consumer`: prints the messages of a topic as they arrive.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use minikafka_client::{Client, ClientError, Code, ConnectionEvent, Consumer, Message, Position};
use minikafka_cmd::Target;
use minikafka_cmd::output::{Format, Output, write_message};

/// Prints the messages of a topic on standard output as they are stored;
/// diagnostics go to standard error.
///
/// By default it follows the topic: the server pushes each message as it is
/// stored, and a topic that does not exist yet is waited for. While
/// following, a server that is down (at start or later) is waited for too:
/// the consumer says once that the connection is lost and why, retries with
/// growing waits (up to --interval), says when it is back, and goes on from
/// where it was. With --no-follow it exits at once instead.
///
/// Records damaged on the server's disk stop it (exit status 1) with the
/// offsets they span, unless --skip-damaged is given.
///
/// With --group it resumes where the group left off, commits the position
/// after each batch it has written and flushed, and commits on SIGINT or
/// SIGTERM before exiting: every message is printed at least once, in
/// order, none skipped.
#[derive(clap::Parser)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Where to start: an offset; 0, `earliest` or `start` for the earliest
    /// retained message; `end` for only messages stored from now on; an
    /// RFC 3339 time (2026-11-23T10:00:00Z) or a duration ago (15m) for the
    /// first message stored since. With --group, only when the group has
    /// no commit yet
    #[arg(long, default_value = "0", value_parser = parse_from)]
    from: Position,
    /// Read and commit as this consumer group: start at its committed
    /// position, and commit after each batch written
    #[arg(long)]
    group: Option<String>,
    /// Exit at the end of the topic instead of following it
    #[arg(long)]
    no_follow: bool,
    /// Go on past records damaged on the server's disk, from the first good
    /// offset after them, saying on standard error which offsets were skipped
    #[arg(long)]
    skip_damaged: bool,
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
    /// In raw output, print each message's key (empty when it has none)
    /// and a tab before its payload (JSON always has the key)
    #[arg(long)]
    print_key: bool,
}

fn parse_from(value: &str) -> Result<Position, String> {
    match value {
        "end" => return Ok(Position::End),
        "0" | "earliest" | "start" => return Ok(Position::Earliest),
        _ => {}
    }
    if let Ok(offset) = value.parse() {
        return Ok(Position::Offset(offset));
    }
    minikafka_cmd::parse_time(value)
        .map(Position::Time)
        .map_err(|_| {
            format!(
                "'{value}' is not a position: give an offset (1 or more); 0, 'earliest' or \
             'start' for the earliest retained message; 'end' for only new messages; an \
             RFC 3339 time such as 2026-11-23T10:00:00Z; or a duration ago such as 15m"
            )
        })
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
    output: Output,
    remaining: u64,
    /// The offset expected next, once known: a message past it means
    /// retention removed the ones in between.
    expected: Option<u64>,
    /// With --group: where to commit what has been flushed.
    group: Option<GroupCommits>,
}

/// Commits the position after what was flushed, for `--group`.
struct GroupCommits {
    client: Client,
    group: String,
    topic: String,
    /// The position last committed.
    committed: Option<u64>,
}

impl Printer {
    /// Flushes what was printed, then commits the position after it for
    /// the group: a commit never covers a message not yet written out.
    async fn flush_and_commit(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        if let (Some(commits), Some(next)) = (self.group.as_mut(), self.expected)
            && commits.committed != Some(next)
        {
            commits
                .client
                .commit_offset(&commits.group, &commits.topic, next, None)
                .await?;
            commits.committed = Some(next);
        }
        Ok(())
    }
}

impl Printer {
    fn print(&mut self, message: &Message) -> io::Result<()> {
        if let Some(expected) = self.expected
            && message.offset > expected
        {
            report_gap(expected, message.offset - 1);
        }
        self.expected = Some(message.offset + 1);
        write_message(&mut self.out, self.output, message)?;
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

/// Where a `--group` consumer starts: the group's committed position, or
/// `from` when it has none. A follower waits for an unreachable server.
async fn group_start(
    client: &Client,
    group: &str,
    topic: &str,
    from: Position,
    follow: bool,
    interval: Duration,
) -> anyhow::Result<Position> {
    let mut said = false;
    loop {
        match client.fetch_offset(group, topic).await {
            Ok(Some(commit)) => return Ok(Position::Offset(commit.offset)),
            Ok(None) => return Ok(from),
            Err(error) if error.code() == Code::NotFound => return Ok(from),
            Err(error) if follow && error.is_transient() => {
                if !said {
                    eprintln!("mkfk-consumer: {error} (retrying until it answers)");
                    said = true;
                }
                tokio::time::sleep(interval).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let stop = minikafka_cmd::shutdown_signal()?;
    // A follower waits for the server; a one-off read fails at once.
    let client = if cli.no_follow {
        cli.target.server.connect().await?
    } else {
        cli.target.server.connect_lazily()?
    };
    let topic = cli.target.topic.as_str();
    let from = match &cli.group {
        Some(group) => {
            group_start(
                &client,
                group,
                topic,
                cli.from,
                !cli.no_follow,
                cli.interval,
            )
            .await?
        }
        None => cli.from,
    };
    let consumer = client.consumer(topic, from).with_max_backoff(cli.interval);
    let mut printer = Printer {
        out: io::BufWriter::new(io::stdout()),
        output: Output {
            format: cli.format,
            print_key: cli.print_key,
        },
        remaining: cli.max.unwrap_or(u64::MAX),
        expected: match from {
            Position::Offset(offset) => Some(offset),
            Position::Earliest | Position::End | Position::Time(_) => None,
        },
        group: cli.group.map(|group| GroupCommits {
            client: client.clone(),
            group,
            topic: topic.to_owned(),
            committed: None,
        }),
    };
    let damage = Damage {
        skip: cli.skip_damaged,
        topic: &cli.target.topic,
    };
    let work = async {
        if cli.no_follow {
            print_to_the_end(consumer, &mut printer, damage).await
        } else {
            follow(consumer, &mut printer, damage, &cli.target.server.host).await
        }
    };
    // On SIGINT or SIGTERM the reading stops where it is (between
    // messages: printing does not wait), and what was printed is flushed
    // and committed before exiting.
    tokio::select! {
        done = work => done?,
        () = stop => {}
    }
    printer.flush_and_commit().await
}

/// What to do on reaching records damaged on the server's disk.
#[derive(Clone, Copy)]
struct Damage<'a> {
    /// Go on past them (`--skip-damaged`) instead of stopping.
    skip: bool,
    topic: &'a str,
}

impl Damage<'_> {
    /// For a read that failed with `error`: where to go on from when it is
    /// damage to skip (said on standard error), or the error to stop with.
    fn resume_after(self, error: ClientError) -> anyhow::Result<u64> {
        match error {
            ClientError::DataLoss {
                first_offset,
                next_good_offset,
                ..
            } if self.skip => {
                eprintln!(
                    "mkfk-consumer: skipped offsets {first_offset}..={} of topic '{}': damaged on the server's disk",
                    next_good_offset.saturating_sub(1),
                    self.topic
                );
                Ok(next_good_offset)
            }
            ClientError::DataLoss { .. } => Err(anyhow::anyhow!(
                "{error} (--skip-damaged goes on from there)"
            )),
            other => Err(other.into()),
        }
    }
}

/// Polls until a poll comes back empty.
async fn print_to_the_end(
    mut consumer: Consumer,
    printer: &mut Printer,
    damage: Damage<'_>,
) -> anyhow::Result<()> {
    while !printer.done() {
        let polled = match consumer.poll(None).await {
            Ok(polled) => polled,
            Err(error) => {
                let next = damage.resume_after(error)?;
                consumer.seek(next);
                printer.expected = Some(next);
                continue;
            }
        };
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
        printer.flush_and_commit().await?;
    }
    Ok(())
}

/// Prints what the server pushes, flushing whenever no more is ready.
async fn follow(
    mut consumer: Consumer,
    printer: &mut Printer,
    damage: Damage<'_>,
    host: &str,
) -> anyhow::Result<()> {
    let topic = damage.topic;
    match consumer.client().describe_topic(topic).await {
        Ok(_) => {}
        Err(error) if error.code() == Code::NotFound => {
            eprintln!("mkfk-consumer: waiting for topic '{topic}' to be created");
        }
        // The stream below says so, and waits for the server.
        Err(error) if error.is_transient() => {}
        Err(error) => return Err(error.into()),
    }
    while !printer.done() {
        let mut messages = consumer.stream().on_connection(report_connection(host));
        let ended = print_stream(&mut messages, printer).await?;
        match ended {
            None => break,
            Some(error) => {
                let next = damage.resume_after(error)?;
                consumer.seek(next);
                printer.expected = Some(next);
            }
        }
    }
    Ok(())
}

/// Prints messages from `messages` until `--max` is reached or the stream
/// ends; returns the error that ended it, if one did.
async fn print_stream(
    messages: &mut minikafka_client::Subscription,
    printer: &mut Printer,
) -> anyhow::Result<Option<ClientError>> {
    while !printer.done() {
        let message = match messages.next().await {
            None => break,
            Some(Err(error)) => return Ok(Some(error)),
            Some(Ok(message)) => message,
        };
        printer.print(&message)?;
        // Take whatever else has already arrived before flushing.
        while !printer.done() {
            match messages.next().now_or_never() {
                Some(Some(Ok(message))) => printer.print(&message)?,
                Some(Some(Err(error))) => {
                    printer.flush_and_commit().await?;
                    return Ok(Some(error));
                }
                _ => break,
            }
        }
        printer.flush_and_commit().await?;
    }
    Ok(None)
}

/// Says, in the consumer's own words, when the connection is lost (once,
/// with the cause) and when it is back.
fn report_connection(host: &str) -> impl FnMut(ConnectionEvent) + Send + 'static {
    let host = host.to_owned();
    move |event| match event {
        ConnectionEvent::Lost(error) => {
            eprintln!("mkfk-consumer: {error} (retrying until it answers)");
        }
        ConnectionEvent::Restored => eprintln!("mkfk-consumer: connected to {host}"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn damaged() -> ClientError {
        ClientError::DataLoss {
            first_offset: 17,
            next_good_offset: 21,
            message: "topic 't': offsets 17..=20 are damaged on disk and cannot be read; \
                      the first good offset after them is 21"
                .to_owned(),
        }
    }

    #[test]
    fn damage_stops_the_consumer_with_the_offsets_and_the_way_on() {
        let stop = Damage {
            skip: false,
            topic: "t",
        };
        let error = stop.resume_after(damaged()).expect_err("stops");
        assert_eq!(
            format!("{error:#}"),
            "data loss: topic 't': offsets 17..=20 are damaged on disk and cannot be read; \
             the first good offset after them is 21 (--skip-damaged goes on from there)"
        );
    }

    #[test]
    fn skip_damaged_goes_on_from_the_first_good_offset() {
        let skip = Damage {
            skip: true,
            topic: "t",
        };
        assert_eq!(skip.resume_after(damaged()).expect("skips"), 21);
        let other = ClientError::Status(tonic::Status::not_found("topic 't' not found"));
        let error = skip
            .resume_after(other)
            .expect_err("only damage is skipped");
        assert_eq!(format!("{error:#}"), "not found: topic 't' not found");
    }
}
