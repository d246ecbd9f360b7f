//! The console shell end to end: the real binary in tmux.

use crate::common;

use crate::common::{Sandbox, Tmux, env_refs};

#[test]
fn shell_switches_panes_opens_help_resizes_and_restores_the_terminal() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&[], &env_refs(&env), 100, 30);

    // Starts on Intake with the scan input ready.
    let screen = t.wait_for("Scan");
    assert!(screen.contains("F2 Intake"), "{screen}");
    assert!(screen.contains("› "), "{screen}");
    assert!(t.alternate_on(), "console runs in the alternate screen");

    // Typing reaches the input, including keys that are commands elsewhere.
    t.type_text("PF1?q");
    t.wait_for("› PF1?q");

    // F3 / F4 switch panes; the tab bar and the pane title follow.
    t.keys(&["F3"]);
    t.wait_for("Status");
    t.wait_until("status pane body", |s| {
        s.contains("Serial") && s.contains("Compliance")
    });
    t.keys(&["F4"]);
    t.wait_until("review pane body", |s| s.contains("Verdict"));

    // Help lists the pane's keys; any key closes it.
    t.keys(&["?"]);
    let help = t.wait_for("Keys · Review pane");
    assert!(help.contains("approve the marked rows in view"), "{help}");
    t.keys(&["Escape"]);
    t.wait_until("help closed", |s| !s.contains("Keys · Review pane"));

    // Too small shows a notice; growing back redraws the pane.
    t.resize(70, 20);
    t.wait_for("terminal too small");
    t.resize(120, 40);
    t.wait_until("redrawn after resize", |s| {
        s.contains("Verdict") && !s.contains("too small")
    });

    // Back on intake the typed text is still there; Ctrl-C quits from the input.
    t.keys(&["F2"]);
    t.wait_for("› PF1?q");
    t.keys(&["C-c"]);
    // Wait for the shell's `stty -a` after the exit line, not just the exit line.
    let after = t.wait_until("exit and terminal modes", |s| {
        s.contains("EXITED:") && s.contains("icanon")
    });
    assert!(after.contains("EXITED:0"), "{after}");
    assert!(!t.alternate_on(), "alternate screen left");
    // stty -a after exit: canonical mode and echo are back on (raw mode would show -icanon -echo).
    assert!(
        after.contains(" icanon") && after.contains(" echo "),
        "terminal modes not restored:\n{after}"
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&[], &env_refs(&env), 100, 30);
    t.wait_for("Scan");
    let pid = t.program_pid().expect("console pid");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let after = t.wait_until("exit and terminal modes", |s| {
        s.contains("EXITED:") && s.contains("icanon")
    });
    assert!(!t.alternate_on(), "alternate screen left:\n{after}");
    assert!(
        after.contains(" icanon"),
        "terminal modes not restored:\n{after}"
    );
}

#[test]
fn bad_config_is_refused_before_the_screen_opens() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.config(),
        "[tenant]\ngraph_url = \"http://graph.example.com\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(common::bin())
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stagehand.toml") && err.contains("tenant.graph_url"),
        "{err}"
    );
}
