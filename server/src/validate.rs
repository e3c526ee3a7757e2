//! Request validation: everything is checked here, before the store is
//! touched, so a bad request changes nothing.

use bytes::Bytes;
use minikafka_backends::TopicName;
use tonic::Status;

/// Validates a topic name from a request: INVALID_ARGUMENT saying why not.
pub fn topic(name: &str) -> Result<TopicName, Status> {
    TopicName::new(name).map_err(|e| Status::invalid_argument(format!("invalid topic: {e}")))
}

/// Checks a produce batch: at least one payload, each within `max_message_bytes`.
pub fn payloads(payloads: &[Bytes], max_message_bytes: u64) -> Result<(), Status> {
    if payloads.is_empty() {
        return Err(Status::invalid_argument(
            "a produce needs at least one payload; the batch was empty",
        ));
    }
    match payloads
        .iter()
        .position(|p| p.len() as u64 > max_message_bytes)
    {
        None => Ok(()),
        Some(index) => Err(Status::invalid_argument(format!(
            "payload {index} is {} bytes; the largest message accepted is {max_message_bytes} bytes \
             (MINIKAFKA_MAX_MESSAGE_BYTES); nothing in the batch was stored",
            payloads[index].len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn bad_topics_are_invalid_arguments_naming_the_problem() {
        let status = topic("a/b").expect_err("slash");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("'a/b'"), "{}", status.message());
        assert!(topic("").is_err() && topic("..").is_err());
        assert_eq!(topic("ok.topic-1").expect("valid").as_str(), "ok.topic-1");
    }

    #[test]
    fn batches_must_be_non_empty_and_within_the_message_limit() {
        assert_eq!(
            payloads(&[], 10).expect_err("empty").code(),
            Code::InvalidArgument
        );
        let batch = [
            Bytes::from_static(b"0123456789"),
            Bytes::from_static(b"01234567890"),
        ];
        let status = payloads(&batch, 10).expect_err("too large");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().starts_with("payload 1 is 11 bytes"),
            "{}",
            status.message()
        );
        assert!(payloads(&batch[..1], 10).is_ok());
        assert!(
            payloads(&[Bytes::new()], 0).is_ok(),
            "an empty payload always fits"
        );
    }
}
