//! A small Entra token service for the auth tests, on 127.0.0.1:0: `/{tenant}/oauth2/v2.0/`
//! `devicecode`, `token` (device_code, refresh_token with rotation, client_credentials with a
//! secret or an RS256 assertion, authorization_code with PKCE S256) and `authorize` (auto-approves
//! with a 302 to the loopback redirect). Errors in Entra's body shape. Every token it issues is
//! recorded so tests can search outputs for them. The lead re-points these tests at the simulator.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Verifier;

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const APP_SECRET: &str = "app-secret-Zq8~known-value-for-leak-tests";
pub const USER: &str = "tech@contoso.com";
pub const TEST_CERT: &str = include_str!("test_cert.pem");
pub const TEST_KEY: &str = include_str!("test_key.pem");

#[derive(Default)]
pub struct FakeState {
    /// Errors the device-code poll answers before success, in order.
    pub device_script: VecDeque<&'static str>,
    pub device_code: String,
    /// Every access token, refresh token, device code and auth code issued.
    pub issued: Vec<String>,
    /// Refresh tokens that are still accepted.
    pub live_refresh: Vec<String>,
    /// Next refresh answers `invalid_grant` (revoked) or a claims challenge.
    pub revoke_all: bool,
    pub claims_challenge: bool,
    /// With `claims_challenge`: a refresh that carries the asked-for claims succeeds (a silent
    /// answer); without it every refresh needs the user.
    pub claims_silent: bool,
    /// The `claims` parameter of the last devicecode / refresh request.
    pub devicecode_claims: Option<String>,
    pub refresh_claims: Option<String>,
    pub expires_in: u64,
    pub interval: u64,
    /// Authorize: deny, or answer with a wrong state.
    pub deny: bool,
    pub wrong_state: bool,
    /// code -> (challenge, redirect_uri)
    pub codes: HashMap<String, (String, String)>,
    /// grant_type -> count
    pub counts: HashMap<String, usize>,
    pub last_scope: String,
    pub seq: usize,
}

#[derive(Clone)]
pub struct Fake {
    pub state: Arc<Mutex<FakeState>>,
    pub addr: SocketAddr,
}

fn oauth_error(status: StatusCode, error: &str, extra: &[(&str, &str)]) -> Response {
    let mut body = serde_json::json!({
        "error": error,
        "error_description": format!("AADSTS00000: {error} (fake).\r\nTrace ID: 0000\r\nCorrelation ID: 0000"),
        "error_codes": [50000],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
    });
    for (k, v) in extra {
        body[*k] = serde_json::Value::String(v.to_string());
    }
    (status, Json(body)).into_response()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            expires_in: 3599,
            interval: 1,
            device_code: "DEVICE-CODE-secret-4711".into(),
            ..FakeState::default()
        }));
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { state, addr }
    }

    pub fn login_url(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/", self.addr)).unwrap()
    }

    pub fn endpoint(&self) -> stagehand::auth::TokenEndpoint {
        stagehand::auth::TokenEndpoint::new(&self.login_url(), TENANT, CLIENT).unwrap()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn count(&self, grant: &str) -> usize {
        self.with(|s| s.counts.get(grant).copied().unwrap_or(0))
    }

    pub fn issued(&self) -> Vec<String> {
        self.with(|s| s.issued.clone())
    }
}

fn mint(s: &mut FakeState, kind: &str) -> String {
    s.seq += 1;
    let v = format!("{kind}-{}-{}", s.seq, uuid::Uuid::new_v4().simple());
    s.issued.push(v.clone());
    v
}

