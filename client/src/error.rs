//! [`ClientError`]: what can go wrong talking to a server.
//!
//! Every failure is said once: each variant's message holds its whole
//! cause, and no variant returns a `source()`, so printing an error chain
//! (anyhow's `{:#}`) repeats nothing. The layered errors of the transport
//! (tonic, hyper, rustls, the operating system) are reduced here, in one
//! place, to their root cause and what to check.

use std::error::Error as StdError;
use std::time::Duration;

pub use minikafka_proto::trailers::{
    DAMAGED_FIRST_OFFSET, EXPECTED_SEQUENCE, NEXT_GOOD_OFFSET, NEXT_OFFSET,
};
use tonic::metadata::MetadataMap;
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
    /// [`Consumer::commit`](crate::Consumer::commit) on a consumer with no
    /// group.
    #[error("this consumer has no group to commit for: give it one with Consumer::group")]
    NoGroup,
    /// No connection could be made, or the one in use was lost: retrying
    /// later can succeed.
    #[error("cannot connect to {address}: {cause}")]
    Connect {
        /// The address tried.
        address: String,
        /// The root cause and what to check, such as "connection refused;
        /// is mkfk-server running at that address?".
        cause: String,
    },
    /// The server's TLS certificate was refused: retrying does not help
    /// until the certificate (or the CA the client trusts) changes.
    #[error("cannot connect to {address}: {problem}")]
    Tls {
        /// The address tried.
        address: String,
        /// What is wrong with the certificate, and what to do.
        problem: String,
    },
    /// The server answered with an error status (its message is shown;
    /// the status is not chained as a source, so it is not said twice).
    #[error("{}: {}", status_name(.0.code()), .0.message())]
    Status(Status),
    /// A read reached records damaged on the server's disk (`DATA_LOSS`).
    /// The messages before them were returned; these cannot be. A reader
    /// that accepts the loss goes on from `next_good_offset`.
    #[error("data loss: {message}")]
    DataLoss {
        /// The first offset that cannot be read.
        first_offset: u64,
        /// The first readable offset after the damage.
        next_good_offset: u64,
        /// The server's message, naming the topic and the offsets.
        message: String,
    },
    /// The call took longer than its timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// A produce's sequence was out of order for its producer
    /// (`FAILED_PRECONDITION`): it skips ahead of the sequence the server
    /// expects, or is older than the batches it remembers. Nothing was
    /// stored. The [`Producer`](crate::Producer) numbers its batches
    /// itself, so this means another client used its producer id.
    #[error("failed precondition: {message}")]
    SequenceOutOfOrder {
        /// The sequence the server expects next from that producer.
        expected: u64,
        /// The server's message, naming the topic, producer and sequences.
        message: String,
    },
    /// A conditional produce
    /// ([`send_records_expecting`](crate::Producer::send_records_expecting))
    /// expected another next offset than the topic has
    /// (`FAILED_PRECONDITION`): another producer appended first. Nothing
    /// was stored.
    #[error("failed precondition: {message}")]
    NextOffsetMismatch {
        /// The topic's actual next offset (1 for a topic that does not
        /// exist).
        next_offset: u64,
        /// The server's message, naming the topic and both offsets.
        message: String,
    },
}

impl ClientError {
    /// The gRPC status code: the server's, `DeadlineExceeded` for a timeout,
    /// `Unavailable` when no connection could be made, `DataLoss` for
    /// damaged records.
    pub fn code(&self) -> Code {
        match self {
            Self::Status(status) => status.code(),
            Self::DataLoss { .. } => Code::DataLoss,
            Self::SequenceOutOfOrder { .. } | Self::NextOffsetMismatch { .. } => {
                Code::FailedPrecondition
            }
            Self::Timeout(_) => Code::DeadlineExceeded,
            Self::Connect { .. } | Self::Tls { .. } => Code::Unavailable,
            Self::InvalidAddress(_) | Self::MissingCa(_) | Self::InvalidToken | Self::NoGroup => {
                Code::InvalidArgument
            }
        }
    }

