//! Device operations end to end: `stagehand demo` (the console against the in-process simulated
//! tenant) in tmux: filter the status pane by stage, open a device's detail, request a sync, and
//! see the tenant's `deviceActionResults` carry it after a refresh; the audit file has the sync.

use crate::common::Sandbox;

/// The selected (detail) serial: the first word of the detail's first line.
fn detail_serial(screen: &str) -> Option<String> {
    let line = screen.lines().find(|l| l.contains("Esc closes"))?;
    line.trim_start_matches('│')
        .split_whitespace()
        .next()
        .map(String::from)
}

#[test]
fn filter_by_stage_open_the_detail_and_sync_a_device() {
    let sb = Sandbox::new();
    let (t, screen) = crate::common::demo_on_failed_rows(&sb);
    let rows: Vec<&str> = screen
        .lines()
        .skip(4)
        .filter(|l| l.starts_with('│') && l.len() > 10 && !l.trim_matches(['│', ' ']).is_empty())
        .collect();
    assert!(!rows.is_empty(), "{screen}");
    assert!(
        rows.iter().all(|l| l.contains(" failed ")),
        "only failed rows: {screen}"
    );

    t.keys(&["Enter"]);
    let screen = t.wait_until("the device as Intune has it", |s| {
        s.contains("In Intune") && s.contains("Join type") && s.contains("Actions            none")
    });
    let serial = detail_serial(&screen).expect("a serial heads the detail");
    t.keys(&["y"]);
    t.wait_for(&format!("{serial}: sync requested"));
    t.keys(&["r"]);
    t.wait_until("syncDevice in deviceActionResults", |s| {
        s.contains("Actions            syncDevice pending")
    });
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");

    let audit = std::fs::read_to_string(sb.data().join("demo").join("audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sync: Vec<(&str, Option<&str>)> = records
        .iter()
        .filter(|r| r["action"] == "sync" && r["serial"] == serial.as_str())
        .map(|r| (r["phase"].as_str().unwrap(), r["result"].as_str()))
        .collect();
    assert_eq!(sync, [("before", None), ("after", Some("ok"))], "{audit}");
}
