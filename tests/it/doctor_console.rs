//! The doctor overlay end to end: `stagehand demo` in tmux, F9 shows the verdicts the console
//! read from the simulated tenant once it connected.

use crate::common::{Sandbox, Tmux, env_refs};

#[test]
fn f9_in_the_demo_shows_the_tenant_readiness_verdicts() {
    let sb = Sandbox::new();
    let env = sb.env();
    let t = Tmux::start(&["demo"], &env_refs(&env), 130, 40);
    t.wait_for("DEMO TENANT");
    t.keys(&["F9"]);
    t.wait_for("Tenant readiness");
    // The checks run in the background; the overlay fills in when they arrive.
    let screen = t.wait_until("verdicts", |s| s.contains("passed ·"));
    assert!(
        screen.contains("PASS  Intune Provisioning Client service principal"),
        "{screen}"
    );
    assert!(
        screen.contains("WARN  Device enrollment manager"),
        "{screen}"
    );
    assert!(screen.contains(" 0 failed"), "{screen}");
    t.keys(&["Escape"]);
    t.wait_until("overlay closed", |s| !s.contains("Tenant readiness"));
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");
}
