//! What the persistent stores share about their writer threads: the
//! commands a thread takes, the group-commit loop that serves them (each
//! store supplies its own [`GroupCommit`] body), and the handle that sends
//! them and, when the store is dropped, lets the thread finish and waits
//! for it.
//!
//! Each store owns one writer thread, because their file and SQLite calls
//! block: no blocking call runs on the async runtime's threads, and one
//! thread taking every queued command as a group is what makes group
//! commit natural.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::{
    Batch, Creation, GroupName, OffsetCommit, OffsetRange, RemovalReport, RetentionDefaults,
    SettingsChange, StoreError, Timestamp, TopicName, TopicSettings,
};

/// The most commands a writer takes as one group, so one group's latency
/// stays bounded under a flood.
pub(crate) const MAX_GROUP: usize = 4096;

/// A batch to append, and where to send its offsets.
pub(crate) struct AppendRequest {
    pub(crate) topic: TopicName,
    pub(crate) batch: Batch,
    pub(crate) now: Timestamp,
    pub(crate) reply: oneshot::Sender<Result<OffsetRange, StoreError>>,
}

/// A group's offset commit, and where to answer once it is durable.
pub(crate) struct CommitRequest {
    pub(crate) group: GroupName,
    pub(crate) topic: TopicName,
    pub(crate) commit: OffsetCommit,
    pub(crate) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// A request to a writer thread; each carries where to send its answer.
pub(crate) enum Command {
    /// Append a batch to a topic.
    Append(AppendRequest),
    /// Commit a group's offset in a topic: taken into the group like an
    /// append, so commits share syncs with appends and with each other.
    CommitOffset(CommitRequest),
    /// Delete a group's commits in every topic.
    DeleteGroup {
        group: GroupName,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Create a topic with its settings.
    CreateTopic {
        topic: TopicName,
        settings: TopicSettings,
        reply: oneshot::Sender<Result<Creation, StoreError>>,
    },
    /// Change a topic's settings.
    UpdateTopic {
        topic: TopicName,
        change: SettingsChange,
        reply: oneshot::Sender<Result<TopicSettings, StoreError>>,
    },
    /// Delete a topic and its messages.
    DeleteTopic {
        topic: TopicName,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Remove what retention no longer keeps from every topic.
    EnforceRetention {
        now: Timestamp,
        defaults: RetentionDefaults,
        reply: oneshot::Sender<Result<RemovalReport, StoreError>>,
    },
    /// Make everything written durable.
    Sync {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What a store's writer does with one group of commands; [`run`] is the
/// loop around it that every persistent store shares.
pub(crate) trait GroupCommit {
    /// An append taken into the current group and not yet answered.
    type Taken;

    /// When the interval's sync is due: `None` unless the durability is an
    /// interval and something is written but not synced.
    fn sync_due(&self) -> Option<Instant>;
    /// Takes one append into the group: writes it, or keeps it for
    /// [`GroupCommit::commit`], or answers it at once if it fails.
    fn take(&mut self, append: AppendRequest, group: &mut Vec<Self::Taken>);
    /// Takes one offset commit into the group, as [`GroupCommit::take`]
    /// takes an append: it is answered at the group's commit, after the
    /// appends taken before it, and shares their sync.
    fn take_commit(&mut self, commit: CommitRequest, group: &mut Vec<Self::Taken>);
    /// Makes the appends taken so far as durable as configured, shows them
    /// to readers, and answers each; `group` is left empty.
    fn commit(&mut self, group: &mut Vec<Self::Taken>);
    /// Creates a topic (see [`Store::create_topic`](crate::Store::create_topic)).
    fn create_topic(
        &mut self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError>;
    /// Changes a topic's settings durably (see
    /// [`Store::update_topic`](crate::Store::update_topic)).
    fn update_topic(
        &mut self,
        topic: &TopicName,
        change: &SettingsChange,
    ) -> Result<TopicSettings, StoreError>;
    /// Deletes a topic (see [`Store::delete_topic`](crate::Store::delete_topic)).
    fn delete_topic(&mut self, topic: &TopicName) -> Result<u64, StoreError>;
    /// Deletes a group durably (see
    /// [`Store::delete_group`](crate::Store::delete_group)).
    fn delete_group(&mut self, group: &GroupName) -> Result<u64, StoreError>;
    /// The retention sweep (see
    /// [`Store::enforce_retention`](crate::Store::enforce_retention)).
    fn enforce_retention(
        &mut self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError>;
    /// Makes everything written durable (a [`Command::Sync`]).
    fn sync(&mut self) -> Result<(), StoreError>;
    /// The interval's sync, once it is due; failures are the store's to log.
    fn sync_interval(&mut self);
    /// The last sync, once every sender is gone.
    fn finish(&mut self);
}

/// Serves a writer thread's commands until every sender is gone, then
/// lets the writer finish. The writer is locked for each group and
/// released while the thread waits, so a store may lend it to callers
/// between groups (the file store appends on the caller's thread so).
pub(crate) fn run<W: GroupCommit>(writer: &Mutex<W>, commands: &mpsc::Receiver<Command>) {
    while let Some(first) = next_command(writer, commands) {
        let mut writer = lock(writer);
        let mut taken = Vec::new();
        for command in group(first, commands) {
            let command = match command {
                Command::Append(append) => {
                    writer.take(append, &mut taken);
                    continue;
                }
                Command::CommitOffset(commit) => {
                    writer.take_commit(commit, &mut taken);
                    continue;
                }
                other => other,
            };
            // Every other command sees the writes before it committed.
            writer.commit(&mut taken);
            match command {
                Command::Append(_) | Command::CommitOffset(_) => {}
                Command::DeleteGroup { group, reply } => {
                    let _ = reply.send(writer.delete_group(&group));
                }
                Command::CreateTopic {
                    topic,
                    settings,
                    reply,
                } => {
                    let _ = reply.send(writer.create_topic(&topic, settings));
                }
                Command::UpdateTopic {
                    topic,
                    change,
                    reply,
                } => {
                    let _ = reply.send(writer.update_topic(&topic, &change));
                }
                Command::DeleteTopic { topic, reply } => {
                    let _ = reply.send(writer.delete_topic(&topic));
                }
                Command::EnforceRetention {
                    now,
                    defaults,
                    reply,
                } => {
                    let _ = reply.send(writer.enforce_retention(now, defaults));
                }
                Command::Sync { reply } => {
                    let _ = reply.send(writer.sync());
                }
            }
        }
        writer.commit(&mut taken);
    }
    lock(writer).finish();
}

/// The next command, running the interval's sync whenever it comes due
/// while waiting (the writer is unlocked in between). `None` once every
/// sender is gone.
fn next_command<W: GroupCommit>(
    writer: &Mutex<W>,
    commands: &mpsc::Receiver<Command>,
) -> Option<Command> {
    loop {
        let sync_due = lock(writer).sync_due();
        match next(commands, sync_due) {
            Next::Command(command) => return Some(command),
            Next::Closed => return None,
            Next::SyncDue => lock(writer).sync_interval(),
        }
    }
}

/// The writer, also after a thread panicked holding it: a poisoned lock
/// would otherwise fail every later command of the store.
fn lock<W>(writer: &Mutex<W>) -> MutexGuard<'_, W> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first command, and every command already queued behind it, up to
/// [`MAX_GROUP`]: one group.
fn group(first: Command, commands: &mpsc::Receiver<Command>) -> Vec<Command> {
    std::iter::once(first)
        .chain(std::iter::from_fn(|| commands.try_recv().ok()))
        .take(MAX_GROUP)
        .collect()
}

/// What a writer should do next.
enum Next {
    /// Serve this command.
    Command(Command),
    /// The interval's sync is due.
    SyncDue,
    /// Every sender is gone: finish.
    Closed,
}

/// The next command, or [`Next::SyncDue`] once `sync_due` (interval mode,
/// with unsynced writes) has passed. The deadline is checked before
/// waiting, so a steady stream of commands cannot put the sync off.
fn next(commands: &mpsc::Receiver<Command>, sync_due: Option<Instant>) -> Next {
    let Some(deadline) = sync_due else {
        return commands.recv().map_or(Next::Closed, Next::Command);
    };
    let now = Instant::now();
    if deadline <= now {
        return Next::SyncDue;
    }
    match commands.recv_timeout(deadline - now) {
        Ok(command) => Next::Command(command),
        Err(RecvTimeoutError::Timeout) => Next::SyncDue,
        Err(RecvTimeoutError::Disconnected) => Next::Closed,
    }
}

/// A running writer thread.
#[derive(Debug)]
pub(crate) struct WriterThread {
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl WriterThread {
    /// Starts a thread named `name` running `run` on the command queue.
    pub(crate) fn spawn(
        name: &str,
        run: impl FnOnce(mpsc::Receiver<Command>) + Send + 'static,
    ) -> Result<Self, StoreError> {
        let (commands, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(receiver))
            .map_err(|e| StoreError::io(format!("starting the {name} thread"), e))?;
        Ok(Self {
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// Sends the command `make` builds and waits for its answer;
    /// [`StoreError::Closed`] if the thread is gone.
    pub(crate) async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let commands = self.commands.as_ref().ok_or(StoreError::Closed)?;
        commands.send(make(reply)).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Appends a batch through the thread (an empty one fails at once).
    pub(crate) async fn append(
        &self,
        topic: &TopicName,
        batch: Batch,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if batch.records.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        let topic = topic.clone();
        self.call(|reply| {
            Command::Append(AppendRequest {
                topic,
                batch,
                now,
                reply,
            })
        })
        .await
    }

    /// Creates a topic through the thread.
    pub(crate) async fn create_topic(
        &self,
        topic: &TopicName,
        settings: TopicSettings,
    ) -> Result<Creation, StoreError> {
        let topic = topic.clone();
        self.call(|reply| Command::CreateTopic {
            topic,
            settings,
            reply,
        })
        .await
    }

    /// Changes a topic's settings through the thread.
    pub(crate) async fn update_topic(
        &self,
        topic: &TopicName,
        change: SettingsChange,
    ) -> Result<TopicSettings, StoreError> {
        let topic = topic.clone();
        self.call(|reply| Command::UpdateTopic {
            topic,
            change,
            reply,
        })
        .await
    }

    /// Deletes a topic through the thread.
    pub(crate) async fn delete_topic(&self, topic: &TopicName) -> Result<u64, StoreError> {
        let topic = topic.clone();
        self.call(|reply| Command::DeleteTopic { topic, reply })
            .await
    }

    /// Commits a group's offset through the thread, in the next group.
    pub(crate) async fn commit_offset(
        &self,
        group: &GroupName,
        topic: &TopicName,
        commit: OffsetCommit,
    ) -> Result<(), StoreError> {
        let (group, topic) = (group.clone(), topic.clone());
        self.call(|reply| {
            Command::CommitOffset(CommitRequest {
                group,
                topic,
                commit,
                reply,
            })
        })
        .await
    }

    /// Deletes a group through the thread.
    pub(crate) async fn delete_group(&self, group: &GroupName) -> Result<u64, StoreError> {
        let group = group.clone();
        self.call(|reply| Command::DeleteGroup { group, reply })
            .await
    }

    /// Runs the retention sweep on the thread.
    pub(crate) async fn enforce_retention(
        &self,
        now: Timestamp,
        defaults: RetentionDefaults,
    ) -> Result<RemovalReport, StoreError> {
        self.call(|reply| Command::EnforceRetention {
            now,
            defaults,
            reply,
        })
        .await
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued, make it
        // durable, release the root's lock and exit; waiting for it means
        // the root can be reopened as soon as this returns.
        drop(self.commands.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
