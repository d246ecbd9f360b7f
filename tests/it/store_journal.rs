//! The queue journal on real files: replay, torn tails at every byte, damage in the middle, the
//! in-process lock, compaction and the store task.

use std::path::Path;

use chrono::{TimeZone, Utc};
use stagehand::config::{IdentifierType, Platform};
use stagehand::store::journal::{CompactionPolicy, JOURNAL_FILE, JOURNAL_TMP};
use stagehand::store::{EntryState, Journal, Queue, QueueEntry, QueueEvent, StoreError, spawn};

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

fn state(serial: &str, s: EntryState, message: Option<&str>) -> QueueEvent {
    QueueEvent::State {
        serial: serial.into(),
        state: s,
        message: message.map(String::from),
    }
}

fn serials(q: &Queue) -> Vec<String> {
    q.entries().iter().map(|e| e.serial.clone()).collect()
}

/// A journal with a mixed history; returns the journal file's bytes.
fn write_history(dir: &Path) -> Vec<u8> {
    let (mut j, q, report) = Journal::open(dir).unwrap();
    assert!(report.created && q.is_empty() && report.torn.is_none());
    j.append(&[added("A1"), added("B2"), added("C3")]).unwrap();
    j.append(&[state("A1", EntryState::Uploading, None)])
        .unwrap();
    j.append(&[
        state("A1", EntryState::Registered, Some("imported")),
        QueueEvent::MarkedFailed {
            serial: "B2".into(),
            reason: "cracked screen".into(),
        },
        QueueEvent::Removed {
            serial: "C3".into(),
        },
    ])
    .unwrap();
    std::fs::read(dir.join(JOURNAL_FILE)).unwrap()
}

#[test]
fn replay_rebuilds_exactly_the_queue_that_was_written() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    let expected = {
        let (j, q, _) = Journal::open(dir.path()).unwrap();
        assert_eq!(j.queue(), &q);
        q
    };
    assert_eq!(serials(&expected), ["A1", "B2"]);
    let a1 = expected.get("a1").unwrap();
    assert_eq!((a1.state, a1.attempts), (EntryState::Registered, 1));
    assert_eq!(a1.message.as_deref(), Some("imported"));
    assert_eq!(
        expected.get("B2").unwrap().note.as_deref(),
        Some("cracked screen")
    );

    let (_j, q, report) = Journal::open(dir.path()).unwrap();
    assert_eq!(q, expected);
    assert_eq!(
        (report.records, report.entries, report.created),
        (7, 2, false)
    );
    assert!(report.torn.is_none());
}

#[test]
fn a_torn_last_record_at_every_byte_is_dropped_reported_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _, _) = Journal::open(dir.path()).unwrap();
    j.append(&[added("A1"), added("B2")]).unwrap();
    j.append(&[state("A1", EntryState::Uploading, None)])
        .unwrap();
    let before = j.queue().clone();
    let good_len = std::fs::metadata(j.path()).unwrap().len() as usize;
    let mut last = entry("C3");
    last.note = Some("scanned twice, second label".into());
    j.append(&[QueueEvent::Added(last)]).unwrap();
    let full = std::fs::read(j.path()).unwrap();
    drop(j);
    assert!(full.len() > good_len + 100);

    for cut in good_len + 1..full.len() {
        let case = tempfile::tempdir().unwrap();
        let path = case.path().join(JOURNAL_FILE);
        std::fs::write(&path, &full[..cut]).unwrap();
        let (mut j, q, report) = Journal::open(case.path()).unwrap();
        assert_eq!(q, before, "cut at {cut}");
        let torn = report
            .torn
            .as_ref()
            .unwrap_or_else(|| panic!("cut at {cut}: not reported"));
        assert_eq!(torn.line, 4, "cut at {cut}");
        assert_eq!(torn.offset as usize, good_len);
        assert_eq!(torn.bytes as usize, cut - good_len);
        assert!(report.to_string().contains("line 4"), "{report}");
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good_len);
        // The journal goes on cleanly from the last good record.
        j.append(&[added("D4")]).unwrap();
        drop(j);
        let (_j, q, report) = Journal::open(case.path()).unwrap();
        assert!(report.torn.is_none(), "cut at {cut}");
        assert_eq!(serials(&q), ["A1", "B2", "D4"]);
    }
}

