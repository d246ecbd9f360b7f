//! The Entra side: `devicecode`, `token` (device code, refresh with rotation, client credentials
//! with a secret or an assertion, authorization code with PKCE S256), `authorize`, and the token
//! table Graph routes check bearer tokens against. Access tokens are shaped like Entra's: a JWT
//! whose payload says who the caller is (`idtyp`, `scp` for a user's delegated scopes, `roles`
//! for an app's application permissions), with a random signature part; the table, not the
//! signature, is what makes one valid. Refresh tokens are opaque random strings.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::routes::ALL_DELEGATED;
use super::server::{Incoming, Reply, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A signed-in user (their object id).
    User(String),
    /// The app itself (client credentials).
    App(String),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub subject: Subject,
    pub scopes: Vec<String>,
    pub expires: Instant,
}

impl Token {
    pub fn is_app(&self) -> bool {
        matches!(self.subject, Subject::App(_))
    }
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope))
    }
}

struct RefreshGrant {
    user: String,
    scopes: Vec<String>,
}

pub(super) struct DeviceCode {
    pub(super) user_code: String,
    pub(super) scopes: Vec<String>,
    pub(super) offline: bool,
    pub(super) expires: Instant,
    pub(super) approved_by: Option<String>,
    pub(super) declined: bool,
    pub(super) last_poll: Option<Instant>,
}

pub(super) struct AuthCode {
    pub(super) challenge: String,
    pub(super) redirect_uri: String,
    pub(super) scopes: Vec<String>,
    pub(super) offline: bool,
    pub(super) user: String,
}

/// Every token, grant and pending sign-in. Its `Debug` shows counts only, never a token.
#[derive(Default)]
pub struct Tokens {
    access: HashMap<String, Token>,
    refresh: HashMap<String, RefreshGrant>,
    pub(super) device_codes: HashMap<String, DeviceCode>,
    pub(super) auth_codes: HashMap<String, AuthCode>,
    refresh_revoked: bool,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &self.access.len())
            .field("refresh", &self.refresh.len())
            .field("device_codes", &self.device_codes.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn random(prefix: &str) -> String {
    format!(
        "{prefix}.{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// An access token shaped like Entra's for Graph: `header.payload.signature`, base64url.
fn access_jwt(subject: &Subject, scopes: &[String], ttl: Duration) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "aud": "https://graph.microsoft.com",
        "iat": now,
        "nbf": now,
        "exp": now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2).min(i64::MAX / 2),
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    match subject {
        Subject::User(id) => {
            claims["idtyp"] = json!("user");
            claims["oid"] = json!(id);
            claims["scp"] = json!(scopes.join(" "));
        }
        Subject::App(app) => {
            claims["idtyp"] = json!("app");
            claims["appid"] = json!(app);
            claims["roles"] = json!(scopes);
        }
    }
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256","kid":"sim"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()),
    )
}

impl Tokens {
    pub fn issue_access(&mut self, subject: Subject, scopes: Vec<String>, ttl: Duration) -> String {
        let t = access_jwt(&subject, &scopes, ttl);
        self.access.insert(
            t.clone(),
            Token {
                subject,
                scopes,
                expires: Instant::now() + ttl,
            },
        );
        t
    }
    /// Approves a pending device code as `user_id`; false if the user code is unknown.
    pub fn approve(&mut self, user_code: &str, user_id: &str) -> bool {
        self.device_codes
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
            .map(|d| d.approved_by = Some(user_id.to_string()))
            .is_some()
    }
    pub fn decline(&mut self, user_code: &str) -> bool {
        self.device_codes
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
            .map(|d| d.declined = true)
            .is_some()
    }
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.device_codes
            .values()
            .map(|d| d.user_code.clone())
            .collect()
    }
    /// Every refresh token stops working (as after a password reset or an admin revocation).
    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh_revoked = true;
        self.refresh.clear();
    }
    /// Every access token issued so far is now expired.
    pub fn expire_access_tokens(&mut self) {
        let past = Instant::now();
        self.access.values_mut().for_each(|t| t.expires = past);
    }
}

/// Checks `Authorization: Bearer …`; the error is the 401 message.
pub fn check_bearer(st: &State, header: Option<&str>, now: Instant) -> Result<Token, &'static str> {
    let raw = header
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if raw.is_empty() {
        return Err("Access token is empty.");
    }
    let t = st
        .tokens
        .access
        .get(raw)
        .ok_or("Access token validation failure. Invalid audience or malformed token.")?;
    if t.expires <= now {
        return Err("Lifetime validation failed, the token is expired.");
    }
    Ok(t.clone())
}

/// Entra's token error shape (`tests/fixtures/graph/oauth-token-error-response.json`).
fn oauth_error(status: u16, error: &str, code: u32, msg: &str, inc: &Incoming) -> Reply {
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = inc
        .header("client-request-id")
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let desc = format!(
        "AADSTS{code}: {msg}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
    );
    Reply::json(
        status,
        json!({"error": error, "error_description": desc, "error_codes": [code], "timestamp": ts, "trace_id": trace, "correlation_id": corr}),
    )
}

