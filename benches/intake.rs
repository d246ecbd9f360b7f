//! Intake benchmark: how long the model takes a 10,000-line bracketed paste (validation,
//! duplicate checks, store commands, the acknowledgements, the row rebuild and one draw), and
//! scan-to-durable latency through the real store task on this disk.
//!
//! `cargo bench --bench intake`

use std::time::{Duration, Instant};

use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stagehand::app::{App, Cmd, Msg};
use stagehand::config::Config;
use stagehand::store::{self, Store, StoreAck};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn paste_once() -> (Duration, Duration, Duration) {
    let mut app = App::new(Config::default(), Utc::now());
    let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let text: String = (0..10_000).map(|i| format!("PB{i:07}\r\n")).collect();
    let t0 = Instant::now();
    let cmds = app.update(Msg::Paste(text));
    app.settle();
    term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
    let taken = t0.elapsed();
    let t1 = Instant::now();
    for c in cmds {
        if let Cmd::Store { ticket, .. } = c {
            app.update(Msg::Stored(StoreAck {
                ticket,
                result: Ok(()),
            }));
        }
    }
    app.settle();
    term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
    let acked = t1.elapsed();
    assert_eq!(app.intake.queue.len(), 10_000);
    let t2 = Instant::now();
    term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
    (taken, acked, t2.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn durable_latency(dir: &std::path::Path, n: usize) -> (Duration, Duration) {
    let (db, _, _) = Store::open(dir).unwrap();
    let (handle, mut acks) = store::spawn(db);
    let mut lat = Vec::with_capacity(n);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..n {
            let entry = stagehand::app::intake::scan::accept(
                &format!("LAT{i:06}"),
                &stagehand::app::intake::ScanContext {
                    config: &Config::default(),
                    profile: "Standard",
                    manufacturer: None,
                    model: None,
                    bench: "bench",
                    now: Utc::now(),
                },
                |_| false,
            )
            .unwrap()
            .entry;
            let t = Instant::now();
            handle
                .append(vec![store::QueueEvent::Added(entry)], i as u64)
                .unwrap();
            let ack = acks.recv().await.unwrap();
            assert!(ack.result.is_ok());
            lat.push(t.elapsed());
        }
    });
    lat.sort();
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}

fn main() {
    let mut runs: Vec<(Duration, Duration, Duration)> = (0..5).map(|_| paste_once()).collect();
    runs.sort();
    let (taken, acked, draw) = runs[runs.len() / 2];
    println!(
        "10,000-line paste: taken, validated and drawn in {taken:?}; all 10,000 acks applied and drawn in {acked:?}; one frame of the full queue {draw:?} (median of 5)"
    );
    let dir = tempfile::tempdir_in(".").unwrap();
    let (p50, p99) = durable_latency(dir.path(), 500);
    println!(
        "scan-to-durable (one scan in flight, fsync each): median {p50:?}, p99 {p99:?} over 500 scans"
    );
    println!("peak RSS (VmHWM): {} KiB", vm_hwm_kib());
}
