//! Cost of one review run against the simulator on loopback: fleets of 200 and 1,000 devices.
//! Reports wall time, `$batch` calls, user look-ups, candidates, and peak RSS (VmHWM).
//!
//! Run: `cargo bench --bench review` (or `--profile dev` for a quick look).

use std::sync::Arc;
use std::time::{Duration, Instant};

use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::review::fetch::Fetcher;
use stagehand::sim::{self, ALL_DELEGATED, SimOptions};

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

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for n in [200, 1000] {
        rt.block_on(run(n));
    }
    println!("{}", peak_rss());
}
