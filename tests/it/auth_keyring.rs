//! The real OS credential store: gnome-keyring's Secret Service on a private D-Bus session.
//! Sign in in one process, `whoami` in a second (and a third, after the refresh token rotated),
//! `logout`, and `whoami` reports signed out. For a user (device code) and for an app (secret on
//! stdin). Skips loudly when `dbus-run-session` or `gnome-keyring-daemon` is missing
//! (.ci/run installs them).

#![cfg(target_os = "linux")]

use std::process::Stdio;
use std::time::Duration;

use crate::auth_support::{APP_SECRET, CLIENT, Fake, USER, all_files_text, stagehand};

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `steps` (each a stagehand argument list, optionally with stdin) in one D-Bus session with
/// an unlocked gnome-keyring. Each step's output is framed by `== step N rc=X` markers.
async fn in_keyring_session(fake: &Fake, home: &std::path::Path, steps: &[(&str, &str)]) -> String {
    // Reuse the test's command builder for the common flags, then hand them to sh.
    let base = stagehand(fake, home);
    let std_cmd = base.as_std();
    let mut flags: Vec<String> = vec![std_cmd.get_program().to_string_lossy().into()];
    flags.extend(std_cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let quoted = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let base_line: Vec<String> = flags.iter().map(|f| quoted(f)).collect();
    // A non-empty throwaway password: with an empty one gnome-keyring creates no login
    // collection and every Secret Service write fails ("result not returned from SS API").
    let mut script = String::from(
        "printf 'stagehand-test' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1\n",
    );
    for (i, (args, stdin)) in steps.iter().enumerate() {
        let file = home.join(format!("stdin-{i}"));
        std::fs::write(&file, stdin).unwrap();
        script += &format!(
            "{} {args} < {} 2>&1; echo \"== step {i} rc=$?\"\n",
            base_line.join(" "),
            quoted(&file.to_string_lossy())
        );
    }
    let mut c = tokio::process::Command::new("dbus-run-session");
    c.args(["--", "sh", "-c", &script])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("share"))
        .env("XDG_RUNTIME_DIR", home)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), c.output())
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn step(out: &str, i: usize) -> (&str, i32) {
    let start = if i == 0 {
        0
    } else {
        out.find(&format!("== step {} rc=", i - 1))
            .map(|p| p + out[p..].find('\n').unwrap() + 1)
            .unwrap()
    };
    let marker = format!("== step {i} rc=");
    let end = out
        .find(&marker)
        .unwrap_or_else(|| panic!("no step {i} in:\n{out}"));
    let rc: i32 = out[end + marker.len()..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (&out[start..end], rc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_service_keeps_the_sign_in_across_processes_until_logout() {
    if !have("dbus-run-session") || !have("gnome-keyring-daemon") {
        crate::common::missing(
            "auth_keyring",
            "dbus-run-session or gnome-keyring-daemon",
            "apt-get install -y dbus gnome-keyring",
        );
        return;
    }
    let fake = Fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let out = in_keyring_session(
        &fake,
        home.path(),
        &[
            ("login --device-code --role technician", ""),
            ("whoami", ""),
            ("whoami --json", ""),
            ("logout", ""),
            ("whoami", ""),
            ("login --app", &format!("{APP_SECRET}\n")),
            ("whoami", ""),
            ("logout", ""),
            ("whoami", ""),
        ],
    )
    .await;

    let (s, rc) = step(&out, 0);
    assert_eq!(rc, 0, "{out}");
    assert!(s.contains(&format!("Signed in as {USER}")), "{out}");
    assert!(
        !s.contains("no OS credential store"),
        "the real store was used:\n{out}"
    );
    let (s, rc) = step(&out, 1);
    assert_eq!(rc, 0, "{out}");
    assert!(
        s.contains(&format!("account:  {USER}")) && s.contains("role:     technician"),
        "{out}"
    );
    assert!(s.contains("token:    valid"), "{out}");
    // The third process can only refresh if the second persisted the rotated refresh token
    // (the fake spends a refresh token on use).
    let (s, rc) = step(&out, 2);
    assert_eq!(rc, 0, "{out}");
    assert!(s.contains("\"signed_in\":true"), "{out}");
    assert_eq!(fake.count("refresh_token"), 2);
    let (s, rc) = step(&out, 3);
    assert_eq!(rc, 0, "{out}");
    assert!(s.contains(&format!("Signed out {USER}")), "{out}");
    let (s, rc) = step(&out, 4);
    assert_eq!((s.trim(), rc), ("signed out", 1), "{out}");

    let (s, rc) = step(&out, 5);
    assert_eq!(rc, 0, "{out}");
    assert!(s.contains(&format!("Signed in as app {CLIENT}")), "{out}");
    let (s, rc) = step(&out, 6);
    assert_eq!(rc, 0, "{out}");
    assert!(
        s.contains(&format!("account:  app:{CLIENT}")) && s.contains("token:    valid"),
        "{out}"
    );
    assert_eq!(
        fake.count("client_credentials"),
        2,
        "login, then whoami with the stored secret"
    );
    let (_, rc) = step(&out, 7);
    assert_eq!(rc, 0, "{out}");
    let (s, rc) = step(&out, 8);
    assert_eq!((s.trim(), rc), ("signed out", 1), "{out}");

    // Nothing secret on screen or in any file we own (the keyring's own files are encrypted and
    // live outside the data dir).
    let files = all_files_text(&home.path().join("data"));
    let mut secrets = fake.issued();
    secrets.push(APP_SECRET.into());
    for v in &secrets {
        assert!(!out.contains(v.as_str()), "{v} on screen");
        assert!(!files.contains(v.as_str()), "{v} in the data dir");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_sign_in_is_reported_by_whoami_in_a_later_session() {
    if !have("dbus-run-session") || !have("gnome-keyring-daemon") {
        crate::common::missing(
            "auth_keyring",
            "dbus-run-session or gnome-keyring-daemon",
            "apt-get install -y dbus gnome-keyring",
        );
        return;
    }
    let fake = Fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let out = in_keyring_session(&fake, home.path(), &[("login --role lead", "")]).await;
    assert_eq!(step(&out, 0).1, 0, "{out}");
    // A new D-Bus session and keyring daemon, same keyring file: the sign-in is still there,
    // but the tenant has revoked it.
    fake.with(|s| s.revoke_all = true);
    let out = in_keyring_session(&fake, home.path(), &[("whoami", "")]).await;
    let (s, rc) = step(&out, 0);
    assert_eq!(rc, 1, "{out}");
    assert!(s.contains(&format!("account:  {USER}")), "{out}");
    assert!(
        s.contains("token:    unavailable: sign-in expired or was revoked (invalid_grant)"),
        "{out}"
    );
}
