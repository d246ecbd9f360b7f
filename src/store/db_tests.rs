use super::*;
use crate::store::queue::tests::entry;
use crate::store::{state, timeline};
use proptest::prelude::*;

fn serials(q: &Queue) -> Vec<String> {
    q.entries().iter().map(|e| e.serial.clone()).collect()
}

#[test]
fn a_new_store_is_wal_with_full_sync_at_the_latest_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (store, q, report) = Store::open(dir.path()).unwrap();
    assert!(report.created && q.is_empty() && report.notice.is_none());
    let c = store.conn();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let version: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), sync, version), ("wal", 2, schema::latest()));
    drop(store);
    let (_s, _, report) = Store::open(dir.path()).unwrap();
    assert!(!report.created);
}

#[test]
fn a_second_store_on_the_same_dir_gets_the_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _, _) = Store::open(dir.path()).unwrap();
    match Store::open(dir.path()).unwrap_err() {
        StoreError::Locked { dir: d, pid } => {
            assert_eq!(d, dir.path());
            assert_eq!(pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    Store::open(dir.path()).unwrap();
}

#[test]
fn the_queue_survives_a_reopen_in_scan_order_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _, _) = Store::open(dir.path()).unwrap();
    let mut b = entry("B2");
    b.note = Some("line one\nline two \"quoted\" é".into());
    b.scanned_at = chrono::DateTime::parse_from_rfc3339("2026-11-22T09:30:00.123456789Z")
        .unwrap()
        .to_utc();
    s.append(&[QueueEvent::Added(entry("C3")), QueueEvent::Added(b.clone())])
        .unwrap();
    s.append(&[
        QueueEvent::Added(entry("A1")),
        QueueEvent::State {
            serial: "c3".into(),
            state: EntryState::Uploading,
            message: Some("sent".into()),
        },
    ])
    .unwrap();
    assert_eq!(s.group_commits(), 2);
    drop(s);
    let (_s, q, report) = Store::open(dir.path()).unwrap();
    assert_eq!(serials(&q), ["C3", "B2", "A1"]);
    assert_eq!(report.entries, 3);
    assert_eq!(q.get("B2").unwrap(), &b);
    assert_eq!(q.get("C3").unwrap().attempts, 1);
}

#[test]
fn a_row_this_version_cannot_read_is_an_error_naming_table_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _, _) = Store::open(dir.path()).unwrap();
    s.append(&[QueueEvent::Added(entry("A1"))]).unwrap();
    s.conn()
        .execute("UPDATE queue SET state = 'teleported'", [])
        .unwrap();
    let e = s.queue().unwrap_err().to_string();
    assert!(
        e.contains("table queue, row 1") && e.contains("column state"),
        "{e}"
    );
    assert!(e.contains(DB_FILE), "{e}");
}

#[test]
fn timelines_and_keyed_state_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _, _) = Store::open(dir.path()).unwrap();
    let t = |m: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("2026-11-22T09:{m:02}:00Z"))
            .unwrap()
            .to_utc()
    };
    let change = |serial: &str, m, stage: &str| timeline::StageChange {
        serial: serial.into(),
        at: t(m),
        stage: stage.into(),
    };
    let changes = [
        change("a1", 1, "queued"),
        change("A1", 5, "registered"),
        change("B2", 2, "queued"),
        change("A1", 5, "registered"),
    ];
    s.write("save", |tx| timeline::record(tx, &changes))
        .unwrap();
    s.write("save", |tx| {
        state::put(tx, "notification_sent", "A1/provisioned", &"teams")?;
        state::put(tx, "notification_sent", "B2/failed", &"servicenow")?;
        state::put(
            tx,
            "notification_sent",
            "A1/provisioned",
            &"teams+servicenow",
        )
    })
    .unwrap();
    drop(s);
    let (mut s, _, _) = Store::open(dir.path()).unwrap();
    let tl = timeline::load(s.conn(), s.path()).unwrap();
    assert_eq!(
        tl[&SerialKey::new("A1")],
        [
            (t(1), "queued".to_string()),
            (t(5), "registered".to_string())
        ]
    );
    assert_eq!(tl[&SerialKey::new("B2")].len(), 1);
    let got: Option<String> =
        state::get(s.conn(), s.path(), "notification_sent", "A1/provisioned").unwrap();
    assert_eq!(got.as_deref(), Some("teams+servicenow"));
    let all: Vec<(String, String)> = state::all(s.conn(), s.path(), "notification_sent").unwrap();
    assert_eq!(all.len(), 2);
    s.write("forget", |tx| {
        timeline::forget(tx, &[SerialKey::new("a1")])?;
        state::delete(tx, "notification_sent", "B2/failed")
    })
    .unwrap();
    assert!(
        !timeline::load(s.conn(), s.path())
            .unwrap()
            .contains_key(&SerialKey::new("A1"))
    );
    let all: Vec<(String, String)> = state::all(s.conn(), s.path(), "notification_sent").unwrap();
    assert_eq!(all.len(), 1);
}

const SERIALS: [&str; 4] = ["A1", "b2", "C3", "D4"];

fn any_state() -> impl Strategy<Value = EntryState> {
    prop_oneof![
        Just(EntryState::Queued),
        Just(EntryState::Uploading),
        Just(EntryState::Registered),
        Just(EntryState::Rejected),
        Just(EntryState::Failed),
    ]
}

fn any_event() -> impl Strategy<Value = QueueEvent> {
    let serial = (0..SERIALS.len()).prop_map(|i| SERIALS[i].to_string());
    let text = proptest::option::of("[a-z \n\"\\\\é]{0,12}");
    prop_oneof![
        3 => serial.clone().prop_map(|s| QueueEvent::Added(entry(&s))),
        3 => (serial.clone(), any_state(), text.clone())
            .prop_map(|(s, st, m)| QueueEvent::State { serial: s, state: st, message: m }),
        1 => serial.clone().prop_map(|s| QueueEvent::Removed { serial: s.to_lowercase() }),
        1 => (serial.clone(), text.clone()).prop_map(|(s, n)| QueueEvent::Note { serial: s, note: n }),
        1 => (serial.clone(), "[a-z ]{1,10}")
            .prop_map(|(s, r)| QueueEvent::MarkedFailed { serial: s, reason: r }),
        1 => (proptest::collection::vec(serial.clone(), 0..3), text.clone(), text)
            .prop_map(|(serials, model, profile)| QueueEvent::Edited {
                serials, manufacturer: None, model, profile,
            }),
        1 => (serial, "[0-9a-f]{8}")
            .prop_map(|(s, id)| QueueEvent::Imported { serial: s, imported_id: id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any history, committed in any grouping, reads back as exactly the queue that applying it
    /// in memory gives (the SQL and `apply` mean the same), also after a reopen.
    #[test]
    fn any_history_reads_back_as_the_in_memory_queue(
        groups in proptest::collection::vec(proptest::collection::vec(any_event(), 0..6), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _, _) = Store::open(dir.path()).unwrap();
        let mut expected = Queue::new();
        for group in &groups {
            s.append(group).unwrap();
            for ev in group {
                apply(&mut expected, ev);
            }
            prop_assert_eq!(s.queue().unwrap(), expected.clone());
        }
        drop(s);
        let (_s, q, _) = Store::open(dir.path()).unwrap();
        prop_assert_eq!(q, expected);
    }
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _, _) = Store::open(dir.path()).unwrap();
    s.append(&[QueueEvent::Added(entry("A1"))]).unwrap();
    for name in [DB_FILE.to_string(), format!("{DB_FILE}-wal")] {
        let mode = std::fs::metadata(dir.path().join(&name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
}
