use super::*;
use crate::store::queue::EntryState;
use crate::store::queue::tests::entry;

/// A line of the old journal format.
fn line(ev: &QueueEvent) -> Vec<u8> {
    let json = serde_json::to_vec(ev).unwrap();
    let mut out = format!("{:08x} {} ", crc32fast::hash(&json), json.len()).into_bytes();
    out.extend_from_slice(&json);
    out.push(b'\n');
    out
}

fn history() -> Vec<QueueEvent> {
    vec![
        QueueEvent::Added(entry("A1")),
        QueueEvent::Added(entry("B2")),
        QueueEvent::Added(entry("C3")),
        QueueEvent::State {
            serial: "A1".into(),
            state: EntryState::Uploading,
            message: None,
        },
        QueueEvent::State {
            serial: "A1".into(),
            state: EntryState::Registered,
            message: Some("imported".into()),
        },
        QueueEvent::MarkedFailed {
            serial: "B2".into(),
            reason: "cracked screen".into(),
        },
        QueueEvent::Removed {
            serial: "C3".into(),
        },
    ]
}

fn journal_bytes(events: &[QueueEvent]) -> Vec<u8> {
    events.iter().flat_map(line).collect()
}

#[test]
fn an_old_journal_is_imported_once_and_kept_as_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = journal_bytes(&history());
    std::fs::write(dir.path().join(JOURNAL_FILE), &bytes).unwrap();
    std::fs::write(dir.path().join(JOURNAL_TMP), b"half a compaction").unwrap();
    let mut expected = Queue::new();
    for ev in history() {
        apply(&mut expected, &ev);
    }
    let (store, queue, report) = Store::open(dir.path()).unwrap();
    assert_eq!(queue, expected);
    assert_eq!(report.imported, [JOURNAL_FILE]);
    assert!(report.notice.is_none());
    let a1 = queue.get("A1").unwrap();
    assert_eq!((a1.state, a1.attempts), (EntryState::Registered, 1));
    assert!(!dir.path().join(JOURNAL_FILE).exists());
    assert!(!dir.path().join(JOURNAL_TMP).exists());
    let kept = dir.path().join(format!("{JOURNAL_FILE}{MIGRATED}"));
    assert_eq!(std::fs::read(kept).unwrap(), bytes);
    drop(store);
    let (_store, again, report) = Store::open(dir.path()).unwrap();
    assert_eq!(again, expected);
    assert!(report.imported.is_empty());
}

#[test]
fn a_crash_between_the_import_commit_and_the_rename_imports_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = journal_bytes(&history());
    std::fs::write(dir.path().join(JOURNAL_FILE), &bytes).unwrap();
    let (store, first, _) = Store::open(dir.path()).unwrap();
    drop(store);
    // As if the rename never happened: the old file is back, and the database has the marker.
    let kept = dir.path().join(format!("{JOURNAL_FILE}{MIGRATED}"));
    std::fs::rename(&kept, dir.path().join(JOURNAL_FILE)).unwrap();
    let (mut store, _, _) = Store::open(dir.path()).unwrap();
    // A change made after the import must survive a second look at the old file.
    store
        .append(&[QueueEvent::Removed {
            serial: "A1".into(),
        }])
        .unwrap();
    drop(store);
    std::fs::rename(&kept, dir.path().join(JOURNAL_FILE)).unwrap();
    let (_store, q, report) = Store::open(dir.path()).unwrap();
    assert_eq!(report.imported, [JOURNAL_FILE]);
    assert_eq!(q.len(), first.len() - 1);
    assert!(!q.contains("A1"));
}

#[test]
fn a_torn_last_record_at_every_byte_is_dropped_and_said() {
    let events = history();
    let good = journal_bytes(&events[..6]);
    let full = journal_bytes(&events);
    let mut before = Queue::new();
    for ev in &events[..6] {
        apply(&mut before, ev);
    }
    for cut in good.len() + 1..full.len() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), &full[..cut]).unwrap();
        let (_s, q, report) = Store::open(dir.path()).unwrap();
        assert_eq!(q, before, "cut at {cut}");
        let notice = report
            .notice
            .unwrap_or_else(|| panic!("cut at {cut}: not said"));
        assert!(notice.contains("line 7"), "{notice}");
    }
}

#[test]
fn a_garbled_middle_record_is_an_error_naming_the_line_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = journal_bytes(&history());
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second + 20] ^= 0x04;
    let path = dir.path().join(JOURNAL_FILE);
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    match &err {
        StoreError::Corrupt { file, line, reason } => {
            assert_eq!((file, *line), (&path, 2));
            assert_eq!(reason, "checksum mismatch");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("{}:2:", path.display())));
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left untouched");
}

#[test]
fn an_intact_record_of_an_unknown_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = journal_bytes(&history());
    let json = br#"{"teleported":{"serial":"A1"}}"#;
    bytes.extend(format!("{:08x} {} ", crc32fast::hash(json), json.len()).into_bytes());
    bytes.extend_from_slice(json);
    bytes.push(b'\n');
    std::fs::write(dir.path().join(JOURNAL_FILE), &bytes).unwrap();
    match Store::open(dir.path()).unwrap_err() {
        StoreError::Unknown { line, .. } => assert_eq!(line, 8),
        other => panic!("expected Unknown, got {other:?}"),
    }
}
