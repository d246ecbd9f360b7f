//! `stagehand login | whoami | logout` as real processes against the fake token service, on a
//! box with no credential store (no D-Bus session): each flow works, says plainly that nothing is
//! kept, writes no secret anywhere; then every output and every file in the data dir is searched
//! for every token, code and secret the fake issued.

use std::process::Stdio;
use std::time::Duration;

use crate::auth_support::{APP_SECRET, CLIENT, Fake, all_files_text, stagehand};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const LIMIT: Duration = Duration::from_secs(60);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(mut cmd: tokio::process::Command, stdin: &str) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut si = child.stdin.take().unwrap();
    si.write_all(stdin.as_bytes()).await.unwrap();
    drop(si);
    let out = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_through_the_binary_leaks_nothing() {
    let fake = Fake::start().await;
    fake.with(|s| s.device_script = ["authorization_pending"].into());
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let mut seen = String::new();

    // Device code.
    let mut c = stagehand(&fake, home.path());
    c.args(["login", "--device-code", "--role", "lead"]);
    let r = run(c, "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("FAKE-CODE"),
        "the code is shown: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("no OS credential store is available"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("in memory only"), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Signed in as tech@contoso.com (lead role)"),
        "{}",
        r.stdout
    );
    assert!(
        !data.join("account.json").exists(),
        "no record without a stored secret"
    );
    seen += &(r.stdout + &r.stderr);

    // Browser (PKCE): read the URL from stderr and play the browser.
    let mut c = stagehand(&fake, home.path());
    c.args(["login", "--browser"])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut err_text = String::new();
    let url = tokio::time::timeout(LIMIT, async {
        while let Some(l) = lines.next_line().await.unwrap() {
            err_text += &l;
            err_text.push('\n');
            if let Some(u) = l
                .trim()
                .strip_prefix("http")
                .filter(|u| u.contains("/authorize?"))
            {
                return format!("http{u}");
            }
        }
        panic!("no URL in: {err_text}");
    })
    .await
    .unwrap();
    assert!(err_text.contains("Open this URL to sign in"), "{err_text}");
    reqwest::get(&url).await.unwrap();
    while let Some(l) = lines.next_line().await.unwrap() {
        err_text += &l;
        err_text.push('\n');
    }
    let out = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{err_text}");
    assert!(stdout.contains("Signed in as tech@contoso.com"), "{stdout}");
    assert_eq!(fake.count("authorization_code"), 1);
    seen += &(stdout + &err_text);

    // App with a secret on stdin.
    let mut c = stagehand(&fake, home.path());
    c.args(["login", "--app"]);
    let r = run(c, &format!("{APP_SECRET}\n")).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Signed in as app {CLIENT}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("no OS credential store is available"),
        "{}",
        r.stderr
    );
    seen += &(r.stdout + &r.stderr);

    // A wrong secret is refused, naming the error.
    let mut c = stagehand(&fake, home.path());
    c.args(["login", "--app"]);
    let r = run(c, "not-the-secret\n").await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-secret"), "{}", r.stderr);

    // STAGEHAND_CLIENT_SECRET: app-only with no login step.
    let mut c = stagehand(&fake, home.path());
    c.args(["whoami"])
        .env("STAGEHAND_CLIENT_SECRET", APP_SECRET);
    let r = run(c, "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("account:  app:{CLIENT}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("token:    valid, expires in"),
        "{}",
        r.stdout
    );
    seen += &(r.stdout + &r.stderr);

    let mut c = stagehand(&fake, home.path());
    c.args(["whoami", "--json"])
        .env("STAGEHAND_CLIENT_SECRET", APP_SECRET);
    let r = run(c, "").await;
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["signed_in"], true);
    assert!(v["token_expires_in_s"].as_u64().unwrap() > 3000);
    seen += &(r.stdout + &r.stderr);

    // Nobody recorded: signed out.
    let mut c = stagehand(&fake, home.path());
    c.args(["whoami"]);
    let r = run(c, "").await;
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.trim(), "signed out");
    let mut c = stagehand(&fake, home.path());
    c.args(["logout"]);
    let r = run(c, "").await;
    assert_eq!(r.code, 0);
    seen += &(r.stdout + &r.stderr);

    // The search: outputs and every file in the data dir (trace logs included).
    let files = all_files_text(&data);
    assert!(
        files.contains("TRACE") || files.contains("DEBUG"),
        "trace logging reached the file"
    );
    let mut secrets = fake.issued();
    secrets.push(APP_SECRET.into());
    assert!(secrets.len() >= 8, "{secrets:?}");
    for s in &secrets {
        assert!(!seen.contains(s.as_str()), "{s} leaked on screen");
        assert!(
            !files.contains(s.as_str()),
            "{s} leaked into a file under {}",
            data.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_app_signs_in_and_whoami_works_in_another_process() {
    let fake = Fake::start().await;
    let home = tempfile::tempdir().unwrap();
    let support = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/auth_support");
    let config = home.path().join("stagehand.toml");
    std::fs::write(
        &config,
        format!(
            "[tenant]\ncertificate_path = {:?}\nprivate_key_path = {:?}\n",
            support.join("test_cert.pem"),
            support.join("test_key.pem")
        ),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        let mut c = stagehand(&fake, home.path());
        c.arg("--config").arg(&config).args(args);
        c
    };
    let r = run(cmd(&["login", "--app"]), "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!("Signed in as app {CLIENT}")),
        "{}",
        r.stdout
    );
    // Nothing secret to keep for a certificate: no keyring needed, the record names the app.
    let record = std::fs::read_to_string(home.path().join("data/account.json")).unwrap();
    assert!(record.contains("\"certificate\""), "{record}");
    let r = run(cmd(&["whoami"]), "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("token:    valid"), "{}", r.stdout);
    assert_eq!(fake.count("client_credentials"), 2);
    let r = run(cmd(&["logout"]), "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The configured certificate alone runs as the app, with no login step (as the secret in
    // STAGEHAND_CLIENT_SECRET does); without it in the config, nobody is signed in.
    let r = run(cmd(&["whoami"]), "").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("kind:     app (certificate)"),
        "{}",
        r.stdout
    );
    assert_eq!(fake.count("client_credentials"), 3);
    std::fs::write(&config, "").unwrap();
    let r = run(cmd(&["whoami"]), "").await;
    assert_eq!((r.stdout.trim(), r.code), ("signed out", 1));
    // A missing key file is named.
    std::fs::write(&config, "[tenant]\ncertificate_path = \"/nonexistent/c.pem\"\nprivate_key_path = \"/nonexistent/k.pem\"\n").unwrap();
    let r = run(cmd(&["login", "--app"]), "").await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/nonexistent/c.pem"), "{}", r.stderr);
    let all = all_files_text(&home.path().join("data"));
    for v in fake.issued() {
        assert!(!all.contains(&v), "{v} leaked");
    }
}
