//! Server configuration, read from `MINIKAFKA_*` environment variables.
//!
//! Each variable is declared once, in [`variables`]: its name, default,
//! parser and help line. Every value is parsed here, at start-up, and the
//! files the variables name (TLS certificates, the auth file) are read
//! here too, so a bad one stops the server with one line naming the
//! variable, the value and what is wrong, rather than failing later at
//! 3 a.m. The settings are grouped by concern: [`Listener`] (and TLS),
//! [`Limits`], the store ([`StoreConfig`]), [`Topics`], [`Retention`] and
//! auth.

mod parse;
mod variables;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use minikafka_backends::{
    FileOptions, MemoryOptions, RetentionAge, SqliteOptions, StoreConfig, StoreKind,
};

pub use parse::Problem;
pub use variables::{
    CLIENT_VARIABLES, Group, VARIABLES, Variable, WhenUnset, help_text, unknown_variables,
};

use crate::auth::Tokens;
use crate::service::reading::LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ;
use crate::tls::TlsIdentity;

/// The prefix of every variable the server reads.
pub const PREFIX: &str = "MINIKAFKA_";

/// The largest `MINIKAFKA_MAX_STREAMS_PER_CONNECTION` accepted: HTTP/2's
/// largest connection window still holds that many calls' stream windows
/// (see `transport`).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16_000;

/// The complete, validated server configuration, grouped by concern.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where and how clients connect.
    pub listener: Listener,
    /// How much the server takes on at once.
    pub limits: Limits,
    /// Which store keeps the messages, with its options.
    pub store: StoreConfig,
    /// How topics come into being.
    pub topics: Topics,
    /// How long messages are kept.
    pub retention: Retention,
    /// Tokens and their topic permissions (`MINIKAFKA_AUTH_FILE`); `None`
    /// lets every client do everything.
    pub auth: Option<Arc<Tokens>>,
    /// How log lines are written (`MINIKAFKA_LOG_FORMAT`).
    pub log_format: LogFormat,
}

/// How the server writes its log lines to standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where and how clients connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Where to listen (`MINIKAFKA_HOST`).
    pub address: SocketAddr,
    /// Serve TLS with this identity; `None` serves plain text.
    pub tls: Option<TlsIdentity>,
    /// How long a connection may stay silent before the server pings it.
    pub keepalive_interval: Duration,
    /// How long the server waits for a ping's answer before dropping the
    /// connection and its calls: a dead peer holds nothing for longer.
    pub keepalive_timeout: Duration,
}

/// How much the server takes on at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest payload accepted, in bytes.
    pub max_message_bytes: usize,
    /// The largest gRPC request accepted, in bytes.
    pub max_request_bytes: usize,
    /// The most calls (streams) one connection may have open at once.
    pub max_streams_per_connection: u32,
    /// The most client connections open at once; more wait in the listen
    /// queue until one closes.
    pub max_connections: usize,
    /// The most bytes of request messages held at once across the server;
    /// more requests wait, unread, for their share.
    pub max_inflight_request_bytes: usize,
    /// The largest message key accepted, in bytes.
    pub max_key_bytes: usize,
    /// The most headers one message may carry.
    pub max_headers: usize,
    /// The most bytes of header names and values one message may carry.
    pub max_header_bytes: usize,
}

impl Limits {
    /// Whether a poll reply carrying the largest message accepted can be
    /// over what gRPC clients accept by default (4 MiB, framing included):
    /// then their users must raise the clients' receive limit.
    pub fn outgrow_default_clients(&self) -> bool {
        self.max_message_bytes > LARGEST_PAYLOAD_DEFAULT_CLIENTS_READ
    }
}

/// How topics come into being.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    /// Whether a produce to a topic that does not exist creates it
    /// (`MINIKAFKA_AUTO_CREATE_TOPICS`); when not, it answers NOT_FOUND and
    /// topics are made with CreateTopic.
    pub auto_create: bool,
}

/// How long messages are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How old a message may get before the sweeper removes it; `None`
    /// keeps messages forever.
    pub max_age: Option<Duration>,
    /// How often the retention sweeper runs.
    pub sweep_interval: Duration,
    /// How long a producer that sends nothing to a topic is remembered
    /// there for safe retries; `None`: until the cap on producers forgets
    /// it.
    pub producer_expiry: Option<Duration>,
    /// How long a group that commits nothing is kept; `None`: forever.
    pub group_retention: Option<Duration>,
}

impl Retention {
    /// The age after which a topic without its own retention loses its
    /// messages.
    pub fn default_age(&self) -> RetentionAge {
        age(self.max_age)
    }

    /// How long a producer that sends nothing to a topic is remembered.
    pub fn producer_expiry_age(&self) -> RetentionAge {
        age(self.producer_expiry)
    }

    /// How long a group that commits nothing is kept.
    pub fn group_retention_age(&self) -> RetentionAge {
        age(self.group_retention)
    }
}

/// An age limit as a retention: `None` is forever.
fn age(max_age: Option<Duration>) -> RetentionAge {
    max_age.map_or(RetentionAge::Forever, RetentionAge::MaxAge)
}

