//! Every `MINIKAFKA_*` variable the server reads, each declared once, in
//! [`VARIABLES`]'s table below: its name, its concern, its default, its
//! parser and one line of help. From that one table come the help text
//! (`mkfk-server --help`), the warning about unknown (misspelt) variables,
//! the reading of each value, and the tests that every default parses and
//! every bad value is refused with one line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use minikafka_backends::{Durability, Recovery, StoreKind};

use super::parse::*;
use super::{ConfigError, LogFormat, PREFIX};
use crate::auth::Tokens;
use crate::tls::Pem;

/// The concern a variable belongs to; the help text and the
/// configuration are grouped by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Where and how clients connect: address, TLS, keepalive.
    Listener,
    /// How much the server takes on at once.
    Limits,
    /// Which store keeps the messages, and how.
    Store,
    /// How topics come into being.
    Topics,
    /// How long messages are kept.
    Retention,
    /// Who may do what.
    Auth,
    /// What the server tells its operator: logs.
    Observability,
}

impl Group {
    /// Every group, in the order the help text lists them.
    pub const ALL: [Group; 7] = [
        Self::Listener,
        Self::Limits,
        Self::Store,
        Self::Topics,
        Self::Retention,
        Self::Auth,
        Self::Observability,
    ];

    /// The group's heading in the help text.
    pub fn title(self) -> &'static str {
        match self {
            Self::Listener => "Listener and TLS",
            Self::Limits => "Limits",
            Self::Store => "Store",
            Self::Topics => "Topics",
            Self::Retention => "Retention",
            Self::Auth => "Auth",
            Self::Observability => "Observability",
        }
    }
}

/// What a variable is when it is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenUnset {
    /// This value, parsed like a set one.
    Value(&'static str),
    /// Nothing: the feature stays off. A blank value counts as unset.
    Off,
    /// Computed from other settings, as described here.
    Derived(&'static str),
}

/// One `MINIKAFKA_*` variable, as declared in [`VARIABLES`].
#[derive(Clone, Copy, Debug)]
pub struct Variable {
    /// The full name, `MINIKAFKA_…`.
    pub name: &'static str,
    /// The concern it belongs to.
    pub group: Group,
    /// What it is when unset.
    pub default: WhenUnset,
    /// One line of help: what it sets and what it accepts.
    pub help: &'static str,
    /// Parses a value on its own (reading any file it names), to check it.
    pub check: fn(&str) -> Result<(), ConfigError>,
}

/// Reads one variable from the environment given.
struct Reader<'a> {
    vars: &'a [(String, String)],
}