    /// Whether the same call can succeed later unchanged: the server was
    /// unreachable, restarting or briefly out of resources. A refused TLS
    /// certificate is not transient, although no connection was made.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Tls { .. })
            && matches!(
                self.code(),
                Code::Unavailable
                    | Code::Unknown
                    | Code::Aborted
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
            )
    }

    /// The error for a failed call to `address`: the one place a status
    /// becomes a `ClientError`. A status made by the client's own transport
    /// (it has a `source()`; a server's never does) is a connection failure
    /// described by its root cause; `DATA_LOSS` with its trailers is
    /// [`DataLoss`](Self::DataLoss), `FAILED_PRECONDITION` with a
    /// sequence or next-offset trailer is
    /// [`SequenceOutOfOrder`](Self::SequenceOutOfOrder) or
    /// [`NextOffsetMismatch`](Self::NextOffsetMismatch); anything else is
    /// the server's status.
    pub fn from_status(status: Status, address: &str) -> Self {
        if let Some(cause) = status.source()
            && matches!(status.code(), Code::Unavailable | Code::Unknown)
        {
            return Self::unreachable(address, cause);
        }
        if status.code() == Code::DataLoss
            && let Some((first_offset, next_good_offset)) = damaged_offsets(status.metadata())
        {
            return Self::DataLoss {
                first_offset,
                next_good_offset,
                message: status.message().to_owned(),
            };
        }
        if status.code() == Code::FailedPrecondition {
            let message = || status.message().to_owned();
            if let Some(expected) = trailer_number(status.metadata(), EXPECTED_SEQUENCE) {
                return Self::SequenceOutOfOrder {
                    expected,
                    message: message(),
                };
            }
            if let Some(next_offset) = trailer_number(status.metadata(), NEXT_OFFSET) {
                return Self::NextOffsetMismatch {
                    next_offset,
                    message: message(),
                };
            }
        }
        Self::Status(status)
    }

    /// The error for a connection to `address` that could not be made
    /// (or was lost) because of `error`, said by its root cause.
    pub(crate) fn unreachable(address: &str, error: &(dyn StdError + 'static)) -> Self {
        let address = address.to_owned();
        match connection_failure(error) {
            Failure::Tls(problem) => Self::Tls { address, problem },
            Failure::Other(cause) => Self::Connect { address, cause },
        }
    }

    /// The same failure again, for each of several callers it concerns (a
    /// batched request's senders).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Status(status) => Self::Status(status.clone()),
            Self::Timeout(after) => Self::Timeout(*after),
            Self::InvalidAddress(address) => Self::InvalidAddress(address.clone()),
            Self::MissingCa(address) => Self::MissingCa(address.clone()),
            Self::InvalidToken => Self::InvalidToken,
            Self::NoGroup => Self::NoGroup,
            Self::Connect { address, cause } => Self::Connect {
                address: address.clone(),
                cause: cause.clone(),
            },
            Self::Tls { address, problem } => Self::Tls {
                address: address.clone(),
                problem: problem.clone(),
            },
            Self::DataLoss {
                first_offset,
                next_good_offset,
                message,
            } => Self::DataLoss {
                first_offset: *first_offset,
                next_good_offset: *next_good_offset,
                message: message.clone(),
            },
            Self::SequenceOutOfOrder { expected, message } => Self::SequenceOutOfOrder {
                expected: *expected,
                message: message.clone(),
            },
            Self::NextOffsetMismatch {
                next_offset,
                message,
            } => Self::NextOffsetMismatch {
                next_offset: *next_offset,
                message: message.clone(),
            },
        }
    }
}

/// For a status from a call made outside [`Client`](crate::Client) (which
/// names its address): the same conversion, naming "the server".
impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        Self::from_status(status, "the server")
    }
}

/// The two offsets a `DATA_LOSS` status carries in its trailers.
fn damaged_offsets(trailers: &MetadataMap) -> Option<(u64, u64)> {
    Some((
        trailer_number(trailers, DAMAGED_FIRST_OFFSET)?,
        trailer_number(trailers, NEXT_GOOD_OFFSET)?,
    ))
}

/// The decimal number in the trailer `key`, if it is there and one.
fn trailer_number(trailers: &MetadataMap, key: &str) -> Option<u64> {
    trailers.get(key)?.to_str().ok()?.parse().ok()
}

