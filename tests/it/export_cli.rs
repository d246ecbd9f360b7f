//! `stagehand status --csv` and `stagehand review --csv` as a scheduler runs them: the real binary,
//! app-only, against the simulator. Each writes one CSV and one JSON file into the data dir's
//! `exports/`, prints the two paths, and holds exactly the rows `--json` lists, values exact.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{self, Sandbox};
use serde_json::Value;
use stagehand::sim::{self, SimHandle, SimOptions};

fn command(sim: &SimHandle, sb: &Sandbox, secret: &str, args: &[&str]) -> Command {
    let base = sim.base_url.to_string();
    let mut c = Command::new(common::bin());
    c.args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .env("HOME", sb.path())
        .env("STAGEHAND_GRAPH_URL", &base)
        .env("STAGEHAND_LOGIN_URL", &base)
        .env("STAGEHAND_TENANT", sim.tenant_id())
        .env("STAGEHAND_CLIENT_ID", sim.client_id())
        .env("STAGEHAND_CLIENT_SECRET", secret);
    c
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The column `name` of every record of a CSV file.
fn column(path: &str, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let i = r.headers().unwrap().iter().position(|c| c == name).unwrap();
    r.records().map(|x| x.unwrap()[i].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_review_csv_write_the_rows_json_lists_into_exports() {
    let opts = SimOptions {
        devices: 40,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let accounts: Vec<String> = opts
        .staging_accounts
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    std::fs::write(
        sb.config(),
        format!("[staging]\naccounts = [{}]\n", accounts.join(", ")),
    )
    .unwrap();
    tokio::task::block_in_place(|| {
        // Status.
        let json = run(&mut command(
            &sim,
            &sb,
            &secret,
            &["status", "--all-staged", "--json"],
        ));
        let rows: Vec<Value> = serde_json::from_str(json.trim()).unwrap();
        let want: BTreeSet<String> = rows
            .iter()
            .map(|r| r["serial"].as_str().unwrap().to_string())
            .collect();
        assert!(!want.is_empty());
        let printed = run(&mut command(
            &sim,
            &sb,
            &secret,
            &["status", "--all-staged", "--csv"],
        ));
        let paths: Vec<&str> = printed.lines().collect();
        assert_eq!(paths.len(), 2, "{printed}");
        assert!(paths[0].starts_with(sb.data().join("exports").to_str().unwrap()));
        assert!(paths[0].ends_with(".csv") && paths[1].ends_with(".json"));
        let got: BTreeSet<String> = column(paths[0], "Serial").into_iter().collect();
        assert_eq!(got, want);
        let exported: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(paths[1]).unwrap()).unwrap();
        assert_eq!(exported.len(), want.len());

        // Review: the same candidates `review --json` lists, rejected ones included.
        let json = run(&mut command(&sim, &sb, &secret, &["review", "--json"]));
        let plan: Vec<Value> = serde_json::from_str(&json).unwrap();
        let printed = run(&mut command(&sim, &sb, &secret, &["review", "--csv"]));
        let paths: Vec<&str> = printed.lines().collect();
        assert_eq!(paths.len(), 2, "{printed}");
        let upns = column(paths[0], "Proposed UPN");
        let serials = column(paths[0], "Serial");
        assert_eq!(serials.len(), plan.len());
        for p in &plan {
            let i = serials
                .iter()
                .position(|s| p["serial"] == s.as_str())
                .unwrap();
            assert_eq!(p["proposed_upn"].as_str().unwrap_or(""), upns[i]);
        }
        // Proposals first.
        let verdicts = column(paths[0], "Verdict");
        let first_other = verdicts.iter().position(|v| v != "propose");
        assert!(
            first_other.is_none_or(|i| verdicts[i..].iter().all(|v| v != "propose")),
            "{verdicts:?}"
        );
    });
}
