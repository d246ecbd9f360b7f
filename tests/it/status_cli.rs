//! `stagehand status` as a script or a scheduler runs it: the real binary, app-only
//! (`STAGEHAND_CLIENT_SECRET`), against the simulated tenant over loopback. `--json` fields are
//! checked against what Graph says, `--serial` and `--all-staged` pick the devices, a
//! noncompliant device is flagged, and `--watch` prints one JSON array per line per poll as the
//! simulated clock moves, then stops cleanly on SIGTERM or SIGINT.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::Sandbox;
use serde_json::Value;
use stagehand::auth::StaticToken;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimHandle, SimOptions};

/// The fields `--json` promises for every device (issue 6).
const FIELDS: [&str; 11] = [
    "serial",
    "stage",
    "flags",
    "device_name",
    "managed_device_id",
    "primary_user",
    "enrolled_by",
    "enrollment_state",
    "deployment_status",
    "last_sync",
    "message",
];

struct Tenant {
    sim: SimHandle,
    secret: String,
    sb: Sandbox,
    /// In-process client on the same simulator, to check the command's output against Graph.
    client: GraphClient,
}

async fn tenant(devices: usize) -> Tenant {
    let opts = SimOptions {
        devices,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let staging = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let accounts: Vec<String> = staging.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        sb.config(),
        format!(
            "[staging]\naccounts = [{}]\n\n[status]\npoll_fast_secs = 1\npoll_slow_secs = 1\n",
            accounts.join(", ")
        ),
    )
    .unwrap();
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
        secret,
        sb,
        client,
    }
}

impl Tenant {
    fn command(&self, args: &[&str]) -> Command {
        let base = self.sim.base_url.to_string();
        let mut c = Command::new(common::bin());
        c.arg("status")
            .args(args)
            .env("STAGEHAND_CONFIG", self.sb.config())
            .env("STAGEHAND_DATA_DIR", self.sb.data())
            .env("HOME", self.sb.path())
            .env("STAGEHAND_GRAPH_URL", &base)
            .env("STAGEHAND_LOGIN_URL", &base)
            .env("STAGEHAND_TENANT", self.sim.tenant_id())
            .env("STAGEHAND_CLIENT_ID", self.sim.client_id())
            .env("STAGEHAND_CLIENT_SECRET", &self.secret);
        c
    }

    /// One poll, `--json`: the parsed array. Fails the test on a non-zero exit or a leaked secret.
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let out = self
            .command(&[&["--json"], args].concat())
            .output()
            .unwrap();
        let rows = parse(&self.check(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            1,
            "one poll, one line"
        );
        rows
    }

    fn check(&self, out: &Output) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(!stdout.contains(&self.secret) && !stderr.contains(&self.secret));
        stdout
    }

    /// Serials of identities in the tenant, with the managed device each has by now (if any).
    async fn serials(&self) -> Vec<String> {
        let ids = self.client.list_imported_identities(None).await.unwrap();
        ids.iter()
            .filter_map(|i| i.imported_device_identifier.as_deref())
            .map(|v| v.rsplit(',').next().unwrap().to_string())
            .collect()
    }
}

fn parse(line: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(line.trim()) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("expected one JSON array, got {other:?} from {line:?}"),
    }
}

