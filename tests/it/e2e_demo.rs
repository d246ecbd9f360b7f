//! `stagehand demo` end to end: the console against the embedded simulated tenant, scanning at
//! full speed until every serial is registered in (simulated) Intune.

use crate::common;

use std::process::Command;

use crate::common::{Sandbox, Tmux, env_refs};

fn count(screen: &str, state: &str) -> usize {
    let Some(title) = screen.lines().find(|l| l.contains("Queue ·")) else {
        return 0;
    };
    let Some(at) = title.find(&format!(" {state}")) else {
        return 0;
    };
    title[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn demo_scans_two_hundred_serials_and_registers_them_all() {
    let sb = Sandbox::new();
    // What is under test is order and completeness, not the upload hold (10 s by default).
    std::fs::write(sb.config(), "[intake]\nhold_secs = 0\n").unwrap();
    let env = sb.env();
    let t = Tmux::start(&["demo"], &env_refs(&env), 130, 40);
    let screen = t.wait_for("DEMO TENANT");
    assert!(screen.contains("Scan"), "{screen}");
    t.wait_until("signed in and online", |s| {
        s.contains("lead@contoso.example") && s.contains("online")
    });
    let serials: Vec<String> = (0..200).map(|i| format!("DE{i:06}")).collect();
    let burst: String = serials.iter().map(|s| format!("{s}\r")).collect();
    t.type_text(&burst);
    t.wait_until("200 registered", |s| count(s, "registered") == 200);
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");

    let out = Command::new(common::bin())
        .args(["intake", "list", "--json"])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data().join("demo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r["serial"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        serials.iter().map(String::as_str).collect::<Vec<_>>(),
        "all, in order"
    );
    assert!(rows.iter().all(|r| r["state"] == "registered"), "{rows:?}");
}

/// The Status pane's summary line ("3 provisioning · 1 failed · …").
fn summary(screen: &str) -> String {
    screen
        .lines()
        .skip_while(|l| !(l.starts_with('┌') && l.contains(" Status ")))
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// Distinct stages the summary line counts.
fn stages(screen: &str) -> usize {
    let line = summary(screen);
    [
        "queued",
        "registered",
        "enrolled",
        "provisioning",
        "provisioned",
        "failed",
        "in use",
        "assigned",
    ]
    .iter()
    .filter(|w| line.contains(&format!(" {w}")))
    .count()
}

/// Alive at first look: F3 shows the simulated fleet spread over at least four stages as soon as
/// the first poll is in (the simulator completes the report export within its processing time,
/// before the client's first status poll), then the counts move with no key pressed. How fast is
/// measured, not asserted (see the branch report).
#[test]
fn the_demo_shows_four_stages_on_f3_and_then_a_change_without_a_key() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&["demo"], &env_refs(&env), 160, 40);
    t.wait_for("DEMO TENANT");
    t.keys(&["F3"]);
    let screen = t.wait_until("at least four stages on F3", |s| stages(s) >= 4);
    let first = summary(&screen);
    t.wait_until("a stage count changing by itself", |s| {
        let now = summary(s);
        !now.trim().is_empty() && now != first
    });
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");
}
