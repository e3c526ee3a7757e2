//! The one mapping from store errors to gRPC status codes.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use minikafka_backends::StoreError;
use tonic::Status;

/// Turns a store error into the status a client sees.
///
/// Errors the client caused or can act on keep the store's message; an
/// unexpected failure is logged here with its cause and reaches the client
/// as INTERNAL, without internals such as file paths.
pub fn store_error_to_status(error: StoreError) -> Status {
    match error {
        StoreError::TopicNotFound(_) => Status::not_found(error.to_string()),
        StoreError::EmptyBatch => Status::invalid_argument(error.to_string()),
        StoreError::OffsetOutOfRange { .. } => Status::out_of_range(error.to_string()),
        StoreError::StorageFull { .. } => {
            log_storage_full(&error);
            Status::resource_exhausted("the server's storage is full; retry once space is freed")
        }
        StoreError::Closed => Status::unavailable("the server is shutting down"),
        other => {
            tracing::error!(error = %other, "store operation failed");
            Status::internal("the server failed to complete the request; its log has the cause")
        }
    }
}

/// How often a full disk is logged while producers keep retrying: once per
/// interval, with the count refused since, so the log (often on the same
/// full disk) does not grow with every retry.
const STORAGE_FULL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// When a full disk was last logged, and the refusals since.
static STORAGE_FULL_LOGGED: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

fn log_storage_full(error: &StoreError) {
    let mut logged = STORAGE_FULL_LOGGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match logged.as_mut() {
        Some((at, refused)) if at.elapsed() < STORAGE_FULL_LOG_INTERVAL => *refused += 1,
        _ => {
            let refused_since = logged.map_or(0, |(_, refused)| refused);
            tracing::error!(%error, refused_since, "produce refused: storage is full");
            *logged = Some((Instant::now(), 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use minikafka_backends::TopicName;
    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_gets_its_documented_code() {
        let topic = TopicName::new("orders").expect("valid");
        let cases = [
            (StoreError::TopicNotFound(topic.clone()), Code::NotFound),
            (StoreError::EmptyBatch, Code::InvalidArgument),
            (
                StoreError::OffsetOutOfRange {
                    topic,
                    requested: 9,
                    next_offset: 3,
                },
                Code::OutOfRange,
            ),
            (
                StoreError::StorageFull {
                    context: "appending to /data/orders/00000000000000000001.log".into(),
                    source: io::Error::from_raw_os_error(28),
                },
                Code::ResourceExhausted,
            ),
            (StoreError::Closed, Code::Unavailable),
            (
                StoreError::Corrupt {
                    path: "/data/orders/00000000000000000001.log".into(),
                    position: 16,
                    detail: "checksum mismatch".into(),
                },
                Code::Internal,
            ),
            (
                StoreError::Io {
                    context: "reading /data/orders/00000000000000000001.log".into(),
                    source: io::Error::other("boom"),
                },
                Code::Internal,
            ),
        ];
        for (error, code) in cases {
            let status = store_error_to_status(error);
            assert_eq!(status.code(), code, "{status:?}");
            assert!(
                !status.message().contains("/data/"),
                "no paths leak: {status:?}"
            );
        }
        let not_found = store_error_to_status(StoreError::TopicNotFound(
            TopicName::new("x").expect("valid"),
        ));
        assert_eq!(not_found.message(), "topic 'x' not found");
    }
}