fn by_serial(rows: &[Value]) -> HashMap<String, &Value> {
    rows.iter()
        .map(|r| (r["serial"].as_str().unwrap().to_string(), r))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_fields_match_graph_on_devices_in_every_stage() {
    let t = tenant(48).await;
    // Blocking here is fine: the simulator serves from the runtime's other worker thread.
    let rows = t.json(&["--all-staged"]);
    assert!(!rows.is_empty());
    for r in &rows {
        for f in FIELDS {
            assert!(r.get(f).is_some(), "missing {f}: {r}");
        }
        assert!(r["flags"].is_array(), "{r}");
    }
    let stages: BTreeSet<&str> = rows.iter().map(|r| r["stage"].as_str().unwrap()).collect();
    for want in [
        "provisioning",
        "provisioned",
        "failed",
        "in_use",
        "assigned",
    ] {
        assert!(stages.contains(want), "{want} missing from {stages:?}");
    }

    // Every device row says what Graph says about it.
    for r in &rows {
        let id = r["managed_device_id"]
            .as_str()
            .expect("enrolled devices only");
        let d = t
            .client
            .get_managed_device(
                id,
                &[
                    "id",
                    "deviceName",
                    "serialNumber",
                    "enrolledByUserPrincipalName",
                ],
            )
            .await
            .unwrap();
        assert_eq!(r["device_name"].as_str(), d.device_name.as_deref(), "{r}");
        assert!(
            d.serial_number
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(r["serial"].as_str().unwrap())),
            "{r}"
        );
        assert_eq!(r["enrollment_state"], "enrolled", "{r}");
        assert!(
            r["last_sync"]
                .as_str()
                .is_some_and(|s| { chrono::DateTime::parse_from_rfc3339(s).is_ok() })
        );
        // Read in the same poll for every device still moving or waiting for review.
        if r["stage"] != "failed" && r["stage"] != "assigned" {
            assert_eq!(
                r["enrolled_by"].as_str(),
                d.enrolled_by_user_principal_name.as_deref(),
                "{r}"
            );
        }
        // One poll reads the list row's user (it may lag a change: then it is still the staging
        // account) or, once read, `/users`.
        let primary = t.client.device_primary_users(id).await.unwrap();
        let upn = primary
            .first()
            .and_then(|u| u.user_principal_name.as_deref());
        let shown = r["primary_user"].as_str();
        assert!(
            shown == upn || shown.is_some_and(|s| s.contains("staging@")),
            "{r} vs /users {upn:?}"
        );
        assert!(!r["message"].as_str().unwrap().is_empty(), "{r}");
    }
    let failed = rows.iter().find(|r| r["stage"] == "failed").unwrap();
    assert_eq!(failed["deployment_status"], "3", "{failed}");
    assert!(failed["code"].as_str().is_some(), "{failed}");
    let done = rows.iter().find(|r| r["stage"] == "provisioned").unwrap();
    assert_eq!(done["deployment_status"], "2", "{done}");
    let in_use = rows.iter().find(|r| r["stage"] == "in_use").unwrap();
    assert!(
        in_use["message"].as_str().unwrap().contains("signed in"),
        "{in_use}"
    );

    // --serial: exactly these serials, any case, including ones Intune has not enrolled yet.
    let staged = by_serial(&rows);
    let all = t.serials().await;
    let registered = all
        .iter()
        .find(|s| !staged.contains_key(*s))
        .expect("a registered device not enrolled yet");
    let enrolled = rows[0]["serial"].as_str().unwrap();
    let picked = t.json(&["--serial", registered, "--serial", &enrolled.to_lowercase()]);
    assert_eq!(picked.len(), 2, "{picked:?}");
    let reg = picked
        .iter()
        .find(|r| r["serial"].as_str() == Some(registered.as_str()))
        .unwrap();
    assert_eq!(reg["stage"], "registered", "{reg}");
    assert_eq!(reg["managed_device_id"], Value::Null, "{reg}");
    assert_eq!(reg["enrollment_state"], "notContacted", "{reg}");
    let en = picked
        .iter()
        .find(|r| r["serial"].as_str() != Some(registered.as_str()))
        .unwrap();
    assert_eq!(en["managed_device_id"], rows[0]["managed_device_id"]);

    // Without --all-staged and with an empty queue nothing is tracked.
    assert!(t.json(&[]).is_empty());
}

