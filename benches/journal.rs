//! Scan-to-durable latency of the store thread: from `StoreHandle::append` to its `StoreAck`, i.e.
//! channel + SQLite transaction + commit (WAL, `synchronous=FULL`: one WAL fsync per commit) +
//! acknowledgement. Single scans (one in flight) and a scanner burst at
//! 2,000 scans/s, on the temp filesystem and on the worktree's filesystem.
//!
//! Run: `cargo bench --bench journal` (add `--profile dev` to skip a release build: the numbers are
//! dominated by fsync, not CPU). Prints median / p99 / max and peak RSS (VmHWM).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use stagehand::config::{IdentifierType, Platform};
use stagehand::store::{EntryState, QueueEntry, QueueEvent, Store, spawn};

fn scan(i: u64) -> QueueEvent {
    QueueEvent::Added(QueueEntry {
        serial: format!("PF{i:08}"),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: "Standard".into(),
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: Utc::now(),
        bench: "BENCH-01".into(),
        state: EntryState::Queued,
        message: None,
        note: None,
        imported_id: None,
        attempts: 0,
    })
}

fn summary(label: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<44} n={:<5} median={:>9.3?} p99={:>9.3?} max={:>9.3?}",
        lat.len(),
        pick(0.5),
        pick(0.99),
        lat[lat.len() - 1]
    );
}

fn single(dir: &Path, n: u64) -> Vec<Duration> {
    let (db, _, _) = Store::open(dir).unwrap();
    let (store, mut acks) = spawn(db);
    let mut lat = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t = Instant::now();
        store.append(vec![scan(i)], i).unwrap();
        let ack = acks.blocking_recv().unwrap();
        assert_eq!((ack.ticket, ack.result), (i, Ok(())));
        lat.push(t.elapsed());
    }
    store.shutdown().unwrap();
    lat
}

/// `rate` scans per second for `secs` seconds, paced by a sender thread; latency per scan.
fn burst(dir: &Path, rate: u64, secs: u64) -> (Vec<Duration>, Duration, u64) {
    let (db, _, _) = Store::open(dir).unwrap();
    let (store, mut acks) = spawn(db);
    let n = rate * secs;
    let gap = Duration::from_secs(1) / rate as u32;
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        let mut sent = Vec::with_capacity(n as usize);
        for i in 0..n {
            let due = start + gap * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait); // pacing the simulated scanner, not waiting on a result
            }
            sent.push(Instant::now());
            store.append(vec![scan(i)], i).unwrap();
        }
        (sent, store)
    });
    let mut acked = vec![start; n as usize];
    for _ in 0..n {
        let ack = acks.blocking_recv().unwrap();
        assert_eq!(ack.result, Ok(()));
        acked[ack.ticket as usize] = Instant::now();
    }
    let elapsed = start.elapsed();
    let (sent, store) = sender.join().unwrap();
    let fsyncs = store.shutdown().unwrap().0.group_commits();
    let lat = sent.iter().zip(&acked).map(|(s, a)| *a - *s).collect();
    (lat, elapsed, fsyncs)
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM: unavailable".into())
}

fn main() {
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&work).unwrap();
    let places = [("tmp", std::env::temp_dir()), ("work", work)];
    for (name, base) in places {
        let d = tempfile::tempdir_in(&base).unwrap();
        summary(
            &format!("{name}: single scan ({})", base.display()),
            single(d.path(), 300),
        );
        let d = tempfile::tempdir_in(&base).unwrap();
        let (lat, took, fsyncs) = burst(d.path(), 2000, 3);
        summary(
            &format!("{name}: burst 2000/s x 3 s, {fsyncs} commits ({took:.2?})"),
            lat,
        );
    }
    println!(
        "{}",
        peak_rss().split_whitespace().collect::<Vec<_>>().join(" ")
    );
}
