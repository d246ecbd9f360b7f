//! The store thread: the one writer of the database and of the audit log. The UI hands it queue
//! events and audit records without waiting; feeds and commands hand it audit records and other
//! changes through a [`StoreClient`] and await the answer.
//!
//! It writes in groups: for everything queued at once, the audit records first (one write, one
//! fsync: a before-record is never later than the change it announces), then the queue events as
//! one transaction (one commit), then the other changes in request order, each in its own
//! transaction. Each request is answered only after its group is durable; a failed group is
//! answered `Err` for every request in it and leaves nothing of it behind.
//!
//! The IO runs on its own OS thread rather than a tokio worker, so a slow disk never stalls the
//! runtime; nothing here needs a runtime, so tests, benches and the headless commands use it too.

use std::thread::JoinHandle;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use super::StoreError;
use super::audit::{AuditLog, AuditRecord, AuditSink};
use super::db::Store;
use super::queue::QueueEvent;
use super::rejections::{self, RejectionLine, Rejections};
use super::timeline::{self, StageChange};

/// The answer to one ticketed request: `Ok` means everything of that ticket is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAck {
    pub ticket: u64,
    pub result: Result<(), String>,
}

/// The store thread is gone (it panicked or was shut down); nothing more can be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store task has stopped: nothing more can be saved")]
pub struct StoreClosed;

/// Where ticketed acknowledgements go: a channel for tests and commands, the runtime's message
/// channel for the console (see `runtime::Inbox::feeds`).
pub type AckSink = Box<dyn FnMut(StoreAck) + Send>;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

enum Answer {
    Ticket(u64),
    Reply(oneshot::Sender<Result<(), String>>),
}

enum Request {
    Queue(Vec<QueueEvent>, u64),
    Audit(Box<AuditRecord>, Answer),
    Call(Job),
    /// Write and answer everything before it, then stop.
    Stop,
}

/// The owner's end of the store thread: sends, hands out clients, shuts down.
pub struct StoreHandle {
    client: Option<StoreClient>,
    thread: Option<JoinHandle<(Store, Option<AuditLog>)>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.client.as_ref().is_some_and(|c| !c.tx.is_closed());
        write!(f, "StoreHandle {{ open: {open} }}")
    }
}

/// A cheap, cloneable sender to the store thread, for tasks that await their answers.
#[derive(Clone)]
pub struct StoreClient {
    tx: UnboundedSender<Request>,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreClient {{ open: {} }}", !self.tx.is_closed())
    }
}

/// Starts the store thread without an audit log. Acknowledgements arrive on the returned receiver
/// in request order.
pub fn spawn(store: Store) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    let (tx, rx) = unbounded_channel();
    let handle = spawn_to(
        store,
        None,
        Box::new(move |ack| {
            let _ = tx.send(ack);
        }),
    );
    (handle, rx)
}

/// Starts the store thread with the audit log; acknowledgements on the returned receiver.
pub fn spawn_with_audit(
    store: Store,
    audit: AuditLog,
) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    let (tx, rx) = unbounded_channel();
    let handle = spawn_to(
        store,
        Some(audit),
        Box::new(move |ack| {
            let _ = tx.send(ack);
        }),
    );
    (handle, rx)
}

/// Starts the store thread; every ticketed acknowledgement is handed to `acks` on that thread.
pub fn spawn_to(store: Store, audit: Option<AuditLog>, acks: AckSink) -> StoreHandle {
    let (tx, rx) = unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("stagehand-store".into())
        .spawn(move || run(store, audit, rx, acks))
        .expect("the OS refused to start the store thread");
    StoreHandle {
        client: Some(StoreClient { tx }),
        thread: Some(thread),
    }
}

/// The store thread for a headless command: takes the data-dir lock, opens the database and the
/// audit log. Its work is awaited through [`StoreHandle::client`]; there are no tickets.
pub fn open_headless(dir: &std::path::Path) -> Result<StoreHandle, StoreError> {
    let (store, _, _) = Store::open(dir)?;
    let audit = AuditLog::open(dir)?;
    Ok(spawn_to(store, Some(audit), Box::new(|_| {})))
}

impl StoreHandle {
    /// Queues `events` to be made durable as one group under `ticket`; never blocks. An empty
    /// `events` still gets an acknowledgement once everything queued before it is durable.
    pub fn append(&self, events: Vec<QueueEvent>, ticket: u64) -> Result<(), StoreClosed> {
        self.client()?.send(Request::Queue(events, ticket))
    }

    /// Queues one audit record under `ticket`; never blocks. Wait for its `Ok` ack before making
    /// the change it announces. Acknowledged with `Err` when the thread has no audit log.
    pub fn audit(&self, record: AuditRecord, ticket: u64) -> Result<(), StoreClosed> {
        self.client()?
            .send(Request::Audit(Box::new(record), Answer::Ticket(ticket)))
    }

    /// A client for tasks that await their answers.
    pub fn client(&self) -> Result<StoreClient, StoreClosed> {
        self.client.clone().ok_or(StoreClosed)
    }