impl Reader<'_> {
    /// The variable's value as set, if it is.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value set, or else `default`, parsed.
    fn value<T, E: Into<Problem>>(
        &self,
        name: &str,
        default: &str,
        parse: fn(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        parse_as(name, self.get(name).unwrap_or(default), parse)
    }

    /// The value set, parsed; `None` when unset or, if `blank_is_unset`,
    /// blank.
    fn optional<T, E: Into<Problem>>(
        &self,
        name: &str,
        blank_is_unset: bool,
        parse: fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(name) {
            Some(value) if !(blank_is_unset && value.trim().is_empty()) => {
                parse_as(name, value, parse).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Parses `value` (trimmed) as the variable `name`; an error names both.
pub(super) fn parse_as<T, E: Into<Problem>>(
    name: &str,
    value: &str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    parse(value.trim()).map_err(|problem| ConfigError {
        variable: name.to_owned(),
        value: value.to_owned(),
        problem: problem.into(),
    })
}

/// Declares the variables: for each, the field of [`Values`] it fills, the
/// field's type, its name, group, default, parser and help. Generates
/// [`Values`], [`Values::read`] and [`VARIABLES`].
macro_rules! variables {
    ($(
        $field:ident: $type:ty = $name:literal, $group:ident,
        $default:ident $(($text:literal))?, $parse:path,
        $help:literal;
    )*) => {
        /// Every variable's value, parsed but not yet grouped or checked
        /// against the others.
        #[derive(Debug)]
        pub(super) struct Values {
            $(pub(super) $field: $type,)*
        }

        impl Values {
            /// Reads every variable from `vars`.
            pub(super) fn read(vars: &[(String, String)]) -> Result<Self, ConfigError> {
                let reader = Reader { vars };
                Ok(Self {
                    $($field: variables!(@read reader, $name, $parse, $default $(($text))?),)*
                })
            }
        }

        /// Every `MINIKAFKA_*` variable the server reads, in help order
        /// within each group.
        pub const VARIABLES: &[Variable] = &[$(
            Variable {
                name: $name,
                group: Group::$group,
                default: WhenUnset::$default $(($text))?,
                help: $help,
                check: |value| parse_as($name, value, $parse).map(drop),
            },
        )*];
    };
    (@read $reader:ident, $name:literal, $parse:path, Value($text:literal)) => {
        $reader.value($name, $text, $parse)?
    };
    (@read $reader:ident, $name:literal, $parse:path, Off) => {
        $reader.optional($name, true, $parse)?
    };
    (@read $reader:ident, $name:literal, $parse:path, Derived($text:literal)) => {
        $reader.optional($name, false, $parse)?
    };
}

variables! {
    listen: SocketAddr = "MINIKAFKA_HOST", Listener, Value("127.0.0.1:9999"), parse_listen,
        "listen address; :9999 means all interfaces";
    tls_cert: Option<Pem> = "MINIKAFKA_TLS_CERT", Listener, Off, read_server_certificate,
        "PEM certificate chain: with MINIKAFKA_TLS_KEY, serve TLS only";
    tls_key: Option<Pem> = "MINIKAFKA_TLS_KEY", Listener, Off, read_pem,
        "PEM private key of MINIKAFKA_TLS_CERT";
    tls_client_ca: Option<Pem> = "MINIKAFKA_TLS_CLIENT_CA", Listener, Off, read_pem,
        "PEM CA: require client certificates it signed (mutual TLS)";
    keepalive_interval: Duration = "MINIKAFKA_KEEPALIVE_INTERVAL", Listener, Value("30s"),
        parse_positive_duration,
        "ping a connection silent this long";
    keepalive_timeout: Duration = "MINIKAFKA_KEEPALIVE_TIMEOUT", Listener, Value("10s"),
        parse_positive_duration,
        "drop it when the ping is unanswered this long";

    max_message_bytes: usize = "MINIKAFKA_MAX_MESSAGE_BYTES", Limits, Value("1MiB"), parse_size,
        "largest payload accepted";
    max_request_bytes: usize = "MINIKAFKA_MAX_REQUEST_BYTES", Limits, Value("16MiB"), parse_size,
        "largest gRPC request accepted";
    max_key_bytes: usize = "MINIKAFKA_MAX_KEY_BYTES", Limits, Value("16KiB"), parse_size,
        "largest message key accepted";
    max_headers: usize = "MINIKAFKA_MAX_HEADERS", Limits, Value("64"), parse_header_count,
        "most headers on one message";
    max_header_bytes: usize = "MINIKAFKA_MAX_HEADER_BYTES", Limits, Value("64KiB"), parse_size,
        "most bytes of header names and values on one message";
    max_producers: usize = "MINIKAFKA_MAX_PRODUCERS", Limits, Value("10000"),
        parse_producer_count,
        "most producers per topic remembered for safe retries (the least recently active is forgotten)";
    max_streams_per_connection: u32 = "MINIKAFKA_MAX_STREAMS_PER_CONNECTION", Limits,
        Value("1000"), parse_stream_limit,
        "most calls open at once on one connection";
    max_connections: usize = "MINIKAFKA_MAX_CONNECTIONS", Limits, Value("512"),
        parse_connection_limit,
        "most connections open at once; more wait until one closes";
    max_inflight_request_bytes: usize = "MINIKAFKA_MAX_INFLIGHT_REQUEST_BYTES", Limits,
        Value("64MiB"), parse_budget,
        "most bytes of requests held at once; more wait";

    store: StoreKind = "MINIKAFKA_BACKEND", Store, Value("file"), parse_store_kind,
        "the store: file, sqlite or memory";
    root_dir: PathBuf = "MINIKAFKA_ROOT_DIR", Store, Value("./mkfk-data"), parse_dir,
        "where the file and sqlite stores keep data";
    durability: Durability = "MINIKAFKA_FSYNC", Store, Value("always"), parse_durability,
        "always, never, or an interval such as 1s";
    segment_bytes: u64 = "MINIKAFKA_SEGMENT_BYTES", Store, Value("64MiB"), parse_segment_size,
        "file store: size at which a new segment starts";
    recovery: Recovery = "MINIKAFKA_RECOVERY", Store, Value("strict"), parse_recovery,
        "file store: strict (refuse to start on damage inside the log) or truncate (cut the log there)";

    auto_create_topics: bool = "MINIKAFKA_AUTO_CREATE_TOPICS", Topics, Value("true"),
        parse_bool,
        "true: a produce to an unknown topic creates it; false: it answers NOT_FOUND";

    max_age: Option<Duration> = "MINIKAFKA_RETENTIONTIME", Retention, Value("7d"),
        parse_retention,
        "age after which messages are removed, or 'forever'";
    sweep_interval: Option<Duration> = "MINIKAFKA_SWEEP_INTERVAL", Retention,
        Derived("retention/10, within 100ms..60s"), parse_positive_duration,
        "how often retention runs";
    producer_expiry: Option<Option<Duration>> = "MINIKAFKA_PRODUCER_EXPIRY", Retention,
        Derived("MINIKAFKA_RETENTIONTIME"), parse_retention,
        "how long a producer that sends nothing is remembered for safe retries, or 'forever'";
    group_retention: Option<Duration> = "MINIKAFKA_GROUP_RETENTION", Retention, Value("7d"),
        parse_retention,
        "how long a group that commits nothing is kept, or 'forever'";

    auth: Option<Tokens> = "MINIKAFKA_AUTH_FILE", Auth, Off, load_auth_file,
        "TOML file of [[token]] tables: tokens and topic permissions";

    log_format: LogFormat = "MINIKAFKA_LOG_FORMAT", Observability, Value("text"),
        parse_log_format,
        "text (one readable line per event) or json (one JSON object per line)";
}

impl Variable {
    /// The variable called `name`, if the server reads one.
    pub fn named(name: &str) -> Option<&'static Variable> {
        VARIABLES.iter().find(|variable| variable.name == name)
    }

    /// The value it takes when unset, if that is a plain value (tools that
    /// read one variable, such as `mkfk-server verify`, use it).
    pub fn default_value(&self) -> Option<&'static str> {
        match self.default {
            WhenUnset::Value(value) => Some(value),
            WhenUnset::Off | WhenUnset::Derived(_) => None,
        }
    }

    /// The help line: name, help, and the default in brackets.
    fn help_line(&self) -> String {
        let default = match self.default {
            WhenUnset::Value(value) => format!(" [default: {value}]"),
            WhenUnset::Derived(how) => format!(" [default: {how}]"),
            WhenUnset::Off => String::new(),
        };
        format!("    {:<37} {}{default}", self.name, self.help)
    }
}

/// The variables' part of `mkfk-server --help`: one line per variable,
/// grouped by concern.
pub fn help_text() -> String {
    let mut text = String::from("Environment:\n");
    for group in Group::ALL {
        text.push_str(&format!("  {}:\n", group.title()));
        for variable in VARIABLES.iter().filter(|v| v.group == group) {
            text.push_str(&variable.help_line());
            text.push('\n');
        }
    }
    text
}

/// The `MINIKAFKA_*` variables only the client tools read.
pub const CLIENT_VARIABLES: &[&str] = &["MINIKAFKA_TOKEN"];

/// The `MINIKAFKA_*` variables in `vars` that no minikafka program reads:
/// most likely misspellings, worth a warning.
pub fn unknown_variables(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with(PREFIX)
                && Variable::named(name).is_none()
                && !CLIENT_VARIABLES.contains(&name.as_str())
        })
        .collect();
    unknown.sort();
    unknown
}