/// What stopped a connection, in words.
enum Failure {
    /// The server's certificate was refused.
    Tls(String),
    /// Anything else: the network, the name, the server not running.
    Other(String),
}

/// Reduces a transport error chain (each layer of which repeats the one
/// below) to its root cause, with what to check for the common ones.
fn connection_failure(error: &(dyn StdError + 'static)) -> Failure {
    let mut root = error;
    let mut io = None;
    while let Some(next) = root.source() {
        root = next;
        if let Some(error) = root.downcast_ref::<std::io::Error>() {
            io = Some(error);
        }
    }
    if let Some(io) = io.or_else(|| root.downcast_ref::<std::io::Error>()) {
        // rustls reports through an io::Error whose payload is its own
        // error, which the io::Error does not return as a source.
        if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            return Failure::Tls(tls_problem(tls));
        }
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return Failure::Other(
                "connection refused; is mkfk-server running at that address?".to_owned(),
            );
        }
        return Failure::Other(io.to_string());
    }
    Failure::Other(root.to_string())
}

/// What is wrong with a TLS handshake rustls refused, and what to do.
fn tls_problem(error: &rustls::Error) -> String {
    use rustls::CertificateError;
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            "the server's certificate is a CA certificate (as `openssl req -x509` makes), \
             which TLS refuses as a server's own; make a CA and a server certificate signed \
             by it, give the server the latter and the client the CA (docs/operations.md has \
             the recipe)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by the CA certificate this client trusts \
             (--ca-file); give the CA that signed it"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(problem) => {
            format!("the server's TLS certificate was refused: {problem:?}")
        }
        rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
            "the server requires a client certificate: give one its CA signed \
             (--cert-file and --key-file)"
                .to_owned()
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the TLS handshake failed: {error}; is the server serving TLS at that address?")
        }
        other => format!("the TLS handshake failed: {other}"),
    }
}

