//! The SQLite store on real files, through the store thread: acknowledgements in order and only
//! once committed, a group that cannot be committed (SQLite's "database or disk is full", as on a
//! full disk) leaves nothing behind and the intake pane never says "queued", one audit writer in
//! request order, and the thread serving a single-threaded runtime.

use std::sync::mpsc as std_mpsc;

use chrono::{TimeZone, Utc};
use stagehand::app::intake::FeedbackKind;
use stagehand::app::{App, Cmd, Msg, Pane};
use stagehand::config::{Config, IdentifierType, Platform};
use stagehand::store::{
    AuditLog, AuditRecord, EntryState, QueueEntry, QueueEvent, Store, StoreAck, spawn,
    spawn_with_audit,
};

fn entry(serial: &str) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: "Standard".into(),
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap(),
        bench: "BENCH-01".into(),
        state: EntryState::Queued,
        message: None,
        note: None,
        imported_id: None,
        attempts: 0,
    }
}

fn added(serial: &str) -> QueueEvent {
    QueueEvent::Added(entry(serial))
}

#[test]
fn the_store_thread_acks_every_ticket_in_order_and_a_reopen_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = Store::open(dir.path()).unwrap();
    let (store, mut acks) = spawn(db);
    for i in 0..300u64 {
        store.append(vec![added(&format!("T{i:04}"))], i).unwrap();
    }
    for i in 0..400u64 {
        let state = if i % 2 == 0 {
            EntryState::Uploading
        } else {
            EntryState::Failed
        };
        let ev = QueueEvent::State {
            serial: "T0000".into(),
            state,
            message: None,
        };
        store.append(vec![ev], 1000 + i).unwrap();
    }
    store.append(Vec::new(), 9999).unwrap();
    let expected: Vec<u64> = (0..300).chain(1000..1400).chain([9999]).collect();
    let mut tickets = Vec::new();
    while tickets.len() < expected.len() {
        let ack = acks.blocking_recv().expect("store thread ended early");
        assert_eq!(ack.result, Ok(()), "ticket {}", ack.ticket);
        tickets.push(ack.ticket);
    }
    assert_eq!(tickets, expected);
    let (db, _) = store.shutdown().unwrap();
    assert!(db.group_commits() <= 700, "{}", db.group_commits());
    drop(db);
    let (_db, q, report) = Store::open(dir.path()).unwrap();
    assert_eq!((q.len(), report.entries), (300, 300));
    assert_eq!(q.get("T0000").unwrap().attempts, 200);
    assert_eq!(q.entries()[299].serial, "T0299");
}

/// The store thread stops inside a job until `go` is sent; returns once it is stopped there, so
/// everything sent meanwhile is drained as one group.
fn hold(
    store: &stagehand::store::StoreHandle,
) -> (std_mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (go_tx, go_rx) = std_mpsc::channel::<()>();
    let (in_tx, in_rx) = std_mpsc::channel::<()>();
    let client = store.client().unwrap();
    let gate = std::thread::spawn(move || {
        client
            .call_blocking(move |_| {
                in_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Ok(())
            })
            .unwrap();
    });
    in_rx.recv().unwrap();
    (go_tx, gate)
}

/// A full disk in the middle of a 100-serial paste: the group is refused whole, the pane shows
/// each serial as not saved (never "queued"), and after a restart nothing of it is queued.
#[test]
fn a_full_disk_mid_paste_of_100_serials_leaves_nothing_queued_and_the_pane_never_said_queued() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = Store::open(dir.path()).unwrap();
    let pages: u32 = db
        .conn()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // SQLite answers SQLITE_FULL ("database or disk is full") once the file would grow past this:
    // the same error, and the same path through the code, as ENOSPC on a full disk.
    db.conn()
        .execute_batch(&format!("PRAGMA max_page_count = {}", pages + 3))
        .unwrap();
    let (store, mut acks) = spawn(db);

    let mut app = App::new(Config::default(), Utc::now());
    app.focus = Pane::Intake;
    let serials: Vec<String> = (0..100).map(|i| format!("PF{i:06}NOSPACEXX")).collect();
    let cmds = app.update(Msg::Paste(serials.join("\n")));
    let (go, gate) = hold(&store);
    let mut tickets = 0;
    for cmd in cmds {
        if let Cmd::Store { ticket, events } = cmd {
            store.append(events, ticket).unwrap();
            tickets += 1;
        }
    }
    assert_eq!(tickets, 100, "one save per pasted serial");
    go.send(()).unwrap();
    gate.join().unwrap();
    let mut failed = 0;
    for _ in 0..tickets {
        let ack: StoreAck = acks.blocking_recv().unwrap();
        let err = ack.result.clone().unwrap_err();
        assert!(err.contains("full"), "{err}");
        failed += 1;
        app.update(Msg::Stored(ack));
        let fb = app.intake.feedback.as_ref().unwrap();
        assert!(
            !matches!(fb.kind, FeedbackKind::Queued | FeedbackKind::Notice),
            "said queued: {}",
            fb.text
        );
        assert!(!fb.text.contains("queued"), "{}", fb.text);
    }
    assert_eq!(failed, 100);
    assert!(app.intake.queue.is_empty(), "nothing shown as queued");
    let (db, _) = store.shutdown().unwrap();
    drop(db);
    let (_db, q, _) = Store::open(dir.path()).unwrap();
    assert!(
        serials.iter().all(|s| !q.contains(s)),
        "after a restart nothing of the failed group is queued: {}",
        q.len()
    );
}

/// Audit records from many clients and ticketed requests land in the order they were made, each
/// on its own line, and each is durable when it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_audit_writer_keeps_request_order_across_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = Store::open(dir.path()).unwrap();
    let (store, _acks) = spawn_with_audit(db, AuditLog::open(dir.path()).unwrap());
    let mut tasks = Vec::new();
    for t in 0..4 {
        let client = store.client().unwrap();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let mut r = AuditRecord::before(Utc::now(), &format!("actor{t}"), "sync");
                r.serial = Some(format!("{t}-{i:02}"));
                client.audit(r).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let read = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert!(read.damaged.is_empty());
    assert_eq!(read.records.len(), 200);
    for t in 0..4 {
        let mine: Vec<String> = read
            .records
            .iter()
            .filter(|r| r.actor == format!("actor{t}"))
            .map(|r| r.serial.clone().unwrap())
            .collect();
        let want: Vec<String> = (0..50).map(|i| format!("{t}-{i:02}")).collect();
        assert_eq!(mine, want, "each client's records in its order");
    }
    tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
}

/// The UI loop's view: a single-threaded runtime sends scans and awaits acks. The store's own
/// blocking receive must not run on the runtime (tokio panics on `blocking_recv` there).
#[tokio::test(flavor = "current_thread")]
async fn the_store_thread_serves_a_single_threaded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _) = Store::open(dir.path()).unwrap();
    let (store, mut acks) = spawn(db);
    for i in 0..200u64 {
        store.append(vec![added(&format!("U{i:03}"))], i).unwrap();
    }
    let mut next = 0u64;
    while next < 200 {
        let ack = tokio::time::timeout(std::time::Duration::from_secs(60), acks.recv())
            .await
            .expect("no ack within the timeout")
            .expect("store thread ended");
        assert_eq!((ack.ticket, ack.result), (next, Ok(())));
        next += 1;
    }
    let (db, _) = tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
    assert_eq!(db.queue().unwrap().len(), 200);
}
