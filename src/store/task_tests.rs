use super::*;
use crate::store::audit::AuditPhase;
use crate::store::queue::tests::entry;
use chrono::Utc;

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir).unwrap().0
}

#[test]
fn audit_and_queue_requests_are_written_and_acked_in_request_order() {
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::open(dir.path()).unwrap();
    let (store, mut acks) = spawn_with_audit(open(dir.path()), audit);
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

    let (db, audit) = store.shutdown().unwrap();
    assert!(db.queue().unwrap().contains("A1"));
    let read = audit.unwrap().read_all().unwrap();
    assert_eq!(read.records, vec![before, after]);
    assert_eq!(read.records[1].phase, AuditPhase::After);
}

#[test]
fn an_audit_request_without_an_audit_log_is_refused_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut acks) = spawn(open(dir.path()));
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
    let (store, mut acks) = spawn(open(dir.path()));
    for i in 0..50u64 {
        let scan = QueueEvent::Added(entry(&format!("S{i:02}")));
        store.append(vec![scan], i).unwrap();
    }
    let (db, audit) = store.shutdown().unwrap();
    assert!(audit.is_none());
    assert_eq!(db.queue().unwrap().len(), 50);
    let tickets: Vec<u64> = std::iter::from_fn(|| acks.try_recv().ok())
        .map(|a| {
            assert_eq!(a.result, Ok(()));
            a.ticket
        })
        .collect();
    assert_eq!(tickets, (0..50).collect::<Vec<_>>());
}

#[test]
fn a_client_is_answered_in_order_and_refused_once_the_thread_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::open(dir.path()).unwrap();
    let (store, _acks) = spawn_with_audit(open(dir.path()), audit);
    let client = store.client().unwrap();
    let line = RejectionLine::Rejected(crate::store::rejections::Rejection {
        device_id: "d1".into(),
        serial: "A1".into(),
        fingerprint: "fp".into(),
        proposed_upn: None,
        by: "lead@contoso.com".into(),
        at: Utc::now(),
    });
    let c2 = client.clone();
    std::thread::spawn(move || {
        c2.call_blocking(move |s| s.write("save", |tx| rejections::apply_lines(tx, &[line])))
    })
    .join()
    .unwrap()
    .unwrap();
    let seen = client
        .call_blocking(|s| rejections::load_from(s.conn(), s.path()))
        .unwrap();
    assert!(seen.matching("d1", "fp").is_some());
    store.shutdown().unwrap();
    let err = client.call_blocking(|_| Ok(())).unwrap_err();
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn a_group_that_cannot_be_committed_is_refused_whole_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // SQLite's own "database or disk is full" (SQLITE_FULL), as on a full disk: the database may
    // not grow past its current size plus a few pages, which a 100-serial group does.
    let pages: u32 = db
        .conn()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    db.conn()
        .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 2))
        .unwrap();
    let (store, mut acks) = spawn(db);
    store
        .append(vec![QueueEvent::Added(entry("FIRST"))], 1)
        .unwrap();
    assert_eq!(acks.blocking_recv().unwrap().result, Ok(()));
    let batch: Vec<QueueEvent> = (0..100)
        .map(|i| {
            let mut e = entry(&format!("BATCH{i:03}"));
            e.note = Some("x".repeat(400));
            QueueEvent::Added(e)
        })
        .collect();
    store.append(batch, 2).unwrap();
    let ack = acks.blocking_recv().unwrap();
    assert_eq!(ack.ticket, 2);
    let err = ack.result.unwrap_err();
    assert!(err.contains("full"), "{err}");
    let (db, _) = store.shutdown().unwrap();
    drop(db);
    let (_db, queue, _) = Store::open(dir.path()).unwrap();
    let serials: Vec<&str> = queue.entries().iter().map(|e| e.serial.as_str()).collect();
    assert_eq!(serials, ["FIRST"], "nothing of the failed group");
}
