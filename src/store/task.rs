//! The store task: the UI hands it journal events and audit records without waiting, a dedicated
//! thread writes them in groups (for everything queued: one journal write + one fsync, one audit
//! write + one fsync) and answers each ticket with a [`StoreAck`].
//!
//! The IO runs on its own OS thread rather than on a tokio worker, so a slow disk never stalls the
//! runtime; the channels are tokio's so the UI loop can `select!` on the acknowledgements. Nothing
//! here needs a runtime: `spawn` works from plain threads too (tests, benches, the headless commands).
//! A failed write acknowledges its tickets with `Err`: those events are not durable and the caller
//! must keep them (the journal rewrites itself from memory before its next append).

use std::thread::JoinHandle;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::audit::{AuditLog, AuditRecord};
use super::journal::Journal;
use super::queue::QueueEvent;

/// The answer to one request: `Ok` means everything of that ticket is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAck {
    pub ticket: u64,
    pub result: Result<(), String>,
}

/// The store task is gone (it panicked or was shut down); nothing more can be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the store task has stopped: nothing more can be saved")]
pub struct StoreClosed;

enum Request {
    Append(Vec<QueueEvent>, u64),
    Audit(Box<AuditRecord>, u64),
}

impl Request {
    fn ticket(&self) -> u64 {
        match self {
            Request::Append(_, t) | Request::Audit(_, t) => *t,
        }
    }
}

/// The UI's end of the store task.
pub struct StoreHandle {
    tx: Option<UnboundedSender<Request>>,
    thread: Option<JoinHandle<(Journal, Option<AuditLog>)>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = self.tx.as_ref().is_some_and(|tx| !tx.is_closed());
        write!(f, "StoreHandle {{ open: {open} }}")
    }
}

/// Starts the store task for the journal only. Acknowledgements arrive on the returned receiver in
/// the order the requests were made.
pub fn spawn(journal: Journal) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    start(journal, None)
}

/// Starts the store task for the journal and the audit log.
pub fn spawn_with_audit(
    journal: Journal,
    audit: AuditLog,
) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    start(journal, Some(audit))
}

fn start(journal: Journal, audit: Option<AuditLog>) -> (StoreHandle, UnboundedReceiver<StoreAck>) {
    let (tx, rx) = unbounded_channel();
    let (ack_tx, ack_rx) = unbounded_channel();
    let thread = std::thread::Builder::new()
        .name("stagehand-store".into())
        .spawn(move || run(journal, audit, rx, ack_tx))
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
        self.send(Request::Append(events, ticket))
    }

    /// Queues one audit record under `ticket`; never blocks. Wait for its `Ok` ack before making
    /// the change it announces. Acknowledged with `Err` when the task has no audit log.
    pub fn audit(&self, record: AuditRecord, ticket: u64) -> Result<(), StoreClosed> {
        self.send(Request::Audit(Box::new(record), ticket))
    }

    fn send(&self, request: Request) -> Result<(), StoreClosed> {
        let tx = self.tx.as_ref().ok_or(StoreClosed)?;
        tx.send(request).map_err(|_| StoreClosed)
    }

    /// Stops accepting work, waits (blocking) until everything queued is written and acknowledged,
    /// and returns the journal and audit log. For orderly exit and tests; call it off the async
    /// workers (e.g. in `spawn_blocking`).
    pub fn shutdown(mut self) -> Result<(Journal, Option<AuditLog>), StoreClosed> {
        self.tx = None;
        let thread = self.thread.take().ok_or(StoreClosed)?;
        thread.join().map_err(|_| StoreClosed)
    }
}

