//! Logging for the binaries: tracing events to standard error, filtered by
//! `RUST_LOG` (default: `info` for the server, `warn` for the tools), as
//! readable text or, for the server with `MINIKAFKA_LOG_FORMAT=json`, one
//! JSON object per line.

use std::io::IsTerminal;

use minikafka_server::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default` is the filter when `RUST_LOG` is unset.
pub fn init(default: &str) {
    init_as(default, LogFormat::Text);
}

/// Installs the subscriber writing `format`; `default` is the filter when
/// `RUST_LOG` is unset.
pub fn init_as(default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour codes only where a person reads them, not in log files.
        LogFormat::Text => subscriber.with_ansi(std::io::stderr().is_terminal()).init(),
        // The event's fields (its message first) at the top level of the
        // object, beside timestamp, level and target: what log collectors
        // index without a nested path.
        LogFormat::Json => subscriber.json().flatten_event(true).init(),
    }
}
