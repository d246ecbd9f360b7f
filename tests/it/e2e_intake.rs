//! Intake end to end: scanner-speed bursts into the real binary in tmux, the durable queue read
//! back with `stagehand intake list --json`, and a SIGKILL mid-burst.

use crate::common;

use std::process::Command;

use crate::common::{Sandbox, Tmux, env_refs};

fn queued_count(screen: &str) -> usize {
    // The queue title reads "Queue · 2 saving · 198 queued ───".
    let Some(title) = screen.lines().find(|l| l.contains("Queue ·")) else {
        return 0;
    };
    let Some(at) = title.find(" queued") else {
        return 0;
    };
    title[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn listed(sb: &Sandbox) -> Vec<String> {
    let out = Command::new(common::bin())
        .args(["intake", "list", "--json"])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    for r in &rows {
        for field in [
            "serial",
            "manufacturer",
            "model",
            "profile",
            "state",
            "scanned_at",
            "message",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        chrono::DateTime::parse_from_rfc3339(r["scanned_at"].as_str().unwrap()).expect("RFC 3339");
    }
    rows.iter()
        .map(|r| r["serial"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_hundred_scans_at_full_speed_are_all_queued_in_order() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&[], &env_refs(&env), 120, 40);
    t.wait_for("Scan");
    let serials: Vec<String> = (0..200).map(|i| format!("PF3{i:07}")).collect();
    // One send: the whole burst lands in the terminal at once, each serial ended by Enter (CR).
    let burst: String = serials.iter().map(|s| format!("{s}\r")).collect();
    t.type_text(&burst);
    t.wait_until("200 queued", |s| queued_count(s) == 200);
    // A duplicate and an invalid scan are refused with feedback.
    t.type_text("PF30000007\r");
    t.wait_for("duplicate: already in the queue");
    t.type_text("PF3#1\r");
    t.wait_for("'#' at position 4 is not allowed");
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");
    assert_eq!(listed(&sb), serials);
}

#[test]
fn sigkill_mid_burst_loses_no_scan_the_screen_showed_queued() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&[], &env_refs(&env), 120, 40);
    t.wait_for("Scan");
    let serials: Vec<String> = (0..400).map(|i| format!("KX{i:06}")).collect();
    let mut shown = 0;
    let mut last_screen = String::new();
    for chunk in serials.chunks(20) {
        let burst: String = chunk.iter().map(|s| format!("{s}\r")).collect();
        t.type_text(&burst);
        last_screen = t.capture();
        shown = queued_count(&last_screen);
        if shown >= 150 {
            break;
        }
    }
    let pid = t.program_pid().expect("console pid");
    // Whatever the screen showed as queued just before the kill must survive it.
    last_screen = {
        let s = t.capture();
        if queued_count(&s) >= shown {
            s
        } else {
            last_screen
        }
    };
    shown = shown.max(queued_count(&last_screen));
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    t.wait_for("EXITED:137");
    assert!(
        shown > 0,
        "nothing was shown queued before the kill:\n{last_screen}"
    );

    let survived = listed(&sb);
    assert!(
        survived.len() >= shown,
        "{} survived, {shown} were shown queued",
        survived.len()
    );
    assert_eq!(
        survived,
        serials[..survived.len()],
        "in order, with no gaps"
    );
    for line in last_screen
        .lines()
        .filter(|l| l.contains(" queued ") && l.contains("KX"))
    {
        let serial = line
            .split_whitespace()
            .find(|w| w.starts_with("KX"))
            .unwrap();
        assert!(
            survived.iter().any(|s| s == serial),
            "{serial} was shown queued and is gone"
        );
    }

    // The console opens again on the same journal and shows the survivors.
    drop(t);
    let t = Tmux::start(&[], &env_refs(&env), 120, 40);
    t.wait_until("survivors shown", |s| queued_count(s) == survived.len());
}

#[test]
fn a_second_stagehand_on_the_same_data_dir_gets_a_clear_error() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&[], &env_refs(&env), 100, 30);
    t.wait_for("Scan");
    let out = Command::new(common::bin())
        .args(["intake", "add", "AB123"])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another stagehand"), "{err}");
}
