//! What to run: the flags of `mkfk-bench`, declared once. The same struct
//! is parsed from the command line, drives the run and is reported.

use std::num::{NonZeroU32, NonZeroU64};
use std::str::FromStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::payload::STAMP_BYTES;
use crate::Target;

/// What to run. Counts that must be at least 1 are non-zero by type, so a
/// configuration is checked for them once, where it is parsed.
#[derive(Debug, Clone, clap::Args, Serialize)]
pub struct Config {
    /// The server and topic (reported without TLS files or token).
    #[command(flatten)]
    #[serde(flatten)]
    pub target: Target,
    /// Producers, each with its own connection
    #[arg(long, default_value_t = NonZeroU32::MIN, value_parser = at_least_one())]
    pub producers: NonZeroU32,
    /// Consumers, each with its own connection, following the topic from
    /// its end; each must receive every message produced
    #[arg(long, default_value_t = 0)]
    pub consumers: u32,
    /// When producing stops.
    #[command(flatten)]
    #[serde(flatten)]
    pub limit: Limit,
    /// Payload size in bytes (at least 8 with consumers)
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Give each message a key of this many bytes (0: no key)
    #[arg(long, default_value_t = 0)]
    pub key_size: usize,
    /// Give each message this many headers, named h1, h2, … each with a
    /// 16-byte value
    #[arg(long, default_value_t = 0)]
    pub headers: u32,
    /// Idempotent produce: each batch carries a producer id and sequence
    /// number, as the client sends by default (on), or neither (off)
    #[arg(long, value_name = "on|off", default_value = "on", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new(), hide_possible_values = true)]
    pub idempotence: bool,
    /// Messages per send_batch call; 1 sends each message with send
    #[arg(long, default_value_t = NonZeroU32::MIN, value_parser = at_least_one())]
    pub batch: NonZeroU32,
    /// Concurrent tasks per producer, all sending through that one producer
    #[arg(long, default_value_t = NonZeroU32::MIN, value_parser = at_least_one())]
    pub tasks: NonZeroU32,
    /// Messages per second across all producers (default: as fast as possible)
    #[arg(long)]
    pub rate: Option<Rate>,
    /// Worker threads of this tool's async runtime (default: one per
    /// connection, producers plus consumers, up to one per CPU: each
    /// connection's work is serial, and on a machine shared with the server
    /// more threads take cores from it and wake tasks across threads)
    #[arg(long, value_parser = at_least_one())]
    // Reported as the runtime's own count instead (see `Setup`).
    #[serde(skip)]
    pub threads: Option<NonZeroU32>,
}

/// Parses a `u32` of at least 1, saying "0 is not in 1..=…" for 0.
fn at_least_one() -> impl TypedValueParser<Value = NonZeroU32> {
    clap::value_parser!(u32)
        .range(1..)
        .try_map(NonZeroU32::try_from)
}

/// `--messages` when neither it nor `--duration` is given.
const DEFAULT_MESSAGES: NonZeroU64 = NonZeroU64::new(100_000).expect("100,000 is not 0");

/// When producing stops: after a number of messages, or after a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limit {
    /// Messages to produce in all, across producers
    #[arg(long, default_value_t = DEFAULT_MESSAGES,
          value_parser = clap::value_parser!(u64).range(1..).try_map(NonZeroU64::try_from))]
    pub messages: NonZeroU64,
    /// Produce for this long instead of a number of messages (e.g. 10s)
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "messages")]
    pub duration: Option<Duration>,
}

impl Limit {
    /// After `messages` in all.
    pub fn messages(messages: NonZeroU64) -> Self {
        Self {
            messages,
            duration: None,
        }
    }

    /// After `duration`, as `--duration` alone gives it.
    pub fn duration(duration: Duration) -> Self {
        Self {
            messages: DEFAULT_MESSAGES,
            duration: Some(duration),
        }
    }

    /// The number of messages to produce, unless a duration limits the run.
    pub fn message_count(&self) -> Option<u64> {
        self.duration.is_none().then_some(self.messages.get())
    }
}

/// Reported as `messages` and `duration_seconds`, one of them null.
impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("Limit", 2)?;
        fields.serialize_field("messages", &self.message_count())?;
        fields.serialize_field("duration_seconds", &self.duration.map(|d| d.as_secs_f64()))?;
        fields.end()
    }
}

/// Messages per second: a positive, finite number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Rate(f64);

impl Rate {
    /// Messages per second.
    pub fn per_second(self) -> f64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(Self(rate)),
            _ => Err(format!(
                "'{value}' is not a positive number of messages per second"
            )),
        }
    }
}

impl Config {
    /// Why this configuration cannot run, if it cannot: the one rule that
    /// ties two flags together (each flag's own range is its parser's).
    pub fn check(&self) -> Result<(), String> {
        if self.consumers > 0 && self.size < STAMP_BYTES {
            return Err(format!(
                "--size must be at least {STAMP_BYTES} when --consumers is above 0: \
                 each payload carries its send time in its first {STAMP_BYTES} bytes"
            ));
        }
        Ok(())
    }

