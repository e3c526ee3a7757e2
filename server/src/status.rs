//! The one mapping from store errors to gRPC status codes.

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
            tracing::error!(%error, "produce refused: storage is full");
            Status::resource_exhausted("the server's storage is full; retry once space is freed")
        }
        StoreError::Closed => Status::unavailable("the server is shutting down"),
        other => {
            tracing::error!(error = %other, "store operation failed");
            Status::internal("the server failed to complete the request; its log has the cause")
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
