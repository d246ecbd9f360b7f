//! Notifications against loopback stand-ins built to the published shapes
//! (tests/fixtures/notify): a ServiceNow instance (Table API incident create/query/patch,
//! Attachment API with raw bytes, 429 with `Retry-After` and the documented error body) and a
//! Teams Workflows webhook (202 for the documented envelope, 400 otherwise). The device comes
//! from the simulated tenant: it fails, stays failed over five polls and a restart, and gets
//! exactly one incident, with its evidence bundle attached byte for byte.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use serde_json::{Value, json};
use stagehand::auth::StaticToken;
use stagehand::evidence::Collector;
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::notify::deliver::{EvidenceSource, Notifier, Outcome};
use stagehand::notify::servicenow::{SnClient, SnSecrets};
use stagehand::notify::teams::TeamsClient;
use stagehand::notify::{NotifyConfig, ServiceNowConfig, SnAuth, TeamsConfig};
use stagehand::secret::Secret;
use stagehand::sim::{self, ALL_DELEGATED, SimOptions};
use stagehand::status::poll::Poller;
use stagehand::status::{DeviceStatus, Stage};
use stagehand::store::StoreHandle;

const PASSWORD: &str = "sn-PASSWORD-7731";
const HOOK_SECRET: &str = "SECRETPATH-4c1e9";

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notify")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[derive(Default)]
struct Stand {
    incidents: Vec<Value>,
    attachments: Vec<(String, String, String, Vec<u8>)>,
    notes: Vec<(String, String)>,
    cards: Vec<Value>,
    /// Answer this many incident creates with 429.
    throttle_creates: u32,
    /// Create the incident but answer 502, this many times.
    lose_create_answers: u32,
    create_calls: u32,
    bad_auth: u32,
}

type Shared = Arc<Mutex<Stand>>;

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("svc_stagehand:{PASSWORD}"))
    )
}

fn sn_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "detail": ""}, "status": "failure"})),
    )
        .into_response()
}

/// The documented header rules: Accept always, Content-Type with a body; the right credential.
fn check(h: &HeaderMap, st: &Shared, body: bool) -> Option<Response> {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic().as_str()) {
        st.lock().unwrap().bad_auth += 1;
        return Some(sn_error(StatusCode::UNAUTHORIZED, "User Not Authenticated"));
    }
    if h.get("accept").is_none() || (body && h.get("content-type").is_none()) {
        return Some(sn_error(
            StatusCode::BAD_REQUEST,
            "Accept and Content-Type are required",
        ));
    }
    None
}

async fn create(
    State(st): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&h, &st, true) {
        return r;
    }
    let mut s = st.lock().unwrap();
    s.create_calls += 1;
    if s.throttle_creates > 0 {
        s.throttle_creates -= 1;
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(fixture("servicenow-error-429-rate-limit.json")),
        )
            .into_response();
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        r.headers_mut()
            .insert("x-ratelimit-limit", "100".parse().unwrap());
        return r;
    }
    let Ok(fields) = serde_json::from_slice::<Value>(&body) else {
        return sn_error(StatusCode::BAD_REQUEST, "malformed JSON");
    };
    let mut rec = fixture("servicenow-incident-create-response.json")["result"].clone();
    for (k, v) in fields.as_object().unwrap() {
        rec[k] = v.clone();
    }
    let n = s.incidents.len() + 1;
    rec["number"] = json!(format!("INC00100{n:02}"));
    rec["sys_id"] = json!(format!("c537bae64f411200adf9f8e18110c7{n:02}"));
    s.incidents.push(rec.clone());
    if s.lose_create_answers > 0 {
        s.lose_create_answers -= 1;
        return sn_error(StatusCode::BAD_GATEWAY, "Bad Gateway");
    }
    let out = match q.get("sysparm_fields") {
        Some(f) => Value::Object(
            f.split(',')
                .map(|k| (k.to_string(), rec[k].clone()))
                .collect(),
        ),
        None => rec,
    };
    (StatusCode::CREATED, axum::Json(json!({ "result": out }))).into_response()
}

async fn query(
    State(st): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = check(&h, &st, false) {
        return r;
    }
    let s = st.lock().unwrap();
    let want = q
        .get("sysparm_query")
        .and_then(|x| x.strip_prefix("correlation_id="))
        .unwrap_or("");
    let hits: Vec<Value> = s
        .incidents
        .iter()
        .filter(|i| !want.is_empty() && i["correlation_id"] == want)
        .map(|i| json!({"sys_id": i["sys_id"], "number": i["number"]}))
        .collect();
    (StatusCode::OK, axum::Json(json!({ "result": hits }))).into_response()
}

