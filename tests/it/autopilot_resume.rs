//! Hash devices after a crash and at scale, with the real binary against the simulator:
//! `intake push` killed with an import in flight reads that import by its id on the next run
//! (never posting the hash again), and `status --json` reads the Autopilot devices with one
//! listing per poll whatever their number.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use stagehand::sim::{self, SimHandle, SimOptions};

use crate::autopilot_bench::hash_file;
use crate::common::{self, Sandbox};

/// The binary against `sim` as the app (client credentials).
fn cli(sb: &Sandbox, sim: &SimHandle, args: &[&str]) -> Command {
    let mut c = Command::new(common::bin());
    c.args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .env("HOME", sb.path())
        .env("STAGEHAND_GRAPH_URL", sim.base_url.as_str())
        .env("STAGEHAND_LOGIN_URL", sim.base_url.as_str())
        .env("STAGEHAND_TENANT", sim.tenant_id())
        .env("STAGEHAND_CLIENT_ID", sim.client_id())
        .env("STAGEHAND_CLIENT_SECRET", "sim-client-secret");
    c
}

fn run(sb: &Sandbox, sim: &SimHandle, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| cli(sb, sim, args).output().unwrap())
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The import id the store holds for `serial` while its import is in flight.
fn import_in_flight(data: &Path, serial: &str) -> Option<String> {
    let regs =
        stagehand::autopilot::bench::load_file(&data.join(stagehand::store::DB_FILE)).ok()?;
    let r = regs.get(&stagehand::serial::SerialKey::new(serial))?;
    (r.import_state == stagehand::autopilot::bench::ImportPhase::Importing)
        .then(|| r.import_id.clone())
        .flatten()
}

fn import_posts(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| {
            r.method == "POST"
                && r.path
                    .ends_with("importedWindowsAutopilotDeviceIdentities/import")
        })
        .count()
}

fn config(sb: &Sandbox, staging: &[String]) {
    let accounts: Vec<String> = staging.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        sb.config(),
        format!(
            "[staging]\naccounts = [{}]\n\n[status]\npoll_fast_secs = 1\npoll_slow_secs = 1\n",
            accounts.join(", ")
        ),
    )
    .unwrap();
}

