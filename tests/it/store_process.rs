//! Cross-process behaviour: the data-dir lock against another process, kill -9 in the middle of a
//! scan burst, and kill -9 between an audit log's before and after records.
//!
//! The test binary re-executes itself as the child: `child_entry` is an ignored test that the parent
//! runs with `--ignored --exact store_process::child_entry` (its path in the one test binary),
//! choosing a role through `STAGEHAND_STORE_CHILD`.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use stagehand::config::{IdentifierType, Platform};
use stagehand::store::{
    AuditLog, AuditPhase, AuditRecord, EntryState, QueueEntry, QueueEvent, Store, StoreError, spawn,
};

const ROLE: &str = "STAGEHAND_STORE_CHILD";
const DIR: &str = "STAGEHAND_STORE_CHILD_DIR";

fn timeout() -> Duration {
    let secs = std::env::var("STAGEHAND_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

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

fn block_on_stdin() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// The child side. Not a test: it does nothing unless a parent test started it with a role.
#[test]
#[ignore = "child process entry, run by the tests in this file"]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = std::path::PathBuf::from(std::env::var(DIR).expect("child needs a data dir"));
    match role.as_str() {
        "hold_lock" => {
            let _db = Store::open(&dir).unwrap();
            println!("LOCKED");
            block_on_stdin();
        }
        "writer" => {
            let (db, _, _) = Store::open(&dir).unwrap();
            let (store, mut acks) = spawn(db);
            let mut outstanding = 0u32;
            for ticket in 0u64.. {
                let scan = QueueEvent::Added(entry(&format!("S{ticket:07}")));
                store.append(vec![scan], ticket).unwrap();
                outstanding += 1;
                // Keep a burst in flight; print each ticket only once it is acknowledged.
                while outstanding > 64 || (outstanding > 0 && !acks.is_empty()) {
                    let ack = acks.blocking_recv().unwrap();
                    assert_eq!(ack.result, Ok(()));
                    println!("ACK {}", ack.ticket);
                    outstanding -= 1;
                }
            }
        }
        "audit" => {
            let mut log = AuditLog::open(&dir).unwrap();
            let mut before = AuditRecord::before(Utc::now(), "lead@contoso.com", "wipe");
            before.serial = Some("A1".into());
            before.device_id = Some("dev-1".into());
            before.request_id = Some("req-1".into());
            log.append(&before).unwrap();
            println!("BEFORE");
            block_on_stdin();
            log.append(&before.after(Utc::now(), "ok")).unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

/// The child's own output on a line. libtest prints `test child_entry ... ` without a newline before
/// the test body runs, so the first line the child prints is glued to it.
fn marker(line: &str) -> &str {
    line.rsplit_once("... ").map_or(line, |(_, rest)| rest)
}

struct Kid {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn start(role: &str, dir: &Path) -> Kid {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "store_process::child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Kid { child, lines }
}

impl Kid {
    /// Collects lines until `done` says so, failing after the timeout.
    fn read_until(&self, seen: &mut Vec<String>, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + timeout();
        while !done(seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(e) => panic!("child output timed out ({e}); saw {} lines", seen.len()),
            }
        }
    }

    fn kill(mut self, seen: &mut Vec<String>) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        // Whatever the child printed before it died is still in the pipe.
        while let Ok(line) = self.lines.recv_timeout(timeout()) {
            seen.push(line);
        }
    }
}

#[test]
fn the_lock_refuses_a_second_process_and_frees_when_the_holder_dies() {
    let dir = tempfile::tempdir().unwrap();
    let kid = start("hold_lock", dir.path());
    let pid = kid.child.id();
    let mut seen = Vec::new();
    kid.read_until(&mut seen, |l| l.iter().any(|l| marker(l) == "LOCKED"));

    let err = Store::open(dir.path()).unwrap_err();
    match &err {
        StoreError::Locked {
            dir: d,
            pid: holder,
        } => {
            assert_eq!(d, dir.path());
            assert_eq!(*holder, Some(pid));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");

    kid.kill(&mut seen);
    Store::open(dir.path()).expect("the OS releases the lock of a killed process");
}

#[test]
fn kill_9_mid_burst_never_loses_an_acknowledged_scan() {
    let dir = tempfile::tempdir().unwrap();
    let kid = start("writer", dir.path());
    let mut seen = Vec::new();
    let acks = |l: &[String]| l.iter().filter(|l| marker(l).starts_with("ACK ")).count();
    kid.read_until(&mut seen, |l| acks(l) >= 500);
    kid.kill(&mut seen);

    let acked: Vec<u64> = seen
        .iter()
        .filter_map(|l| marker(l).strip_prefix("ACK "))
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(acked.len() >= 500);
    assert!(
        acked.windows(2).all(|w| w[0] + 1 == w[1]),
        "acks out of order"
    );

    let (_j, queue, report) = Store::open(dir.path()).unwrap();
    eprintln!("{report}");
    let serials: Vec<&str> = queue.entries().iter().map(|e| e.serial.as_str()).collect();
    assert!(
        serials.len() >= acked.len(),
        "{} < {}",
        serials.len(),
        acked.len()
    );
    for (i, ticket) in acked.iter().enumerate() {
        assert_eq!(serials[i], format!("S{ticket:07}"), "entry {i}");
    }
    // Nothing after the acknowledged ones is out of order either.
    for (i, s) in serials.iter().enumerate() {
        assert_eq!(*s, format!("S{i:07}"));
    }
}

#[test]
fn the_audit_before_record_survives_a_kill_before_the_after_record() {
    let dir = tempfile::tempdir().unwrap();
    let kid = start("audit", dir.path());
    let mut seen = Vec::new();
    kid.read_until(&mut seen, |l| l.iter().any(|l| marker(l) == "BEFORE"));
    kid.kill(&mut seen);

    let read = AuditLog::open(dir.path()).unwrap().read_all().unwrap();
    assert!(read.damaged.is_empty(), "{:?}", read.damaged);
    assert_eq!(read.records.len(), 1);
    let r = &read.records[0];
    assert_eq!(r.phase, AuditPhase::Before);
    assert_eq!(
        (r.action.as_str(), r.serial.as_deref()),
        ("wipe", Some("A1"))
    );
    assert_eq!(r.request_id.as_deref(), Some("req-1"));
    assert_eq!(r.result, None);
}
