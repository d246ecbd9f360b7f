//! A hash file queued at the bench, then the console opened, with the real binary in tmux
//! against the simulator: the console's uploader imports it into Autopilot (never as a
//! corporate identifier), audited as the signed-in app, and the Intake and Status panes show
//! the registration's states up to the profile assignment.

use std::process::Command;

use stagehand::sim::{self, SimOptions};
use stagehand::store::{AuditLog, AuditPhase};

use crate::autopilot_bench::hash_file;
use crate::common::{self, Sandbox, Tmux, env_refs};
use crate::e2e_bench::app_env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_imports_a_queued_hash_file_into_autopilot() {
    // 60x: the import completes after 1.5 s, the profile 8 s later.
    let opts = SimOptions {
        devices: 0,
        speed: 60.0,
        ..SimOptions::default()
    };
    let staging = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let accounts: Vec<String> = staging.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        sb.config(),
        format!(
            "[intake]\nhold_secs = 0\n\n[staging]\naccounts = [{}]\n\n[status]\npoll_fast_secs = 1\npoll_slow_secs = 1\n",
            accounts.join(", ")
        ),
    )
    .unwrap();
    let a = hash_file(sb.path(), "a.csv", "PFCON001", 51);
    let out = Command::new(common::bin())
        .args(["intake", "import", &a])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .env("HOME", sb.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let env = app_env(&sb, &sim);
    let t = Tmux::start(&[], &env_refs(&env), 160, 40);
    // Imported, then waiting for the profile (the uploader's answer, then the status feed's).
    let screen = tokio::task::block_in_place(|| {
        t.wait_until("the import done, the profile awaited", |s| {
            s.lines()
                .any(|l| l.contains("PFCON001") && l.contains("waiting for profile assignment"))
        })
    });
    assert!(!screen.contains("importedDeviceIdentity"), "{screen}");
    let screen = tokio::task::block_in_place(|| {
        t.wait_until("the profile assigned in the Intake pane", |s| {
            s.lines()
                .any(|l| l.contains("PFCON001") && l.contains("Autopilot profile assigned"))
        })
    });
    assert!(screen.contains("registered"), "{screen}");
    t.keys(&["F3"]);
    tokio::task::block_in_place(|| {
        t.wait_until("the profile assigned in the Status pane", |s| {
            s.contains("▶F3 Status")
                && s.lines()
                    .any(|l| l.contains("PFCON001") && l.contains("Autopilot profile"))
        })
    });
    t.keys(&["C-c"]);
    tokio::task::block_in_place(|| t.wait_for("EXITED:0"));

    // The simulator saw one Autopilot import and no corporate identifier at all.
    let requests = sim.requests();
    let imports = requests
        .iter()
        .filter(|r| {
            r.method == "POST"
                && r.path
                    .ends_with("importedWindowsAutopilotDeviceIdentities/import")
        })
        .count();
    assert_eq!(imports, 1, "{requests:?}");
    let identities: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains("/importedDeviceIdentities/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(identities.is_empty(), "{identities:?}");

    // Audited before and after by the store thread, as the signed-in app.
    let records = AuditLog::open(&sb.data())
        .unwrap()
        .read_all()
        .unwrap()
        .records;
    let phases: Vec<AuditPhase> = records
        .iter()
        .filter(|r| {
            r.action == "import_autopilot_device" && r.serial.as_deref() == Some("PFCON001")
        })
        .map(|r| r.phase)
        .collect();
    assert_eq!(phases, [AuditPhase::Before, AuditPhase::After]);
    assert!(
        records.iter().all(|r| r.actor.starts_with("app:")),
        "{records:?}"
    );
}
