//! A run's results, as the human report and as JSON (one serde shape for
//! both: the JSON is the report's fields, the text is their `Display`).

use std::fmt;

use serde::Serialize;

use super::config::Config;
use super::measure::{MB, Percentiles, Throughput};

/// What was run: the configuration, and the threads it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The configuration.
    #[serde(flatten)]
    pub config: Config,
    /// Worker threads of the benchmark's own async runtime (its own count,
    /// whether `--threads` set it or not).
    pub threads: usize,
}

/// What producing did.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    /// Messages acknowledged, from the start until the last acknowledgement.
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Calls made (`send`, `send_batch`, `send_record` or `send_records`).
    pub calls: u64,
    /// From each call to its acknowledgement, in microseconds.
    pub ack_latency_us: Percentiles,
}

/// What consuming did.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumeReport {
    /// Every consumer's messages together, from the start until the last
    /// consumer received its last message.
    #[serde(flatten)]
    pub total: Throughput,
    /// Each consumer, from the start until it received its last message.
    pub per_consumer: Vec<Throughput>,
    /// From each message's send to its receipt, over all consumers, in
    /// microseconds.
    pub latency_us: Percentiles,
}

/// A run's results.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was run.
    pub config: Setup,
    /// Producing.
    pub produce: ProduceReport,
    /// Consuming; `None` without consumers.
    pub consume: Option<ConsumeReport>,
}

/// `n` with commas between groups of three digits: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {}, p90 {}, p99 {}, p99.9 {}, max {} (mean {}, {} samples)",
            thousands(self.p50),
            thousands(self.p90),
            thousands(self.p99),
            thousands(self.p99_9),
            thousands(self.max),
            thousands(self.mean.round() as u64),
            thousands(self.count)
        )
    }
}

impl fmt::Display for Throughput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages, {:.1} MB in {:.3} s: {} msg/s, {:.1} MB/s",
            thousands(self.messages),
            self.bytes as f64 / MB,
            self.seconds,
            thousands(self.messages_per_sec.round() as u64),
            self.mb_per_sec
        )
    }
}

impl fmt::Display for Setup {
    /// One line: what ran, against which server and topic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let batch = c.batch.get();
        let calls = if batch == 1 {
            c.call().to_owned()
        } else {
            format!("{} of {batch}", c.call())
        };
        let limit = match c.limit.duration {
            Some(duration) => format!("for {} s", duration.as_secs_f64()),
            None => format!("{} messages", thousands(c.limit.messages.get())),
        };
        let rate = c
            .rate
            .map(|r| format!(" at {} msg/s", thousands(r.per_second().round() as u64)))
            .unwrap_or_default();
        let producers = c.producers.get() as usize;
        let each = if producers > 1 { " each" } else { "" };
        let mut extras = String::new();
        if c.key_size > 0 {
            extras += &format!(" with {}-byte keys", c.key_size);
        }
        if c.headers > 0 {
            let with = if c.key_size > 0 { " and" } else { " with" };
            extras += &format!("{with} {}", plural(c.headers as usize, "header", "headers"));
        }
        let consumers = match c.consumers {
            0 => "no consumers".to_owned(),
            n => plural(n as usize, "consumer", "consumers"),
        };
        write!(
            f,
            "mkfk-bench: '{}' on {}: {limit}{rate}, {} x {}{each}, {calls}, {}-byte payloads{extras}, {}, {consumers}, {}",
            c.target.topic,
            c.target.server.host,
            plural(producers, "producer", "producers"),
            plural(c.tasks.get() as usize, "task", "tasks"),
            c.size,
            if c.idempotence {
                "idempotent"
            } else {
                "not idempotent"
            },
            plural(self.threads, "client thread", "client threads"),
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.config)?;
        let p = &self.produce;
        writeln!(
            f,
            "produced: {} ({} {} calls)",
            p.throughput,
            thousands(p.calls),
            self.config.config.call()
        )?;
        writeln!(f, "  acknowledgement latency (µs): {}", p.ack_latency_us)?;
        if let Some(consume) = &self.consume {
            writeln!(f, "consumed: {} (all consumers)", consume.total)?;
            for (i, one) in consume.per_consumer.iter().enumerate() {
                writeln!(f, "  consumer {}: {one}", i + 1)?;
            }
            writeln!(
                f,
                "  produce-to-receive latency (µs): {}",
                consume.latency_us
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_in_threes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(123_456), "123,456");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
