//! The simulator is reachable the way the README says: `stagehand sim` prints the environment and
//! the app secret line; `stagehand login` against it shows a code that its verification page
//! (the `verification_uri` it hands out) approves with one POST, as `curl -d code=…` would; the
//! app secret line runs `stagehand doctor` headless as the app with exit 0; and `status`,
//! `review` and `reassign` refuse an empty `[staging] accounts` with exit 2, naming the setting.

use std::process::Stdio;
use std::time::Duration;

use stagehand::sim::{self, SimOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::common;

fn limit() -> Duration {
    common::timeout().max(Duration::from_secs(60))
}

/// The page's form, as a browser (or `curl -d`) sends it.
async fn post_form(url: &url::Url, form: &[(&str, &str)]) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(url.clone())
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn the_verification_page_lists_approves_and_declines_codes() {
    let s = sim::start(SimOptions {
        devices: 0,
        device_code_interval: Duration::from_millis(50),
        ..Default::default()
    })
    .await
    .unwrap();
    let ep =
        stagehand::auth::TokenEndpoint::new(&s.base_url, &s.tenant_id(), &s.client_id()).unwrap();
    let scope = stagehand::auth::Role::Lead.scope_param();
    let prompt = stagehand::auth::device_code::start(&ep, &scope)
        .await
        .unwrap();
    assert_eq!(prompt.verification_uri, s.verification_url().as_str());

    // The page the user is sent to: the waiting code with a one-click Approve.
    let page = reqwest::get(prompt.verification_uri.as_str())
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"))
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{}\"", prompt.user_code)),
        "{html}"
    );
    assert!(html.contains("Approve as lead@contoso.example"), "{html}");

    // Unknown codes and users are told apart, escaped, and approve nothing.
    let (status, html) = post_form(&s.verification_url(), &[("code", "<b>NOPE</b>")]).await;
    assert_eq!(status, 404);
    assert!(
        html.contains("&lt;b&gt;NOPE&lt;/b&gt;") && !html.contains("<b>NOPE"),
        "{html}"
    );
    let (status, _) = post_form(
        &s.verification_url(),
        &[
            ("code", &prompt.user_code),
            ("user", "nobody@contoso.example"),
        ],
    )
    .await;
    assert_eq!(status, 404);

    // One POST with the code (lower case works too): the waiting sign-in completes as the lead.
    let (status, html) = post_form(
        &s.verification_url(),
        &[("code", &prompt.user_code.to_lowercase())],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Signed in as <b>lead@contoso.example</b>"),
        "{html}"
    );
    let tokens = tokio::time::timeout(
        limit(),
        stagehand::auth::device_code::poll(
            &ep,
            &prompt,
            &stagehand::auth::device_code::tokio_sleep,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(tokens.account.as_deref(), Some("lead@contoso.example"));
    // Used: the code is gone from the page.
    let html = reqwest::get(s.verification_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains(&prompt.user_code), "{html}");

    // Decline: the poll ends with the user's refusal.
    let prompt = stagehand::auth::device_code::start(&ep, &scope)
        .await
        .unwrap();
    let (status, _) = post_form(
        &s.verification_url(),
        &[("code", &prompt.user_code), ("action", "decline")],
    )
    .await;
    assert_eq!(status, 200);
    let e = stagehand::auth::device_code::poll(
        &ep,
        &prompt,
        &stagehand::auth::device_code::tokio_sleep,
    )
    .await
    .unwrap_err();
    assert_eq!(e, stagehand::auth::AuthError::Declined);
}

/// The README's path with the real binaries: `stagehand sim`, then `stagehand login` approved on
/// the page, then `stagehand doctor` headless as the app, then the staging-accounts refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_headless_doctor_against_stagehand_sim() {
    let home = tempfile::tempdir().unwrap();
    let mut simp = tokio::process::Command::new(common::bin())
        .args(["sim", "--port", "0", "--devices", "4"])
        .env("HOME", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(simp.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    while banner.len() < 3 {
        let l = tokio::time::timeout(limit(), lines.next_line())
            .await
            .expect("stagehand sim prints its banner")
            .unwrap()
            .expect("stagehand sim keeps running");
        banner.push(l);
    }
    let base = banner[0]
        .strip_prefix("stagehand sim listening on ")
        .expect("first line names the address")
        .to_string();
    let env: Vec<(String, String)> = banner[1]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(
        env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "STAGEHAND_GRAPH_URL",
            "STAGEHAND_LOGIN_URL",
            "STAGEHAND_TENANT",
            "STAGEHAND_CLIENT_ID"
        ]
    );
    let (secret_key, secret) = banner[2].split_once('=').unwrap();
    assert_eq!(secret_key, "STAGEHAND_CLIENT_SECRET");

    let config = home.path().join("stagehand.toml");
    std::fs::write(
        &config,
        "[staging]\naccounts = [\"staging@contoso.example\", \"o'neil.staging@contoso.example\"]\n",
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        let mut c = tokio::process::Command::new(common::bin());
        c.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("STAGEHAND_CONFIG", &config)
            .env("STAGEHAND_DATA_DIR", home.path().join("data"))
            .env("HOME", home.path())
            .env_remove("STAGEHAND_CLIENT_SECRET")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/stagehand-test-bus",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    };

    // `stagehand login`: read the code it shows, approve it on the page it names.
    let mut login = cmd(&["login", "--device-code", "--role", "lead"])
        .spawn()
        .unwrap();
    let mut err = BufReader::new(login.stderr.take().unwrap()).lines();
    let (uri, code) = loop {
        let l = tokio::time::timeout(limit(), err.next_line())
            .await
            .expect("login shows a code")
            .unwrap()
            .expect("login keeps running until approved");
        if let Some(rest) = l.split("open the page ").nth(1) {
            let uri = rest.split_whitespace().next().unwrap().to_string();
            let code = l
                .split("enter the code ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            break (uri, code);
        }
    };
    assert_eq!(uri, format!("{base}devicelogin"));
    let (status, _) = post_form(&url::Url::parse(&uri).unwrap(), &[("code", &code)]).await;
    assert_eq!(status, 200);
    let mut out = String::new();
    login
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let done = tokio::time::timeout(limit(), login.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(done.success(), "{out}");
    assert!(
        out.contains("Signed in as lead@contoso.example (lead role)"),
        "{out}"
    );

    // Headless as the app, with the printed secret line: a healthy tenant passes, exit 0.
    let doctor = cmd(&["doctor", "--json"])
        .env("STAGEHAND_CLIENT_SECRET", secret)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&doctor.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(rows.iter().all(|r| r["status"] != "fail"), "{text}");
    assert!(
        rows.iter()
            .any(|r| r["check"] == "intune-role" && r["status"] == "not_applicable"),
        "{text}"
    );

    // Without staging accounts the headless answers refuse instead of printing nothing.
    std::fs::write(&config, "").unwrap();
    for args in [
        &["status", "--json", "--all-staged"][..],
        &["review", "--json"][..],
        &["reassign", "--apply", "--yes"][..],
    ] {
        let r = cmd(args)
            .env("STAGEHAND_CLIENT_SECRET", secret)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("[staging] accounts is empty") && stderr.contains("stagehand.toml"),
            "{args:?}: {stderr}"
        );
        assert!(
            r.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&r.stdout)
        );
    }
    simp.kill().await.unwrap();
}