async fn note(
    State(st): State<Shared>,
    AxPath(id): AxPath<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&h, &st, true) {
        return r;
    }
    let mut s = st.lock().unwrap();
    if !s.incidents.iter().any(|i| i["sys_id"] == id.as_str()) {
        return sn_error(StatusCode::NOT_FOUND, "No Record found");
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    s.notes.push((
        id.clone(),
        v["work_notes"].as_str().unwrap_or_default().to_string(),
    ));
    (
        StatusCode::OK,
        axum::Json(json!({"result": {"sys_id": id}})),
    )
        .into_response()
}

async fn attach(
    State(st): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = check(&h, &st, true) {
        return r;
    }
    let (Some(table), Some(id), Some(name)) = (
        q.get("table_name"),
        q.get("table_sys_id"),
        q.get("file_name"),
    ) else {
        return sn_error(StatusCode::BAD_REQUEST, "Missing mandatory parameter");
    };
    let mut s = st.lock().unwrap();
    if table != "incident" || !s.incidents.iter().any(|i| i["sys_id"] == id.as_str()) {
        return sn_error(
            StatusCode::NOT_FOUND,
            "Record doesn't exist or ACL restricts the record retrieval",
        );
    }
    let ct = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    s.attachments
        .push((id.clone(), name.clone(), ct.clone(), body.to_vec()));
    let mut r = fixture("servicenow-attachment-file-response.json");
    r["result"]["table_sys_id"] = json!(id);
    r["result"]["file_name"] = json!(name);
    r["result"]["content_type"] = json!(ct);
    r["result"]["size_bytes"] = json!(body.len().to_string());
    (StatusCode::CREATED, axum::Json(r)).into_response()
}

/// The Workflows trigger: the documented envelope gets 202 with no body, anything else 400.
async fn workflow(
    State(st): State<Shared>,
    AxPath(secret): AxPath<String>,
    body: Bytes,
) -> Response {
    if secret != HOOK_SECRET {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let a = &v["attachments"][0];
    let ok = v["type"] == "message"
        && a["contentType"] == "application/vnd.microsoft.card.adaptive"
        && a["content"]["type"] == "AdaptiveCard"
        && a["content"]["version"].is_string()
        && a["content"]["body"].is_array()
        && body.len() <= 28 * 1024;
    if !ok {
        return StatusCode::BAD_REQUEST.into_response();
    }
    st.lock().unwrap().cards.push(v);
    StatusCode::ACCEPTED.into_response()
}

async fn stand_in(st: Shared) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new()
        .route("/api/now/table/incident", post(create).get(query))
        .route("/api/now/table/incident/{id}", patch(note))
        .route("/api/now/attachment/file", post(attach))
        .route("/workflows/{secret}", post(workflow))
        .with_state(st);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, task)
}

fn notify_config(base: &str) -> NotifyConfig {
    NotifyConfig {
        servicenow: Some(ServiceNowConfig {
            instance_url: base.to_string(),
            auth: SnAuth::Basic,
            user: Some("svc_stagehand".into()),
            client_id: None,
            assignment_group: Some("287ebd7da9fe198100f92cc8d1d2154e".into()),
            category: Some("hardware".into()),
            urgency: "2".into(),
            impact: "3".into(),
            caller: Some("6816f79cc0a8016401c5a33be04be441".into()),
            input_display_value: false,
        }),
        teams: Some(TeamsConfig { enabled: true }),
        ..NotifyConfig::default()
    }
}

struct World {
    _sim: sim::SimHandle,
    client: GraphClient,
    config: stagehand::config::Config,
    who: Collector,
    serial: String,
    st: Shared,
    base: String,
    _stand: tokio::task::JoinHandle<()>,
}

