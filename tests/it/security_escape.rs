//! No escape sequence from outside text reaches a terminal: the real binary, app-only, against
//! the simulated tenant whose device is named to forge a line and hide the rest, and a hostile
//! tenant id from the environment whose error lands on stderr. The raw bytes are checked.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{self, Sandbox};
use stagehand::auth::StaticToken;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, SimOptions};

const HOSTILE: &str = "Laptop\nRETIRE: every device\u{1b}[8m\u{9b}2J\u{202e}";

fn command(sim: &sim::SimHandle, sb: &Sandbox, secret: &str, args: &[&str]) -> Command {
    let base = sim.base_url.to_string();
    let mut c = Command::new(common::bin());
    c.args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .env("HOME", sb.path())
        .env("STAGEHAND_GRAPH_URL", &base)
        .env("STAGEHAND_LOGIN_URL", &base)
        .env("STAGEHAND_TENANT", sim.tenant_id())
        .env("STAGEHAND_CLIENT_ID", sim.client_id())
        .env("STAGEHAND_CLIENT_SECRET", secret);
    c
}

/// No byte of `out` is a C0 control other than a line feed, and no C1 or bidi control appears.
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (i, c) in text.char_indices() {
        assert!(
            c == '\n' || !stagehand::text::is_unsafe(c),
            "{what}: raw {c:?} at byte {i}: {text:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_device_name_is_printed_escaped_on_its_own_line() {
    let opts = SimOptions {
        devices: 8,
        ..SimOptions::default()
    };
    let secret = opts.client_secret.expose().to_string();
    let staging = opts.staging_accounts.clone();
    let sim = sim::start(opts).await.unwrap();
    let sb = Sandbox::new();
    let accounts: Vec<String> = staging.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        sb.config(),
        format!("[staging]\naccounts = [{}]\n", accounts.join(", ")),
    )
    .unwrap();
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(
            sim.issue_token(sim::ALL_DELEGATED, Duration::from_secs(3600)),
        )),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let devices = client
        .list_managed_devices(None, &["id", "serialNumber"])
        .await
        .unwrap();
    let serial = devices
        .iter()
        .find_map(|d| d.serial_number.clone().filter(|s| !s.is_empty()))
        .expect("an enrolled device");
    assert_eq!(sim.rename_device(&serial, HOSTILE), 1);

    let out: Output = command(&sim, &sb, &secret, &["status", "--serial", &serial])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("RETIRE")),
        "a line was forged: {text}"
    );
    let line = text.lines().find(|l| l.starts_with(&serial)).unwrap();
    assert!(
        line.contains("Laptop\\u{a}RETIRE: every device\\u{1b}[8m\\u{9b}2J\\u{202e}"),
        "{line}"
    );
    sim.shutdown().await;
}

#[test]
fn an_escape_sequence_in_an_error_message_reaches_stderr_escaped() {
    let sb = Sandbox::new();
    let out = Command::new(common::bin())
        .args(["status"])
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", sb.data())
        .env("HOME", sb.path())
        .env("STAGEHAND_GRAPH_URL", "http://127.0.0.1:9")
        .env("STAGEHAND_LOGIN_URL", "http://127.0.0.1:9")
        .env("STAGEHAND_TENANT", "\u{1b}[2J\u{1b}]0;owned\u{7}")
        .env("STAGEHAND_CLIENT_ID", "c")
        .env("STAGEHAND_CLIENT_SECRET", "s")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("\\u{1b}[2J"), "{err}");
    assert!(err.contains("tenant"), "{err}");
}