/// Splits a `scope` parameter into granted Graph scopes (prefix stripped, `.default` expanded)
/// and whether `offline_access` / `openid` were asked for. Unknown scopes are an error.
pub(super) fn parse_scopes(raw: &str) -> Result<(Vec<String>, bool, bool), String> {
    let (mut out, mut offline, mut openid) = (Vec::new(), false, false);
    for s in raw.split_whitespace() {
        let short = s.strip_prefix("https://graph.microsoft.com/").unwrap_or(s);
        match short {
            "offline_access" => offline = true,
            "openid" => openid = true,
            "profile" | "email" => {}
            ".default" => out.extend(ALL_DELEGATED.iter().map(|x| x.to_string())),
            other
                if ALL_DELEGATED.iter().any(|x| x.eq_ignore_ascii_case(other))
                    || other == "DeviceManagementManagedDevices.Read.All"
                    || other == "DeviceManagementServiceConfig.Read.All" =>
            {
                out.push(other.to_string())
            }
            other => {
                return Err(format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {other} is not valid."
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    if !out.iter().any(|s| s == "User.Read") {
        out.push("User.Read".into());
    }
    Ok((out, offline, openid))
}

pub fn dispatch(st: &mut State, inc: &Incoming) -> Reply {
    let segs: Vec<&str> = inc.path.trim_start_matches('/').split('/').collect();
    let tenant = segs.first().copied().unwrap_or("");
    let known = [
        st.tenant_id.as_str(),
        super::directory::DOMAIN,
        "organizations",
        "common",
    ];
    if !known.iter().any(|k| k.eq_ignore_ascii_case(tenant)) {
        return oauth_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            inc,
        );
    }
    let form: HashMap<String, String> = if inc.method == "GET" {
        inc.query.clone()
    } else {
        url::form_urlencoded::parse(&inc.body)
            .into_owned()
            .collect()
    };
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic_auth(inc).map(|(id, _)| id))
        .unwrap_or_default();
    if client_id != st.client_id {
        return oauth_error(
            400,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
            inc,
        );
    }
    match (inc.method.as_str(), segs.get(3).copied()) {
        ("POST", Some("devicecode")) => super::device_code::start(st, inc, &form),
        ("POST", Some("token")) => super::grants::token(st, inc, &form),
        ("GET", Some("authorize")) => super::pkce::authorize(st, inc, &form),
        _ => oauth_error(
            404,
            "invalid_request",
            900561,
            "The endpoint only accepts the documented methods.",
            inc,
        ),
    }
}

pub(super) fn basic_auth(inc: &Incoming) -> Option<(String, String)> {
    let b = inc.header("authorization")?.strip_prefix("Basic ")?;
    let raw = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()?,
    )
    .ok()?;
    let (id, secret) = raw.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// A delegated token response for `user`, with a rotated refresh token when `offline`.
pub(super) fn user_tokens(
    st: &mut State,
    user: &str,
    scopes: Vec<String>,
    offline: bool,
    id_token: bool,
) -> Reply {
    let ttl = st.faults.token_ttl;
    let access = st
        .tokens
        .issue_access(Subject::User(user.to_string()), scopes.clone(), ttl);
    let mut body = json!({"token_type": "Bearer", "scope": scopes.join(" "), "expires_in": ttl.as_secs(), "ext_expires_in": ttl.as_secs(), "access_token": access});
    if offline {
        let rt = random("sim-rt");
        st.tokens.refresh.insert(
            rt.clone(),
            RefreshGrant {
                user: user.to_string(),
                scopes: scopes.clone(),
            },
        );
        body["refresh_token"] = Value::String(rt);
    }
    if id_token && let Some(u) = st.dir.find(user) {
        let claims = json!({"aud": st.client_id, "iss": format!("{}{}/v2.0", st.base, st.tenant_id), "tid": st.tenant_id, "oid": u.id, "preferred_username": u.upn, "name": u.display_name});
        body["id_token"] = Value::String(format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ));
    }
    Reply::json(200, body)
}

/// The claims the `claims_challenge` fault asks for (a Conditional Access policy id, as Entra's).
const SIM_CLAIMS: &str =
    r#"{"access_token":{"capolids":{"essential":true,"values":["sim-ca-policy"]}}}"#;

pub(super) fn redeem_refresh(
    st: &mut State,
    inc: &Incoming,
    rt: &str,
    scope: Option<&str>,
) -> Reply {
    if st.faults.claims_challenge && st.tokens.refresh.contains_key(rt) {
        let mut reply = oauth_error(
            400,
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
            inc,
        );
        if let super::server::ReplyBody::Json(v) = &mut reply.body {
            v["suberror"] = Value::String("basic_action".into());
            v["claims"] = Value::String(SIM_CLAIMS.into());
        }
        return reply;
    }
    let Some(grant) = st.tokens.refresh.get(rt) else {
        let (code, msg) = if st.tokens.refresh_revoked {
            (
                50173,
                "The provided grant has expired due to it being revoked.",
            )
        } else {
            (
                70008,
                "The provided authorization code or refresh token has expired or is invalid.",
            )
        };
        return oauth_error(400, "invalid_grant", code, msg, inc);
    };
    let (user, mut scopes) = (grant.user.clone(), grant.scopes.clone());
    if let Some(req) = scope.filter(|s| !s.trim().is_empty()) {
        match parse_scopes(req) {
            Ok((asked, _, _)) if asked.iter().all(|a| scopes.contains(a)) => scopes = asked,
            _ => {
                return oauth_error(
                    400,
                    "invalid_scope",
                    70011,
                    "The requested scope is not a subset of the original grant.",
                    inc,
                );
            }
        }
    }
    // Rotation: a new refresh token every time; the old one keeps working, as Entra's do.
    user_tokens(st, &user, scopes, true, false)
}

pub(super) fn error(status: u16, error: &str, code: u32, msg: &str, inc: &Incoming) -> Reply {
    oauth_error(status, error, code, msg, inc)
}
