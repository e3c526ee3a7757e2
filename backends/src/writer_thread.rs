//! What the persistent stores share about their writer threads: the
//! commands a thread takes, and the handle that sends them and, when the
//! store is dropped, lets the thread finish and waits for it.
//!
//! Each store owns one writer thread, because their file and SQLite calls
//! block: no blocking call runs on the async runtime's threads, and one
//! thread taking every queued command as a group is what makes group
//! commit natural.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::{OffsetRange, RemovalReport, StoreError, Timestamp, TopicName};

/// The most commands a writer takes as one group, so one group's latency
/// stays bounded under a flood.
pub(crate) const MAX_GROUP: usize = 4096;

/// A request to a writer thread; each carries where to send its answer.
pub(crate) enum Command {
    /// Append a batch to a topic.
    Append {
        topic: TopicName,
        payloads: Vec<Bytes>,
        now: Timestamp,
        reply: oneshot::Sender<Result<OffsetRange, StoreError>>,
    },
    /// Remove messages older than the cutoff from every topic.
    RemoveOlderThan {
        cutoff: Timestamp,
        reply: oneshot::Sender<Result<RemovalReport, StoreError>>,
    },
    /// Make everything written durable.
    Sync {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The first command, and every command already queued behind it, up to
/// [`MAX_GROUP`]: one group.
pub(crate) fn group(first: Command, commands: &mpsc::Receiver<Command>) -> Vec<Command> {
    std::iter::once(first)
        .chain(std::iter::from_fn(|| commands.try_recv().ok()))
        .take(MAX_GROUP)
        .collect()
}

/// What a writer should do next.
pub(crate) enum Next {
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
pub(crate) fn next(commands: &mpsc::Receiver<Command>, sync_due: Option<Instant>) -> Next {
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
        payloads: Vec<Bytes>,
        now: Timestamp,
    ) -> Result<OffsetRange, StoreError> {
        if payloads.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        let topic = topic.clone();
        self.call(|reply| Command::Append {
            topic,
            payloads,
            now,
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
