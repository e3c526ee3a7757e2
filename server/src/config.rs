//! Server configuration, read from `MINIKAFKA_*` environment variables.
//!
//! Every value is parsed here, at start-up, so a bad one stops the server
//! with one line naming the variable, the value and what is expected, rather
//! than failing later at 3 a.m.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use minikafka_backends::{Durability, Recovery};
use serde::Deserialize;

/// The prefix of every variable the server reads.
pub const PREFIX: &str = "MINIKAFKA_";

/// Every `MINIKAFKA_*` variable the server reads (`mkfk-server --help`
/// lists them all).
pub const SERVER_VARIABLES: &[&str] = &[
    "MINIKAFKA_HOST",
    "MINIKAFKA_RETENTIONTIME",
    "MINIKAFKA_BACKEND",
    "MINIKAFKA_ROOT_DIR",
    "MINIKAFKA_FSYNC",
    "MINIKAFKA_SWEEP_INTERVAL",
    "MINIKAFKA_MAX_MESSAGE_BYTES",
    "MINIKAFKA_MAX_REQUEST_BYTES",
    "MINIKAFKA_SEGMENT_BYTES",
    "MINIKAFKA_RECOVERY",
    "MINIKAFKA_TLS_CERT",
    "MINIKAFKA_TLS_KEY",
    "MINIKAFKA_TLS_CLIENT_CA",
    "MINIKAFKA_AUTH_FILE",
    "MINIKAFKA_MAX_STREAMS_PER_CONNECTION",
    "MINIKAFKA_MAX_CONNECTIONS",
    "MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES",
    "MINIKAFKA_KEEPALIVE_INTERVAL",
    "MINIKAFKA_KEEPALIVE_TIMEOUT",
];

/// The `MINIKAFKA_*` variables only the client tools read.
pub const CLIENT_VARIABLES: &[&str] = &["MINIKAFKA_TOKEN"];

/// The largest `MINIKAFKA_MAX_STREAMS_PER_CONNECTION` accepted: HTTP/2's
/// largest connection window still holds that many calls' stream windows
/// (see `connection_window` in lib.rs).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16_000;

/// The address served when `MINIKAFKA_HOST` is unset.
pub const DEFAULT_HOST: &str = "127.0.0.1:9999";

/// Replies larger than this are refused by gRPC clients that keep their
/// default receive limit, in every language.
pub const CLIENT_DEFAULT_RECEIVE_LIMIT: u64 = 4 * 1024 * 1024;

/// The complete, validated server configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// How old a message may get before the sweeper removes it; `None`
    /// keeps messages forever.
    pub retention: Option<Duration>,
    /// Which store keeps the messages.
    pub backend: Backend,
    /// Where the persistent stores keep their files.
    pub root_dir: PathBuf,
    /// When the persistent stores flush to stable storage.
    pub fsync: Durability,
    /// How often the retention sweeper runs.
    pub sweep_interval: Duration,
    /// The largest payload accepted, in bytes.
    pub max_message_bytes: usize,
    /// The largest gRPC request accepted, in bytes.
    pub max_request_bytes: usize,
    /// The size at which the file store starts a new segment.
    pub segment_bytes: u64,
    /// What the file store does about damage inside a sealed segment.
    pub recovery: Recovery,
    /// Serve TLS with these PEM files; `None` serves plain text.
    pub tls: Option<TlsFiles>,
    /// Tokens and their topic permissions; `None` lets every client do
    /// everything.
    pub auth_file: Option<PathBuf>,
    /// The most calls (streams) one connection may have open at once.
    pub max_streams_per_connection: u32,
    /// The most client connections open at once; more wait in the listen
    /// queue until one closes.
    pub max_connections: usize,
    /// The most bytes of request messages held at once across the server;
    /// more requests wait, unread, for their share.
    pub max_inflight_request_bytes: usize,
    /// How long a connection may stay silent before the server pings it.
    pub keepalive_interval: Duration,
    /// How long the server waits for a ping's answer before dropping the
    /// connection and its calls: a dead peer holds nothing for longer.
    pub keepalive_timeout: Duration,
}

/// The PEM files that switch the listener to TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (`MINIKAFKA_TLS_CERT`).
    pub cert: PathBuf,
    /// The server's private key (`MINIKAFKA_TLS_KEY`).
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this CA
    /// (`MINIKAFKA_TLS_CLIENT_CA`): mutual TLS.
    pub client_ca: Option<PathBuf>,
}

