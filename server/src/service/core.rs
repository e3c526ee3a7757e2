//! [`Core`]: what both APIs do for every request, written once: validate,
//! stamp with the clock, call the store, map its errors.

use std::sync::Arc;

use bytes::Bytes;
use minikafka_backends::{OffsetRange, ReadLimits, ReadResult, Store, TopicInfo};
use tonic::Status;

use crate::clock::Clock;
use crate::status::store_error_to_status;
use crate::validate;

/// The store behind the services, with the checks every request passes.
#[derive(Debug, Clone)]
pub struct Core {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_message_bytes: usize,
}

impl Core {
    /// Serves `store`, stamping messages with `clock` and refusing payloads
    /// over `max_message_bytes`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, max_message_bytes: usize) -> Self {
        Self {
            store,
            clock,
            max_message_bytes,
        }
    }

    /// Validates and appends a batch.
    pub async fn produce(&self, topic: &str, payloads: Vec<Bytes>) -> Result<OffsetRange, Status> {
        let topic = validate::topic(topic)?;
        validate::payloads(&payloads, self.max_message_bytes)?;
        self.store
            .append(&topic, payloads, self.clock.now())
            .await
            .map_err(store_error_to_status)
    }

    /// Validates the topic and reads from it.
    pub async fn read(
        &self,
        topic: &str,
        read_from: u64,
        limits: ReadLimits,
    ) -> Result<ReadResult, Status> {
        let topic = validate::topic(topic)?;
        self.store
            .read(&topic, read_from, limits)
            .await
            .map_err(store_error_to_status)
    }

    /// Validates the topic and describes it.
    pub async fn describe(&self, topic: &str) -> Result<TopicInfo, Status> {
        let topic = validate::topic(topic)?;
        self.store
            .describe(&topic)
            .await
            .map_err(store_error_to_status)
    }

    /// Describes every topic.
    pub async fn list(&self) -> Result<Vec<TopicInfo>, Status> {
        self.store.list().await.map_err(store_error_to_status)
    }
}
