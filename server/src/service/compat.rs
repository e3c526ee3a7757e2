//! Service `protocol.MiniKafka`: the original Go project's API, so its
//! clients work unchanged. It carries message numbers as `uint32`; offsets
//! that do not fit answer OUT_OF_RANGE rather than wrap.

use minikafka_proto::protocol::{self, mini_kafka_server::MiniKafka};
use tonic::{Request, Response, Status};

use super::core::Core;
use super::reading;
use crate::auth::Access;

/// The original API over a store.
#[derive(Debug, Clone)]
pub struct CompatService {
    core: Core,
}

impl CompatService {
    /// Serves the store behind `core`.
    pub fn new(core: Core) -> Self {
        Self { core }
    }
}

fn msg_number(offset: u64) -> Result<protocol::MsgNumber, Status> {
    u32::try_from(offset)
        .map(|msg_number| protocol::MsgNumber { msg_number })
        .map_err(|_| {
            Status::out_of_range(format!(
                "message number {offset} does not fit the original API's uint32; use minikafka.v1"
            ))
        })
}

#[tonic::async_trait]
impl MiniKafka for CompatService {
    async fn produce(
        &self,
        request: Request<protocol::ProduceRequest>,
    ) -> Result<Response<protocol::MsgNumber>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        let topic = request.topic.map(|t| t.topic).unwrap_or_default();
        let payload = request.payload.map(|p| p.payload).unwrap_or_default();
        access.may_produce(&topic)?;
        // Refuse before storing when the number could not be answered: a
        // failed request must change nothing. (A topic not created yet, or
        // a bad name, is left to `produce` to handle.)
        if let Ok(info) = self.core.describe(&topic).await {
            msg_number(info.next_offset)?;
        }
        let range = self.core.produce(&topic, vec![payload]).await?;
        Ok(Response::new(msg_number(range.first)?))
    }

    async fn poll(
        &self,
        request: Request<protocol::PollRequest>,
    ) -> Result<Response<protocol::PollResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_consume(&request.topic)?;
        let read_from = request.read_from.map_or(0, |n| u64::from(n.msg_number));
        let result = self
            .core
            .read(&request.topic, read_from, reading::read_limits(0, 0))
            .await?;
        let new_read_from = msg_number(reading::next_read_position(read_from, &result))?;
        let payloads = result
            .messages
            .into_iter()
            .map(|m| protocol::Payload { payload: m.payload })
            .collect();
        Ok(Response::new(protocol::PollResponse {
            payloads,
            new_read_from: Some(new_read_from),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_numbers_beyond_u32_are_out_of_range() {
        assert_eq!(msg_number(7).expect("fits").msg_number, 7);
        assert_eq!(
            msg_number(u64::from(u32::MAX)).expect("fits").msg_number,
            u32::MAX
        );
        let status = msg_number(u64::from(u32::MAX) + 1).expect_err("too large");
        assert_eq!(status.code(), tonic::Code::OutOfRange);
    }
}