#[test]
fn a_garbled_last_record_and_a_torn_group_are_dropped_whole() {
    let dir = tempfile::tempdir().unwrap();
    let full = write_history(dir.path());
    let lines: Vec<&[u8]> = full.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 7);
    let good: Vec<u8> = lines[..5].concat();

    // Line 6 garbled (a byte of its JSON flipped), line 7 cut short: one group commit, both bad.
    let mut six = lines[5].to_vec();
    let mid = six.len() / 2;
    six[mid] ^= 0x01;
    let seven = &lines[6][..lines[6].len() / 2];
    let case = tempfile::tempdir().unwrap();
    std::fs::write(
        case.path().join(JOURNAL_FILE),
        [&good[..], &six, seven].concat(),
    )
    .unwrap();
    let (_j, q, report) = Journal::open(case.path()).unwrap();
    let torn = report.torn.unwrap();
    assert_eq!((torn.line, torn.offset as usize), (6, good.len()));
    assert_eq!(torn.reason, "checksum mismatch");
    // Line 5 (the first record of that group) was intact and stays; 6 and 7 are gone.
    assert_eq!(serials(&q), ["A1", "B2", "C3"]);
    assert_eq!(q.get("A1").unwrap().state, EntryState::Registered);
    assert_eq!(q.get("B2").unwrap().state, EntryState::Queued);
}

#[test]
fn a_garbled_middle_record_is_an_error_naming_the_line_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let full = write_history(dir.path());
    let second_line = full.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut damaged = full.clone();
    damaged[second_line + 20] ^= 0x04;
    let path = dir.path().join(JOURNAL_FILE);
    std::fs::write(&path, &damaged).unwrap();

    let err = Journal::open(dir.path()).unwrap_err();
    match &err {
        StoreError::Corrupt { file, line, reason } => {
            assert_eq!(file, &path);
            assert_eq!(*line, 2);
            assert_eq!(reason, "checksum mismatch");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}:2:", path.display())), "{msg}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        damaged,
        "the file must not be touched"
    );
}

#[test]
fn an_intact_record_of_an_unknown_kind_is_refused_wherever_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let full = write_history(dir.path());
    let json = br#"{"teleported":{"serial":"A1"}}"#;
    // Built with the crate's own CRC so only the event kind is wrong.
    let crc = stagehand::store::crc32::crc32(json);
    let line = [
        format!("{crc:08x} {} ", json.len()).into_bytes(),
        json.to_vec(),
        b"\n".to_vec(),
    ]
    .concat();
    std::fs::write(dir.path().join(JOURNAL_FILE), [&full[..], &line].concat()).unwrap();
    match Journal::open(dir.path()).unwrap_err() {
        StoreError::Unknown { line, .. } => assert_eq!(line, 8),
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[test]
fn a_second_journal_on_the_same_dir_gets_the_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _, _) = Journal::open(dir.path()).unwrap();
    let err = Journal::open(dir.path()).unwrap_err();
    match &err {
        StoreError::Locked { dir: d, pid } => {
            assert_eq!(d, dir.path());
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(err.to_string().contains("another stagehand"), "{err}");
    drop(first);
    Journal::open(dir.path()).unwrap();
}

#[test]
fn compaction_keeps_the_queue_shrinks_the_file_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _, _) = Journal::open(dir.path()).unwrap();
    j.set_compaction_policy(CompactionPolicy {
        min_records: 50,
        ratio: 4,
    });
    let names: Vec<String> = (0..10).map(|i| format!("S{i:03}")).collect();
    j.append(&names.iter().map(|s| added(s)).collect::<Vec<_>>())
        .unwrap();
    for round in 0..8 {
        let s = if round % 2 == 0 {
            EntryState::Uploading
        } else {
            EntryState::Failed
        };
        j.append(
            &names
                .iter()
                .map(|n| state(n, s, Some("retry")))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    }
    j.append(&[QueueEvent::Removed {
        serial: "S004".into(),
    }])
    .unwrap();
    assert_eq!(j.records(), 91);
    assert!(j.compaction_due());
    let expected = j.queue().clone();
    let before_len = std::fs::metadata(j.path()).unwrap().len();

    j.compact().unwrap();
    assert_eq!(j.records(), 9);
    assert!(!j.compaction_due());
    assert!(std::fs::metadata(j.path()).unwrap().len() < before_len / 2);
    assert!(!dir.path().join(JOURNAL_TMP).exists());
    j.append(&[added("S100")]).unwrap();
    drop(j);

    let (_j, q, report) = Journal::open(dir.path()).unwrap();
    assert_eq!(report.records, 10);
    assert_eq!(&q.entries()[..9], expected.entries());
    assert_eq!(q.get("S000").unwrap().attempts, 4);
    assert_eq!(q.entries()[9].serial, "S100");
}