fn run(
    mut journal: Journal,
    mut audit: Option<AuditLog>,
    mut rx: UnboundedReceiver<Request>,
    acks: UnboundedSender<StoreAck>,
) -> (Journal, Option<AuditLog>) {
    let mut batch: Vec<Request> = Vec::new();
    let mut events: Vec<QueueEvent> = Vec::new();
    let mut records: Vec<AuditRecord> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let tickets: Vec<(u64, bool)> = batch
            .iter()
            .map(|r| (r.ticket(), matches!(r, Request::Audit(..))))
            .collect();
        events.clear();
        records.clear();
        for r in batch.drain(..) {
            match r {
                Request::Append(mut e, _) => events.append(&mut e),
                Request::Audit(rec, _) => records.push(*rec),
            }
        }
        // The audit log first: a before-record must never be later than the change it announces.
        let audited = match (&mut audit, records.is_empty()) {
            (_, true) => Ok(()),
            (Some(log), false) => log.append_all(&records).map_err(|e| e.to_string()),
            (None, false) => Err("this store task has no audit log".to_string()),
        };
        let journaled = journal.append(&events).map_err(|e| e.to_string());
        for result in [&audited, &journaled] {
            if let Err(e) = result {
                tracing::error!(error = %e, "store write failed");
            }
        }
        for (ticket, is_audit) in tickets {
            let result = if is_audit { &audited } else { &journaled };
            // A dropped receiver means the UI is gone; the data is on disk regardless.
            let _ = acks.send(StoreAck {
                ticket,
                result: result.clone(),
            });
        }
        if journaled.is_ok()
            && journal.compaction_due()
            && let Err(e) = journal.compact()
        {
            tracing::warn!(error = %e, "journal compaction failed; the journal is still whole");
        }
    }
    (journal, audit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::AuditPhase;
    use crate::store::queue::tests::entry;
    use chrono::Utc;

    #[test]
    fn audit_and_journal_requests_are_written_and_acked_in_request_order() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = Journal::open(dir.path()).unwrap();
        let audit = AuditLog::open(dir.path()).unwrap();
        let (store, mut acks) = spawn_with_audit(journal, audit);
        let before = AuditRecord::before(Utc::now(), "lead@contoso.com", "delete_identifier");
        let after = before.after(Utc::now(), "ok");
        store.audit(before.clone(), 1).unwrap();
        store
            .append(vec![QueueEvent::Added(entry("A1"))], 2)
            .unwrap();
        store.audit(after.clone(), 3).unwrap();
        let got: Vec<StoreAck> = (0..3).map(|_| acks.blocking_recv().unwrap()).collect();
        assert_eq!(got.iter().map(|a| a.ticket).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(got.iter().all(|a| a.result.is_ok()), "{got:?}");

        let (journal, audit) = store.shutdown().unwrap();
        assert!(journal.queue().contains("A1"));
        let read = audit.unwrap().read_all().unwrap();
        assert_eq!(read.records, vec![before, after]);
        assert_eq!(read.records[1].phase, AuditPhase::After);
    }

    #[test]
    fn an_audit_request_without_an_audit_log_is_refused_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = Journal::open(dir.path()).unwrap();
        let (store, mut acks) = spawn(journal);
        store
            .audit(AuditRecord::before(Utc::now(), "lead", "wipe"), 7)
            .unwrap();
        let ack = acks.blocking_recv().unwrap();
        assert_eq!(ack.ticket, 7);
        assert!(ack.result.unwrap_err().contains("no audit log"));
        assert!(!dir.path().join(crate::store::audit::AUDIT_FILE).exists());
    }

    #[test]
    fn shutdown_writes_and_acknowledges_everything_already_queued() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _, _) = Journal::open(dir.path()).unwrap();
        let (store, mut acks) = spawn(journal);
        for i in 0..50u64 {
            let scan = QueueEvent::Added(entry(&format!("S{i:02}")));
            store.append(vec![scan], i).unwrap();
        }
        let (journal, audit) = store.shutdown().unwrap();
        assert!(audit.is_none());
        assert_eq!(journal.records(), 50);
        let tickets: Vec<u64> = std::iter::from_fn(|| acks.try_recv().ok())
            .map(|a| {
                assert_eq!(a.result, Ok(()));
                a.ticket
            })
            .collect();
        assert_eq!(tickets, (0..50).collect::<Vec<_>>());
    }
}