fn tokens(s: &mut FakeState, delegated: bool, scope: &str) -> Response {
    let access = mint(s, "AT");
    let mut body = serde_json::json!({
        "token_type": "Bearer", "expires_in": s.expires_in, "ext_expires_in": s.expires_in,
        "access_token": access,
    });
    if delegated {
        let refresh = mint(s, "RT");
        s.live_refresh.push(refresh.clone());
        let payload = b64(
            serde_json::json!({"preferred_username": USER, "tid": TENANT})
                .to_string()
                .as_bytes(),
        );
        body["refresh_token"] = refresh.into();
        body["scope"] = scope.into();
        body["id_token"] = format!("{}.{payload}.", b64(br#"{"alg":"none"}"#)).into();
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn devicecode(
    State(st): State<Arc<Mutex<FakeState>>>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut s = st.lock().unwrap();
    if tenant != TENANT || f.get("client_id").map(String::as_str) != Some(CLIENT) {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", &[]);
    }
    s.last_scope = f.get("scope").cloned().unwrap_or_default();
    s.devicecode_claims = f.get("claims").cloned();
    let dc = s.device_code.clone();
    s.issued.push(dc.clone());
    let body = serde_json::json!({
        "device_code": dc, "user_code": "FAKE-CODE",
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900, "interval": s.interval,
        "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FAKE-CODE to authenticate.",
    });
    (StatusCode::OK, Json(body)).into_response()
}

async fn authorize(
    State(st): State<Arc<Mutex<FakeState>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = st.lock().unwrap();
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let ok = q.get("client_id").map(String::as_str) == Some(CLIENT)
        && q.get("response_type").map(String::as_str) == Some("code")
        && q.get("code_challenge_method").map(String::as_str) == Some("S256")
        && redirect.starts_with("http://127.0.0.1:");
    if !ok {
        return (StatusCode::BAD_REQUEST, "bad authorize request").into_response();
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let mut target = url::Url::parse(&redirect).unwrap();
    if s.deny {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "AADSTS65004: User declined to consent.",
            )
            .append_pair("state", &state);
    } else {
        let code = mint(&mut s, "CODE");
        let challenge = q.get("code_challenge").cloned().unwrap_or_default();
        s.codes.insert(code.clone(), (challenge, redirect.clone()));
        let state = if s.wrong_state {
            "forged".to_string()
        } else {
            state
        };
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn assertion_ok(assertion: &str, aud: &str) -> bool {
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(TEST_KEY).unwrap();
    let vk: VerifyingKey<Sha256> = VerifyingKey::new(key.to_public_key());
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let dec = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .ok()
    };
    let (Some(h), Some(c), Some(sig)) = (dec(parts[0]), dec(parts[1]), dec(parts[2])) else {
        return false;
    };
    let header: serde_json::Value = serde_json::from_slice(&h).unwrap_or_default();
    let claims: serde_json::Value = serde_json::from_slice(&c).unwrap_or_default();
    let der_b64: String = TEST_CERT
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der_b64)
        .unwrap();
    let thumb = b64(&Sha256::digest(&der));
    let Ok(sig) = Signature::try_from(sig.as_slice()) else {
        return false;
    };
    header["alg"] == "RS256"
        && header["x5t#S256"] == thumb.as_str()
        && claims["aud"] == aud
        && claims["iss"] == CLIENT
        && claims["sub"] == CLIENT
        && vk
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .is_ok()
}

async fn token(
    State(st): State<Arc<Mutex<FakeState>>>,
    Path(tenant): Path<String>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let mut s = st.lock().unwrap();
    let grant = f.get("grant_type").cloned().unwrap_or_default();
    *s.counts.entry(grant.clone()).or_default() += 1;
    if tenant != TENANT || f.get("client_id").map(String::as_str) != Some(CLIENT) {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", &[]);
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    match grant.as_str() {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if get("device_code") != s.device_code {
                return oauth_error(StatusCode::BAD_REQUEST, "bad_verification_code", &[]);
            }
            if let Some(err) = s.device_script.pop_front() {
                return oauth_error(StatusCode::BAD_REQUEST, err, &[]);
            }
            let scope = s.last_scope.clone();
            tokens(&mut s, true, &scope)
        }
        "refresh_token" => {
            s.refresh_claims = f.get("claims").cloned();
            let answered = s.claims_silent
                && s.refresh_claims
                    .as_deref()
                    .is_some_and(|c| c.contains("capolids"));
            if s.claims_challenge && !answered {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "interaction_required",
                    &[(
                        "claims",
                        r#"{"access_token":{"capolids":{"essential":true,"values":["1"]}}}"#,
                    )],
                );
            }
            let rt = get("refresh_token");
            if s.revoke_all || !s.live_refresh.contains(&rt) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &[]);
            }
            // Stricter than Entra (which keeps old ones valid): a used refresh token is spent,
            // so a test fails if a rotated one was not persisted.
            s.live_refresh.retain(|r| *r != rt);
            tokens(&mut s, true, &get("scope"))
        }
        "client_credentials" => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let aud = format!("http://{host}{}", uri.path());
            let ok = if let Some(sec) = f.get("client_secret") {
                sec == APP_SECRET
            } else {
                get("client_assertion_type")
                    == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                    && assertion_ok(&get("client_assertion"), &aud)
            };
            if !ok || !get("scope").ends_with("/.default") {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &[]);
            }
            tokens(&mut s, false, "")
        }
        "authorization_code" => {
            let Some((challenge, redirect)) = s.codes.remove(&get("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &[]);
            };
            let computed = b64(&Sha256::digest(get("code_verifier").as_bytes()));
            if computed != challenge || redirect != get("redirect_uri") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &[]);
            }
            tokens(&mut s, true, &get("scope"))
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", &[]),
    }
}

/// The stagehand binary with the fake's tenant, client and login URL, an isolated HOME and data
/// dir, full tracing (`RUST_LOG=trace`) and no D-Bus session unless the caller adds one.
pub fn stagehand(fake: &Fake, home: &std::path::Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"));
    c.arg("--tenant")
        .arg(TENANT)
        .arg("--client-id")
        .arg(CLIENT)
        .arg("--login-url")
        .arg(fake.login_url().as_str())
        .arg("--data-dir")
        .arg(home.join("data"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("share"))
        .env("RUST_LOG", "trace")
        .env_remove("STAGEHAND_CLIENT_SECRET")
        .env_remove("STAGEHAND_CONFIG")
        .env_remove("STAGEHAND_DATA_DIR")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/stagehand-test-bus",
        )
        .kill_on_drop(true);
    c
}

/// Every file under `dir`, read as lossy text.
pub fn all_files_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&all_files_text(&p));
        } else if let Ok(b) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&b));
        }
    }
    out
}