#[test]
fn a_leftover_compaction_file_is_discarded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path());
    std::fs::write(dir.path().join(JOURNAL_TMP), b"half a compaction").unwrap();
    let (_j, q, report) = Journal::open(dir.path()).unwrap();
    assert!(report.torn.is_none());
    assert_eq!(serials(&q), ["A1", "B2"]);
    assert!(!dir.path().join(JOURNAL_TMP).exists());
}

#[test]
fn the_store_task_acks_every_ticket_in_order_after_it_is_durable_and_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _, _) = Journal::open(dir.path()).unwrap();
    j.set_compaction_policy(CompactionPolicy {
        min_records: 200,
        ratio: 2,
    });
    let (store, mut acks) = spawn(j);
    for i in 0..300u64 {
        store.append(vec![added(&format!("T{i:04}"))], i).unwrap();
    }
    // Churn on one entry so compaction becomes due.
    for i in 0..400u64 {
        let s = if i % 2 == 0 {
            EntryState::Uploading
        } else {
            EntryState::Failed
        };
        store
            .append(vec![state("T0000", s, None)], 1000 + i)
            .unwrap();
    }
    store.append(Vec::new(), 9999).unwrap();
    let expected: Vec<u64> = (0..300).chain(1000..1400).chain([9999]).collect();
    let mut tickets = Vec::new();
    while tickets.len() < expected.len() {
        let ack = acks.blocking_recv().expect("store task ended early");
        assert_eq!(ack.result, Ok(()), "ticket {}", ack.ticket);
        tickets.push(ack.ticket);
    }
    assert_eq!(tickets, expected);

    let (journal, _) = store.shutdown().unwrap();
    assert!(
        journal.records() < 700,
        "compaction never ran: {}",
        journal.records()
    );
    let expected = journal.queue().clone();
    drop(journal);
    let (_j, q, report) = Journal::open(dir.path()).unwrap();
    assert!(report.torn.is_none());
    assert_eq!(q, expected);
    assert_eq!(q.len(), 300);
    assert_eq!(q.get("T0000").unwrap().attempts, 200);
}

mod property {
    use super::*;
    use proptest::prelude::*;
    use stagehand::store::queue::apply;

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
            3 => serial.clone().prop_map(|s| added(&s)),
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

        /// Any history, appended in any grouping, with or without a compaction in the middle,
        /// replays to exactly the queue that applying it in memory gives.
        #[test]
        fn any_history_replays_to_the_in_memory_queue(
            groups in proptest::collection::vec(proptest::collection::vec(any_event(), 0..6), 1..12),
            compact_after in 0usize..12,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (mut j, _, _) = Journal::open(dir.path()).unwrap();
            let mut expected = Queue::new();
            for (i, group) in groups.iter().enumerate() {
                j.append(group).unwrap();
                for ev in group {
                    apply(&mut expected, ev);
                }
                if i == compact_after {
                    j.compact().unwrap();
                }
            }
            prop_assert_eq!(j.queue(), &expected);
            drop(j);
            let (_j, q, report) = Journal::open(dir.path()).unwrap();
            prop_assert!(report.torn.is_none());
            prop_assert_eq!(q, expected);
        }
    }
}

/// The UI loop's view: a single-threaded runtime sends scans and awaits acks. The store's own
/// blocking receive must not run on the runtime (tokio panics on `blocking_recv` there).
#[tokio::test(flavor = "current_thread")]
async fn the_store_task_serves_a_single_threaded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (j, _, _) = Journal::open(dir.path()).unwrap();
    let (store, mut acks) = spawn(j);
    for i in 0..200u64 {
        store.append(vec![added(&format!("U{i:03}"))], i).unwrap();
    }
    let mut next = 0u64;
    while next < 200 {
        let ack = tokio::time::timeout(std::time::Duration::from_secs(60), acks.recv())
            .await
            .expect("no ack within the timeout")
            .expect("store task ended");
        assert_eq!((ack.ticket, ack.result), (next, Ok(())));
        next += 1;
    }
    let (journal, _) = tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
    assert_eq!(journal.queue().len(), 200);
}