async fn world() -> World {
    let sim = sim::start(SimOptions {
        devices: 16,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let token = sim.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let serial = client
        .autopilot_v2_deployments(None)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.deployment_status == "3")
        .unwrap()
        .serial_number;
    let st: Shared = Arc::default();
    let (base, stand) = stand_in(st.clone()).await;
    let mut config = stagehand::config::Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    config.notify = notify_config(&base);
    let who = Collector {
        tenant: sim.tenant_id(),
        collector: sim.signed_in_user().1,
    };
    World {
        _sim: sim,
        client,
        config,
        who,
        serial,
        st,
        base,
        _stand: stand,
    }
}

/// The store thread on `data`, as the console runs it (it holds the data-dir lock).
fn open_store(data: &Path) -> StoreHandle {
    stagehand::store::open_headless(data).unwrap()
}

/// Stops the store thread the way the console does on exit (everything written first).
async fn close_store(store: StoreHandle) {
    tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
}

impl World {
    async fn notifier(&self, data: &Path, store: &StoreHandle) -> Notifier {
        let sn = SnClient::new(
            self.config.notify.servicenow.clone().unwrap(),
            SnSecrets {
                password: Some(Secret::new(PASSWORD)),
                client_secret: None,
            },
        )
        .unwrap();
        let teams =
            TeamsClient::new(Secret::new(format!("{}workflows/{HOOK_SECRET}", self.base))).unwrap();
        let src = EvidenceSource {
            client: self.client.clone(),
            who: self.who.clone(),
        };
        let mut n = Notifier::open(
            self.config.notify.clone(),
            store.client().unwrap(),
            data,
            Some(sn),
            Some(teams),
            Some(src),
        )
        .await
        .unwrap();
        n.backoff = Duration::from_secs(1);
        n
    }

    async fn poll(&self, poller: &mut Poller) -> Vec<DeviceStatus> {
        poller
            .cycle(
                &Vec::<stagehand::store::QueueEntry>::new(),
                chrono::Utc::now(),
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (**r).clone())
            .collect()
    }
}

/// Every file under `dir` as lower-case text, zip entries included.
fn all_texts(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let b = std::fs::read(&p).unwrap();
            if b.starts_with(b"PK\x03\x04") {
                let mut z = zip::ZipArchive::new(std::io::Cursor::new(b.clone())).unwrap();
                for i in 0..z.len() {
                    let mut f = z.by_index(i).unwrap();
                    let mut s = Vec::new();
                    f.read_to_end(&mut s).unwrap();
                    out.push((
                        format!("{}!{}", p.display(), f.name()),
                        String::from_utf8_lossy(&s).to_string(),
                    ));
                }
            }
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&b).to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_stays_failed_over_five_polls_and_a_restart_gets_exactly_one_incident() {
    let w = world().await;
    w.st.lock().unwrap().throttle_creates = 1;
    let data = tempfile::tempdir().unwrap();
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    let start = chrono::Utc::now();
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let rows = w.poll(&mut poller).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].stage, Stage::Failed, "{:?}", rows[0]);
        n.observe(rows.iter(), chrono::Utc::now()).await.unwrap();
        outcomes.extend(
            n.deliver_due(start + chrono::Duration::seconds(10 * i))
                .await,
        );
    }
    // The first create was throttled: kept, retried after Retry-After, created once.
    assert!(
        matches!(&outcomes[0], Outcome::Retry { error, .. } if error.contains("429")),
        "{outcomes:?}"
    );
    {
        let s = w.st.lock().unwrap();
        assert_eq!(s.create_calls, 2, "one throttled, one created");
        assert_eq!(s.incidents.len(), 1);
        assert_eq!(s.attachments.len(), 1);
        assert_eq!(s.cards.len(), 1);
        assert_eq!(s.bad_auth, 0);
        let inc = &s.incidents[0];
        assert!(
            inc["short_description"]
                .as_str()
                .unwrap()
                .contains(&w.serial)
        );
        for (k, v) in [
            ("assignment_group", "287ebd7da9fe198100f92cc8d1d2154e"),
            ("category", "hardware"),
            ("urgency", "2"),
            ("impact", "3"),
            ("caller_id", "6816f79cc0a8016401c5a33be04be441"),
        ] {
            assert_eq!(inc[k], v, "{k}");
        }
    }
    assert!(n.pending().is_empty(), "{:?}", n.pending());

    // A restart: a new notifier on the same data dir, a new poller, the device still failed.
    drop(n);
    close_store(store).await;
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let rows = w.poll(&mut poller).await;
    assert!(
        n.observe(rows.iter(), chrono::Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        n.deliver_due(chrono::Utc::now() + chrono::Duration::hours(1))
            .await
            .is_empty()
    );
    assert_eq!(
        w.st.lock().unwrap().incidents.len(),
        1,
        "no second ticket after a restart"
    );

    // The attachment is the bundle, byte for byte, and it verifies.
    let (sys_id, name, ct, bytes) = w.st.lock().unwrap().attachments[0].clone();
    assert_eq!(
        sys_id,
        w.st.lock().unwrap().incidents[0]["sys_id"]
            .as_str()
            .unwrap()
    );
    assert_eq!(ct, "application/zip");
    let on_disk = data.path().join("evidence").join(&name);
    assert_eq!(std::fs::read(&on_disk).unwrap(), bytes, "{name}");
    assert!(stagehand::evidence::verify(&on_disk).unwrap().ok());

    // The card is the documented envelope (same keys as Microsoft's sample) and links the incident.
    let card = w.st.lock().unwrap().cards[0].clone();
    let sample = fixture("teams-workflow-adaptive-card-message.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&card), keys(&sample));
    assert_eq!(
        keys(&card["attachments"][0]),
        keys(&sample["attachments"][0])
    );
    assert_eq!(
        card["attachments"][0]["content"]["$schema"],
        sample["attachments"][0]["content"]["$schema"]
    );
    assert!(card.to_string().contains("INC0010001"), "{card}");

    // Recovery: a work note on the same incident, a card, no new ticket.
    let mut ok = rows[0].clone();
    ok.stage = Stage::Provisioned;
    ok.message = "deployment succeeded".into();
    n.observe([&ok], chrono::Utc::now()).await.unwrap();
    n.deliver_due(chrono::Utc::now()).await;
    {
        let s = w.st.lock().unwrap();
        assert_eq!(s.incidents.len(), 1);
        assert_eq!(s.notes.len(), 1);
        assert_eq!(s.notes[0].0, s.incidents[0]["sys_id"].as_str().unwrap());
        assert!(
            s.notes[0].1.contains("no longer failed"),
            "{}",
            s.notes[0].1
        );
        assert_eq!(s.cards.len(), 2);
    }

    // The credential is in no file and no message.
    let shown = format!("{outcomes:?} {n:?}");
    assert!(!shown.contains(PASSWORD) && !shown.contains(HOOK_SECRET));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("svc_stagehand:{PASSWORD}"));
    for (path, text) in all_texts(data.path()) {
        for secret in [PASSWORD, HOOK_SECRET, b64.as_str()] {
            assert!(!text.contains(secret), "{secret} in {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_whose_answer_was_lost_is_found_not_created_again() {
    let w = world().await;
    w.st.lock().unwrap().lose_create_answers = 1;
    let data = tempfile::tempdir().unwrap();
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let rows = w.poll(&mut poller).await;
    n.observe(rows.iter(), chrono::Utc::now()).await.unwrap();
    let first = n.deliver_due(chrono::Utc::now()).await;
    assert!(
        matches!(&first[0], Outcome::Retry { error, .. } if error.contains("502")),
        "{first:?}"
    );
    // A restart in between: the unclear create is remembered.
    drop(n);
    close_store(store).await;
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    let again = n
        .deliver_due(chrono::Utc::now() + chrono::Duration::minutes(5))
        .await;
    assert!(again.iter().any(|o| matches!(o, Outcome::Sent { what, .. } if what.contains("found after an unclear answer"))), "{again:?}");
    let s = w.st.lock().unwrap();
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.create_calls, 1);
    assert_eq!(s.attachments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_and_remembers_nothing() {
    let w = world().await;
    let data = tempfile::tempdir().unwrap();
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    n.dry_run = true;
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let rows = w.poll(&mut poller).await;
    n.observe(rows.iter(), chrono::Utc::now()).await.unwrap();
    let out = n.deliver_due(chrono::Utc::now()).await;
    let text: String = out.iter().map(|o| o.to_string()).collect();
    assert!(
        text.contains("ServiceNow incident") && text.contains("AdaptiveCard"),
        "{text}"
    );
    {
        let s = w.st.lock().unwrap();
        assert_eq!((s.create_calls, s.cards.len()), (0, 0));
    }
    assert!(!stagehand::notify::state_path(data.path()).exists());
    // Nothing was remembered: a restart finds no episode.
    drop(n);
    close_store(store).await;
    let store = open_store(data.path());
    assert!(w.notifier(data.path(), &store).await.state.open.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_failures_never_show_the_webhook_url() {
    // Nothing listens on this port once the listener is dropped.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let t = TeamsClient::new(Secret::new(format!(
        "http://127.0.0.1:{port}/workflows/{HOOK_SECRET}"
    )))
    .unwrap();
    let card = stagehand::notify::teams::card("t", "s", &[], None);
    let e = t.post(&card).await.unwrap_err().to_string();
    assert!(!e.contains(HOOK_SECRET) && !e.contains("workflows"), "{e}");
    assert!(!format!("{t:?}").contains(HOOK_SECRET));
    // A payload the trigger rejects is a plain failure, never retried as success.
    let st: Shared = Arc::default();
    let (base, _task) = stand_in(st.clone()).await;
    let t = TeamsClient::new(Secret::new(format!("{base}workflows/{HOOK_SECRET}"))).unwrap();
    let e = t
        .post(&json!({"text": "not a card"}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("400") && !e.contains(HOOK_SECRET), "{e}");
    t.post(&card).await.unwrap();
    assert_eq!(st.lock().unwrap().cards.len(), 1);
    assert!(
        TeamsClient::new(Secret::new("http://example.com/hook")).is_err(),
        "https only"
    );
}

#[test]
fn notify_login_keeps_the_secrets_in_the_credential_store_only() {
    let store = keyring_core::mock::Store::new().unwrap();
    let cache = stagehand::auth::CredentialCache::with_store(store);
    let cfg = notify_config("https://contoso.service-now.com");
    let dir = tempfile::tempdir().unwrap();
    let mut input = std::io::Cursor::new(format!(
        "{PASSWORD}\nhttps://prod.westeurope.logic.azure.com/workflows/{HOOK_SECRET}\n"
    ));
    let mut out = Vec::new();
    stagehand::notify::command::login(&cfg, &cache, false, false, &mut input, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains(PASSWORD) && !text.contains(HOOK_SECRET),
        "{text}"
    );
    let sn = cfg.servicenow.as_ref().unwrap();
    let got = stagehand::notify::secrets::load_servicenow(&cache, sn).unwrap();
    assert_eq!(got.password.unwrap().expose(), PASSWORD);
    assert!(
        stagehand::notify::secrets::load_teams(&cache)
            .unwrap()
            .unwrap()
            .expose()
            .contains(HOOK_SECRET)
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no file written"
    );
    // A webhook that is not https is refused before it is stored.
    let mut input = std::io::Cursor::new("http://example.com/hook\n");
    assert!(
        stagehand::notify::command::login(&cfg, &cache, false, true, &mut input, &mut Vec::new())
            .is_err()
    );
}

/// `notify-state.json` as the stagehand before the store wrote it (pretty JSON of the open
/// episodes, the closed ones and the outbox): an incident already open for `serial` and its Teams
/// card still undelivered after two tries.
fn old_state_file(serial: &str, episode: &str) -> String {
    format!(
        r#"{{
  "open": {{
    "{serial}|failed": {{
      "id": "{episode}",
      "serial": "{serial}",
      "kind": "failed",
      "opened_at": "2026-12-01T08:15:00Z",
      "device_name": "DESKTOP-OLD1",
      "managed_device_id": null,
      "message": "deployment failed",
      "code": "0x80180014",
      "incident": {{
        "sys_id": "9d385017c611228701d22104cc95c371",
        "number": "INC0000042"
      }},
      "create_unclear": false,
      "recovered_at": null
    }}
  }},
  "closed": [],
  "outbox": [
    {{
      "episode": "{episode}",
      "recovered": false,
      "steps": [
        "teams"
      ],
      "attempts": 2,
      "next_at": "2026-12-01T08:20:00Z",
      "last_error": "HTTP 500 from the webhook",
      "bundle": null
    }}
  ]
}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_notify_state_file_is_imported_once_and_its_incident_is_not_opened_again() {
    let w = world().await;
    let data = tempfile::tempdir().unwrap();
    let key = w.serial.trim().to_uppercase();
    let episode = format!("{key}:failed:2026-12-01T08:15:00Z");
    let old = data.path().join("notify-state.json");
    std::fs::write(&old, old_state_file(&key, &episode)).unwrap();
    // ServiceNow knows the incident the old file names.
    w.st.lock().unwrap().incidents.push(json!({
        "sys_id": "9d385017c611228701d22104cc95c371",
        "number": "INC0000042",
        "correlation_id": episode,
    }));

    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    assert!(!old.exists(), "the old file is retired");
    let kept = data.path().join("notify-state.json.migrated");
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        old_state_file(&key, &episode),
        "kept as it was"
    );
    assert_eq!(n.pending().len(), 1, "the undelivered card came along");

    // The device is still failed: no second incident, the kept card goes out naming the old one.
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let rows = w.poll(&mut poller).await;
    assert_eq!(rows[0].stage, Stage::Failed);
    assert!(
        n.observe(rows.iter(), chrono::Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    let out = n.deliver_due(chrono::Utc::now()).await;
    assert!(
        matches!(&out[..], [Outcome::Sent { what, .. }] if what == "Teams card"),
        "{out:?}"
    );
    {
        let s = w.st.lock().unwrap();
        assert_eq!(s.create_calls, 0);
        assert_eq!(s.cards.len(), 1);
        assert!(s.cards[0].to_string().contains("INC0000042"));
    }

    // What was sent is in the database now; `notify status` reads it beside the running store.
    let mut shown = Vec::new();
    stagehand::notify::command::status(data.path(), &mut shown).unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert!(
        shown.contains("INC0000042") && shown.contains("0 notice(s) not yet delivered"),
        "{shown}"
    );

    // A restart imports nothing again (the delivered card is not back) and keeps the incident.
    drop(n);
    close_store(store).await;
    let store = open_store(data.path());
    let mut n = w.notifier(data.path(), &store).await;
    assert!(n.pending().is_empty(), "{:?}", n.pending());
    let mut ok = rows[0].clone();
    ok.stage = Stage::Provisioned;
    n.observe([&ok], chrono::Utc::now()).await.unwrap();
    n.deliver_due(chrono::Utc::now()).await;
    let s = w.st.lock().unwrap();
    assert_eq!(s.create_calls, 0);
    assert_eq!(
        s.notes
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["9d385017c611228701d22104cc95c371"],
        "the recovery notes the imported incident"
    );
}

/// The console's screen (status bar included) for `app`, as text.
fn console_screen(app: &mut stagehand::app::App) -> String {
    app.settle();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).unwrap();
    term.draw(|f| stagehand::console::draw(f, app)).unwrap();
    let b = term.backend().buffer().clone();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_refused_incident_as_undelivered_then_its_ticket() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use stagehand::app::{App, Msg};

    let w = world().await;
    // ServiceNow refuses the first create (429, Retry-After: 1), then accepts.
    w.st.lock().unwrap().throttle_creates = 1;
    let data = tempfile::tempdir().unwrap();
    let store = open_store(data.path());
    let n = w.notifier(data.path(), &store).await;
    let (rows_tx, rows_rx) = tokio::sync::mpsc::unbounded_channel();
    let (report_tx, mut rounds) = tokio::sync::mpsc::unbounded_channel();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = stagehand::notify::deliver::spawn(n, rows_rx, Some(report_tx), cancel.clone());

    let mut app = App::new(stagehand::config::Config::default(), chrono::Utc::now());
    app.update(Msg::Resize {
        width: 120,
        height: 30,
    });
    app.update(Msg::Key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE)));
    let mut poller = Poller::new(w.client.clone(), w.config.clone());
    poller.extra_serials = vec![w.serial.clone()];
    let rows = w.poll(&mut poller).await;
    assert_eq!(rows[0].stage, Stage::Failed);
    rows_tx
        .send(rows.into_iter().map(Arc::new).collect())
        .unwrap();

    // Every round the notifier reports goes to the app as the console forwards it; the status
    // bar is read after each.
    let mut bars = Vec::new();
    while let Some(round) = rounds.recv().await {
        app.set_clock(chrono::Utc::now());
        app.update(Msg::Notify(round.into()));
        let screen = console_screen(&mut app);
        let bar = screen.lines().last().unwrap().to_string();
        let done = bar.contains("INC0010001");
        bars.push(bar);
        if done {
            break;
        }
    }
    let undelivered = bars
        .iter()
        .position(|b| b.contains("✉ 1 undelivered (n)"))
        .unwrap_or_else(|| panic!("never undelivered: {bars:#?}"));
    let ticket = bars
        .iter()
        .position(|b| b.contains("incident INC0010001 opened"))
        .unwrap_or_else(|| panic!("never the ticket: {bars:#?}"));
    assert!(undelivered < ticket, "{bars:#?}");
    assert!(!bars[ticket].contains("undelivered"), "{}", bars[ticket]);

    // The list says what happened, in order, newest first.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('n'),
        KeyModifiers::NONE,
    )));
    let screen = console_screen(&mut app);
    assert!(screen.contains("Kept for retry: 0"), "{screen}");
    let opened = screen.find("incident INC0010001 opened").unwrap();
    let refused = screen.find("not delivered").unwrap();
    assert!(opened < refused, "{screen}");
    assert!(!screen.contains(PASSWORD) && !screen.contains(HOOK_SECRET));
    assert_eq!(w.st.lock().unwrap().incidents.len(), 1);

    cancel.cancel();
    let _ = task.await;
    close_store(store).await;
}