/// A simulated tenant with no devices at `speed` and a sandbox configured for its staging
/// accounts, polling every second.
async fn bench(speed: f64) -> (SimHandle, Sandbox) {
    let opts = SimOptions {
        devices: 0,
        speed,
        ..SimOptions::default()
    };
    let staging = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    config(&sb, &staging);
    (sim, sb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_killed_with_an_import_in_flight_resumes_by_its_import_id() {
    // Real time: the import takes 90 s of it, so the first push is still polling when killed.
    let (sim, sb) = bench(1.0).await;
    let a = hash_file(sb.path(), "a.csv", "PFRES001", 31);
    let out = run(&sb, &sim, &["intake", "import", &a]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let mut first = cli(&sb, &sim, &["intake", "push"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The positive signal: the import id is durable in the store.
    let deadline = Instant::now() + common::timeout();
    let id = loop {
        if let Some(id) = import_in_flight(&sb.data(), "PFRES001") {
            break id;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "push ended before its import id was saved"
        );
        assert!(Instant::now() < deadline, "the import id was never saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.kill().unwrap(); // SIGKILL: no chance to tidy up
    first.wait().unwrap();
    assert_eq!(import_posts(&sim), 1);
    let seen = sim.requests().len();

    // Later: the import completed and the profile got assigned meanwhile.
    sim.advance(Duration::from_secs(20 * 60));
    let out = run(&sb, &sim, &["intake", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 registered, 0 rejected, 0 failed"),
        "{}",
        text(&out)
    );
    let after: Vec<_> = sim.requests().into_iter().skip(seen).collect();
    let gets = after
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/{id}")))
        .count();
    assert_eq!(import_posts(&sim), 1, "the hash was posted again");
    assert!(gets >= 1, "the import {id} was not read: {after:?}");

    let out = run(&sb, &sim, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let ap = &rows[0]["autopilot"];
    assert_eq!(ap["import_state"], "complete", "{rows:?}");
    assert_eq!(ap["import_id"], id.as_str(), "{rows:?}");
    assert_eq!(ap["profile_assigned"], true, "{rows:?}");
}

/// Autopilot list and single reads one `status --json` made with `n` hash devices imported.
async fn status_reads(n: usize) -> (usize, usize, Vec<Value>) {
    let (sim, sb) = bench(600.0).await;
    let files: Vec<String> = (0..n)
        .map(|i| {
            hash_file(
                sb.path(),
                &format!("h{i}.csv"),
                &format!("PFLST{i:03}"),
                40 + i as u64,
            )
        })
        .collect();
    let mut args = vec!["intake", "import"];
    args.extend(files.iter().map(String::as_str));
    let out = run(&sb, &sim, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&sb, &sim, &["intake", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sim.advance(Duration::from_secs(20 * 60));
    let seen = sim.requests().len();
    let out = run(&sb, &sim, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let after: Vec<_> = sim.requests().into_iter().skip(seen).collect();
    let lists = after
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path
                    .ends_with("/deviceManagement/windowsAutopilotDeviceIdentities")
        })
        .count();
    let singles = after
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/windowsAutopilotDeviceIdentities/"))
        .count();
    (lists, singles, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_autopilot_devices_with_one_listing_whatever_their_number() {
    let (lists_1, singles_1, rows_1) = status_reads(1).await;
    let (lists_20, singles_20, rows_20) = status_reads(20).await;
    eprintln!(
        "N=1: {lists_1} list(s), {singles_1} single reads; N=20: {lists_20} list(s), {singles_20} single reads"
    );
    assert_eq!(lists_1, 1);
    assert_eq!(lists_20, lists_1);
    assert_eq!((singles_1, singles_20), (0, 0));
    assert_eq!((rows_1.len(), rows_20.len()), (1, 20));
    for r in rows_1.iter().chain(&rows_20) {
        assert_eq!(r["autopilot"]["profile_assigned"], true, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_wait_for_the_profile_is_stuck_in_status_stuck() {
    let (sim, sb) = bench(600.0).await;
    // The profile never comes.
    sim.set_autopilot_timing(stagehand::sim::autopilot::Timing {
        profile: chrono::Duration::days(30),
        ..Default::default()
    });
    let a = hash_file(sb.path(), "a.csv", "PFSTK001", 61);
    let b = hash_file(sb.path(), "b.csv", "PFSTK002", 62);
    let out = run(&sb, &sim, &["intake", "import", &a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&sb, &sim, &["intake", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // PFSTK001's import completed 45 minutes ago (the store's own record of it).
    let long_ago = (chrono::Utc::now() - chrono::Duration::minutes(45))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let db = rusqlite::Connection::open(sb.data().join(stagehand::store::DB_FILE)).unwrap();
    let n = db
        .execute(
            "UPDATE autopilot_registrations SET completed_at = ?1 WHERE serial_key = 'PFSTK001'",
            [&long_ago],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);

    let out = run(&sb, &sim, &["status", "--stuck", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["serial"], "PFSTK001", "{r}");
    assert_eq!(r["flags"], serde_json::json!(["stuck"]), "{r}");
    assert_eq!(r["autopilot"]["stuck"], true, "{r}");
    let m = r["message"].as_str().unwrap();
    assert!(m.starts_with("waiting for profile assignment: 4"), "{r}");
    // The table says so too.
    let out = run(&sb, &sim, &["status", "--stuck"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("PFSTK001") && table.contains("[stuck]") && !table.contains("PFSTK002"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_record_gone_from_intune_is_posted_again_on_the_next_push() {
    let (sim, sb) = bench(600.0).await;
    let a = hash_file(sb.path(), "a.csv", "PFGON001", 71);
    let out = run(&sb, &sim, &["intake", "import", &a]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The store says an import is in flight, but Intune has no such record.
    let db = rusqlite::Connection::open(sb.data().join(stagehand::store::DB_FILE)).unwrap();
    db.execute(
        "UPDATE autopilot_registrations SET import_id = 'imp-gone', import_state = 'importing'
         WHERE serial_key = 'PFGON001'",
        [],
    )
    .unwrap();
    drop(db);

    let out = run(&sb, &sim, &["intake", "push"]);
    assert!(
        text(&out).contains("0 registered, 0 rejected, 1 failed"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("it will be imported again"),
        "{}",
        text(&out)
    );
    assert_eq!(import_posts(&sim), 0);
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/imp-gone"))
    );
    let regs =
        stagehand::autopilot::bench::load_file(&sb.data().join(stagehand::store::DB_FILE)).unwrap();
    let gone = &regs[&stagehand::serial::SerialKey::new("PFGON001")];
    assert_eq!(
        (gone.import_state, gone.import_id.as_deref()),
        (stagehand::autopilot::bench::ImportPhase::Queued, None)
    );

    let out = run(&sb, &sim, &["intake", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 registered, 0 rejected, 0 failed"),
        "{}",
        text(&out)
    );
    assert_eq!(import_posts(&sim), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_device_goes_from_profile_assigned_on_through_the_usual_stages() {
    let (sim, sb) = bench(600.0).await;
    // The technician resets the laptop two minutes after its profile is assigned.
    sim.set_autopilot_timing(stagehand::sim::autopilot::Timing {
        enroll_after_profile: Some(chrono::Duration::minutes(2)),
        ..Default::default()
    });
    let file = hash_file(sb.path(), "h.csv", "PFOOBE001", 71);
    let out = run(&sb, &sim, &["intake", "import", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(&sb, &sim, &["intake", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Before the reset: assigned, not enrolled; the row says where the registration stands.
    let out = run(&sb, &sim, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let r = &rows[0];
    assert!(r["managed_device_id"].is_null(), "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("Autopilot profile assigned"),
        "{r}"
    );

    // An hour later it has enrolled through a staging account and moved on.
    sim.advance(Duration::from_secs(60 * 60));
    let out = run(&sb, &sim, &["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["serial"], "PFOOBE001", "{r}");
    assert!(!r["managed_device_id"].is_null(), "{r}");
    let stage = r["stage"].as_str().unwrap();
    assert!(
        [
            "enrolled",
            "provisioning",
            "provisioned",
            "failed",
            "in_use",
            "assigned"
        ]
        .contains(&stage),
        "{r}"
    );
    assert_eq!(r["autopilot"]["profile_assigned"], true, "{r}");
}
