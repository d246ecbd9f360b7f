//! The real console in tmux against the simulator (in this process, on 127.0.0.1:0), with nobody
//! signed in: the sign-in modal opens by itself with the simulator's device code, the code is
//! approved through the simulator, the status bar then shows the account. Then the refresh token is
//! revoked: the modal says why, the status bar says signed out, Graph requests stop (count flat)
//! while a scan is still journaled; Ctrl-L signs in again and requests resume.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Sandbox, Tmux, env_refs};
use stagehand::sim::{SimHandle, SimOptions};

fn graph_requests(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.starts_with("/beta/") || r.path.starts_with("/v1.0/"))
        .count()
}

fn status_bar(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// Waits for the modal's code, checks the screen shows the simulator's pending code, approves it.
fn approve_shown_code(t: &Tmux, sim: &SimHandle) -> String {
    let screen = t.wait_for("and enter the code");
    let codes = sim.pending_user_codes();
    let code = codes
        .iter()
        .find(|c| screen.contains(c.as_str()))
        .unwrap_or_else(|| panic!("none of {codes:?} on screen:\n{screen}"))
        .clone();
    assert!(screen.contains("/devicelogin"), "{screen}");
    assert!(screen.contains("code expires in"), "{screen}");
    assert!(sim.approve_device_code(&code));
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_loses_the_session_keeps_scanning_and_signs_in_again() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 3,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let root = sim.base_url.as_str().trim_end_matches('/').to_string();
    let sb = Sandbox::new();
    let mut env = sb.env();
    env.push(("STAGEHAND_GRAPH_URL", root.clone()));
    env.push(("STAGEHAND_LOGIN_URL", root));
    env.push(("STAGEHAND_TENANT", sim.tenant_id()));
    env.push(("STAGEHAND_CLIENT_ID", sim.client_id()));
    let upn = sim.signed_in_user().1;

    tokio::task::block_in_place(|| {
        let t = Tmux::start(&[], &env_refs(&env), 100, 30);
        // 1. Nobody signed in: the modal runs the device code flow at once.
        approve_shown_code(&t, &sim);
        t.wait_for(&format!("Signed in as {upn}"));
        t.keys(&["Escape"]);
        let screen = t.wait_until("the account in the status bar", |s| {
            status_bar(s).contains(&upn) && !s.contains("Sign in to")
        });
        assert!(status_bar(&screen).contains("online") || status_bar(&screen).contains("idle"));
        // The feeds run: ask the status feed for a refresh and see requests arrive.
        t.keys(&["F3"]);
        t.keys(&["F5"]);
        let deadline = Instant::now() + common::timeout();
        while graph_requests(&sim) == 0 {
            assert!(Instant::now() < deadline, "no Graph request after sign-in");
            std::thread::sleep(Duration::from_millis(50));
        }

        // 2. The session is lost mid-run.
        let gated = gate_waits(&sb);
        sim.revoke_refresh_tokens();
        sim.expire_access_tokens();
        t.keys(&["F5"]);
        let screen = t.wait_for("Signed out: sign-in expired or was revoked");
        assert!(screen.contains("Feeds are paused"), "{screen}");
        t.wait_for("and enter the code");
        let flat = graph_requests(&sim);
        t.keys(&["Escape"]);
        let screen = t.wait_until("the signed-out status bar", |s| {
            status_bar(s).contains("signed out — Ctrl-L to sign in") && !s.contains("Sign in to")
        });
        assert!(status_bar(&screen).contains("offline: paused"), "{screen}");
        // The intake keeps journaling scans while signed out.
        t.keys(&["F2"]);
        t.type_text("PF5SIGNOUT1\r");
        t.wait_until("the scan saved", |s| {
            s.contains("PF5SIGNOUT1") && s.contains("1 queued")
        });
        t.keys(&["F3"]);
        t.keys(&["F5"]);
        // The refresh reaches the sign-in gate and waits there (the console logs each request
        // that does): a positive signal that it was asked, and nothing reached Graph.
        let deadline = Instant::now() + common::timeout();
        while gate_waits(&sb) <= gated {
            assert!(
                Instant::now() < deadline,
                "no request waited at the sign-in gate"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(graph_requests(&sim), flat, "requests while signed out");
        // Durable while signed out: the store's database has it (read beside the console).
        let queue = stagehand::store::db::read_queue(&sb.data())
            .unwrap()
            .expect("the console created its database");
        assert!(queue.contains("PF5SIGNOUT1"), "queued: {}", queue.len());

        // 3. Sign in again with the key: requests resume.
        t.keys(&["C-l"]);
        approve_shown_code(&t, &sim);
        t.wait_for(&format!("Signed in as {upn}"));
        t.keys(&["Escape"]);
        // The modal must be gone before the next key: an Escape and the next key read together
        // are one Alt-chord to the terminal parser, and the F5 would be lost.
        let signed_in = format!("Signed in as {upn}");
        t.wait_until("the modal closed and the account in the status bar", |s| {
            status_bar(s).contains(&upn) && !s.contains(&signed_in)
        });
        t.keys(&["F5"]);
        let deadline = Instant::now() + common::timeout();
        while graph_requests(&sim) <= flat {
            assert!(Instant::now() < deadline, "requests did not resume");
            std::thread::sleep(Duration::from_millis(50));
        }
        t.keys(&["C-c"]);
        t.wait_for("EXITED:0");
    });
    sim.shutdown().await;
}

/// How many times the console logged a Graph request waiting at the signed-out gate.
fn gate_waits(sb: &Sandbox) -> usize {
    let Ok(dir) = std::fs::read_dir(sb.data().join("logs")) else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .map(|log| log.matches("waits at the sign-in gate").count())
        .sum()
}
