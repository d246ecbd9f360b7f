//! `stagehand intake remove SERIAL…`: the console's `X`, headless, against the simulated tenant
//! as the app. Nothing is removed without an answer (no terminal, no `--yes`); with `--yes` the
//! identity leaves Intune and the queue, and the audit log holds a before and an after record
//! naming the account.

use std::process::Command;

use crate::common::{self, Sandbox};
use stagehand::sim::{self, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_asks_then_takes_the_identity_out_of_intune_with_an_audit_trail() {
    let opts = SimOptions {
        devices: 0,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let base = sim.base_url.to_string();
    let (tenant, client) = (sim.tenant_id(), sim.client_id());
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
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let deletes = || {
        sim.requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.contains("importedDeviceIdentities"))
            .count()
    };
    assert!(
        run(&["intake", "add", "RM00001", "RM00002"])
            .status
            .success()
    );
    let out = run(&["intake", "push"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No terminal and no --yes: nothing is removed, and it says so.
    let out = run(&["intake", "remove", "RM00001"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(deletes(), 0);

    // A serial that is not registered here is refused by name; the good one is removed.
    let out = run(&["intake", "remove", "--yes", "RM00001", "NOPE0001"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("NOPE0001: not removed: not in this bench's queue"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("RM00001: removed from Intune"));
    assert_eq!(deletes(), 1);

    let out = run(&["intake", "list", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let left: Vec<&str> = rows.iter().map(|r| r["serial"].as_str().unwrap()).collect();
    assert_eq!(left, ["RM00002"]);

    let audit = std::fs::read_to_string(sb.data().join("audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["action"] == "delete_identifier")
        .collect();
    assert_eq!(records.len(), 2, "{audit}");
    assert_eq!(records[0]["phase"], "before");
    assert_eq!(records[1]["phase"], "after");
    assert_eq!(records[1]["result"], "ok");
    assert_eq!(records[0]["serial"], "RM00001");
    assert!(records[0]["actor"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(!audit.contains(&secret));
    sim.shutdown().await;
}