fn status_name(code: Code) -> &'static str {
    match code {
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::Unauthenticated => "unauthenticated",
        Code::PermissionDenied => "permission denied",
        Code::InvalidArgument => "invalid argument",
        Code::OutOfRange => "out of range",
        Code::ResourceExhausted => "resource exhausted",
        Code::FailedPrecondition => "failed precondition",
        Code::Unavailable => "server unavailable",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::Unimplemented => "not supported by the server",
        Code::DataLoss => "data loss",
        Code::Internal => "server error",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    fn data_loss(first: &str, next: &str) -> Status {
        let mut trailers = MetadataMap::new();
        trailers.insert(
            DAMAGED_FIRST_OFFSET,
            MetadataValue::try_from(first).expect("ascii"),
        );
        trailers.insert(
            NEXT_GOOD_OFFSET,
            MetadataValue::try_from(next).expect("ascii"),
        );
        Status::with_metadata(
            Code::DataLoss,
            "topic 'orders': offsets 17..=20 are damaged on disk and cannot be read; \
             the first good offset after them is 21",
            trailers,
        )
    }

    #[test]
    fn data_loss_carries_the_offsets_of_its_trailers() {
        let error = ClientError::from_status(data_loss("17", "21"), "127.0.0.1:9999");
        match &error {
            ClientError::DataLoss {
                first_offset,
                next_good_offset,
                message,
            } => {
                assert_eq!((*first_offset, *next_good_offset), (17, 21));
                assert!(message.starts_with("topic 'orders': offsets 17..=20"));
            }
            other => panic!("not DataLoss: {other:?}"),
        }
        assert_eq!(error.code(), Code::DataLoss);
        assert!(!error.is_transient());
        assert_eq!(
            error.to_string(),
            "data loss: topic 'orders': offsets 17..=20 are damaged on disk and cannot be read; \
             the first good offset after them is 21"
        );
        assert!(error.source().is_none());
    }

    #[test]
    fn data_loss_without_readable_trailers_stays_a_status() {
        for (first, next) in [("x", "21"), ("17", "")] {
            let error = ClientError::from_status(data_loss(first, next), "a");
            assert!(matches!(error, ClientError::Status(_)), "{error:?}");
            assert_eq!(error.code(), Code::DataLoss);
        }
    }

    fn failed_precondition(key: &'static str, value: &'static str, message: &str) -> Status {
        let mut trailers = MetadataMap::new();
        trailers.insert(key, MetadataValue::from_static(value));
        Status::with_metadata(Code::FailedPrecondition, message, trailers)
    }

    #[test]
    fn refused_sequences_and_next_offsets_carry_the_trailers_number() {
        let message =
            "topic 'orders': producer 9 sent sequence 12, but the next expected from it is 10";
        let error =
            ClientError::from_status(failed_precondition(EXPECTED_SEQUENCE, "10", message), "a");
        match &error {
            ClientError::SequenceOutOfOrder {
                expected: 10,
                message: m,
            } => {
                assert_eq!(m, message);
            }
            other => panic!("not SequenceOutOfOrder: {other:?}"),
        }
        assert_eq!(error.code(), Code::FailedPrecondition);
        assert!(!error.is_transient());
        assert_eq!(error.to_string(), format!("failed precondition: {message}"));
        assert!(matches!(
            error.duplicate(),
            ClientError::SequenceOutOfOrder { expected: 10, .. }
        ));

        let message =
            "topic 'orders': the append expected next offset 3, but the topic's next offset is 8";
        let error = ClientError::from_status(failed_precondition(NEXT_OFFSET, "8", message), "a");
        assert!(
            matches!(&error, ClientError::NextOffsetMismatch { next_offset: 8, message: m } if m == message),
            "{error:?}"
        );
        assert_eq!(error.code(), Code::FailedPrecondition);

        let stopped = ClientError::from_status(Status::failed_precondition("topic stopped"), "a");
        assert!(matches!(stopped, ClientError::Status(_)), "{stopped:?}");
        let unreadable = failed_precondition(NEXT_OFFSET, "x", "?");
        assert!(matches!(
            ClientError::from_status(unreadable, "a"),
            ClientError::Status(_)
        ));
    }

    #[test]
    fn a_server_status_is_said_once() {
        let message = "read_from 5 is beyond the end of topic 'ok' (its next offset is 2)";
        let error = ClientError::from_status(Status::out_of_range(message), "a");
        assert_eq!(error.to_string(), format!("out of range: {message}"));
        assert!(error.source().is_none(), "the status is not chained too");
    }

    /// A layered error as the transport makes them: each layer says its
    /// own words and returns the next as its source.
    #[derive(Debug)]
    struct Layer(&'static str, Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    fn layered(root: std::io::Error) -> Layer {
        Layer(
            "transport error",
            Box::new(Layer("tcp connect error", Box::new(root))),
        )
    }

    #[test]
    fn a_refused_connection_names_the_cause_once_and_what_to_check() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let error = ClientError::unreachable("127.0.0.1:9998", &layered(refused));
        assert_eq!(
            error.to_string(),
            "cannot connect to 127.0.0.1:9998: connection refused; is mkfk-server running at that address?"
        );
        assert!(error.source().is_none());
        assert!(error.is_transient());
    }

    #[test]
    fn a_status_from_the_transport_is_a_connection_failure() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let mut status = Status::unavailable("tcp connect error");
        status.set_source(std::sync::Arc::new(layered(refused)));
        let error = ClientError::from_status(status, "127.0.0.1:9998");
        assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .ends_with("is mkfk-server running at that address?")
        );
    }

    #[test]
    fn a_ca_certificate_used_by_the_server_says_what_to_do() {
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
            rustls::OtherError(std::sync::Arc::new(webpki::Error::CaUsedAsEndEntity)),
        ));
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, refused);
        let error = ClientError::unreachable("https://127.0.0.1:9999", &layered(io));
        assert!(matches!(error, ClientError::Tls { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.starts_with("cannot connect to https://127.0.0.1:9999: the server's certificate is a CA certificate"),
            "{text}"
        );
        assert!(text.contains("docs/operations.md"), "{text}");
        assert!(!text.contains("CaUsedAsEndEntity"), "{text}");
        assert!(!error.is_transient(), "retrying cannot fix a certificate");
    }
}
