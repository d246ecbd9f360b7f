//! The review pane end to end: the real console in tmux at 120x36 against the simulator (in this
//! process), signed in through the device code. A proposed user renamed to a 40-character UPN is
//! shown whole in the row and in the "Apply N changes?" confirmation; `E` exports the filtered
//! view into the data dir's `exports/` and says where.

use std::time::Duration;

use crate::common::{Sandbox, Tmux, env_refs};
use crate::review_common::Tenant;
use stagehand::review::Verdict;
use stagehand::review::fetch::Fetcher;
use stagehand::sim::{SimHandle, SimOptions};

const UPN: &str = "joanna.featherstonehaugh@contoso.example";

fn approve_shown_code(t: &Tmux, sim: &SimHandle) {
    let screen = t.wait_for("and enter the code");
    let code = sim
        .pending_user_codes()
        .into_iter()
        .find(|c| screen.contains(c.as_str()))
        .unwrap_or_else(|| panic!("no pending code on screen:\n{screen}"));
    assert!(sim.approve_device_code(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forty_character_upn_is_whole_in_the_row_and_in_the_confirmation() {
    assert_eq!(UPN.len(), 40);
    let t = Tenant::start_with(SimOptions {
        devices: 64,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await;
    let cfg = t.config();
    let candidates = Fetcher::new(&t.client, &cfg).candidates().await.unwrap();
    let c = candidates
        .iter()
        .find(|c| c.assessment.verdict == Verdict::Propose)
        .expect("a propose row");
    let who = c.assessment.proposed.clone().unwrap();
    let serial = c.device.serial.clone();
    assert!(t.sim.rename_user(&who.id, UPN, "Joanna Featherstonehaugh"));

    let sim = &t.sim;
    let root = sim.base_url.as_str().trim_end_matches('/').to_string();
    let sb = Sandbox::new();
    let accounts: Vec<String> = cfg
        .staging
        .accounts
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    std::fs::write(
        sb.config(),
        format!("[staging]\naccounts = [{}]\n", accounts.join(", ")),
    )
    .unwrap();
    let mut env = sb.env();
    env.push(("STAGEHAND_GRAPH_URL", root.clone()));
    env.push(("STAGEHAND_LOGIN_URL", root));
    env.push(("STAGEHAND_TENANT", sim.tenant_id()));
    env.push(("STAGEHAND_CLIENT_ID", sim.client_id()));
    let upn = sim.signed_in_user().1;

    tokio::task::block_in_place(|| {
        let tm = Tmux::start(&[], &env_refs(&env), 120, 36);
        approve_shown_code(&tm, sim);
        tm.wait_for(&format!("Signed in as {upn}"));
        tm.keys(&["Escape"]);
        // The next key only once the modal is gone: Esc and F4's escape sequence sent together
        // could read as other keys.
        tm.wait_until("the modal closed", |s| {
            !s.contains(&format!("Signed in as {upn}"))
        });
        tm.keys(&["F4"]);
        let screen = tm.wait_until("the review rows", |s| s.contains(UPN));
        // In the row: the device's serial and the whole UPN on one line.
        assert!(
            screen
                .lines()
                .any(|l| l.contains(serial.as_str()) && l.contains(UPN)),
            "{screen}"
        );
        assert!(screen.contains("propose "), "verdict counts: {screen}");
        // Only that device, then approve: the confirmation shows the UPN whole.
        tm.keys(&["/"]);
        tm.type_text(&serial);
        tm.keys(&["Enter"]);
        // One table row left (the detail box, with its arrow, names the user too).
        tm.wait_until("the filter to apply", |s| {
            s.lines()
                .filter(|l| l.contains(UPN) && !l.contains('→'))
                .count()
                == 1
        });
        tm.keys(&["a"]);
        let screen = tm.wait_for("Apply 1 change?");
        let body: Vec<&str> = screen
            .lines()
            .skip_while(|l| !l.contains("Apply 1 change?"))
            .take_while(|l| !l.contains("Each change is audited"))
            .collect();
        assert!(
            body.iter()
                .any(|l| l.contains(&format!("Joanna Featherstonehaugh <{UPN}>"))),
            "{screen}"
        );
        tm.keys(&["n"]);
        tm.wait_for("nothing applied");
        // Export the filtered view.
        tm.keys(&["E"]);
        let screen = tm.wait_for("exported 1 row(s)");
        assert!(screen.contains("exports"), "{screen}");
        tm.keys(&["C-c"]);
        tm.wait_for("EXITED:0");
    });
    let exports: Vec<_> = std::fs::read_dir(sb.data().join("exports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let csv = exports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("a CSV export");
    let text = std::fs::read_to_string(csv).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(UPN) && text.contains(serial.as_str()),
        "{text}"
    );
    assert_eq!(t.ref_posts(), 0, "nothing written");
}
