//! The progress line: how many messages were produced, and received by the
//! slowest consumer, once a second on standard error.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::report::thousands;

/// Counters the progress line reads while the run goes on.
#[derive(Debug)]
pub struct Progress {
    /// Messages acknowledged, all producers together.
    pub produced: AtomicU64,
    /// Messages received, per consumer.
    pub consumed: Vec<AtomicU64>,
}

impl Progress {
    /// Counters at 0 for `consumers` consumers.
    pub fn new(consumers: usize) -> Self {
        Self {
            produced: AtomicU64::new(0),
            consumed: (0..consumers).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The progress line, drawn until stopped.
#[derive(Debug)]
pub struct ProgressLine(JoinHandle<()>);

impl ProgressLine {
    /// Starts drawing the line for a run that started at `start`.
    pub fn start(counters: Arc<Progress>, start: Instant) -> Self {
        Self(tokio::spawn(draw(counters, start)))
    }

    /// Stops drawing and, when the line was drawn in place on a terminal,
    /// clears it, so that the report starts on a clean line.
    pub async fn stop(self) {
        self.0.abort();
        let _ = self.0.await;
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[K");
        }
    }
}

/// Prints how many messages were produced (and received by the slowest
/// consumer) once a second, with the rates over that second, until aborted.
async fn draw(counters: Arc<Progress>, start: Instant) {
    let every = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at((start + every).into(), every);
    let in_place = std::io::stderr().is_terminal();
    let (mut last_produced, mut last_consumed, mut last_at) = (0, 0, start);
    loop {
        ticks.tick().await;
        let now = Instant::now();
        let seconds = (now - last_at).as_secs_f64().max(f64::EPSILON);
        let rate = |now: u64, before: u64| thousands(((now - before) as f64 / seconds) as u64);
        let produced = counters.produced.load(Ordering::Relaxed);
        let mut line = format!(
            "produced {} ({}/s)",
            thousands(produced),
            rate(produced, last_produced)
        );
        let consumed = counters
            .consumed
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min();
        if let Some(consumed) = consumed {
            line += &format!(
                ", consumed {} ({}/s)",
                thousands(consumed),
                rate(consumed, last_consumed.min(consumed))
            );
            last_consumed = consumed;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = if in_place {
            write!(stderr, "\r\x1b[Kmkfk-bench: {line}")
        } else {
            writeln!(stderr, "mkfk-bench: {line}")
        };
        let _ = stderr.flush();
        (last_produced, last_at) = (produced, now);
    }
}
