//! `stagehand autopilot import|tag` against the simulated tenant over loopback: three devices
//! (one already registered → 806 in plain words), waiting until the profiles are assigned, the
//! sync limit, the audit lines, 808, exit codes, and the real binary as an app.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use stagehand::auth::StaticToken;
use stagehand::autopilot::encode::HashBuilder;
use stagehand::autopilot::import::{Outcome, Pacing};
use stagehand::cli::Cli;
use stagehand::commands::autopilot::{AutopilotCommand, ImportArgs, TagArgs, run_import, run_tag};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimHandle, SimOptions};
use stagehand::store::{AuditLog, AuditPhase};

struct Tenant {
    sim: SimHandle,
    client: GraphClient,
    dir: tempfile::TempDir,
}

/// A tenant where an hour of sim time passes in 6 s; profiles are assigned an hour after
/// import unless a sync brings that down to a minute.
async fn tenant() -> Tenant {
    let sim = sim::start(SimOptions {
        devices: 0,
        speed: 600.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    sim.set_autopilot_timing(sim::autopilot::Timing {
        import: chrono::Duration::seconds(90),
        profile: chrono::Duration::minutes(60),
        after_sync: chrono::Duration::minutes(1),
        sync_running: chrono::Duration::minutes(1),
        sync_gap: chrono::Duration::minutes(10),
        ..Default::default()
    });
    let token = sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    Tenant {
        sim,
        client,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn pacing() -> Pacing {
    Pacing {
        import_timeout: Duration::from_secs(20),
        profile_timeout: Duration::from_secs(30),
        poll_first: Duration::from_millis(50),
        poll_max: Duration::from_millis(300),
        sync_gap: Duration::from_secs(600),
    }
}

fn hash_file(dir: &Path, name: &str, serial: &str, seed: u64) -> PathBuf {
    let h = HashBuilder::device(serial, "LENOVO", "20XWCTO1WW", seed).base64();
    let text =
        format!("Device Serial Number,Windows Product ID,Hardware Hash\r\n{serial},,{h}\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn import_args(argv: &[&str]) -> ImportArgs {
    let mut full = vec!["stagehand", "autopilot", "import"];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full).unwrap().command {
        Some(stagehand::cli::Command::Autopilot(a)) => match a.command {
            AutopilotCommand::Import(i) => i,
            _ => unreachable!(),
        },
        other => panic!("not autopilot import: {other:?}"),
    }
}

fn audit(dir: &Path) -> Vec<(String, AuditPhase, Option<String>, Option<String>)> {
    AuditLog::open(dir)
        .unwrap()
        .read_all()
        .unwrap()
        .records
        .into_iter()
        .map(|r| (r.action, r.phase, r.serial, r.result))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_one_already_registered_wait_until_assigned() {
    let t = tenant().await;
    let files = t.dir.path();
    let a = hash_file(files, "a.csv", "PF1AAA01", 1);
    let b = hash_file(files, "b.csv", "PF1AAA02", 2);
    let c = hash_file(files, "c.csv", "PF1AAA03", 3);
    t.sim.register_autopilot("PF1AAA03");
    let data = files.join("data");
    let args = import_args(&[
        &a.display().to_string(),
        &b.display().to_string(),
        &c.display().to_string(),
        "--group-tag",
        "Sales",
        "--wait",
    ]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let report = run_import(
        &t.client,
        &data,
        "lead@contoso.com",
        &args,
        Some(pacing()),
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    let err = String::from_utf8(err).unwrap();
    assert_eq!(report.exit_status(), 0, "{out}\n{err}");
    let by = |s: &str| {
        report
            .devices
            .iter()
            .find(|d| d.serial == s)
            .unwrap()
            .outcome
            .clone()
    };
    assert!(
        matches!(by("PF1AAA01"), Outcome::Assigned { .. }),
        "{out}\n{err}"
    );
    assert!(matches!(by("PF1AAA02"), Outcome::Assigned { .. }));
    assert!(
        matches!(by("PF1AAA03"), Outcome::Assigned { .. }),
        "806 devices are looked up by serial"
    );
    assert!(
        err.contains("PF1AAA03: this device is already registered in this tenant (806 ZtdDeviceAlreadyAssigned): nothing to import"),
        "{err}"
    );
    assert!(err.contains("waiting for profile assignment: "), "{err}");
    assert!(
        out.contains("PF1AAA01             profile assigned (assignedInSync)"),
        "{out}"
    );
    // One sync brought the assignment forward; the import records are gone; tags applied.
    assert_eq!(t.sim.autopilot_syncs(), (1, 0, 0));
    assert_eq!(report.syncs, 1);
    assert_eq!(t.sim.autopilot_import_records(), 0);
    let mut devices = t.sim.autopilot_devices();
    devices.sort();
    assert_eq!(devices[0], ("PF1AAA01".into(), "Sales".into(), true));
    // Every write audited before and after, in order.
    let lines = audit(&data);
    let actions: Vec<(String, AuditPhase)> = lines.iter().map(|l| (l.0.clone(), l.1)).collect();
    let count = |a: &str, p: AuditPhase| actions.iter().filter(|x| x.0 == a && x.1 == p).count();
    assert_eq!(count("import_autopilot_device", AuditPhase::Before), 3);
    assert_eq!(count("import_autopilot_device", AuditPhase::After), 3);
    assert_eq!(
        count("delete_autopilot_import_record", AuditPhase::Before),
        3
    );
    assert_eq!(
        count("delete_autopilot_import_record", AuditPhase::After),
        3
    );
    assert_eq!(count("sync_autopilot", AuditPhase::Before), 1);
    assert_eq!(count("sync_autopilot", AuditPhase::After), 1);
    let first_after = lines
        .iter()
        .position(|l| l.0 == "import_autopilot_device" && l.1 == AuditPhase::After)
        .unwrap();
    assert!(
        lines[..first_after]
            .iter()
            .filter(|l| l.0 == "import_autopilot_device")
            .count()
            == 3,
        "all three befores are durable before the POST"
    );
    assert!(
        lines.iter().any(|l| l.0 == "import_autopilot_device"
            && l.1 == AuditPhase::After
            && l.2.as_deref() == Some("PF1AAA01")
            && l.3
                .as_deref()
                .is_some_and(|r| r.starts_with("accepted (import "))),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_limit_is_respected_and_409_429_are_not_failures() {
    let t = tenant().await;
    let a = hash_file(t.dir.path(), "a.csv", "PF2BBB01", 5);
    let data = t.dir.path().join("data");
    // Someone synced in the portal just now: stagehand's one sync meets 409 or 429, says a sync
    // is pending, and does not ask again within its 10 minutes; the profile still lands (the
    // simulator assigns it an hour of sim time after import, 6 s here).
    stagehand::autopilot::api::sync(&t.client).await.unwrap();
    let args = import_args(&[&a.display().to_string(), "--wait"]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let report = run_import(
        &t.client,
        &data,
        "lead@contoso.com",
        &args,
        Some(pacing()),
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    let err = String::from_utf8(err).unwrap();
    assert_eq!(report.exit_status(), 0, "{err}");
    assert!(matches!(
        report.devices[0].outcome,
        Outcome::Assigned { .. }
    ));
    let (ok, running, too_soon) = t.sim.autopilot_syncs();
    assert_eq!(
        (ok, running + too_soon),
        (1, 1),
        "the portal's sync, then ours refused: {err}"
    );
    assert_eq!(report.syncs, 0);
    let posts = t
        .sim
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("windowsAutopilotSettings/sync"))
        .count();
    assert_eq!(posts, 2, "one from the portal, one from stagehand");
    assert!(
        err.contains("a sync is already running (409)")
            || err.contains("the last sync was less than 10 minutes ago (429)"),
        "{err}"
    );
    let lines = audit(&data);
    assert!(
        lines.iter().any(|l| l.0 == "sync_autopilot"
            && l.1 == AuditPhase::After
            && l.3
                .as_deref()
                .is_some_and(|r| r.contains("(429)") || r.contains("(409)"))),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wait_exit_3_and_another_tenants_device_is_1() {
    let t = tenant().await;
    let a = hash_file(t.dir.path(), "a.csv", "PF3CCC01", 7);
    let data = t.dir.path().join("data");
    let args = import_args(&[&a.display().to_string()]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let r = run_import(
        &t.client,
        &data,
        "lead@contoso.com",
        &args,
        Some(pacing()),
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    assert_eq!(r.exit_status(), 3, "accepted, not yet assigned");
    assert!(matches!(r.devices[0].outcome, Outcome::Imported { .. }));
    assert_eq!(t.sim.autopilot_syncs(), (0, 0, 0), "no sync without --wait");

    t.sim.autopilot_other_tenant("PF3CCC02");
    let b = hash_file(t.dir.path(), "b.csv", "PF3CCC02", 8);
    let args = import_args(&[&b.display().to_string()]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let r = run_import(
        &t.client,
        &data,
        "lead@contoso.com",
        &args,
        Some(pacing()),
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    assert_eq!(r.exit_status(), 1);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("failed: this device is registered to another tenant (808 ZtdDeviceAssignedToOtherTenant): the other tenant or the seller must deregister it"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_stop_bad_rows_before_anything_is_sent() {
    let t = tenant().await;
    let bad = hash_file(t.dir.path(), "vm.csv", "SMBIOS_STRING_INDEX_0", 1);
    let data = t.dir.path().join("data");
    let args = import_args(&[&bad.display().to_string()]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let r = run_import(
        &t.client,
        &data,
        "lead@contoso.com",
        &args,
        Some(pacing()),
        &mut out,
        &mut err,
    )
    .await
    .unwrap();
    assert_eq!(r.exit_status(), 1);
    assert_eq!(r.refused, 1);
    assert!(
        String::from_utf8(err)
            .unwrap()
            .contains("firmware placeholder")
    );
    assert!(
        t.sim
            .requests()
            .iter()
            .all(|q| !q.path.contains("importedWindowsAutopilot")),
        "nothing sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_refuses_unpadded_hashes_and_eq_filters_as_documented() {
    let t = tenant().await;
    let mut b = HashBuilder::device("PF4DDD01", "HP", "EliteBook", 1).padded(false);
    if b.bytes().len().is_multiple_of(3) {
        b = b.raw(99, &[0]);
    }
    let h = b.base64();
    let unpadded = h.trim_end_matches('=');
    assert_ne!(unpadded.len() % 4, 0);
    let http = reqwest::Client::new();
    let token = t
        .sim
        .issue_token(sim::ALL_DELEGATED, Duration::from_secs(600));
    let url = format!(
        "{}beta/deviceManagement/importedWindowsAutopilotDeviceIdentities/import",
        t.sim.base_url
    );
    let r = http
        .post(&url)
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"importedWindowsAutopilotDeviceIdentities": [{"serialNumber": "PF4DDD01", "hardwareIdentifier": unpadded}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("to the expected type 'Edm.Binary'.")
    );
    // The client pads: accepted.
    let mut d = stagehand::autopilot::api::NewImport::new("PF4DDD01", unpadded);
    d.group_tag = None;
    let got = stagehand::autopilot::api::import(&t.client, &[d])
        .await
        .unwrap();
    assert_eq!(
        got[0].state.device_import_status.as_deref(),
        Some("unknown")
    );
    let r = http
        .get(format!(
            "{}beta/deviceManagement/windowsAutopilotDeviceIdentities?$filter=serialNumber eq 'X'",
            t.sim.base_url
        ))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_sets_group_tags_audited_and_unknown_serials_fail() {
    let t = tenant().await;
    t.sim.register_autopilot("PF5EEE01");
    let data = t.dir.path().join("data");
    let args = TagArgs {
        serials: vec!["PF5EEE01".into(), "NOPE999".into()],
        group_tag: "Kiosk".into(),
    };
    let mut out = Vec::new();
    let code = run_tag(&t.client, &data, "lead@contoso.com", &args, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("PF5EEE01             group tag (none) → Kiosk"),
        "{out}"
    );
    assert!(
        out.contains("NOPE999              failed: not an Autopilot device in this tenant"),
        "{out}"
    );
    assert_eq!(t.sim.autopilot_devices()[0].1, "Kiosk");
    let lines = audit(&data);
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.0.as_str(), l.1, l.3.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("set_autopilot_group_tag", AuditPhase::Before, None),
            ("set_autopilot_group_tag", AuditPhase::After, Some("ok")),
        ]
    );
}

/// The real binary, signed in as the app, against the simulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_imports_and_waits_as_the_app() {
    let opts = SimOptions {
        devices: 0,
        speed: 600.0,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let sim = sim::start(opts).await.unwrap();
    let sb = common::Sandbox::new();
    let a = hash_file(sb.path(), "a.csv", "PF6FFF01", 11);
    let base = sim.base_url.to_string();
    let run = |args: &[&str]| {
        let mut c = Command::new(common::bin());
        c.arg("autopilot")
            .args(args)
            .env("STAGEHAND_CONFIG", sb.config())
            .env("STAGEHAND_DATA_DIR", sb.data())
            .env("HOME", sb.path())
            .env("STAGEHAND_GRAPH_URL", &base)
            .env("STAGEHAND_LOGIN_URL", &base)
            .env("STAGEHAND_TENANT", sim.tenant_id())
            .env("STAGEHAND_CLIENT_ID", sim.client_id())
            .env("STAGEHAND_CLIENT_SECRET", &secret);
        c.output().unwrap()
    };
    let a_s = a.display().to_string();
    let out =
        tokio::task::block_in_place(|| run(&["import", &a_s, "--wait", "--poll-max", "300ms"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("PF6FFF01"), "{stdout}");
    assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    let lines = audit(&sb.data());
    assert!(lines.iter().all(|l| !l.0.is_empty()));
    assert!(
        AuditLog::open(&sb.data())
            .unwrap()
            .read_all()
            .unwrap()
            .records
            .iter()
            .all(|r| r.actor.starts_with("app:")),
        "the app is the actor"
    );
    // show, offline, on the same file.
    let shown = tokio::task::block_in_place(|| run(&["show", &a_s, "--json"]));
    assert_eq!(shown.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["devices"][0]["hash"]["serial"], "PF6FFF01");
    assert_eq!(v["devices"][0]["importable"], true);
}
