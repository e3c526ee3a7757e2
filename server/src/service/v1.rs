//! Service `minikafka.v1.MiniKafka`: validates each request, calls the
//! store, and shapes the reply.

use minikafka_backends::TopicInfo;
use minikafka_proto::v1::{self, mini_kafka_server::MiniKafka};
use tonic::{Request, Response, Status};

use super::checked_store::CheckedStore;
use super::groups::{self, Start};
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
        if let Some(group) = groups::start_group(request.start.as_ref()) {
            access.may_use_group(group, &request.topic)?;
        }
        let limits = reading::read_limits(request.max_messages, request.max_bytes);
        let start = self
            .store
            .resolve_start(
                &request.topic,
                request.start,
                Start {
                    read_from: request.read_from,
                    from_end: false,
                },
            )
            .await?;
        // From the end (a group with no commit, falling back to the end):
        // the topic's next offset now; a topic not there yet starts at 1.
        let read_from = if start.from_end {
            match self.store.describe(&request.topic).await {
                Ok(info) => info.next_offset,
                Err(status) if status.code() == tonic::Code::NotFound => 1,
                Err(status) => return Err(status),
            }
        } else {
            start.read_from
        };
        let wait = request
            .max_wait
            .and_then(|w| std::time::Duration::try_from(w).ok())
            .filter(|w| !w.is_zero());
        let result = match wait {
            None => self.store.read(&request.topic, read_from, limits).await?,
            Some(wait) => {
                self.store
                    .read_waiting(&request.topic, read_from, limits, wait)
                    .await?
            }
        };
        Ok(Response::new(reading::poll_response(read_from, result)))
    }

    type SubscribeStream = Subscription;

    async fn subscribe(
        &self,
        request: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_consume(&request.topic)?;
        if let Some(group) = groups::start_group(request.start.as_ref()) {
            access.may_use_group(group, &request.topic)?;
        }
        let limits = reading::read_limits(request.max_batch, 0);
        let start = self
            .store
            .resolve_start(
                &request.topic,
                request.start,
                Start {
                    read_from: request.read_from,
                    from_end: request.from_end,
                },
            )
            .await?;
        let stream =
            self.store
                .subscribe(&request.topic, start.read_from, start.from_end, limits)?;
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
        request: Request<v1::CommitOffsetRequest>,
    ) -> Result<Response<v1::CommitOffsetResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_use_group(&request.group, &request.topic)?;
        let group = validate::group(&request.group)?;
        let topic = validate::topic(&request.topic)?;
        let metadata = validate::commit_metadata(request.metadata)?;
        self.store
            .commit_offset(&group, &topic, request.offset, metadata)
            .await?;
        Ok(Response::new(v1::CommitOffsetResponse {}))
    }

    async fn fetch_offset(
        &self,
        request: Request<v1::FetchOffsetRequest>,
    ) -> Result<Response<v1::FetchOffsetResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_use_group(&request.group, &request.topic)?;
        let group = validate::group(&request.group)?;
        let topic = validate::topic(&request.topic)?;
        let commit = self.store.fetch_offset(&group, &topic).await?;
        Ok(Response::new(v1::FetchOffsetResponse {
            commit: commit.map(groups::offset_commit),
        }))
    }

    async fn list_groups(
        &self,
        request: Request<v1::ListGroupsRequest>,
    ) -> Result<Response<v1::ListGroupsResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        let page_size = paging::page_size(request.page_size);
        let mut after = paging::start_after(&request.page_token)?;
        // A token sees only its groups: store pages are read until the
        // reply's page is full of those, or the store has no more.
        let mut groups = Vec::new();
        let mut store_has_more = true;
        while store_has_more && groups.len() < page_size {
            let page = self.store.list_groups(after.as_ref(), page_size).await?;
            store_has_more = page.len() == page_size;
            for group in page {
                after = Some(group.clone());
                if access.may_manage_group(group.as_str()).is_ok() {
                    groups.push(group);
                    if groups.len() == page_size {
                        break;
                    }
                }
            }
        }
        // Another page follows if any group sorts after this one's last
        // (for a token, that page may turn out to hold none of its groups).
        let next_page_token = match &after {
            Some(last) if groups.len() == page_size => {
                let beyond = self.store.list_groups(Some(last), 1).await?;
                if beyond.is_empty() {
                    String::new()
                } else {
                    paging::next_page_token(last)
                }
            }
            _ => String::new(),
        };
        Ok(Response::new(v1::ListGroupsResponse {
            groups: groups.into_iter().map(|g| g.to_string()).collect(),
            next_page_token,
        }))
    }

    async fn describe_group(
        &self,
        request: Request<v1::DescribeGroupRequest>,
    ) -> Result<Response<v1::GroupInfo>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_manage_group(&request.group)?;
        let group = validate::group(&request.group)?;
        // A token sees the group's position in the topics it may describe.
        let lags = self
            .store
            .describe_group(&group, |topic| access.may_describe(topic.as_str()).is_ok())
            .await?;
        Ok(Response::new(v1::GroupInfo {
            name: group.to_string(),
            topics: lags.into_iter().map(groups::group_topic).collect(),
        }))
    }

    async fn delete_group(
        &self,
        request: Request<v1::DeleteGroupRequest>,
    ) -> Result<Response<v1::DeleteGroupResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_manage_group(&request.group)?;
        let group = validate::group(&request.group)?;
        let commits_deleted = self.store.delete_group(&group).await?;
        tracing::info!(%group, commits_deleted, "group deleted");
        Ok(Response::new(v1::DeleteGroupResponse { commits_deleted }))
    }

    async fn offset_for_time(
        &self,
        request: Request<v1::OffsetForTimeRequest>,
    ) -> Result<Response<v1::OffsetForTimeResponse>, Status> {
        let access = Access::of(&request)?;
        let request = request.into_inner();
        access.may_consume(&request.topic)?;
        let topic = validate::topic(&request.topic)?;
        let time = validate::time(request.time, "time")?;
        let offset = self.store.offset_for_time(&topic, time).await?;
        Ok(Response::new(v1::OffsetForTimeResponse { offset }))
    }
}