    /// The client call each producer makes: `send` or `send_batch`, or
    /// with keys or headers `send_record` or `send_records`.
    pub fn call(&self) -> &'static str {
        match (self.batch.get(), self.key_size > 0 || self.headers > 0) {
            (1, false) => "send",
            (_, false) => "send_batch",
            (1, true) => "send_record",
            (_, true) => "send_records",
        }
    }

    /// Connections the run opens: one per producer and one per consumer.
    pub fn connections(&self) -> usize {
        self.producers.get() as usize + self.consumers as usize
    }

    /// Worker threads for the benchmark's runtime: `--threads`, or one per
    /// connection up to one per CPU.
    pub fn workers(&self) -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.threads
            .map_or(self.connections().min(cpus), |n| n.get() as usize)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Flags::try_parse_from([&["mkfk-bench", "--topic", "t"], args].concat())
            .map(|flags| flags.config)
    }

    #[test]
    fn the_flags_are_consistent() {
        Flags::command().debug_assert();
    }

    #[test]
    fn defaults_are_one_producer_no_consumers_and_100_000_messages() {
        let config = parse(&[]).expect("defaults");
        assert_eq!(config.producers.get(), 1);
        assert_eq!(config.consumers, 0);
        assert_eq!(config.limit.message_count(), Some(100_000));
        assert_eq!(
            (config.size, config.batch.get(), config.tasks.get()),
            (100, 1, 1)
        );
        assert_eq!((config.rate, config.threads), (None, None));
        assert_eq!((config.key_size, config.headers), (0, 0));
        assert!(config.idempotence);
    }

    #[test]
    fn keys_headers_and_idempotence_are_chosen_by_flags() {
        let config =
            parse(&["--key-size", "16", "--headers", "3", "--idempotence", "off"]).expect("parsed");
        assert_eq!((config.key_size, config.headers), (16, 3));
        assert!(!config.idempotence);
        assert!(parse(&["--idempotence", "on"]).expect("parsed").idempotence);
        assert_eq!(config.call(), "send_record");
        assert_eq!(parse(&[]).expect("parsed").call(), "send");
        assert_eq!(
            parse(&["--batch", "2"]).expect("parsed").call(),
            "send_batch"
        );
        assert_eq!(
            parse(&["--headers", "1"]).expect("parsed").call(),
            "send_record"
        );
        let records = parse(&["--batch", "2", "--key-size", "1"]).expect("parsed");
        assert_eq!(records.call(), "send_records");
        let error = parse(&["--idempotence", "maybe"])
            .expect_err("not on or off")
            .to_string();
        assert!(error.contains("--idempotence"), "{error}");
        let json = serde_json::to_value(&config).expect("serializable");
        assert_eq!(
            (&json["key_size"], &json["headers"], &json["idempotence"]),
            (
                &serde_json::json!(16),
                &serde_json::json!(3),
                &serde_json::json!(false)
            )
        );
    }

    #[test]
    fn a_duration_replaces_the_message_count() {
        let config = parse(&["--duration", "2s"]).expect("a duration");
        assert_eq!(config.limit.message_count(), None);
        assert_eq!(config.limit, Limit::duration(Duration::from_secs(2)));
        assert!(parse(&["--duration", "2s", "--messages", "5"]).is_err());
    }

    #[test]
    fn counts_and_rates_out_of_range_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--producers", "0"),
            ("--batch", "0"),
            ("--tasks", "0"),
            ("--threads", "0"),
            ("--messages", "0"),
            ("--rate", "0"),
            ("--rate", "inf"),
            ("--rate", "x"),
        ] {
            let error = parse(&[flag, value]).expect_err(flag).to_string();
            assert!(error.contains(flag), "{flag} {value}: {error}");
        }
        assert_eq!(
            parse(&["--rate", "2.5"]).expect("a rate").rate,
            Some(Rate(2.5))
        );
    }

    #[test]
    fn consumers_need_room_for_the_send_time() {
        let config = parse(&["--consumers", "1", "--size", "7"]).expect("parsed");
        let error = config.check().expect_err("7 bytes");
        assert!(error.contains("--size must be at least 8"), "{error}");
        assert_eq!(parse(&["--size", "7"]).expect("parsed").check(), Ok(()));
        let eight = parse(&["--consumers", "1", "--size", "8"]).expect("parsed");
        assert_eq!(eight.check(), Ok(()));
    }

    #[test]
    fn the_report_names_the_limit_and_leaves_out_secrets() {
        let config = parse(&["--duration", "300ms", "--token", "secret"]).expect("parsed");
        let json = serde_json::to_value(&config).expect("serializable");
        assert_eq!(json["duration_seconds"], 0.3);
        assert!(json["messages"].is_null(), "{json}");
        assert_eq!(json["topic"], "t");
        assert!(!json.to_string().contains("secret"), "{json}");
        assert!(json.get("threads").is_none(), "{json}");
    }
}
