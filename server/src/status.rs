//! The one mapping from store errors to gRPC status codes.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use minikafka_backends::StoreError;
use minikafka_proto::trailers::{
    DAMAGED_FIRST_OFFSET, EXPECTED_SEQUENCE, NEXT_GOOD_OFFSET, NEXT_OFFSET,
};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Status};

/// Turns a store error into the status a client sees.
///
/// Errors the client caused or can act on keep the store's message; an
/// unexpected failure is logged here with its cause and reaches the client
/// as INTERNAL, without internals such as file paths.
pub fn store_error_to_status(error: StoreError) -> Status {
    match error {
        StoreError::TopicNotFound(_) | StoreError::GroupNotFound(_) => {
            Status::not_found(error.to_string())
        }
        StoreError::CommitOutOfRange { .. } => Status::out_of_range(error.to_string()),
        StoreError::EmptyBatch => Status::invalid_argument(error.to_string()),
        StoreError::MessageTooLarge { .. } => Status::invalid_argument(error.to_string()),
        StoreError::OffsetOutOfRange { .. } | StoreError::OffsetsExhausted { .. } => {
            Status::out_of_range(error.to_string())
        }
        StoreError::TopicStopped { .. } => {
            tracing::error!(%error, "produce refused");
            Status::failed_precondition(error.to_string())
        }
        StoreError::SequenceOutOfOrder { expected, .. } => {
            failed_precondition_with(&error, EXPECTED_SEQUENCE, expected)
        }
        StoreError::NextOffsetMismatch { actual, .. } => {
            failed_precondition_with(&error, NEXT_OFFSET, actual)
        }
        StoreError::DataLoss {
            first_offset,
            next_good_offset,
            ..
        } => {
            tracing::error!(%error, "read reached damaged records");
            let mut trailers = MetadataMap::new();
            trailers.insert(DAMAGED_FIRST_OFFSET, MetadataValue::from(first_offset));
            trailers.insert(NEXT_GOOD_OFFSET, MetadataValue::from(next_good_offset));
            Status::with_metadata(Code::DataLoss, error.to_string(), trailers)
        }
        StoreError::StorageFull { .. } => {
            log_storage_full(&error);
            Status::resource_exhausted("the server's storage is full; retry once space is freed")
        }
        StoreError::TopicExists { .. } => Status::already_exists(error.to_string()),
        StoreError::TooManyOpenFiles { .. } => {
            // The log has the file; the client learns what ran out, not paths.
            tracing::error!(%error, "store operation failed");
            Status::resource_exhausted(
                "the server ran out of file descriptors; raise its open-file limit (ulimit -n)",
            )
        }
        StoreError::Closed => Status::unavailable("the server is shutting down"),
        other => {
            tracing::error!(error = %other, "store operation failed");
            Status::internal("the server failed to complete the request; its log has the cause")
        }
    }
}

/// FAILED_PRECONDITION saying `error`, with the number a client acts on
/// in the trailer `key` (decimal), so it need not parse the message.
fn failed_precondition_with(error: &StoreError, key: &'static str, number: u64) -> Status {
    let mut trailers = MetadataMap::new();
    trailers.insert(key, MetadataValue::from(number));
    Status::with_metadata(Code::FailedPrecondition, error.to_string(), trailers)
}

/// Turns the error of an append that did not create a missing topic
/// (`MINIKAFKA_AUTO_CREATE_TOPICS=false`) into the status a producer sees:
/// a missing topic is NOT_FOUND saying how to create it; anything else as
/// [`store_error_to_status`] says.
pub fn append_error_to_status(error: StoreError) -> Status {
    match error {
        StoreError::TopicNotFound(topic) => Status::not_found(format!(
            "topic '{topic}' not found; create it first (CreateTopic, or mkfk-admin topics \
             create {topic}): this server does not create topics on first produce \
             (MINIKAFKA_AUTO_CREATE_TOPICS=false)"
        )),
        other => store_error_to_status(other),
    }
}

/// How often a full disk is logged while producers keep retrying: once per
/// interval, with the count refused since, so the log (often on the same
/// full disk) does not grow with every retry.
const STORAGE_FULL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// When a full disk was last logged, and the refusals since.
static STORAGE_FULL_LOGGED: Mutex<LogThrottle> = Mutex::new(LogThrottle { last: None });

fn log_storage_full(error: &StoreError) {
    let admitted = STORAGE_FULL_LOGGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .admit(Instant::now(), STORAGE_FULL_LOG_INTERVAL);
    if let Some(refused_since) = admitted {
        tracing::error!(%error, refused_since, "produce refused: storage is full");
    }
}

/// Lets one event in per interval, counting those held back in between.
struct LogThrottle {
    /// When the last event was let in, and how many were held back since.
    last: Option<(Instant, u64)>,
}