    /// Waits (blocking) until everything queued before this call is written and answered, stops
    /// the thread (later requests from clients get [`StoreClosed`]) and returns the store and audit
    /// log. For orderly exit and tests; call it off the async workers (e.g. in `spawn_blocking`).
    pub fn shutdown(mut self) -> Result<(Store, Option<AuditLog>), StoreClosed> {
        if let Some(c) = self.client.take() {
            let _ = c.send(Request::Stop);
        }
        let thread = self.thread.take().ok_or(StoreClosed)?;
        thread.join().map_err(|_| StoreClosed)
    }
}

impl StoreClient {
    fn send(&self, request: Request) -> Result<(), StoreClosed> {
        self.tx.send(request).map_err(|_| StoreClosed)
    }

    /// Writes one audit record; resolves once it is durable.
    pub async fn audit(&self, record: AuditRecord) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Audit(Box::new(record), Answer::Reply(tx)))
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|_| StoreClosed.to_string())?
    }

    /// Runs `f` on the store thread (in request order with everything else) and returns its
    /// answer. Use [`Store::write`] inside for a transaction.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Call(Box::new(move |s| {
            let _ = tx.send(f(s).map_err(|e| e.to_string()));
        })))
        .map_err(|e| e.to_string())?;
        rx.await.map_err(|_| StoreClosed.to_string())?
    }

    /// [`StoreClient::call`] from a plain thread (never from async code: it blocks).
    pub fn call_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Request::Call(Box::new(move |s| {
            let _ = tx.send(f(s).map_err(|e| e.to_string()));
        })))
        .map_err(|e| e.to_string())?;
        rx.blocking_recv().map_err(|_| StoreClosed.to_string())?
    }

    /// Makes rejection changes durable (one transaction).
    pub async fn apply_rejections(&self, lines: Vec<RejectionLine>) -> Result<(), String> {
        self.call(move |s| {
            s.write("save the rejections", |tx| {
                rejections::apply_lines(tx, &lines)
            })
        })
        .await
    }

    /// The rejections in force, as committed.
    pub async fn rejections(&self) -> Result<Rejections, String> {
        self.call(|s| rejections::load_from(s.conn(), s.path()))
            .await
    }

    /// Every tracked device's observed stage changes, as committed.
    pub async fn timelines(&self) -> Result<timeline::Timelines, String> {
        self.call(|s| timeline::load(s.conn(), s.path())).await
    }

    /// Forgets the timelines of devices last seen changing before `before` (one transaction);
    /// answers how many devices were forgotten.
    pub async fn prune_timelines(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, String> {
        self.call(move |s| {
            let gone = timeline::stale(&timeline::load(s.conn(), s.path())?, before);
            if !gone.is_empty() {
                s.write("forget old stage timelines", |tx| {
                    timeline::forget(tx, &gone)
                })?;
            }
            Ok(gone.len())
        })
        .await
    }

    /// Records observed stage changes (one transaction).
    pub async fn record_stages(&self, changes: Vec<StageChange>) -> Result<(), String> {
        self.call(move |s| {
            s.write("save the stage timeline", |tx| {
                timeline::record(tx, &changes)
            })
        })
        .await
    }
}

impl AuditSink for StoreClient {
    fn record(&self, record: AuditRecord) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(self.audit(record))
    }
}

fn run(
    mut store: Store,
    mut audit: Option<AuditLog>,
    mut rx: UnboundedReceiver<Request>,
    mut acks: AckSink,
) -> (Store, Option<AuditLog>) {
    let mut batch: Vec<Request> = Vec::new();
    let mut events: Vec<QueueEvent> = Vec::new();
    let mut records: Vec<AuditRecord> = Vec::new();
    // In request order: (answer, is the answer the audit group's).
    let mut answers: Vec<(Answer, bool)> = Vec::new();
    let mut calls: Vec<Job> = Vec::new();
    let mut stop = false;
    while !stop && let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        if let Some(i) = batch.iter().position(|r| matches!(r, Request::Stop)) {
            // Requests after the stop are refused: their senders see the channel close.
            batch.truncate(i);
            stop = true;
        }
        for r in batch.drain(..) {
            match r {
                Request::Queue(mut e, ticket) => {
                    events.append(&mut e);
                    answers.push((Answer::Ticket(ticket), false));
                }
                Request::Audit(rec, answer) => {
                    records.push(*rec);
                    answers.push((answer, true));
                }
                Request::Call(job) => calls.push(job),
                Request::Stop => {}
            }
        }
        let audited = match (&mut audit, records.is_empty()) {
            (_, true) => Ok(()),
            (Some(log), false) => log.append_all(&records).map_err(|e| e.to_string()),
            (None, false) => Err("this store task has no audit log".to_string()),
        };
        let saved = store.append(&events).map_err(|e| e.to_string());
        for result in [&audited, &saved] {
            if let Err(e) = result {
                tracing::error!(error = %e, "store write failed");
            }
        }
        for (answer, is_audit) in answers.drain(..) {
            let result = if is_audit { &audited } else { &saved }.clone();
            match answer {
                // A dropped receiver means the asker is gone; the data is on disk regardless.
                Answer::Ticket(ticket) => acks(StoreAck { ticket, result }),
                Answer::Reply(tx) => {
                    let _ = tx.send(result);
                }
            }
        }
        events.clear();
        records.clear();
        for job in calls.drain(..) {
            job(&mut store);
        }
        if rx.is_empty() {
            store.checkpoint_when_idle();
        }
    }
    (store, audit)
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