/// The store implementations a server can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The append-only segment log on the file system.
    File,
    /// One SQLite database file.
    Sqlite,
    /// Memory only; everything is lost on exit.
    Memory,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Sqlite => "sqlite",
            Self::Memory => "memory",
        })
    }
}

/// A variable with a value the server cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is not valid: expected {expected}")]
pub struct ConfigError {
    /// The variable's full name.
    pub variable: String,
    /// The value found.
    pub value: String,
    /// What would have been accepted.
    pub expected: String,
}

/// The variables as envy finds them, before parsing: strings, so that every
/// error can quote the value and say what was expected.
#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    host: Option<String>,
    retentiontime: Option<String>,
    backend: Option<String>,
    root_dir: Option<String>,
    fsync: Option<String>,
    sweep_interval: Option<String>,
    max_message_bytes: Option<String>,
    max_request_bytes: Option<String>,
    segment_bytes: Option<String>,
    recovery: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    tls_client_ca: Option<String>,
    auth_file: Option<String>,
    max_streams_per_connection: Option<String>,
    max_connections: Option<String>,
    max_inflight_request_bytes: Option<String>,
    keepalive_interval: Option<String>,
    keepalive_timeout: Option<String>,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the configuration from `vars` (name, value pairs), so tests
    /// need not touch the process environment.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let raw: RawConfig = envy::prefixed(PREFIX)
            .from_iter(vars.iter().cloned())
            .map_err(|e| ConfigError {
                variable: format!("{PREFIX}*"),
                value: String::new(),
                expected: e.to_string(),
            })?;
        let retention = parse("RETENTIONTIME", raw.retentiontime, "7d", parse_retention)?;
        let max_message_bytes = parse(
            "MAX_MESSAGE_BYTES",
            raw.max_message_bytes,
            "1MiB",
            parse_size,
        )?;
        let max_request_bytes = parse(
            "MAX_REQUEST_BYTES",
            raw.max_request_bytes,
            "16MiB",
            parse_size,
        )?;
        if max_message_bytes > max_request_bytes {
            return Err(invalid(
                "MAX_MESSAGE_BYTES",
                &bytesize::ByteSize::b(max_message_bytes as u64).to_string(),
                "a size no larger than MINIKAFKA_MAX_REQUEST_BYTES, since a message travels in a request",
            ));
        }
        let sweep_interval = match raw.sweep_interval {
            Some(value) => parse("SWEEP_INTERVAL", Some(value), "", parse_positive_duration)?,
            None => default_sweep_interval(retention),
        };
        Ok(Self {
            listen: parse("HOST", raw.host, DEFAULT_HOST, parse_listen)?,
            retention,
            backend: parse("BACKEND", raw.backend, "file", parse_backend)?,
            root_dir: parse("ROOT_DIR", raw.root_dir, "./mkfk-data", parse_dir)?,
            fsync: parse("FSYNC", raw.fsync, "always", parse_fsync)?,
            sweep_interval,
            max_message_bytes,
            max_request_bytes,
            segment_bytes: parse(
                "SEGMENT_BYTES",
                raw.segment_bytes,
                "64MiB",
                parse_segment_size,
            )?,
            recovery: parse("RECOVERY", raw.recovery, "strict", parse_recovery)?,
            tls: tls_files(raw.tls_cert, raw.tls_key, raw.tls_client_ca)?,
            auth_file: raw
                .auth_file
                .filter(|f| !f.trim().is_empty())
                .map(|f| PathBuf::from(f.trim())),
            max_streams_per_connection: parse(
                "MAX_STREAMS_PER_CONNECTION",
                raw.max_streams_per_connection,
                "1000",
                parse_stream_limit,
            )?,
            max_connections: parse("MAX_CONNECTIONS", raw.max_connections, "512", |v| {
                parse_count(v, "a whole number of connections, at least 1")
            })?,
            max_inflight_request_bytes: parse(
                "MAX_INFLIGHT_REQUEST_BYTES",
                raw.max_inflight_request_bytes,
                "64MiB",
                parse_budget,
            )?,
            keepalive_interval: parse(
                "KEEPALIVE_INTERVAL",
                raw.keepalive_interval,
                "30s",
                parse_positive_duration,
            )?,
            keepalive_timeout: parse(
                "KEEPALIVE_TIMEOUT",
                raw.keepalive_timeout,
                "10s",
                parse_positive_duration,
            )?,
        })
    }
}

