//! `stagehand intake add|import|list` against real files in a temp data dir.

use crate::common;

use std::process::{Command, Output};

use crate::common::Sandbox;

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    Command::new(common::bin())
        .args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap()
}

fn listed(sb: &Sandbox) -> Vec<serde_json::Value> {
    let out = run(sb, &["intake", "list", "--json"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn add_validates_each_serial_and_exits_1_when_any_is_refused() {
    let sb = Sandbox::new();
    let out = run(
        &sb,
        &[
            "intake",
            "add",
            "AB.12",
            "CD#3",
            "EF45",
            "ab12",
            "--manufacturer",
            "Microsoft",
            "--model",
            "Surface 5",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CD#3: character '#' at position 3 is not allowed"),
        "{err}"
    );
    assert!(err.contains("ab12: duplicate"), "{err}");
    let rows = listed(&sb);
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["serial"].as_str().unwrap(),
                r["manufacturer"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("AB12", "Microsoft", "queued"),
            ("EF45", "Microsoft", "queued")
        ]
    );
}

#[test]
fn prep_queue_file_and_raw_csv_both_import() {
    let sb = Sandbox::new();
    let csv = sb.path().join("pallet.csv");
    std::fs::write(&csv, "Serial Number;Manufacturer;Model\r\nPF1.001;Lenovo;T14\r\nPF1002;Lenovo;T14\r\nBAD#;Lenovo;T14\r\n").unwrap();
    let queue_file = sb.path().join("pallet.queue");
    let out = run(
        &sb,
        &[
            "prep",
            csv.to_str().unwrap(),
            "-o",
            queue_file.to_str().unwrap(),
            "--format",
            "queue",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "one row rejected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&sb, &["intake", "import", queue_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = listed(&sb);
    let serials: Vec<&str> = rows.iter().map(|r| r["serial"].as_str().unwrap()).collect();
    assert_eq!(serials, ["PF1001", "PF1002"]);
    assert_eq!(rows[0]["model"], "T14");
    // The raw CSV again: everything is now a duplicate or invalid, with file and line.
    let out = run(&sb, &["intake", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pallet.csv:2: PF1001: duplicate"), "{err}");
    assert!(err.contains("pallet.csv:4"), "{err}");
    assert_eq!(listed(&sb).len(), 2);
}
