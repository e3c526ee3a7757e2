//! The parsers of [`VARIABLES`](super::VARIABLES): each takes a trimmed
//! value and returns the setting, or what it expected instead.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use minikafka_backends::{Durability, Recovery, StoreKind};

use super::{LogFormat, MAX_STREAMS_PER_CONNECTION};
use crate::auth::Tokens;
use crate::tls::{self, Pem};

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It is not of the expected form; this says what would be accepted.
    Expected(String),
    /// It is of the right form, but what it names cannot be used; this
    /// says why.
    Unusable(String),
}

impl From<&'static str> for Problem {
    fn from(expected: &'static str) -> Self {
        Self::Expected(expected.to_owned())
    }
}

pub(super) fn parse_listen(value: &str) -> Result<SocketAddr, &'static str> {
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

pub(super) fn parse_positive_duration(value: &str) -> Result<Duration, &'static str> {
    const EXPECTED: &str = "a positive duration such as 500ms, 30s, 12h or 7d";
    match humantime::parse_duration(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(EXPECTED),
    }
}

pub(super) fn parse_retention(value: &str) -> Result<Option<Duration>, &'static str> {
    if value == "forever" {
        return Ok(None);
    }
    parse_positive_duration(value)
        .map(Some)
        .map_err(|_| "a positive duration such as 12h or 7d, or 'forever'")
}

pub(super) fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("true or false"),
    }
}

pub(super) fn parse_store_kind(value: &str) -> Result<StoreKind, Problem> {
    StoreKind::from_name(value).ok_or_else(|| {
        let names: Vec<&str> = StoreKind::ALL.iter().map(|kind| kind.name()).collect();
        Problem::Expected(format!("one of {}", names.join(", ")))
    })
}

pub(super) fn parse_log_format(value: &str) -> Result<LogFormat, &'static str> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("text or json"),
    }
}

pub(super) fn parse_dir(value: &str) -> Result<PathBuf, &'static str> {
    if value.is_empty() {
        return Err("a directory path");
    }
    Ok(PathBuf::from(value))
}

pub(super) fn parse_durability(value: &str) -> Result<Durability, &'static str> {
    match value {
        "always" => Ok(Durability::Always),
        "never" => Ok(Durability::Never),
        interval => parse_positive_duration(interval)
            .map(Durability::Interval)
            .map_err(|_| "always, never, or an interval such as 1s or 200ms"),
    }
}

pub(super) fn parse_size(value: &str) -> Result<usize, &'static str> {
    const EXPECTED: &str =
        "a size such as 1MiB, 512KiB or 1048576 (bytes), above 0 and at most 1GiB";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match usize::try_from(size.as_u64()) {
        Ok(bytes) if bytes > 0 && bytes <= 1 << 30 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

pub(super) fn parse_budget(value: &str) -> Result<usize, &'static str> {
    const EXPECTED: &str = "a size such as 64MiB or 1GiB, above 0";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match usize::try_from(size.as_u64()) {
        Ok(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

pub(super) fn parse_segment_size(value: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "a size such as 64MiB or 1GiB, at least 1KiB and at most 1GiB";
    let size: bytesize::ByteSize = value.parse().map_err(|_| EXPECTED)?;
    match size.as_u64() {
        bytes @ 1024..=0x4000_0000 => Ok(bytes),
        _ => Err(EXPECTED),
    }
}

pub(super) fn parse_stream_limit(value: &str) -> Result<u32, &'static str> {
    const EXPECTED: &str = "a whole number of calls, at least 1 and at most 16000";
    match parse_count(value, EXPECTED)? {
        streams if streams <= MAX_STREAMS_PER_CONNECTION => Ok(streams),
        _ => Err(EXPECTED),
    }
}

pub(super) fn parse_connection_limit(value: &str) -> Result<usize, &'static str> {
    parse_count(value, "a whole number of connections, at least 1")
}

pub(super) fn parse_header_count(value: &str) -> Result<usize, &'static str> {
    parse_count(value, "a whole number of headers, at least 1")
}

pub(super) fn parse_producer_count(value: &str) -> Result<usize, &'static str> {
    parse_count(value, "a whole number of producers, at least 1")
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

pub(super) fn parse_recovery(value: &str) -> Result<Recovery, &'static str> {
    match value {
        "strict" => Ok(Recovery::Strict),
        "truncate" => Ok(Recovery::Truncate),
        _ => {
            Err("strict (refuse to start on damage inside the log) or truncate (cut the log there)")
        }
    }
}

/// Reads a PEM file whole.
pub(super) fn read_pem(value: &str) -> Result<Pem, Problem> {
    std::fs::read(Path::new(value))
        .map(Pem)
        .map_err(|e| Problem::Unusable(format!("cannot read it: {e}")))
}

/// Reads the server's certificate chain, and refuses one that clients
/// would refuse (see [`tls::check_server_certificate`]).
pub(super) fn read_server_certificate(value: &str) -> Result<Pem, Problem> {
    let pem = read_pem(value)?;
    tls::check_server_certificate(&pem.0).map_err(Problem::Unusable)?;
    Ok(pem)
}

/// Reads and checks the auth file.
pub(super) fn load_auth_file(value: &str) -> Result<Tokens, Problem> {
    Tokens::load(Path::new(value)).map_err(Problem::Unusable)
}