/// The `MINIKAFKA_*` variables in `vars` that no minikafka program reads:
/// most likely misspellings, worth a warning.
pub fn unknown_variables(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with(PREFIX)
                && !SERVER_VARIABLES.contains(&name.as_str())
                && !CLIENT_VARIABLES.contains(&name.as_str())
        })
        .collect();
    unknown.sort();
    unknown
}

/// Retention divided by ten, kept within 100 ms and 60 s: frequent enough
/// that messages outlive their retention by little, rare enough to cost
/// nothing. With no retention there is nothing to sweep.
pub fn default_sweep_interval(retention: Option<Duration>) -> Duration {
    retention.map_or(Duration::from_secs(60), |r| {
        (r / 10).clamp(Duration::from_millis(100), Duration::from_secs(60))
    })
}

fn parse<T>(
    name: &str,
    value: Option<String>,
    default: &str,
    parser: fn(&str) -> Result<T, &'static str>,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    parser(value.trim()).map_err(|expected| invalid(name, &value, expected))
}

fn invalid(name: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable: format!("{PREFIX}{name}"),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

fn parse_listen(value: &str) -> Result<SocketAddr, &'static str> {
    const EXPECTED: &str = "host:port such as 127.0.0.1:9999, or :9999 for all interfaces";
    let address = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_owned(),
    };
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or(EXPECTED)
}

fn parse_positive_duration(value: &str) -> Result<Duration, &'static str> {
    const EXPECTED: &str = "a positive duration such as 500ms, 30s, 12h or 7d";
    match humantime::parse_duration(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(EXPECTED),
    }
}

fn parse_retention(value: &str) -> Result<Option<Duration>, &'static str> {
    if value == "forever" {
        return Ok(None);
    }
    parse_positive_duration(value)
        .map(Some)
        .map_err(|_| "a positive duration such as 12h or 7d, or 'forever'")
}

fn parse_backend(value: &str) -> Result<Backend, &'static str> {
    match value {
        "file" => Ok(Backend::File),
        "sqlite" => Ok(Backend::Sqlite),
        "memory" => Ok(Backend::Memory),
        _ => Err("one of file, sqlite, memory"),
    }
}

fn parse_dir(value: &str) -> Result<PathBuf, &'static str> {
    if value.is_empty() {
        return Err("a directory path");
    }
    Ok(PathBuf::from(value))
}

fn parse_fsync(value: &str) -> Result<Durability, &'static str> {
    match value {
        "always" => Ok(Durability::Always),
        "never" => Ok(Durability::Never),
        interval => parse_positive_duration(interval)
            .map(Durability::Interval)
            .map_err(|_| "always, never, or an interval such as 1s or 200ms"),
    }
}

