//! The benchmark behind `mkfk-bench`: producers and consumers against a
//! running server, measured with latency histograms.
//!
//! # How a run goes
//! 1. Each producer connects (its own [`Client`](minikafka_client::Client))
//!    and sends one warm-up message, which creates the topic and checks
//!    that it can be written.
//! 2. Each consumer connects (its own client) and follows the topic with
//!    [`Consumer::stream`](minikafka_client::Consumer::stream) from
//!    [`Position::End`](minikafka_client::Position::End). Warm-up messages
//!    are sent until every consumer has received one, so all are
//!    subscribed before the measured part.
//! 3. `--tasks` tasks per producer, all sharing that producer, claim
//!    batches of messages from one shared [`Plan`] (which also paces them
//!    under `--rate`) until `--messages` are claimed or `--duration` is up.
//! 4. Consumers count messages until each has received as many as were
//!    produced; a consumer that receives nothing for [`STALL`] after the
//!    producers are done fails the run.
//!
//! # Layout
//! - `config` — the flags, declared once: parsed, run and reported.
//! - `payload` — the send time each payload carries, for latencies.
//! - `plan` — which messages each producer task sends, and when.
//! - `produce`, `consume` — the producer and consumer tasks.
//! - `run` — a run from start to report.
//! - `measure` — histograms, percentiles and throughput.
//! - `report` — the results, as text and as JSON.
//! - `progress` — the once-a-second progress line.

use std::time::Duration;

use minikafka_client::ClientError;

mod config;
mod consume;
mod measure;
mod payload;
mod plan;
mod produce;
mod progress;
mod report;
mod run;

pub use config::{Config, Limit, Rate};
pub use measure::{HIGHEST_LATENCY_US, Percentiles, Throughput, histogram};
pub use payload::{STAMP_BYTES, Stamp, payload, stamp, warm_up_payload};
pub use plan::{Claim, Plan};
pub use report::{ConsumeReport, ProduceReport, Report, Setup, thousands};
pub use run::run;

/// How long consumers may take to receive a warm-up message (to subscribe).
pub const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(10);

/// How long a consumer may go without a message, once the producers are
/// done, before the run fails.
pub const STALL: Duration = Duration::from_secs(10);

/// `error` as a message: its `Display` already says all there is, and
/// keeping its source out of the chain keeps `{:#}` from saying it twice.
fn client_error(error: ClientError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}
