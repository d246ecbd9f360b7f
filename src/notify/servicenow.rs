//! ServiceNow: create an incident (Table API), attach a file (Attachment API, raw bytes), add a
//! work note, find an incident by `correlation_id`. Basic or OAuth (password or client
//! credentials grant) with the secret from the OS credential store. See docs/notify.md.

use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use url::Url;

use super::sent::Incident;
use super::{ServiceNowConfig, SnAuth};
use crate::secret::Secret;

/// Why a send did not succeed, and whether trying again is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// 429: wait (the server's `Retry-After`, else backoff).
    Throttled { retry_after: Option<Duration> },
    /// Failed. `unclear`: the request may have been processed (the answer was lost).
    Failed { message: String, unclear: bool },
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Throttled {
                retry_after: Some(d),
            } => {
                write!(f, "throttled (429), retry in {} s", d.as_secs())
            }
            SendError::Throttled { retry_after: None } => write!(f, "throttled (429)"),
            SendError::Failed { message, .. } => f.write_str(message),
        }
    }
}

/// Maps a transport failure: never the URL (a webhook URL is a secret).
pub fn transport(e: reqwest::Error) -> SendError {
    let unclear = !e.is_connect() && !e.is_builder();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    SendError::Failed {
        message: format!("{kind}: {}", e.without_url()),
        unclear,
    }
}

/// `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset` (UNIX time).
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(v) = get("retry-after") {
        if let Ok(s) = v.parse::<u64>() {
            return Some(Duration::from_secs(s));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc2822(v) {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(t.timestamp().max(0) as u64);
            return Some(at.duration_since(SystemTime::now()).unwrap_or_default());
        }
    }
    let reset: u64 = get("x-ratelimit-reset")?.parse().ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// `error.message: error.detail (status)` from ServiceNow's error body.
fn error_text(status: StatusCode, body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let msg = v["error"]["message"].as_str().unwrap_or("");
    let detail = v["error"]["detail"].as_str().unwrap_or("");
    let what = match (msg, detail) {
        ("", "") => status.canonical_reason().unwrap_or("error").to_string(),
        (m, "") => m.to_string(),
        ("", d) => d.to_string(),
        (m, d) => format!("{m}: {d}"),
    };
    format!(
        "ServiceNow answered {}: {}",
        status.as_u16(),
        crate::evidence::printable(&what)
    )
}

/// The ServiceNow secrets from the credential store: the user's password (basic, OAuth
/// password grant) and the OAuth client secret (both OAuth grants).
#[derive(Clone, Default)]
pub struct SnSecrets {
    pub password: Option<Secret>,
    pub client_secret: Option<Secret>,
}

pub struct SnClient {
    base: Url,
    cfg: ServiceNowConfig,
    secret: SnSecrets,
    http: reqwest::Client,
    token: Mutex<Option<(Secret, std::time::Instant)>>,
}

impl std::fmt::Debug for SnClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnClient")
            .field("base", &self.base.as_str())
            .field("auth", &self.cfg.auth)
            .finish_non_exhaustive()
    }
}