/// One invocation is a complete answer: every device a real user signed in to (as Graph says
/// now: a logged-on user who exists, is no staging account and is not the primary user) shows
/// `in_use`, not `provisioned` for want of a second poll to resolve who signed in. Without a
/// terminal on stderr no progress line is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invocation_shows_in_use_for_every_device_a_real_user_signed_in_to() {
    let t = tenant(64).await;
    // Sign-ins after this moment (the simulated clock runs) are not the command's to see.
    let started = t.sim.now();
    let out = t
        .command(&["--json", "--all-staged"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stdout = t.check(&out);
    assert_eq!(stdout.lines().count(), 1, "one answer, one line");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("reading Intune"),
        "no progress line without a terminal"
    );
    let rows = parse(&stdout);
    let staging = SimOptions::default().staging_accounts;
    let (users, _) = t.sim.users();
    let upn_of: HashMap<&str, &str> = users
        .iter()
        .map(|(id, upn)| (id.as_str(), upn.as_str()))
        .collect();
    let mut signed_in = 0;
    for r in &rows {
        let id = r["managed_device_id"].as_str().unwrap();
        if r["stage"] == "failed" || r["stage"] == "assigned" {
            continue;
        }
        let d = t
            .client
            .get_managed_device(id, &["id", "usersLoggedOn"])
            .await
            .unwrap();
        let primary = t.client.device_primary_users(id).await.unwrap();
        let primary_id = primary.first().and_then(|u| u.id.clone());
        let real = d.users_logged_on.iter().any(|u| {
            if u.last_log_on_date_time.is_none_or(|at| at > started) {
                return false;
            }
            let uid = u.user_id.as_deref().unwrap_or_default();
            Some(uid) != primary_id.as_deref()
                && upn_of
                    .get(uid)
                    .is_some_and(|upn| !staging.iter().any(|s| s.eq_ignore_ascii_case(upn)))
        });
        if real {
            signed_in += 1;
            assert_eq!(r["stage"], "in_use", "{r}");
        } else {
            assert_ne!(r["stage"], "in_use", "{r}");
        }
    }
    assert!(
        signed_in > 0,
        "the seeded fleet has devices a real user signed in to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_in_stage_and_the_timeline_survive_a_second_run_on_the_same_data_dir() {
    let t = tenant(48).await;
    let first = t.json(&["--all-staged"]);
    let second = t.json(&["--all-staged"]);
    let (first, second) = (by_serial(&first), by_serial(&second));
    // Devices that did not move between the two runs (the simulated fleet moves in real time).
    let same: Vec<_> = first
        .iter()
        .filter_map(|(s, a)| second.get(s).map(|b| (s, a, b)))
        .filter(|(_, a, b)| a["stage"] == b["stage"])
        .collect();
    assert!(!same.is_empty());
    // Intune dates none of these stages: without the stored timeline, the second run would
    // date them at its own start.
    assert!(
        same.iter()
            .any(|(_, a, _)| ["provisioned", "assigned", "failed"]
                .contains(&a["stage"].as_str().unwrap())),
        "{same:?}"
    );
    for (serial, a, b) in same {
        assert_eq!(a["since"], b["since"], "{serial}");
        assert_eq!(a["timeline"], b["timeline"], "{serial}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noncompliant_device_is_flagged() {
    let t = tenant(16).await;
    let rows = t.json(&["--all-staged"]);
    let serial = rows
        .iter()
        .find(|r| r["flags"].as_array().unwrap().is_empty())
        .map(|r| r["serial"].as_str().unwrap().to_string())
        .expect("a device with no flags");
    assert_eq!(
        t.sim
            .shape_device(&serial, |s| { s.compliance = Some("noncompliant".into()) }),
        1
    );
    let rows = t.json(&["--serial", &serial]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["compliance"], "noncompliant", "{}", rows[0]);
    assert_eq!(rows[0]["flags"], serde_json::json!(["noncompliant"]));
    // The table form shows the flag beside the stage.
    let out = t.command(&["--serial", &serial]).output().unwrap();
    let text = t.check(&out);
    let line = text.lines().find(|l| l.starts_with(&serial)).unwrap();
    assert!(line.contains("[noncompliant]"), "{line}");
}

/// Lines of a child's stdout, as they arrive.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line matching `want`, within the harness timeout.
fn next_line(rx: &mpsc::Receiver<String>, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + common::timeout();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("no matching poll line before the timeout");
        let rows = parse(&line);
        if want(&rows) {
            return rows;
        }
    }
}

/// Waits (bounded) for the child to exit.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + common::timeout();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("status --watch did not stop after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_a_line_per_poll_as_the_clock_moves_and_stops_on_signals() {
    let t = tenant(24).await;
    let staged: BTreeSet<String> = t
        .json(&["--all-staged"])
        .iter()
        .map(|r| r["serial"].as_str().unwrap().to_string())
        .collect();
    let waiting = t
        .serials()
        .await
        .into_iter()
        .find(|s| !staged.contains(s))
        .expect("a device that has not enrolled yet");
    for signal in ["-TERM", "-INT"] {
        let mut child = t
            .command(&["--json", "--watch", "--serial", &waiting])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let rx = lines(&mut child);
        let first = next_line(&rx, |_| true);
        assert_eq!(first.len(), 1);
        let stage = first[0]["stage"].as_str().unwrap().to_string();
        if signal == "-TERM" {
            assert_eq!(stage, "registered", "{first:?}");
            // Ten sim minutes later the device has enrolled: a later poll line says so.
            t.sim.advance(Duration::from_secs(10 * 60));
            let moved = next_line(&rx, |rows| rows[0]["stage"] != "registered");
            // Enrolled, and the report (asked for as soon as a device enrolls) may already show
            // its deployment.
            assert!(
                moved[0]["stage"] == "enrolled" || moved[0]["stage"] == "provisioning",
                "{moved:?}"
            );
            assert!(moved[0]["managed_device_id"].is_string());
        } else {
            next_line(&rx, |_| true);
        }
        let pid = child.id().to_string();
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success());
        let status = wait_exit(&mut child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(status.success(), "{signal}: {status:?} {stderr}");
        assert!(!stderr.contains(&t.secret));
        // Nothing half-written: every line printed was a whole JSON array.
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
            parse(&line);
        }
    }
}