fn parse_size(value: &str) -> Result<usize, &'static str> {
    const EXPECTED: &str =
        "a size such as 1MiB, 512KiB or 1048576 (bytes), above 0 and at most 1GiB";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match usize::try_from(size.as_u64()) {
        Ok(bytes) if bytes > 0 && bytes <= 1 << 30 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

fn parse_budget(value: &str) -> Result<usize, &'static str> {
    const EXPECTED: &str = "a size such as 64MiB or 1GiB, above 0";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match usize::try_from(size.as_u64()) {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

/// TLS needs a certificate and its key together; a client CA only makes
/// sense with them.
fn tls_files(
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
) -> Result<Option<TlsFiles>, ConfigError> {
    let set = |v: Option<String>| {
        v.filter(|v| !v.trim().is_empty())
            .map(|v| PathBuf::from(v.trim()))
    };
    match (set(cert), set(key), set(client_ca)) {
        (None, None, None) => Ok(None),
        (Some(cert), Some(key), client_ca) => Ok(Some(TlsFiles {
            cert,
            key,
            client_ca,
        })),
        (Some(_), None, _) => Err(invalid(
            "TLS_KEY",
            "",
            "the PEM private key of MINIKAFKA_TLS_CERT (both are needed)",
        )),
        (None, Some(_), _) => Err(invalid(
            "TLS_CERT",
            "",
            "the PEM certificate of MINIKAFKA_TLS_KEY (both are needed)",
        )),
        (None, None, Some(ca)) => Err(invalid(
            "TLS_CLIENT_CA",
            &ca.display().to_string(),
            "to be set only with MINIKAFKA_TLS_CERT and MINIKAFKA_TLS_KEY",
        )),
    }
}

fn parse_segment_size(value: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "a size such as 64MiB or 1GiB, at least 1KiB and at most 1GiB";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match size.as_u64() {
        bytes @ 1024..=0x4000_0000 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

fn parse_stream_limit(value: &str) -> Result<u32, &'static str> {
    const EXPECTED: &str = "a whole number of calls, at least 1 and at most 16000";
    match parse_count(value, EXPECTED)? {
        streams if streams <= MAX_STREAMS_PER_CONNECTION => Ok(streams),
        _ => Err(EXPECTED),
    }
}

/// A whole number above 0, such as a limit on things held at once.
fn parse_count<T: std::str::FromStr + Default + PartialEq>(
    value: &str,
    expected: &'static str,
) -> Result<T, &'static str> {
    match value.parse() {
        Ok(count) if count != T::default() => Ok(count),
        _ => Err(expected),
    }
}

fn parse_recovery(value: &str) -> Result<Recovery, &'static str> {
    match value {
        "strict" => Ok(Recovery::Strict),
        "truncate" => Ok(Recovery::Truncate),
        _ => {
            Err("strict (refuse to start on damage inside the log) or truncate (cut the log there)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let c = config(&[("PATH", "/bin")]).expect("defaults are valid");
        assert_eq!(c.listen, "127.0.0.1:9999".parse().expect("addr"));
        assert_eq!(c.retention, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.backend, Backend::File);
        assert_eq!(c.root_dir, PathBuf::from("./mkfk-data"));
        assert_eq!(c.fsync, Durability::Always);
        assert_eq!(c.sweep_interval, Duration::from_secs(60));
        assert_eq!(c.max_message_bytes, 1024 * 1024);
        assert_eq!(c.max_request_bytes, 16 * 1024 * 1024);
        assert_eq!(c.segment_bytes, 64 * 1024 * 1024);
        assert_eq!(c.recovery, Recovery::Strict);
        assert_eq!(c.max_streams_per_connection, 1000);
        assert_eq!(c.max_connections, 512);
        assert_eq!(c.max_inflight_request_bytes, 64 * 1024 * 1024);
        assert_eq!(c.keepalive_interval, Duration::from_secs(30));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("MINIKAFKA_HOST", ":7000"),
            ("MINIKAFKA_RETENTIONTIME", "forever"),
            ("MINIKAFKA_BACKEND", "sqlite"),
            ("MINIKAFKA_ROOT_DIR", "/var/lib/mkfk"),
            ("MINIKAFKA_FSYNC", "250ms"),
            ("MINIKAFKA_SWEEP_INTERVAL", "5s"),
            ("MINIKAFKA_MAX_MESSAGE_BYTES", "64KiB"),
            ("MINIKAFKA_MAX_REQUEST_BYTES", "1048576"),
            ("MINIKAFKA_SEGMENT_BYTES", "4KiB"),
            ("MINIKAFKA_RECOVERY", "truncate"),
            ("MINIKAFKA_MAX_CONNECTIONS", "50"),
            ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "2GiB"),
            ("MINIKAFKA_KEEPALIVE_INTERVAL", "1m"),
            ("MINIKAFKA_KEEPALIVE_TIMEOUT", "500ms"),
        ])
        .expect("valid");
        assert_eq!(c.listen, "0.0.0.0:7000".parse().expect("addr"));
        assert_eq!(c.retention, None);
        assert_eq!(c.backend, Backend::Sqlite);
        assert_eq!(c.root_dir, PathBuf::from("/var/lib/mkfk"));
        assert_eq!(c.fsync, Durability::Interval(Duration::from_millis(250)));
        assert_eq!(c.sweep_interval, Duration::from_secs(5));
        assert_eq!(
            (c.max_message_bytes, c.max_request_bytes),
            (65_536, 1_048_576)
        );
        assert_eq!(c.max_connections, 50);
        assert_eq!(c.max_inflight_request_bytes, 2 << 30);
        assert_eq!(c.keepalive_interval, Duration::from_secs(60));
        assert_eq!(c.keepalive_timeout, Duration::from_millis(500));
    }

    #[test]
    fn sweep_interval_defaults_to_a_tenth_of_retention_within_bounds() {
        let secs = Duration::from_secs;
        assert_eq!(default_sweep_interval(Some(secs(30))), secs(3));
        assert_eq!(
            default_sweep_interval(Some(Duration::from_millis(200))),
            Duration::from_millis(100)
        );
        assert_eq!(default_sweep_interval(Some(secs(86_400))), secs(60));
        let c = config(&[("MINIKAFKA_RETENTIONTIME", "10s")]).expect("valid");
        assert_eq!(c.sweep_interval, secs(1));
    }

    #[test]
    fn a_bad_value_names_the_variable_the_value_and_what_is_expected() {
        let cases = [
            ("MINIKAFKA_HOST", "nonsense", "host:port"),
            ("MINIKAFKA_HOST", "127.0.0.1:99999", "host:port"),
            ("MINIKAFKA_RETENTIONTIME", "7 dayz", "'forever'"),
            ("MINIKAFKA_RETENTIONTIME", "0s", "positive duration"),
            ("MINIKAFKA_BACKEND", "postgres", "file, sqlite, memory"),
            ("MINIKAFKA_ROOT_DIR", "", "directory"),
            ("MINIKAFKA_FSYNC", "sometimes", "always, never"),
            ("MINIKAFKA_SWEEP_INTERVAL", "-1s", "positive duration"),
            ("MINIKAFKA_MAX_MESSAGE_BYTES", "big", "1MiB"),
            ("MINIKAFKA_MAX_REQUEST_BYTES", "0", "above 0"),
            ("MINIKAFKA_MAX_REQUEST_BYTES", "2GiB", "at most 1GiB"),
            ("MINIKAFKA_SEGMENT_BYTES", "100", "at least 1KiB"),
            ("MINIKAFKA_RECOVERY", "repair", "strict"),
            ("MINIKAFKA_MAX_STREAMS_PER_CONNECTION", "0", "at least 1"),
            (
                "MINIKAFKA_MAX_STREAMS_PER_CONNECTION",
                "16001",
                "at most 16000",
            ),
            ("MINIKAFKA_MAX_CONNECTIONS", "0", "at least 1"),
            (
                "MINIKAFKA_MAX_CONNECTIONS",
                "-5",
                "whole number of connections",
            ),
            ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "0", "above 0"),
            ("MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", "lots", "64MiB"),
            ("MINIKAFKA_KEEPALIVE_INTERVAL", "0s", "positive duration"),
            ("MINIKAFKA_KEEPALIVE_TIMEOUT", "soon", "positive duration"),
        ];
        for (variable, value, expected) in cases {
            let err = config(&[(variable, value)]).expect_err(variable);
            assert_eq!(err.variable, variable);
            assert_eq!(err.value, value);
            let line = err.to_string();
            assert!(line.contains(variable) && line.contains(expected), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
    }

    #[test]
    fn a_message_limit_above_the_request_limit_is_refused() {
        let err = config(&[
            ("MINIKAFKA_MAX_MESSAGE_BYTES", "32MiB"),
            ("MINIKAFKA_MAX_REQUEST_BYTES", "16MiB"),
        ])
        .expect_err("message larger than request");
        assert_eq!(err.variable, "MINIKAFKA_MAX_MESSAGE_BYTES");
        assert!(
            err.expected.contains("MINIKAFKA_MAX_REQUEST_BYTES"),
            "{err}"
        );
    }

    #[test]
    fn tls_needs_a_certificate_and_its_key_together() {
        let c = config(&[
            ("MINIKAFKA_TLS_CERT", "/c.pem"),
            ("MINIKAFKA_TLS_KEY", "/k.pem"),
        ])
        .expect("valid");
        let tls = c.tls.expect("TLS");
        assert_eq!(
            (tls.cert, tls.key, tls.client_ca),
            (PathBuf::from("/c.pem"), PathBuf::from("/k.pem"), None)
        );
        assert_eq!(config(&[]).expect("valid").tls, None);
        let err = config(&[("MINIKAFKA_TLS_CERT", "/c.pem")]).expect_err("no key");
        assert_eq!(err.variable, "MINIKAFKA_TLS_KEY");
        let err = config(&[("MINIKAFKA_TLS_KEY", "/k.pem")]).expect_err("no cert");
        assert_eq!(err.variable, "MINIKAFKA_TLS_CERT");
        let err =
            config(&[("MINIKAFKA_TLS_CLIENT_CA", "/ca.pem")]).expect_err("no server identity");
        assert_eq!(err.variable, "MINIKAFKA_TLS_CLIENT_CA");
    }

    #[test]
    fn misspelt_variables_are_found() {
        let vars = [
            ("MINIKAFKA_RETENTION_TIME", "1h"),
            ("MINIKAFKA_HOST", ":1"),
            ("HOME", "/root"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            unknown_variables(vars),
            vec!["MINIKAFKA_RETENTION_TIME".to_owned()]
        );
    }
}
