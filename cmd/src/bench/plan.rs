//! The plan the producer tasks share: which messages each sends, and when.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::{Limit, Rate};

/// Hands out the messages to produce, a batch at a time, to every producer
/// task, and says when each batch is due under a rate limit.
#[derive(Debug)]
pub struct Plan {
    claimed: AtomicU64,
    limit: Limit,
    rate: Option<Rate>,
    start: Instant,
}

/// Messages a task is to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Their numbers in the run, from 0.
    pub messages: Range<u64>,
    /// When to send them (under a rate limit).
    pub send_at: Option<Instant>,
}

impl Plan {
    /// A plan for a run that starts at `start`.
    pub fn new(limit: Limit, rate: Option<Rate>, start: Instant) -> Self {
        Self {
            claimed: AtomicU64::new(0),
            limit,
            rate,
            start,
        }
    }

    /// The next up to `batch` messages, or `None` when the run is over (as
    /// of `now`). Under a rate limit, message `n` is due `n / rate` seconds
    /// after the start, whichever task sends it.
    pub fn claim(&self, batch: u64, now: Instant) -> Option<Claim> {
        let first = self.claimed.fetch_add(batch, Ordering::Relaxed);
        let send_at = self
            .rate
            .map(|rate| self.start + Duration::from_secs_f64(first as f64 / rate.per_second()));
        let end = match self.limit.duration {
            None => {
                let limit = self.limit.messages.get();
                if first >= limit {
                    return None;
                }
                (first + batch).min(limit)
            }
            Some(duration) => {
                if send_at.unwrap_or(now) >= self.start + duration {
                    return None;
                }
                first + batch
            }
        };
        Some(Claim {
            messages: first..end,
            send_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use super::*;

    fn messages(n: u64) -> Limit {
        Limit::messages(NonZeroU64::new(n).expect("not 0"))
    }

    fn rate(per_second: &str) -> Option<Rate> {
        Some(per_second.parse().expect("a rate"))
    }

    #[test]
    fn a_message_limit_is_shared_out_to_the_last_partial_batch() {
        let start = Instant::now();
        let plan = Plan::new(messages(250), None, start);
        let claims: Vec<_> = std::iter::from_fn(|| plan.claim(100, start))
            .map(|c| c.messages)
            .collect();
        assert_eq!(claims, [0..100, 100..200, 200..250]);
        assert_eq!(plan.claim(100, start), None, "stays done");
    }

    #[test]
    fn a_rate_spaces_messages_evenly_from_the_start() {
        let start = Instant::now();
        let plan = Plan::new(messages(1_000), rate("1000"), start);
        let at = |claim: Option<Claim>| claim.and_then(|c| c.send_at).map(|t| t - start);
        assert_eq!(at(plan.claim(10, start)), Some(Duration::ZERO));
        assert_eq!(at(plan.claim(10, start)), Some(Duration::from_millis(10)));
        assert_eq!(at(plan.claim(1, start)), Some(Duration::from_millis(20)));
    }

    #[test]
    fn a_duration_ends_claims_when_it_is_up_or_when_the_rate_would_pass_it() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let plan = Plan::new(Limit::duration(second), None, start);
        assert_eq!(plan.claim(5, start).map(|c| c.messages), Some(0..5));
        assert_eq!(plan.claim(5, start + second), None);

        let paced = Plan::new(Limit::duration(second), rate("10"), start);
        let claims = std::iter::from_fn(|| paced.claim(1, start)).count();
        assert_eq!(claims, 10, "messages 0..10 are due within the second");
    }
}
