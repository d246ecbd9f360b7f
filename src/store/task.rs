//! The store task: the UI hands it journal events without waiting, a dedicated thread writes them in
//! groups (one write, one fsync for everything queued) and answers each ticket with a [`StoreAck`].
//!
//! The IO runs on its own OS thread rather than on a tokio worker, so a slow disk never stalls the
//! runtime; the channels are tokio's so the UI loop can `select!` on the acknowledgements. Nothing
//! here needs a runtime: `spawn` works from plain threads too (tests, benches, the headless commands).

use std::thread::JoinHandle;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::journal::Journal;
use super::queue::QueueEvent;

/// The answer to one [`StoreHandle::append`]: `Ok` means every event of that ticket is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAck {
    pub ticket: u64,
    pub result: Result<(), String>,
}

/// The store task is gone (it panicked or was shut down); nothing more can be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store task has stopped: nothing more can be saved to the journal")]
pub struct StoreClosed;

struct Request {
    events: Vec<QueueEvent>,
    ticket: u64,
}

/// The UI's end of the store task.
#[derive(Debug)]
pub struct StoreHandle {
    tx: Option<UnboundedSender<Request>>,
    thread: Option<JoinHandle<Journal>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Request(ticket {}, {} events)",
            self.ticket,
            self.events.len()
        )
    }
}

/// Starts the store task on its own thread. Acknowledgements arrive on the returned receiver in the
/// order the appends were made.
pub fn spawn(journal: Journal) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    let (tx, rx) = unbounded_channel();
    let (ack_tx, ack_rx) = unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("stagehand-store".into())
        .spawn(move || run(journal, rx, ack_tx))
        .expect("the OS refused to start the store thread");
    let handle = StoreHandle {
        tx: Some(tx),
        thread: Some(thread),
    };
    (handle, ack_rx)
}

impl StoreHandle {
    /// Queues `events` to be made durable under `ticket`; never blocks. An empty `events` still gets
    /// an acknowledgement once everything queued before it is durable (a flush barrier).
    pub fn append(&self, events: Vec<QueueEvent>, ticket: u64) -> Result<(), StoreClosed> {
        let tx = self.tx.as_ref().ok_or(StoreClosed)?;
        tx.send(Request { events, ticket }).map_err(|_| StoreClosed)
    }

    /// Stops accepting work, waits (blocking) until everything queued is written and acknowledged,
    /// and returns the journal. For orderly exit and tests; call it off the async workers.
    pub fn shutdown(mut self) -> Result<Journal, StoreClosed> {
        self.tx = None;
        let thread = self.thread.take().ok_or(StoreClosed)?;
        thread.join().map_err(|_| StoreClosed)
    }
}

fn run(
    mut journal: Journal,
    mut rx: UnboundedReceiver<Request>,
    acks: UnboundedSender<StoreAck>,
) -> Journal {
    let mut batch: Vec<Request> = Vec::new();
    let mut events: Vec<QueueEvent> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        events.clear();
        for r in &mut batch {
            events.append(&mut r.events);
        }
        let result = journal.append(&events).map_err(|e| {
            tracing::error!(error = %e, "journal write failed");
            e.to_string()
        });
        for r in batch.drain(..) {
            // A dropped receiver means the UI is gone; the data is on disk regardless.
            let _ = acks.send(StoreAck {
                ticket: r.ticket,
                result: result.clone(),
            });
        }
        if result.is_ok()
            && journal.compaction_due()
            && let Err(e) = journal.compact()
        {
            tracing::warn!(error = %e, "journal compaction failed; the journal is still whole");
        }
    }
    journal
}