impl LogThrottle {
    /// `Some(held back since the last one)` when an event at `now` is to be
    /// logged; `None` (and counted) when one was logged less than
    /// `interval` before.
    fn admit(&mut self, now: Instant, interval: Duration) -> Option<u64> {
        match self.last.as_mut() {
            Some((at, held)) if now.duration_since(*at) < interval => {
                *held += 1;
                None
            }
            _ => {
                let held = self.last.map_or(0, |(_, held)| held);
                self.last = Some((now, 0));
                Some(held)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::{Duration, Instant};

    use minikafka_backends::{GroupName, TopicName};

    use super::*;

    #[test]
    fn each_error_gets_its_documented_code() {
        let topic = TopicName::new("orders").expect("valid");
        let cases = [
            (StoreError::TopicNotFound(topic.clone()), Code::NotFound),
            (
                StoreError::GroupNotFound(GroupName::new("g").expect("valid")),
                Code::NotFound,
            ),
            (
                StoreError::CommitOutOfRange {
                    group: GroupName::new("g").expect("valid"),
                    topic: topic.clone(),
                    offset: 9,
                    next_offset: 3,
                },
                Code::OutOfRange,
            ),
            (StoreError::EmptyBatch, Code::InvalidArgument),
            (
                StoreError::OffsetOutOfRange {
                    topic: topic.clone(),
                    requested: 9,
                    next_offset: 3,
                },
                Code::OutOfRange,
            ),
            (
                StoreError::MessageTooLarge { size: 5, limit: 4 },
                Code::InvalidArgument,
            ),
            (
                StoreError::OffsetsExhausted {
                    topic: topic.clone(),
                    last_offset: 9,
                },
                Code::OutOfRange,
            ),
            (
                StoreError::TopicStopped {
                    topic: topic.clone(),
                    cause: "Input/output error (os error 5)".into(),
                },
                Code::FailedPrecondition,
            ),
            (
                StoreError::DataLoss {
                    topic: topic.clone(),
                    first_offset: 4,
                    next_good_offset: 6,
                },
                Code::DataLoss,
            ),
            (
                StoreError::StorageFull {
                    context: "appending to /data/orders/00000000000000000001.log".into(),
                    cause: io::Error::from_raw_os_error(28),
                },
                Code::ResourceExhausted,
            ),
            (StoreError::Closed, Code::Unavailable),
            (
                StoreError::TopicExists {
                    topic: topic.clone(),
                    settings: minikafka_backends::TopicSettings::default(),
                },
                Code::AlreadyExists,
            ),
            (
                StoreError::TooManyOpenFiles {
                    context: "opening /data/orders/00000000000000000001.log".into(),
                    cause: io::Error::from_raw_os_error(24),
                },
                Code::ResourceExhausted,
            ),
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
                    cause: io::Error::other("boom"),
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

    #[test]
    fn a_produce_to_a_missing_topic_says_how_to_create_it() {
        let status = append_error_to_status(StoreError::TopicNotFound(
            TopicName::new("t").expect("valid"),
        ));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            status.message(),
            "topic 't' not found; create it first (CreateTopic, or mkfk-admin topics create t): \
             this server does not create topics on first produce \
             (MINIKAFKA_AUTO_CREATE_TOPICS=false)"
        );
        let other = append_error_to_status(StoreError::EmptyBatch);
        assert_eq!(other.code(), Code::InvalidArgument);
    }

    #[test]
    fn data_loss_carries_the_offsets_in_trailers() {
        let status = store_error_to_status(StoreError::DataLoss {
            topic: TopicName::new("orders").expect("valid"),
            first_offset: 4,
            next_good_offset: 6,
        });
        let trailer = |key| status.metadata().get(key).and_then(|v| v.to_str().ok());
        assert_eq!(trailer(DAMAGED_FIRST_OFFSET), Some("4"));
        assert_eq!(trailer(NEXT_GOOD_OFFSET), Some("6"));
    }

    #[test]
    fn refused_sequences_and_next_offsets_carry_the_number_in_a_trailer() {
        let topic = TopicName::new("orders").expect("valid");
        let trailer = |status: &Status, key| {
            status
                .metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let sequence = store_error_to_status(StoreError::SequenceOutOfOrder {
            topic: topic.clone(),
            producer_id: 9,
            received: 12,
            expected: 10,
        });
        assert_eq!(sequence.code(), Code::FailedPrecondition);
        assert_eq!(trailer(&sequence, EXPECTED_SEQUENCE).as_deref(), Some("10"));
        assert_eq!(trailer(&sequence, NEXT_OFFSET), None);
        assert_eq!(
            sequence.message(),
            "topic 'orders': producer 9 sent sequence 12, but the next expected from it is 10"
        );
        let offset = append_error_to_status(StoreError::NextOffsetMismatch {
            topic,
            expected: 3,
            actual: 8,
        });
        assert_eq!(offset.code(), Code::FailedPrecondition);
        assert_eq!(trailer(&offset, NEXT_OFFSET).as_deref(), Some("8"));
        assert_eq!(
            offset.message(),
            "topic 'orders': the append expected next offset 3, but the topic's next offset is 8"
        );
    }

    #[test]
    fn a_full_disk_is_logged_once_per_interval_with_the_count_held_back() {
        let mut throttle = LogThrottle { last: None };
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let interval = Duration::from_secs(10);
        let admitted: Vec<Option<u64>> = [0, 1, 2, 9_999, 10_000, 10_001, 25_000]
            .into_iter()
            .map(|ms| throttle.admit(at(ms), interval))
            .collect();
        assert_eq!(
            admitted,
            [Some(0), None, None, None, Some(3), None, Some(1)]
        );
    }
}
