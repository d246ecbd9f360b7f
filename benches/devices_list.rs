//! `devices list` over a 5,000-device simulated tenant: unfiltered, stage + compliance, and by
//! user (server-side filter). Prints rows, wall time and peak RSS (VmHWM, Linux only).
//!
//! Run: `cargo bench --bench devices_list`

use std::sync::Arc;
use std::time::{Duration, Instant};

use stagehand::auth::StaticToken;
use stagehand::config::StagingConfig;
use stagehand::devices::{Lifecycle, ListFilter, list};
use stagehand::graph::models::ComplianceState;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{ALL_DELEGATED, SimOptions};

const DEVICES: usize = 5_000;

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = SimOptions {
            devices: DEVICES,
            ..SimOptions::default()
        };
        let staging = StagingConfig {
            accounts: opts.staging_accounts.clone(),
        };
        let sim = stagehand::sim::start(opts).await.unwrap();
        let token = sim.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
        let client = GraphClient::new(
            sim.base_url.clone(),
            Timeouts::default(),
            Arc::new(StaticToken(token)),
            Governor::global(),
        )
        .unwrap();
        let all = list(&client, &staging, &ListFilter::default())
            .await
            .unwrap();
        let user = all
            .iter()
            .find(|r| r.stage == Lifecycle::Assigned)
            .map(|r| r.user.clone())
            .unwrap();
        let cases = [
            ("unfiltered", ListFilter::default()),
            (
                "stage=staging compliance=inGracePeriod",
                ListFilter {
                    stage: Some(Lifecycle::Staging),
                    compliance: Some(ComplianceState::InGracePeriod),
                    ..ListFilter::default()
                },
            ),
            (
                "user (server-side filter)",
                ListFilter {
                    user: Some(user),
                    ..ListFilter::default()
                },
            ),
        ];
        println!("devices_list: {DEVICES} devices in the simulated tenant");
        for (name, f) in cases {
            let t = Instant::now();
            let rows = list(&client, &staging, &f).await.unwrap();
            println!(
                "  {name:<40} {:>5} rows  {:>7.1} ms",
                rows.len(),
                t.elapsed().as_secs_f64() * 1000.0
            );
        }
        match vm_hwm_kib() {
            Some(k) => println!(
                "  peak RSS (VmHWM, sim + client): {:.1} MiB",
                k as f64 / 1024.0
            ),
            None => println!("  peak RSS: /proc/self/status not available"),
        }
    });
}
