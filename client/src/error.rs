//! [`ClientError`]: what can go wrong talking to a server.

use std::time::Duration;

use tonic::{Code, Status};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address is not `host:port` or a URL.
    #[error("'{0}' is not a server address; expected host:port such as 127.0.0.1:9999, or a URL")]
    InvalidAddress(String),
    /// An `https://` address was given without a CA certificate to trust.
    #[error(
        "{0} is reached over TLS: give the CA certificate that signed the server's certificate (--ca-file)"
    )]
    MissingCa(String),
    /// The token holds characters a header cannot carry.
    #[error("the token must be printable ASCII")]
    InvalidToken,
    /// No connection could be made.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The address tried.
        address: String,
        /// What went wrong.
        source: tonic::transport::Error,
    },
    /// The server answered with an error status.
    #[error("{}: {}", status_name(.0.code()), .0.message())]
    Status(#[from] Status),
    /// The call took longer than its timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl ClientError {
    /// The gRPC status code: the server's, `DeadlineExceeded` for a timeout,
    /// `Unavailable` when no connection could be made.
    pub fn code(&self) -> Code {
        match self {
            Self::Status(status) => status.code(),
            Self::Timeout(_) => Code::DeadlineExceeded,
            Self::Connect { .. } => Code::Unavailable,
            Self::InvalidAddress(_) | Self::MissingCa(_) | Self::InvalidToken => {
                Code::InvalidArgument
            }
        }
    }
}

impl ClientError {
    /// The same failure again, for each of several callers it concerns (a
    /// batched request's senders).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Status(status) => Self::Status(status.clone()),
            Self::Timeout(after) => Self::Timeout(*after),
            Self::InvalidAddress(address) => Self::InvalidAddress(address.clone()),
            Self::MissingCa(address) => Self::MissingCa(address.clone()),
            Self::InvalidToken => Self::InvalidToken,
            Self::Connect { .. } => Self::Status(tonic::Status::unavailable(self.to_string())),
        }
    }
}

fn status_name(code: Code) -> &'static str {
    match code {
        Code::NotFound => "not found",
        Code::Unauthenticated => "unauthenticated",
        Code::PermissionDenied => "permission denied",
        Code::InvalidArgument => "invalid argument",
        Code::OutOfRange => "out of range",
        Code::ResourceExhausted => "resource exhausted",
        Code::Unavailable => "server unavailable",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::Unimplemented => "not supported by the server",
        Code::Internal => "server error",
        _ => "error",
    }
}
