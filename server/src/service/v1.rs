//! Service `minikafka.v1.MiniKafka`: validates each request, calls the
//! store, and shapes the reply.

use minikafka_backends::TopicInfo;
use minikafka_proto::v1::{self, mini_kafka_server::MiniKafka};
use tonic::{Request, Response, Status};

use super::checked_store::CheckedStore;
use super::reading;
use super::waiting::Subscription;
use crate::auth::Access;

/// The v1 API over a store.
#[derive(Debug, Clone)]
pub struct V1Service {
    store: CheckedStore,
}

impl V1Service {
    /// Serves `store`.
    pub fn new(store: CheckedStore) -> Self {
        Self { store }
    }
}

fn topic_info(info: TopicInfo) -> v1::TopicInfo {
    v1::TopicInfo {
        name: info.name.to_string(),
        earliest_offset: info.earliest_offset,
        next_offset: info.next_offset,
        message_count: info.message_count,
        size_bytes: info.size_bytes,
        oldest_timestamp: info.oldest_timestamp.map(reading::timestamp),
    }
}

#[tonic::async_trait]
impl MiniKafka for V1Service {
    async fn produce(
        &self,
        request: Request<v1::ProduceRequest>,
    ) -> Result<Response<v1::ProduceResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_produce(&request.topic)?;
        let range = self.store.produce(&request.topic, request.payloads).await?;
        Ok(Response::new(v1::ProduceResponse {
            first_offset: range.first,
            last_offset: range.last,
        }))
    }

    async fn poll(
        &self,
        request: Request<v1::PollRequest>,
    ) -> Result<Response<v1::PollResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_consume(&request.topic)?;
        let limits = reading::read_limits(request.max_messages, request.max_bytes);
        let wait = request
            .max_wait
            .and_then(|w| std::time::Duration::try_from(w).ok())
            .filter(|w| !w.is_zero());
        let result = match wait {
            None => {
                self.store
                    .read(&request.topic, request.read_from, limits)
                    .await?
            }
            Some(wait) => {
                self.store
                    .read_waiting(&request.topic, request.read_from, limits, wait)
                    .await?
            }
        };
        Ok(Response::new(reading::poll_response(
            request.read_from,
            result,
        )))
    }

    type SubscribeStream = Subscription;

    async fn subscribe(
        &self,
        request: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_consume(&request.topic)?;
        let limits = reading::read_limits(request.max_batch, 0);
        let stream =
            self.store
                .subscribe(&request.topic, request.read_from, request.from_end, limits)?;
        Ok(Response::new(stream))
    }

    async fn list_topics(
        &self,
        request: Request<v1::ListTopicsRequest>,
    ) -> Result<Response<v1::ListTopicsResponse>, Status> {
        let access = Access::of(&request)?;
        let mut topics = self.store.list().await?;
        // A token sees the topics it may describe; an admin, every one.
        topics.retain(|t| access.may_describe(t.name.as_str()).is_ok());
        Ok(Response::new(v1::ListTopicsResponse {
            topics: topics.into_iter().map(topic_info).collect(),
        }))
    }

    async fn describe_topic(
        &self,
        request: Request<v1::DescribeTopicRequest>,
    ) -> Result<Response<v1::TopicInfo>, Status> {
        let access = Access::of(&request)?;
        let topic = request.into_inner().topic;
        access.may_describe(&topic)?;
        let info = self.store.describe(&topic).await?;
        Ok(Response::new(topic_info(info)))
    }
}
