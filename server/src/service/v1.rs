//! Service `minikafka.v1.MiniKafka`: validates each request, calls the
//! store, and shapes the reply.

use minikafka_backends::TopicInfo;
use minikafka_proto::v1::{self, mini_kafka_server::MiniKafka};
use tonic::{Request, Response, Status};

use super::checked_store::CheckedStore;
use super::waiting::Subscription;
use super::{paging, reading};
use crate::auth::Access;
use crate::validate;

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

impl V1Service {
    /// A topic's description, with its effective settings.
    fn topic_info(&self, info: TopicInfo) -> v1::TopicInfo {
        v1::TopicInfo {
            settings: Some(self.store.defaults.effective(&info.settings)),
            name: info.name.to_string(),
            earliest_offset: info.earliest_offset,
            next_offset: info.next_offset,
            message_count: info.message_count,
            size_bytes: info.size_bytes,
            oldest_timestamp: info.oldest_timestamp.map(reading::timestamp),
        }
    }

    /// The topic as it is now, for the reply to a change.
    async fn described(&self, topic: &str) -> Result<Response<v1::TopicInfo>, Status> {
        let info = self.store.describe(topic).await?;
        Ok(Response::new(self.topic_info(info)))
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
        let range = self.store.produce(request).await?;
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
        let request = request.into_inner();
        let page_size = paging::page_size(request.page_size);
        let after = paging::start_after(&request.page_token)?;
        // One more than the page: whether it comes back says whether
        // another page follows, so the last page is never an empty one.
        let mut topics = self.store.list(after.as_ref(), page_size + 1).await?;
        let next_page_token = if topics.len() > page_size {
            topics.truncate(page_size);
            topics
                .last()
                .map_or_else(String::new, |last| paging::next_page_token(&last.name))
        } else {
            String::new()
        };
        // A token sees the topics it may describe; an admin, every one.
        topics.retain(|t| access.may_describe(t.name.as_str()).is_ok());
        Ok(Response::new(v1::ListTopicsResponse {
            topics: topics.into_iter().map(|t| self.topic_info(t)).collect(),
            next_page_token,
        }))
    }

    async fn describe_topic(
        &self,
        request: Request<v1::DescribeTopicRequest>,
    ) -> Result<Response<v1::TopicInfo>, Status> {
        let access = Access::of(&request)?;
        let topic = request.into_inner().topic;
        access.may_describe(&topic)?;
        self.described(&topic).await
    }

    async fn create_topic(
        &self,
        request: Request<v1::CreateTopicRequest>,
    ) -> Result<Response<v1::TopicInfo>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_administer(&request.topic)?;
        let topic = validate::topic(&request.topic)?;
        let settings = self.store.defaults.settings(request.settings)?;
        let creation = self.store.create_topic(&topic, settings).await?;
        tracing::info!(%topic, ?creation, "create topic");
        self.described(topic.as_str()).await
    }

    async fn update_topic(
        &self,
        request: Request<v1::UpdateTopicRequest>,
    ) -> Result<Response<v1::TopicInfo>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_administer(&request.topic)?;
        let topic = validate::topic(&request.topic)?;
        let change = self
            .store
            .defaults
            .change(request.settings, &request.reset)?;
        let settings = self.store.update_topic(&topic, change).await?;
        tracing::info!(%topic, ?settings, "topic settings changed");
        self.described(topic.as_str()).await
    }

    async fn delete_topic(
        &self,
        request: Request<v1::DeleteTopicRequest>,
    ) -> Result<Response<v1::DeleteTopicResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_administer(&request.topic)?;
        let topic = validate::topic(&request.topic)?;
        let messages_deleted = self.store.delete_topic(&topic).await?;
        tracing::info!(%topic, messages_deleted, "topic deleted");
        Ok(Response::new(v1::DeleteTopicResponse { messages_deleted }))
    }

    async fn commit_offset(
        &self,
        _request: Request<v1::CommitOffsetRequest>,
    ) -> Result<Response<v1::CommitOffsetResponse>, Status> {
        Err(Status::unimplemented("issue #16: CommitOffset"))
    }

    async fn fetch_offset(
        &self,
        _request: Request<v1::FetchOffsetRequest>,
    ) -> Result<Response<v1::FetchOffsetResponse>, Status> {
        Err(Status::unimplemented("issue #16: FetchOffset"))
    }

    async fn list_groups(
        &self,
        _request: Request<v1::ListGroupsRequest>,
    ) -> Result<Response<v1::ListGroupsResponse>, Status> {
        Err(Status::unimplemented("issue #16: ListGroups"))
    }

    async fn describe_group(
        &self,
        _request: Request<v1::DescribeGroupRequest>,
    ) -> Result<Response<v1::GroupInfo>, Status> {
        Err(Status::unimplemented("issue #16: DescribeGroup"))
    }

    async fn delete_group(
        &self,
        _request: Request<v1::DeleteGroupRequest>,
    ) -> Result<Response<v1::DeleteGroupResponse>, Status> {
        Err(Status::unimplemented("issue #16: DeleteGroup"))
    }

    async fn offset_for_time(
        &self,
        _request: Request<v1::OffsetForTimeRequest>,
    ) -> Result<Response<v1::OffsetForTimeResponse>, Status> {
        Err(Status::unimplemented("issue #16: OffsetForTime"))
    }
}
