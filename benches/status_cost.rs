//! What one bench costs the tenant: the status poller (the same `Poller` the console's status
//! feed and `stagehand status --watch` run) against the simulated tenant, 400 tracked devices,
//! 10 simulated minutes at the poller's own adaptive interval, in two fleets:
//!
//! (a) static: every device finished its deployment hours ago and nothing checks in;
//! (b) 5 % of the tracked devices check in during each interval, at a random moment; a device
//!     waiting for its user (`provisioned`) gets a real user's sign-in with its check-in.
//!
//! Prints, per poll: requests (list pages, identity pages, export-job calls and downloads,
//! `$batch` calls) and the sub-requests inside the batches; the share of Intune's per-app device
//! budget (2,000 requests per 20 s) the bench uses; and the freshness lag: how long after a
//! check-in the poll that shows it (its new sync time and, after a sign-in, `in_use`) ran.
//!
//! Request counts do not depend on the build profile: `cargo test --bench status_cost` (dev
//! profile) prints the same figures as `cargo bench --bench status_cost`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stagehand::auth::StaticToken;
use stagehand::config::{Config, IdentifierType, Platform};
use stagehand::graph::{Family, Governor, GraphClient, Limits, Timeouts};
use stagehand::sim::rng::Rng;
use stagehand::sim::{self, Faults, SimHandle, SimOptions};
use stagehand::status::poll::Poller;
use stagehand::status::{SharedRow, Stage, plan};
use stagehand::store::{EntryState, QueueEntry};

const DEVICES: usize = 400;
const SIM_MINUTES: i64 = 10;
/// Intune devices: any request, per app per tenant, per 20 s.
const DEVICE_BUDGET: f64 = 2000.0;

fn entry(serial: &str) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: Config::default().intake.default_profile,
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: Utc::now(),
        bench: "bench-1".into(),
        state: EntryState::Registered,
        message: None,
        note: None,
        imported_id: None,
        attempts: 1,
    }
}

/// One poll's requests as the simulator saw them.
#[derive(Debug, Default, Clone, Copy)]
struct PollCost {
    requests: usize,
    sub_requests: usize,
    /// Requests counted against the Intune devices budget (list pages, managedDevices reads).
    device_family: usize,
    lists: usize,
    identities: usize,
    report: usize,
    batches: usize,
    user_lookups: usize,
}

fn cost_since(sim: &SimHandle, from: usize) -> (PollCost, usize) {
    let records = sim.requests();
    let mut c = PollCost::default();
    for r in &records[from..] {
        let path = r
            .path
            .strip_prefix("/beta")
            .or_else(|| r.path.strip_prefix("/v1.0"))
            .unwrap_or(&r.path);
        let family = Family::of_path(path);
        if r.in_batch {
            c.sub_requests += 1;
            if path.starts_with("/users/") {
                c.user_lookups += 1;
            }
        } else {
            c.requests += 1;
            if r.route.ends_with("/$batch") {
                c.batches += 1;
            } else if r.route == "GET /beta/deviceManagement/managedDevices" {
                c.lists += 1;
            } else if r.route.contains("importedDeviceIdentities") {
                c.identities += 1;
            } else {
                c.report += 1;
            }
        }
        if family == Family::Devices && !r.route.ends_with("/$batch") {
            c.device_family += 1;
        }
    }
    (c, records.len())
}

struct Scenario {
    name: &'static str,
    /// Share of tracked devices that check in during each interval.
    checking_in: f64,
}

async fn start() -> (SimHandle, GraphClient, Config) {
    let sim = sim::start(SimOptions {
        devices: DEVICES,
        // The bench counts requests; pacing is the governor's business and tested elsewhere.
        faults: Faults {
            throttle_burst: Some(1_000_000),
            ..Faults::default()
        },
        ..SimOptions::default()
    })
    .await
    .expect("simulator");
    // Every seeded deployment is long finished: the fleet stands still.
    sim.advance(Duration::from_secs(3 * 3600));
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(24 * 3600));
    let lifted: Vec<(Family, Limits)> = [Family::Devices, Family::Enrollment, Family::Identity]
        .map(|f| {
            (
                f,
                Limits {
                    any: 1_000_000,
                    ..Limits::documented(f)
                },
            )
        })
        .to_vec();
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&lifted)),
    )
    .unwrap();
    let mut config = Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    (sim, client, config)
}

