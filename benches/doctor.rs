//! `stagehand doctor` cost against the simulated tenant (not a pass/fail test): wall time and
//! Graph requests per run with 5,000 corporate identifiers, two runs back to back through a
//! governor with the documented limits (the second waits for the 1/s Conditional Access pacing),
//! peak RSS.
//! Run: `cargo bench --bench doctor`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::doctor::{self, DoctorOptions, Status};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimOptions};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let devices = 5000;
    let sim = sim::start(SimOptions {
        devices,
        ..SimOptions::default()
    })
    .await?;
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )?;
    let mut config = Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let opts = DoctorOptions {
        stale_days: 30,
        granted_scopes: Some(sim::ALL_DELEGATED.iter().map(|s| s.to_string()).collect()),
    };
    for run in 1..=2 {
        let before = sim.requests().len();
        let t = Instant::now();
        let results = doctor::run_checks_with(&client, &config, sim.now(), &opts).await;
        let elapsed = t.elapsed();
        let fails = results.iter().filter(|r| r.status == Status::Fail).count();
        println!(
            "run {run}: {} checks ({fails} failed) with {devices} identifiers in {elapsed:?}, {} Graph requests",
            results.len(),
            sim.requests().len() - before
        );
    }
    println!("peak RSS: {:?} KiB", peak_rss_kib());
    sim.shutdown().await;
    Ok(())
}
