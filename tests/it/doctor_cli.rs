//! `stagehand doctor` as a process: the `--json` shape, text output and exit codes.

use crate::common;

use std::process::{Command, Output};

use crate::common::Sandbox;
use serde_json::Value;

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("doctor")
        .args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap()
}

fn json(out: &Output) -> Vec<Value> {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn status_of(rows: &[Value], check: &str) -> Vec<String> {
    rows.iter()
        .filter(|r| r["check"] == check)
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_rows_carry_check_status_evidence_and_fix() {
    let sb = Sandbox::new();
    let out = run(&sb, &["--demo", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json(&out);
    assert!(rows.len() >= 8);
    for r in &rows {
        let o = r.as_object().unwrap();
        assert!(o["check"].as_str().is_some_and(|c| !c.is_empty()), "{r}");
        assert!(
            ["pass", "warn", "fail"].contains(&o["status"].as_str().unwrap()),
            "{r}"
        );
        assert!(
            o["evidence"].as_array().is_some_and(|e| !e.is_empty()),
            "{r}"
        );
        assert!(o.contains_key("fix"), "{r}");
        assert_eq!(o["fix"].is_null(), o["status"] == "pass", "{r}");
    }
    let checks: Vec<&str> = rows.iter().map(|r| r["check"].as_str().unwrap()).collect();
    for id in [
        "provisioning-client",
        "device-preparation-policy",
        "staging-account",
        "staging-conditional-access",
        "dem-autopilot",
        "permissions",
        "intune-role",
        "corporate-identifiers",
    ] {
        assert!(checks.contains(&id), "missing {id} in {checks:?}");
    }
    assert_eq!(status_of(&rows, "dem-autopilot"), ["warn"]);
}

#[test]
fn exit_code_is_1_when_a_check_fails_and_0_on_warnings_only() {
    let sb = Sandbox::new();
    for (what, check, status) in [
        ("provisioning-sp", "provisioning-client", "fail"),
        ("group-owner", "device-preparation-policy", "fail"),
        ("device-prep-policy", "device-preparation-policy", "fail"),
        ("ca-exclusion", "staging-conditional-access", "fail"),
        ("unlicensed", "staging-account", "fail"),
        ("ca-report-only", "staging-conditional-access", "warn"),
    ] {
        let out = run(&sb, &["--demo-broken", what, "--json"]);
        let want = if status == "fail" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(want), "{what}");
        assert!(
            status_of(&json(&out), check).iter().any(|s| s == status),
            "{what}: {check} should be {status}"
        );
    }
}

#[test]
fn text_output_shows_verdict_evidence_and_fix() {
    let sb = Sandbox::new();
    let out = run(&sb, &["--demo-broken", "provisioning-sp"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("provisioning-client"))
        .unwrap();
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(text.contains("read: GET servicePrincipals"), "{text}");
    assert!(text.contains("fix:  create it"), "{text}");
    assert!(text.contains("failed"), "{text}");
}

#[test]
fn without_a_tenant_it_says_how_to_run_and_exits_2() {
    let sb = Sandbox::new();
    let out = run(&sb, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--demo"), "{err}");
    let bad = run(&sb, &["--demo-broken", "everything"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("everything"));
}
