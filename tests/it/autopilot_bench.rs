//! Hash files at the bench, end to end with the real binary against the simulator: `intake
//! import` queues them as Autopilot registrations, `intake push` imports them (not as corporate
//! identifiers), and `status --json` shows the import state, then the profile assignment.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use stagehand::autopilot::encode::HashBuilder;
use stagehand::sim::{self, SimOptions};
use stagehand::store::{AuditLog, AuditPhase};

/// A one-device `Get-WindowsAutopilotInfo` file (UTF-16 LE with BOM) for `serial`.
pub(crate) fn hash_file(dir: &Path, name: &str, serial: &str, seed: u64) -> String {
    let h = HashBuilder::device(serial, "LENOVO", "20XWCTO1WW", seed).base64();
    let text =
        format!("Device Serial Number,Windows Product ID,Hardware Hash\r\n{serial},,{h}\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_files_go_through_intake_to_profile_assigned_in_status_json() {
    let opts = SimOptions {
        devices: 0,
        speed: 600.0,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let staging = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = common::Sandbox::new();
    let accounts: Vec<String> = staging.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        sb.config(),
        format!(
            "[staging]\naccounts = [{}]\n\n[status]\npoll_fast_secs = 1\npoll_slow_secs = 1\n",
            accounts.join(", ")
        ),
    )
    .unwrap();
    let a = hash_file(sb.path(), "a.csv", "PFBEN001", 21);
    let b = hash_file(sb.path(), "b.csv", "PFBEN002", 22);
    let base = sim.base_url.to_string();
    let run = |args: &[&str]| -> Output {
        let out = Command::new(common::bin())
            .args(args)
            .env("STAGEHAND_CONFIG", sb.config())
            .env("STAGEHAND_DATA_DIR", sb.data())
            .env("HOME", sb.path())
            .env("STAGEHAND_GRAPH_URL", &base)
            .env("STAGEHAND_LOGIN_URL", &base)
            .env("STAGEHAND_TENANT", sim.tenant_id())
            .env("STAGEHAND_CLIENT_ID", sim.client_id())
            .env("STAGEHAND_CLIENT_SECRET", &secret)
            .output()
            .unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(!o.contains(&secret) && !e.contains(&secret));
        out
    };
    let text = |o: &Output| {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    // Queued: durable, with the hash's manufacturer and model, not uploaded yet.
    let out =
        tokio::task::block_in_place(|| run(&["intake", "import", &a, &b, "--group-tag", "Kiosk"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = tokio::task::block_in_place(|| run(&["status", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(r["autopilot"]["import_state"], "queued", "{r}");
        assert_eq!(r["message"], "Autopilot import queued", "{r}");
    }

    // Pushed: an Autopilot import, never a corporate identifier.
    let out = tokio::task::block_in_place(|| run(&["intake", "push"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("2 registered, 0 rejected, 0 failed"),
        "{}",
        text(&out)
    );
    let stats = sim.stats();
    let calls = |needle: &str| -> u64 {
        stats
            .requests_per_route
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, v)| *v)
            .sum()
    };
    assert_eq!(calls("importDeviceIdentityList"), 0, "{stats:?}");
    assert_eq!(
        calls("importedWindowsAutopilotDeviceIdentities/import"),
        1,
        "{stats:?}"
    );

    // status --json: import complete, then the profile is assigned (the simulator assigns it
    // minutes of sim time after the import). Wait for that signal, bounded.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let out = tokio::task::block_in_place(|| run(&["status", "--json"]));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        for r in &rows {
            assert_eq!(r["autopilot"]["import_state"], "complete", "{r}");
            assert!(r["autopilot"]["registration_id"].is_string(), "{r}");
        }
        if rows
            .iter()
            .all(|r| r["autopilot"]["profile_assigned"] == true)
        {
            break rows;
        }
        for r in &rows {
            if r["autopilot"]["profile_assigned"] == false {
                let m = r["message"].as_str().unwrap();
                assert!(m.starts_with("waiting for profile assignment"), "{r}");
            }
        }
        assert!(Instant::now() < deadline, "never assigned: {rows:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for r in &rows {
        let status = r["autopilot"]["profile_assignment"].as_str().unwrap();
        assert!(status.starts_with("assigned"), "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .starts_with("Autopilot profile assigned"),
            "{r}"
        );
        assert_eq!(r["autopilot"]["stuck"], false);
    }

    // Every import was audited before and after, by the app.
    let records = AuditLog::open(&sb.data())
        .unwrap()
        .read_all()
        .unwrap()
        .records;
    for serial in ["PFBEN001", "PFBEN002"] {
        let phases: Vec<AuditPhase> = records
            .iter()
            .filter(|r| {
                r.action == "import_autopilot_device" && r.serial.as_deref() == Some(serial)
            })
            .map(|r| r.phase)
            .collect();
        assert_eq!(phases, [AuditPhase::Before, AuditPhase::After], "{serial}");
    }
    assert!(records.iter().all(|r| r.actor.starts_with("app:")));
}
