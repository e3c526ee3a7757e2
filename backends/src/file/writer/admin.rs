//! Creating, updating and deleting topics, on the writer thread.
//!
//! A delete moves the topic's directory out of the topic namespace in one
//! rename (to `ROOT/deleted/`), makes that durable, and only then removes
//! the files: a crash before the rename leaves the topic whole, after it
//! gone, and start-up removes whatever a crash left under `deleted/`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::Writer;
use super::append::save_settings;
use super::publish::publish;
use crate::file::disk::{self, Disk};
use crate::{Creation, SettingsChange, StoreError, TopicName, TopicSettings};

impl Writer {
    /// Creates a topic with `settings`, durably, and shows it to readers;
    /// see [`Store::create_topic`](crate::Store::create_topic).
    pub(super) fn create(
        &mut self,
        name: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        if let Some(existing) = self.topics.get(name) {
            let existing = existing
                .topic
                .settings
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            return crate::store::create_existing(name, &existing, &settings);
        }
        let mut topic = self.new_topic(name, &settings)?;
        publish(&self.shared, name, &mut topic);
        self.topics.insert(name.clone(), topic);
        Ok(Creation::Created)
    }

    /// Changes a topic's settings, saving them durably first.
    pub(super) fn update_settings(
        &mut self,
        name: &TopicName,
        change: &SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        let topic = self
            .topics
            .get(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))?;
        let mut settings = topic
            .topic
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        settings.apply(change);
        save_settings(&*self.disk, &topic.topic.dir, &settings)?;
        *topic
            .topic
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = settings.clone();
        Ok(settings)
    }

    /// Deletes a topic: moves its directory to a tombstone (one rename,
    /// made durable), forgets it, wakes its watchers, then removes the
    /// tombstone. Returns how many messages it held.
    pub(super) fn delete(&mut self, name: &TopicName) -> Result<u64, StoreError> {
        let topic = self
            .topics
            .get(name)
            .ok_or_else(|| StoreError::TopicNotFound(name.clone()))?;
        let published = Arc::clone(&topic.topic);
        let dir = published.dir.clone();
        // A name no tombstone has (one left by a removal that failed keeps
        // its own).
        let mut tombstone = self.deleted_dir.join(self.tombstones.to_string());
        while tombstone.exists() {
            self.tombstones += 1;
            tombstone = self.deleted_dir.join(self.tombstones.to_string());
        }
        self.tombstones += 1;
        {
            // Renamed and marked deleted under the view's lock: a read that
            // finds a file gone looks at the mark under the same lock, so it
            // knows the topic is deleted rather than taking the file for
            // one retention removed.
            let _view = published
                .view
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            self.disk.rename(&dir, &tombstone).map_err(|e| {
                StoreError::io(
                    format!("moving {} to {}", dir.display(), tombstone.display()),
                    e,
                )
            })?;
            published.deleted.store(true, Ordering::Release);
        }
        // The topic is gone from the namespace now, whatever follows.
        let Some(topic) = self.topics.remove(name) else {
            return Err(StoreError::TopicNotFound(name.clone()));
        };
        self.unsynced.remove(name);
        self.shared
            .topics
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        let held = {
            let view = topic
                .topic
                .view
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let mut cache = self
                .shared
                .index_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Closed now, so the space of its files is freed as soon as
            // reads in flight let go of them.
            let segments = view.sealed.iter().chain(&topic.newly_sealed);
            for segment in segments.chain([&view.active, &topic.active]) {
                cache.pop(&segment.id);
                self.shared.files.forget(segment.id);
            }
            view.next_offset() - view.start_offset
        };
        self.shared.notifier.deleted(name);
        let durable = disk::sync_dir(&*self.disk, &self.topics_dir)
            .and_then(|()| disk::sync_dir(&*self.disk, &self.deleted_dir));
        drop(topic);
        if let Err(error) = remove_tree(&*self.disk, &tombstone) {
            tracing::warn!(dir = %tombstone.display(), %error, "could not remove a deleted topic's files; the next start-up removes them");
        }
        durable.map(|()| held)
    }
}

/// Removes the directory `dir` and everything in it, through the disk seam.
pub(in crate::file) fn remove_tree(disk: &dyn Disk, dir: &Path) -> Result<(), StoreError> {
    let listing = |e| StoreError::io(format!("listing {}", dir.display()), e);
    for entry in std::fs::read_dir(dir).map_err(listing)? {
        let entry = entry.map_err(listing)?;
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(disk, &path)
        } else {
            disk.remove_file(&path)
                .map_err(|e| StoreError::io(format!("removing {}", path.display()), e))
        };
        removed?;
    }
    disk.remove_dir(dir)
        .map_err(|e| StoreError::io(format!("removing {}", dir.display()), e))
}
