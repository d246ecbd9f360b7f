//! The leak test against the simulator: the real binary signs in with the simulator's own grants
//! (device code from the CLI and from the console's modal, the app secret through
//! `STAGEHAND_CLIENT_SECRET`) and calls Graph with those tokens, trace logging on. A recording relay
//! on 127.0.0.1:0 between the binary and the simulator keeps every token the simulator issued
//! (access, refresh, id token, device code); then stdout, stderr, the console's screen and every
//! file under the data dir (logs included) are searched for each of them and for the secret.

use crate::common;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Sandbox, Tmux, env_refs};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, Response};
use stagehand::sim::{SimHandle, SimOptions};

struct Relay {
    upstream: String,
    http: reqwest::Client,
    issued: Mutex<Vec<String>>,
}

const SECRET_FIELDS: [&str; 4] = ["access_token", "refresh_token", "id_token", "device_code"];

async fn relay(State(r): State<Arc<Relay>>, req: axum::extract::Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = r
        .http
        .request(parts.method.clone(), format!("{}{pq}", r.upstream));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    let resp = out
        .body(bytes.to_vec())
        .send()
        .await
        .expect("the simulator answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        let mut issued = r.issued.lock().unwrap();
        for f in SECRET_FIELDS {
            if let Some(s) = v.get(f).and_then(|x| x.as_str()) {
                issued.push(s.to_string());
            }
        }
    }
    let mut b = Response::builder().status(status.as_u16());
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            b = b.header(
                HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                v.as_bytes(),
            );
        }
    }
    b.body(Body::from(body)).unwrap()
}

/// Starts the relay; its root URL and the shared record of issued secrets.
async fn start_relay(sim: &SimHandle) -> (String, Arc<Relay>) {
    let r = Arc::new(Relay {
        upstream: sim.base_url.as_str().trim_end_matches('/').to_string(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_gzip()
            .build()
            .unwrap(),
        issued: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(relay).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), r)
}

fn run(env: &[(&str, String)], args: &[&str], secret: Option<&str>) -> (i32, String) {
    let mut c = Command::new(common::bin());
    c.args(args)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove(stagehand::auth::commands::CLIENT_SECRET_ENV)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(s) = secret {
        c.env(stagehand::auth::commands::CLIENT_SECRET_ENV, s);
    }
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_simulator_issued_never_reach_output_screen_logs_or_files() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 5,
        auto_approve_device_code: true,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let (root, rec) = start_relay(&sim).await;
    let sb = Sandbox::new();
    let mut env = sb.env();
    env.push(("STAGEHAND_GRAPH_URL", root.clone()));
    env.push(("STAGEHAND_LOGIN_URL", root));
    env.push(("STAGEHAND_TENANT", sim.tenant_id()));
    env.push(("STAGEHAND_CLIENT_ID", sim.client_id()));
    env.push(("RUST_LOG", "trace".into()));
    let app_secret = "sim-client-secret";
    let upn = sim.signed_in_user().1;

    let mut seen = String::new();
    let (outputs, screen) = tokio::task::block_in_place(|| {
        let mut outputs = String::new();
        // Device code from the CLI (auto-approved by the simulator as the lead).
        let (code, text) = run(
            &env,
            &["-vv", "login", "--device-code", "--role", "lead"],
            None,
        );
        assert_eq!(code, 0, "{text}");
        assert!(text.contains(&format!("Signed in as {upn}")), "{text}");
        outputs += &text;
        // App-only: whoami, then Graph reads with the app token.
        let (code, text) = run(&env, &["-vv", "whoami"], Some(app_secret));
        assert_eq!(code, 0, "{text}");
        outputs += &text;
        let (code, text) = run(&env, &["-vv", "devices", "list"], Some(app_secret));
        assert_eq!(code, 0, "{text}");
        outputs += &text;
        // The console: the modal signs in (auto-approved), the feeds call Graph, then quit.
        let console_env: Vec<(&'static str, String)> = env.clone();
        let t = Tmux::start(&["-vv"], &env_refs(&console_env), 100, 30);
        let mut screen = t.wait_for(&format!("Signed in as {upn}"));
        t.keys(&["Escape", "F3", "F5"]);
        screen += &t.wait_until("the account in the status bar", |s| s.contains(&upn));
        t.keys(&["C-c"]);
        screen += &t.wait_for("EXITED:0");
        (outputs, screen)
    });
    seen += &outputs;
    seen += &screen;
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.had_authorization && r.status == 200),
        "Graph was called with a bearer token"
    );

    let files = common_files(&sb.data());
    assert!(
        files.contains("TRACE"),
        "trace logging reached the log file"
    );
    let mut secrets = rec.issued.lock().unwrap().clone();
    secrets.sort();
    secrets.dedup();
    // CLI: device code, access, refresh, id token; app: two access tokens; console: device code,
    // access, refresh, id token.
    assert!(
        secrets.len() >= 8,
        "only {} secrets recorded",
        secrets.len()
    );
    secrets.push(app_secret.to_string());
    for s in &secrets {
        let head = &s[..s.len().min(12)];
        assert!(
            !seen.contains(s.as_str()),
            "{head}… leaked on screen or output"
        );
        assert!(
            !files.contains(s.as_str()),
            "{head}… leaked into a file under {}",
            sb.data().display()
        );
    }
    sim.shutdown().await;
}

fn common_files(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&common_files(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&b));
        }
    }
    out
}
