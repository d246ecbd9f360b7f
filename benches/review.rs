//! Cost of one review run against the simulator on loopback: fleets of 200 and 1,000 devices.
//! Reports wall time, `$batch` calls, user look-ups, candidates, and peak RSS (VmHWM). Then the
//! rejections table: 1,000 single rejections (one commit each, as `r` does) and reading 10,000
//! rows the way `review --json` does.
//!
//! Run: `cargo bench --bench review` (or `--profile dev` for a quick look).

use std::sync::Arc;
use std::time::{Duration, Instant};

use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::review::fetch::Fetcher;
use stagehand::review::{Rejection, RejectionLine, rejections};
use stagehand::sim::{self, ALL_DELEGATED, SimOptions};
use stagehand::store::Store;

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM: n/a".into())
}

async fn run(devices: usize) {
    let s = sim::start(SimOptions {
        seed: 7,
        devices,
        ..SimOptions::default()
    })
    .await
    .expect("the simulator starts");
    let token = s.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        s.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let mut config = Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    for round in 1..=3 {
        let start = Instant::now();
        let mut f = Fetcher::new(&client, &config);
        let candidates = f.candidates().await.expect("review runs");
        let took = start.elapsed();
        let stats = s.stats();
        println!(
            "fleet {devices:>5} run {round}: {took:>9.3?}  candidates {:>4}  batches {:>3}  user look-ups {:>3}  sim requests so far {:>6}",
            candidates.len(),
            f.stats.batches,
            f.stats.user_lookups,
            stats.requests_total,
        );
    }
}

fn rejection(i: usize) -> RejectionLine {
    RejectionLine::Rejected(Rejection {
        device_id: format!("{i:08}-0000-4000-8000-000000000000"),
        serial: format!("5CG{i:07}"),
        fingerprint: format!("{i:024x}"),
        proposed_upn: Some(format!("user{i}@contoso.example")),
        by: "lead@contoso.example".into(),
        at: chrono::Utc::now(),
    })
}

fn rejections_bench() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (mut db, _, _) = Store::open(dir.path()).expect("opens");
    let start = Instant::now();
    for i in 0..1000 {
        db.write("save", |tx| rejections::apply_lines(tx, &[rejection(i)]))
            .expect("commits");
    }
    let each = start.elapsed() / 1000;
    drop(db);
    let many = tempfile::tempdir().expect("a temp dir");
    let lines: Vec<RejectionLine> = (0..10_000).map(rejection).collect();
    let (mut db, _, _) = Store::open(many.path()).expect("opens");
    db.write("save", |tx| rejections::apply_lines(tx, &lines))
        .expect("commits");
    drop(db);
    let start = Instant::now();
    let loaded = rejections::load(many.path()).expect("loads");
    let open = start.elapsed();
    println!(
        "rejections: commit {each:>9.3?} each (1,000 rejections); read 10,000 rows {open:>9.3?}, {} in force",
        loaded.len()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for n in [200, 1000] {
        rt.block_on(run(n));
    }
    rejections_bench();
    println!("{}", peak_rss());
}
