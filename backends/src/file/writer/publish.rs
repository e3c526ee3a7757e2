//! Publishing: making the writer's state of a topic the one readers see,
//! and waking the readers waiting for it.

use std::sync::{Arc, PoisonError};

use super::TopicWriter;
use crate::TopicName;
use crate::file::published::Shared;

/// Makes the writer's state of a topic the published one.
pub(super) fn publish(shared: &Shared, name: &TopicName, topic: &mut TopicWriter) {
    {
        let mut view = topic
            .topic
            .view
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if topic.newly_sealed.is_empty() {
            let known = view.active_index.len();
            view.active_index
                .extend_from_slice(&topic.index.entries[known..]);
        } else {
            view.sealed.extend(topic.newly_sealed.drain(..));
            view.active_index = topic.index.entries.clone();
        }
        view.active = topic.active.clone();
        view.normalize_start();
        view.size_bytes += topic.unpublished_bytes;
        if let Some(first) = topic.first_unpublished_timestamp.take()
            && view.oldest_timestamp.is_none()
            && view.start_offset < view.next_offset()
        {
            view.oldest_timestamp = Some(first);
        }
    }
    topic.unpublished_bytes = 0;
    if !topic.published {
        topic.published = true;
        let mut topics = shared
            .topics
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        topics.insert(name.clone(), Arc::clone(&topic.topic));
    }
    // Announced once the view is updated and the topic registered, so a
    // woken reader finds what woke it.
    shared.notifier.appended(name, topic.active.end);
}