async fn run(s: &Scenario) {
    let (sim, client, config) = start().await;
    let queue: Vec<QueueEntry> = client
        .list_imported_identities(None)
        .await
        .unwrap()
        .iter()
        .filter_map(|i| i.imported_device_identifier.as_deref())
        .map(|v| entry(v.rsplit(',').next().unwrap()))
        .collect();
    let (users, _) = sim.users();
    let real: Vec<String> = users
        .iter()
        .filter(|(_, upn)| !upn.contains("staging") && !upn.starts_with("lead@"))
        .map(|(id, _)| id.clone())
        .collect();
    let mut rng = Rng::new(21);
    let mut poller = Poller::new(client, config);
    let begin = sim.now();
    let end = begin + chrono::Duration::minutes(SIM_MINUTES);
    let mut seen = sim.requests().len();
    let mut rows: Vec<SharedRow> = Vec::new();
    // Check-ins not shown yet: serial -> (check-in time, signed in).
    let mut waiting: HashMap<String, (DateTime<Utc>, bool)> = HashMap::new();
    let mut lags: Vec<i64> = Vec::new();
    let mut stale_shown = 0usize;
    let mut costs = Vec::new();
    println!("\n== ({}) ==", s.name);
    println!(
        "{:>4} {:>7} {:>8} {:>5} {:>5} {:>5} {:>6} {:>7} {:>9} {:>6} {:>7}",
        "poll",
        "at",
        "interval",
        "reqs",
        "list",
        "ident",
        "report",
        "batches",
        "sub-reqs",
        "users",
        "checkin"
    );
    let mut poll = 0;
    let mut interval = Duration::ZERO;
    loop {
        // Devices check in at random moments of the interval that just passed.
        let mut checked = 0;
        if poll > 0 {
            let secs = interval.as_secs().max(1);
            let n = (queue.len() as f64 * s.checking_in).round() as usize;
            let mut offsets: Vec<(u64, usize)> = (0..n)
                .map(|_| {
                    (
                        rng.range(0, secs),
                        rng.range(0, queue.len() as u64) as usize,
                    )
                })
                .collect();
            offsets.sort();
            let mut at = 0;
            for (offset, i) in offsets {
                sim.advance(Duration::from_secs(offset - at));
                at = offset;
                let serial = &queue[i].serial;
                let row = rows.iter().find(|r| &*r.serial == serial);
                let provisioned = row.is_some_and(|r| r.stage == Stage::Provisioned);
                let now = sim.now();
                if provisioned {
                    let who = real[rng.range(0, real.len() as u64) as usize].clone();
                    sim.shape_device(serial, |sh| sh.extra_logons.push((who.clone(), now)));
                } else {
                    sim.check_in(serial);
                }
                let signed = waiting.get(serial).is_some_and(|w| w.1) || provisioned;
                waiting.insert(serial.clone(), (now, signed));
                checked += 1;
            }
            sim.advance(Duration::from_secs(secs - at));
        }
        let now = sim.now();
        if now > end {
            break;
        }
        rows = poller.cycle(&queue, now).await.expect("poll");
        let (c, total) = cost_since(&sim, seen);
        seen = total;
        // Which check-ins this poll shows.
        waiting.retain(|serial, (at, signed)| {
            let Some(r) = rows.iter().find(|r| &*r.serial == serial) else {
                return true;
            };
            let synced = r
                .last_sync
                .is_some_and(|t| t >= *at - chrono::Duration::seconds(1));
            let fresh = synced && (!*signed || r.stage == Stage::InUse);
            if fresh {
                lags.push((now - *at).num_seconds());
            } else {
                stale_shown += 1;
            }
            !fresh
        });
        println!(
            "{poll:>4} {:>6}s {:>7}s {:>5} {:>5} {:>5} {:>6} {:>7} {:>9} {:>6} {:>7}",
            (now - begin).num_seconds(),
            interval.as_secs(),
            c.requests,
            c.lists,
            c.identities,
            c.report,
            c.batches,
            c.sub_requests,
            c.user_lookups,
            checked
        );
        costs.push((interval, c));
        interval = plan::next_interval(&poller.cadence(), poller.moving, 0, None);
        poll += 1;
    }
    let mut per_stage = [0usize; 8];
    for r in &rows {
        per_stage[r.stage.index()] += 1;
    }
    let stages: Vec<_> = Stage::ALL
        .iter()
        .filter(|s| per_stage[s.index()] > 0)
        .map(|s| format!("{} {}", s.label(), per_stage[s.index()]))
        .collect();
    println!("tracked {}: {}", rows.len(), stages.join(", "));
    // After the first poll (the first complete one reads every device once).
    let steady: Vec<&(Duration, PollCost)> = costs.iter().skip(1).collect();
    let sum = |f: &dyn Fn(&PollCost) -> usize| steady.iter().map(|(_, c)| f(c)).sum::<usize>();
    let polls = steady.len().max(1) as f64;
    let secs: f64 = steady
        .iter()
        .map(|(i, _)| i.as_secs_f64())
        .sum::<f64>()
        .max(1.0);
    let first = costs.first().map(|(_, c)| *c).unwrap_or_default();
    println!(
        "first poll: {} requests + {} sub-requests",
        first.requests, first.sub_requests
    );
    println!(
        "after it, per poll: {:.1} requests + {:.1} sub-requests ({:.1} user look-ups), {} polls in {:.0} s",
        sum(&|c| c.requests) as f64 / polls,
        sum(&|c| c.sub_requests) as f64 / polls,
        sum(&|c| c.user_lookups) as f64 / polls,
        steady.len(),
        secs
    );
    let device_total: usize = costs.iter().map(|(_, c)| c.device_family).sum();
    let all_secs = (SIM_MINUTES * 60) as f64;
    let per_20s = device_total as f64 / all_secs * 20.0;
    let steady_per_20s = sum(&|c| c.device_family) as f64 / secs * 20.0;
    println!(
        "Intune device budget: {:.1} requests per 20 s over the 10 minutes = {:.2} % of the app's 2,000 ({:.2} % after the first poll); 5 benches: {:.2} %",
        per_20s,
        per_20s / DEVICE_BUDGET * 100.0,
        steady_per_20s / DEVICE_BUDGET * 100.0,
        5.0 * steady_per_20s / DEVICE_BUDGET * 100.0
    );
    if lags.is_empty() {
        println!("freshness: no check-ins");
    } else {
        lags.sort();
        println!(
            "freshness lag after a check-in: median {} s, max {} s ({} check-ins shown; {} times a poll still showed an older state; {} checked in after the last poll)",
            lags[lags.len() / 2],
            lags[lags.len() - 1],
            lags.len(),
            stale_shown,
            waiting.len()
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "status poller, {DEVICES} tracked devices, {SIM_MINUTES} simulated minutes, adaptive interval"
    );
    for s in [
        Scenario {
            name: "a: static fleet",
            checking_in: 0.0,
        },
        Scenario {
            name: "b: 5 % check in per poll",
            checking_in: 0.05,
        },
    ] {
        runtime.block_on(run(&s));
    }
}
