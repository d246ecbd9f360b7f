//! `stagehand intake push` as a scheduler runs it: app-only (STAGEHAND_CLIENT_SECRET), no login
//! step, against the simulated tenant over loopback.

use crate::common;

use std::process::Command;

use crate::common::Sandbox;
use stagehand::sim::{self, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_uploads_the_queue_as_the_app_and_records_every_outcome() {
    let opts = SimOptions {
        devices: 0,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let base = sim.base_url.to_string();
    let tenant = sim.tenant_id();
    let client = sim.client_id();
    let run = |args: &[&str]| {
        Command::new(common::bin())
            .args(args)
            .env("STAGEHAND_CONFIG", sb.config())
            .env("STAGEHAND_DATA_DIR", sb.data())
            .env("STAGEHAND_GRAPH_URL", &base)
            .env("STAGEHAND_LOGIN_URL", &base)
            .env("STAGEHAND_TENANT", &tenant)
            .env("STAGEHAND_CLIENT_ID", &client)
            .env("STAGEHAND_CLIENT_SECRET", &secret)
            .output()
            .unwrap()
    };
    // Blocking here is fine: the simulator serves from the runtime's other worker thread.
    let out = run(&["intake", "add", "PU0001", "PU0002", "PU0003"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["intake", "push"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 registered, 0 rejected, 0 failed"),
        "{stdout}"
    );
    // The secret never reaches the output.
    assert!(!stdout.contains(&secret) && !String::from_utf8_lossy(&out.stderr).contains(&secret));
    let imports: u64 = sim
        .stats()
        .requests_per_route
        .iter()
        .filter(|(k, _)| k.contains("importDeviceIdentityList"))
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(imports, 1);
    let list = Command::new(common::bin())
        .args(["intake", "list", "--json"])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert!(rows.iter().all(|r| r["state"] == "registered"), "{rows:?}");
}