/// A variable with a value the server cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.line())]
pub struct ConfigError {
    /// The variable's full name.
    pub variable: String,
    /// The value found.
    pub value: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl ConfigError {
    fn line(&self) -> String {
        let Self {
            variable, value, ..
        } = self;
        match &self.problem {
            Problem::Expected(expected) => {
                format!("{variable}={value:?} is not valid: expected {expected}")
            }
            Problem::Unusable(why) => format!("{variable}={value:?}: {why}"),
        }
    }
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
        let values = variables::Values::read(&vars)?;
        if values.max_message_bytes > values.max_request_bytes {
            return Err(ConfigError {
                variable: "MINIKAFKA_MAX_MESSAGE_BYTES".to_owned(),
                value: bytesize::ByteSize::b(values.max_message_bytes as u64).to_string(),
                problem: Problem::Expected(
                    "a size no larger than MINIKAFKA_MAX_REQUEST_BYTES, since a message travels in a request"
                        .to_owned(),
                ),
            });
        }
        let raw = |variable: &str| {
            vars.iter()
                .rev()
                .find(|(name, _)| name == variable)
                .map_or(String::new(), |(_, value)| value.clone())
        };
        let tls = tls_identity(values.tls_cert, values.tls_key, values.tls_client_ca, raw)?;
        let store = match values.store {
            StoreKind::Memory => StoreConfig::Memory {
                options: MemoryOptions {
                    max_producers: values.max_producers,
                },
            },
            StoreKind::File => StoreConfig::File {
                root: values.root_dir,
                options: FileOptions {
                    durability: values.durability,
                    segment_bytes: values.segment_bytes,
                    recovery: values.recovery,
                    max_producers: values.max_producers,
                    ..FileOptions::default()
                },
            },
            StoreKind::Sqlite => StoreConfig::Sqlite {
                root: values.root_dir,
                options: SqliteOptions {
                    durability: values.durability,
                    max_producers: values.max_producers,
                },
            },
        };
        Ok(Self {
            listener: Listener {
                address: values.listen,
                tls,
                keepalive_interval: values.keepalive_interval,
                keepalive_timeout: values.keepalive_timeout,
            },
            limits: Limits {
                max_message_bytes: values.max_message_bytes,
                max_request_bytes: values.max_request_bytes,
                max_streams_per_connection: values.max_streams_per_connection,
                max_connections: values.max_connections,
                max_inflight_request_bytes: values.max_inflight_request_bytes,
                max_key_bytes: values.max_key_bytes,
                max_headers: values.max_headers,
                max_header_bytes: values.max_header_bytes,
            },
            store,
            topics: Topics {
                auto_create: values.auto_create_topics,
            },
            retention: Retention {
                max_age: values.max_age,
                sweep_interval: values
                    .sweep_interval
                    .unwrap_or_else(|| default_sweep_interval(values.max_age)),
                producer_expiry: values.producer_expiry.unwrap_or(values.max_age),
                group_retention: values.group_retention,
            },
            auth: values.auth.map(Arc::new),
            log_format: values.log_format,
        })
    }
}

/// Retention divided by ten, kept within 100 ms and 60 s: frequent enough
/// that messages outlive their retention by little, rare enough to cost
/// nothing. With no default retention, once a minute, for topics with
/// retention of their own.
pub fn default_sweep_interval(retention: Option<Duration>) -> Duration {
    retention.map_or(Duration::from_secs(60), |r| {
        (r / 10).clamp(Duration::from_millis(100), Duration::from_secs(60))
    })
}

/// TLS needs a certificate and its key together, and they must serve TLS
/// together; a client CA only makes sense with them. `raw` gives a
/// variable's value as set, for the error.
fn tls_identity(
    certificate: Option<crate::tls::Pem>,
    key: Option<crate::tls::Pem>,
    client_ca: Option<crate::tls::Pem>,
    raw: impl Fn(&str) -> String,
) -> Result<Option<TlsIdentity>, ConfigError> {
    let error = |variable: &str, problem: Problem| ConfigError {
        variable: variable.to_owned(),
        value: raw(variable),
        problem,
    };
    let expected = |what: &str| Problem::Expected(what.to_owned());
    let identity = match (certificate, key, client_ca) {
        (None, None, None) => return Ok(None),
        (Some(certificate), Some(key), client_ca) => TlsIdentity {
            certificate,
            key,
            client_ca,
        },
        (Some(_), None, _) => {
            return Err(error(
                "MINIKAFKA_TLS_KEY",
                expected("the PEM private key of MINIKAFKA_TLS_CERT (both are needed)"),
            ));
        }
        (None, Some(_), _) => {
            return Err(error(
                "MINIKAFKA_TLS_CERT",
                expected("the PEM certificate of MINIKAFKA_TLS_KEY (both are needed)"),
            ));
        }
        (None, None, Some(_)) => {
            return Err(error(
                "MINIKAFKA_TLS_CLIENT_CA",
                expected("to be set only with MINIKAFKA_TLS_CERT and MINIKAFKA_TLS_KEY"),
            ));
        }
    };
    identity.check().map_err(|why| {
        error(
            "MINIKAFKA_TLS_KEY",
            Problem::Unusable(format!(
                "it and MINIKAFKA_TLS_CERT cannot serve TLS together: {why}"
            )),
        )
    })?;
    Ok(Some(identity))
}

#[cfg(test)]
mod tests;
