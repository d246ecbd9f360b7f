//! `stagehand devices …` and `stagehand intake fail` as a user runs them: the real binary, a
//! temp config and data dir, the `--demo` simulated tenant.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stagehand.toml"), "").unwrap();
        Self { dir }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(args)
            .env("STAGEHAND_CONFIG", self.dir.path().join("stagehand.toml"))
            .env("STAGEHAND_DATA_DIR", self.data())
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn audit(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("demo").join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A serial the demo tenant (seed 7) holds once, managed, with a primary user.
fn demo_serial(sb: &Sandbox) -> String {
    let out = sb.run(
        &["devices", "--demo", "list", "--stage", "assigned", "--json"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.iter().all(|r| r["stage"] == "assigned"));
    rows.iter()
        .find(|r| r["management_state"] == "managed")
        .expect("an assigned, managed device")["serial"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn devices_need_a_session_and_say_how_to_get_one() {
    let sb = Sandbox::new();
    let out = sb.run(&["devices", "list"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--demo"),
        "{}",
        text(&out.stderr)
    );
    let out = sb.run(&["devices", "--demo", "list", "--compliance", "green"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--compliance: compliance state \"green\""));
}

#[test]
fn wipe_from_the_shell_refuses_then_asks_then_goes_through_and_audits_each_attempt() {
    let sb = Sandbox::new();
    let serial = demo_serial(&sb);
    let wipe = |extra: &[&str], role: &str, stdin: &str| {
        let mut args = vec![
            "devices",
            "--demo",
            "--demo-role",
            role,
            "wipe",
            serial.as_str(),
        ];
        args.extend_from_slice(extra);
        sb.run(&args, stdin)
    };
    // No confirmation.
    let out = wipe(&["--yes"], "admin", "");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--confirm SERIAL"));
    // The technician holds no role.
    let out = wipe(&["--confirm", &serial, "--yes"], "technician", "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("neither Intune Administrator"));
    // The admin is shown what will happen and answers no.
    let out = wipe(
        &["--confirm", &serial, "--keep-enrollment-data"],
        "admin",
        "no\n",
    );
    assert_eq!(out.status.code(), Some(3));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("Enrollment data is kept")
            && shown.contains("User accounts and data are removed"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("Type yes to wipe {serial}")),
        "{shown}"
    );
    // And yes.
    let out = wipe(
        &["--confirm", &serial, "--keep-user-data"],
        "admin",
        "yes\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wipe sent for serial"));

    let rec = audit(&sb.data());
    assert_eq!(rec.len(), 8);
    let results: Vec<&str> = rec
        .iter()
        .skip(1)
        .step_by(2)
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert!(results[0].starts_with("refused: type the device's serial"));
    assert!(results[1].starts_with("refused: adele.vance@contoso.example"));
    assert_eq!(results[2], "refused: not confirmed at the final question");
    assert_eq!(results[3], "ok");
    assert!(rec[7]["request_id"].is_string());
    assert_eq!(rec[7]["options"]["keepUserData"], true);
    assert_eq!(rec[7]["actor"], "lead@contoso.example");
}

#[test]
fn show_and_sync_from_the_shell() {
    let sb = Sandbox::new();
    let serial = demo_serial(&sb);
    let out = sb.run(
        &[
            "devices",
            "--demo",
            "show",
            &serial,
            "--json",
            "--no-deployment",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["serial"], serial.as_str());
    assert_eq!(d["management_state"], "managed");
    assert!(d["enrolled_by"].as_str().unwrap().contains("staging"));
    let out = sb.run(
        &["devices", "--demo", "show", &serial, "--no-deployment"],
        "",
    );
    let shown = text(&out.stdout);
    assert!(
        shown.contains("Primary user") && shown.contains("Corporate identifier"),
        "{shown}"
    );
    let out = sb.run(&["devices", "--demo", "sync", &serial], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("serial {serial}")));
    // Audited like the console's sync: before, then after with the outcome, as the lead.
    let rec = audit(&sb.data());
    assert_eq!(rec.len(), 2, "{rec:?}");
    assert_eq!(
        (rec[0]["action"].as_str(), rec[0]["phase"].as_str()),
        (Some("sync"), Some("before"))
    );
    assert_eq!(
        (rec[1]["phase"].as_str(), rec[1]["result"].as_str()),
        (Some("after"), Some("ok"))
    );
    for r in &rec {
        assert_eq!(r["actor"], "lead@contoso.example");
        assert_eq!(r["serial"], serial.as_str());
    }
    assert!(rec[1]["device_id"].is_string());
}

#[test]
fn intake_fail_marks_a_queued_entry_failed_locally() {
    let sb = Sandbox::new();
    assert!(
        sb.run(&["intake", "add", "PF1ABC", "PF2DEF"], "")
            .status
            .success()
    );
    let out = sb.run(
        &["intake", "fail", "pf1abc", "--reason", "cracked hinge"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sb.run(&["intake", "list", "--json"], "");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let one = rows.iter().find(|r| r["serial"] == "PF1ABC").unwrap();
    assert_eq!(
        (one["state"].as_str(), one["note"].as_str()),
        (Some("failed"), Some("cracked hinge"))
    );
    let two = rows.iter().find(|r| r["serial"] == "PF2DEF").unwrap();
    assert_ne!(two["state"], "failed");
    // Unknown serial, empty reason.
    let out = sb.run(&["intake", "fail", "NOPE123", "--reason", "x"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("NOPE123 is not in the intake queue"));
    let out = sb.run(&["intake", "fail", "PF2DEF", "--reason", " "], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--reason: a reason is required"));
}
