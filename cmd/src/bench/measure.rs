//! Measurements: latencies in hdrhistograms (microseconds, so memory stays
//! bounded however long the run), and the figures made from them.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency a histogram tells apart, in microseconds (an hour);
/// longer ones are recorded as this.
pub const HIGHEST_LATENCY_US: u64 = 3_600_000_000;

/// Bytes in a megabyte, as reported (decimal, like the figures in
/// docs/performance.md).
pub const MB: f64 = 1_000_000.0;

/// A histogram of latencies in microseconds, from 1 to
/// [`HIGHEST_LATENCY_US`] at 3 significant digits (about 190 KB, however
/// many are recorded). Record with `saturating_record`.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_LATENCY_US, 3)
        .expect("1 µs to an hour at 3 significant digits is within hdrhistogram's range")
}

/// `duration` in whole microseconds, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Messages one task counted, with their latencies. Each task keeps its
/// own, so that recording takes no lock shared with other tasks; the run
/// adds them up at the end.
#[derive(Debug)]
pub struct Tally {
    /// Messages.
    pub messages: u64,
    /// Their bytes: payloads, keys and header names and values.
    pub bytes: u64,
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
}

/// Nothing counted yet.
impl Default for Tally {
    fn default() -> Self {
        Self {
            messages: 0,
            bytes: 0,
            latency: histogram(),
        }
    }
}

impl Tally {
    /// Counts `messages` of `bytes` in all.
    pub fn count(&mut self, messages: u64, bytes: u64) {
        self.messages += messages;
        self.bytes += bytes;
    }

    /// Adds `other`'s counts and latencies to these.
    pub fn add(&mut self, other: &Tally) {
        self.count(other.messages, other.bytes);
        // Same bounds, so adding cannot run out of range.
        let _ = self.latency.add(&other.latency);
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// How many latencies were recorded.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p99_9: u64,
    /// The largest.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `histogram` (all 0 when it is empty).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        Self {
            count: histogram.len(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// Messages and bytes moved in a time, and the rates they make.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Throughput {
    /// Messages.
    pub messages: u64,
    /// Bytes of payloads, keys and header names and values.
    pub bytes: u64,
    /// Seconds taken.
    pub seconds: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
}

impl Throughput {
    /// `messages` of `bytes` in all, moved in `elapsed`.
    pub fn new(messages: u64, bytes: u64, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        let per_sec = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
        Self {
            messages,
            bytes,
            seconds,
            messages_per_sec: per_sec(messages as f64),
            mb_per_sec: per_sec(bytes as f64 / MB),
        }
    }

    /// What `tally` counted, in `elapsed`.
    pub fn of(tally: &Tally, elapsed: Duration) -> Self {
        Self::new(tally.messages, tally.bytes, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ordered_and_in_microseconds() {
        let mut h = histogram();
        for micros in 1..=10_000 {
            h.saturating_record(micros);
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 10_000);
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p99_9 && p.p99_9 <= p.max);
        assert!((4_990..=5_010).contains(&p.p50), "{p:?}");
        assert!((9_990..=10_010).contains(&p.max), "{p:?}");
    }

    #[test]
    fn throughput_is_per_second_and_in_decimal_megabytes() {
        let t = Throughput::new(2_000, 2_000_000, Duration::from_millis(500));
        assert_eq!(t.messages_per_sec, 4_000.0);
        assert_eq!(t.mb_per_sec, 4.0);
        assert_eq!(Throughput::new(5, 5, Duration::ZERO).messages_per_sec, 0.0);
    }

    #[test]
    fn tallies_add_up_counts_and_latencies() {
        let mut total = Tally::default();
        let mut one = Tally::default();
        one.count(3, 30);
        one.latency.saturating_record(7);
        total.add(&one);
        total.add(&one);
        assert_eq!((total.messages, total.bytes), (6, 60));
        assert_eq!(total.latency.len(), 2);
    }
}