impl SnClient {
    pub fn new(cfg: ServiceNowConfig, secret: SnSecrets) -> anyhow::Result<Self> {
        let mut base =
            crate::config::check_url(&cfg.instance_url, "notify.servicenow.instance_url", None)?;
        base.set_query(None);
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("stagehand/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            // Credentials go to the instance only.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            base,
            cfg,
            secret,
            http,
            token: Mutex::new(None),
        })
    }

    /// The incident's page for people (`/nav_to.do?uri=incident.do?sys_id=…`).
    pub fn incident_link(&self, sys_id: &str) -> String {
        format!(
            "{}nav_to.do?uri=incident.do%3Fsys_id%3D{}",
            self.base,
            percent_encoding::utf8_percent_encode(sys_id, percent_encoding::NON_ALPHANUMERIC)
        )
    }

    fn missing(what: &str) -> SendError {
        SendError::Failed {
            message: format!(
                "no ServiceNow {what} stored: run `stagehand notify login --servicenow`"
            ),
            unclear: false,
        }
    }

    async fn authorization(&self) -> Result<HeaderValue, SendError> {
        let value = match self.cfg.auth {
            SnAuth::Basic => {
                use base64::Engine;
                let user = self.cfg.user.as_deref().unwrap_or_default();
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!(
                        "{user}:{}",
                        self.secret
                            .password
                            .as_ref()
                            .ok_or_else(|| Self::missing("password"))?
                            .expose()
                    ))
                )
            }
            SnAuth::Oauth => format!("Bearer {}", self.oauth_token().await?.expose()),
        };
        let mut h = HeaderValue::from_str(&value).map_err(|_| SendError::Failed {
            message: "the stored ServiceNow credential has characters a header cannot carry".into(),
            unclear: false,
        })?;
        h.set_sensitive(true);
        Ok(h)
    }

    /// `POST /oauth_token.do`: password grant with a user, client credentials without.
    async fn oauth_token(&self) -> Result<Secret, SendError> {
        let mut cached = self.token.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && std::time::Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let client_id = self.cfg.client_id.clone().unwrap_or_default();
        let client_secret = self
            .secret
            .client_secret
            .as_ref()
            .ok_or_else(|| Self::missing("OAuth client secret"))?;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", client_id),
            ("client_secret", client_secret.expose().to_string()),
        ];
        match &self.cfg.user {
            Some(u) => {
                let password = self
                    .secret
                    .password
                    .as_ref()
                    .ok_or_else(|| Self::missing("password"))?;
                form.push(("grant_type", "password".into()));
                form.push(("username", u.clone()));
                form.push(("password", password.expose().to_string()));
            }
            None => form.push(("grant_type", "client_credentials".into())),
        }
        let resp = self
            .http
            .post(self.base.join("oauth_token.do").expect("static path"))
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let ra = retry_after(resp.headers());
        let body = resp.bytes().await.map_err(transport)?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::Throttled { retry_after: ra });
        }
        if !status.is_success() {
            return Err(SendError::Failed {
                message: format!("ServiceNow sign-in refused ({})", status.as_u16()),
                unclear: false,
            });
        }
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(tok) = v["access_token"].as_str() else {
            return Err(SendError::Failed {
                message: "ServiceNow sign-in answered without an access_token".into(),
                unclear: false,
            });
        };
        let ttl = v["expires_in"].as_u64().unwrap_or(1799).saturating_sub(60);
        let t = Secret::new(tok);
        *cached = Some((
            t.clone(),
            std::time::Instant::now() + Duration::from_secs(ttl),
        ));
        Ok(t)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, SendError> {
        let mut req = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.authorization().await?)
            .header(ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, content_type).body(b);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let ra = retry_after(resp.headers());
        let body = resp.bytes().await.map_err(transport)?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::Throttled { retry_after: ra });
        }
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED {
                *self.token.lock().await = None;
            }
            return Err(SendError::Failed {
                message: error_text(status, &body),
                // A gateway error may come after the instance did the work.
                unclear: matches!(status.as_u16(), 502 | 504),
            });
        }
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn table_url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.base.join(path).expect("static path");
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        u
    }

    /// Creates one incident with the configured fields; `correlation_id` ties it to the episode.
    pub async fn create_incident(
        &self,
        short_description: &str,
        description: &str,
        correlation_id: &str,
    ) -> Result<Incident, SendError> {
        let mut fields = json!({
            "short_description": short_description,
            "description": description,
            "urgency": self.cfg.urgency,
            "impact": self.cfg.impact,
            "correlation_id": correlation_id,
            "correlation_display": "stagehand",
        });
        for (k, v) in [
            ("assignment_group", &self.cfg.assignment_group),
            ("category", &self.cfg.category),
            ("caller_id", &self.cfg.caller),
        ] {
            if let Some(v) = v {
                fields[k] = json!(v);
            }
        }
        let idv = if self.cfg.input_display_value {
            "true"
        } else {
            "false"
        };
        let url = self.table_url(
            "api/now/table/incident",
            &[
                ("sysparm_fields", "sys_id,number"),
                ("sysparm_exclude_reference_link", "true"),
                ("sysparm_input_display_value", idv),
            ],
        );
        let v = self
            .send(
                Method::POST,
                url,
                "application/json",
                Some(fields.to_string().into_bytes()),
            )
            .await?;
        incident_from(&v["result"]).ok_or_else(|| SendError::Failed {
            message: "ServiceNow created the incident but its answer has no sys_id/number".into(),
            unclear: true,
        })
    }

    /// The incident carrying this `correlation_id`, if one exists.
    pub async fn find_incident(&self, correlation_id: &str) -> Result<Option<Incident>, SendError> {
        let query = format!("correlation_id={correlation_id}");
        let url = self.table_url(
            "api/now/table/incident",
            &[
                ("sysparm_query", query.as_str()),
                ("sysparm_fields", "sys_id,number"),
                ("sysparm_limit", "1"),
            ],
        );
        let v = self.send(Method::GET, url, "", None).await?;
        Ok(v["result"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(incident_from))
    }

    /// Attaches `bytes` as `file_name` to the incident (raw body, exact MIME type).
    pub async fn attach(
        &self,
        sys_id: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), SendError> {
        let url = self.table_url(
            "api/now/attachment/file",
            &[
                ("table_name", "incident"),
                ("table_sys_id", sys_id),
                ("file_name", file_name),
            ],
        );
        self.send(Method::POST, url, content_type, Some(bytes))
            .await?;
        Ok(())
    }

    /// Adds a work note (`PATCH` the incident's `work_notes`).
    pub async fn work_note(&self, sys_id: &str, text: &str) -> Result<(), SendError> {
        let url = self.table_url(
            &format!(
                "api/now/table/incident/{}",
                percent_encoding::utf8_percent_encode(sys_id, percent_encoding::NON_ALPHANUMERIC)
            ),
            &[("sysparm_fields", "sys_id,number")],
        );
        let body = json!({ "work_notes": text }).to_string().into_bytes();
        self.send(Method::PATCH, url, "application/json", Some(body))
            .await?;
        Ok(())
    }
}

fn incident_from(v: &Value) -> Option<Incident> {
    Some(Incident {
        sys_id: v["sys_id"].as_str().filter(|s| !s.is_empty())?.to_string(),
        number: v["number"].as_str().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_then_the_reset_header() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = reqwest::header::HeaderMap::new();
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        h.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn error_bodies_read_message_and_detail() {
        let body = br#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 100 requests per hour for Table API exceeded"},"status":"failure"}"#;
        let t = error_text(StatusCode::TOO_MANY_REQUESTS, body);
        assert!(
            t.contains("429") && t.contains("Rate limit exceeded: Rate limit of 100"),
            "{t}"
        );
        assert!(error_text(StatusCode::FORBIDDEN, b"<html>").contains("403: Forbidden"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = SnClient::new(
            ServiceNowConfig {
                instance_url: "https://x.service-now.com".into(),
                auth: SnAuth::Basic,
                user: Some("u".into()),
                client_id: None,
                assignment_group: None,
                category: None,
                urgency: "2".into(),
                impact: "2".into(),
                caller: None,
                input_display_value: false,
            },
            SnSecrets {
                password: Some(Secret::new("hunter2-SECRET")),
                client_secret: None,
            },
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
