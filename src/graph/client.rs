//! The one HTTP layer: bearer token, `client-request-id`, timeouts, gzip, retries and the rate
//! governor. Typed operations live in `ops/`; they call [`GraphClient::execute`] through the
//! helpers at the bottom of this file.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use url::Url;

use super::error::{GraphError, map_status, map_transport};
use super::governor::{Family, Governor, GraphConn};
use super::models::parse_entity;
use super::odata::Query;
use super::retry::{
    RetryPolicy, RetrySafety, backoff, is_retryable_status, may_retry_status, may_retry_transport,
    parse_retry_after,
};
use crate::auth::TokenProvider;
use crate::secret::Secret;

/// Connect and total timeouts (reqwest has none by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Whole request, including reading the body.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// A request to Graph, before auth and retries.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    /// JSON body, already serialised.
    pub body: Option<Vec<u8>>,
    pub safety: RetrySafety,
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

/// The Graph client. Cheap to clone; all clones share connections and the governor.
#[derive(Clone)]
pub struct GraphClient {
    base: Url,
    http: reqwest::Client,
    blob: reqwest::Client,
    tokens: Arc<dyn TokenProvider>,
    governor: Arc<Governor>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client for the Graph service at `base` (e.g. `https://graph.microsoft.com`).
    /// `http://` is refused unless the host is loopback.
    pub fn new(
        base: Url,
        timeouts: Timeouts,
        token_source: Arc<dyn TokenProvider>,
        governor: Arc<Governor>,
    ) -> Result<Self, GraphError> {
        crate::config::check_url(base.as_str(), "graph_url", None)
            .map_err(|e| GraphError::Invalid(e.to_string()))?;
        let mut base = base;
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let ua = concat!("stagehand/", env!("CARGO_PKG_VERSION"));
        let http = reqwest::Client::builder()
            .user_agent(ua)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .gzip(true)
            // A redirect could carry the bearer token to another origin: refuse them all.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GraphError::Invalid(format!("HTTP client: {e}")))?;
        let blob = reqwest::Client::builder()
            .user_agent(ua)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            // The pre-signed URL is a capability: no Referer may carry it on, at most one
            // redirect is followed, and only to https (http only from loopback to loopback).
            .referer(false)
            .redirect(blob_redirects())
            .build()
            .map_err(|e| GraphError::Invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            base,
            http,
            blob,
            tokens: token_source,
            governor,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry bounds.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn governor(&self) -> &Arc<Governor> {
        &self.governor
    }

    /// The connection state for the status bar.
    pub fn conn_state(&self) -> watch::Receiver<GraphConn> {
        self.governor.subscribe()
    }

    /// `{base}/{version}{path}?{query}`; `path` starts with `/`.
    pub fn url(&self, version: &str, path: &str, query: &Query) -> Url {
        let mut u = self.base.clone();
        u.set_path(&format!("{}{version}{path}", self.base.path()));
        if !query.is_empty() {
            u.set_query(Some(&query.to_query_string()));
        }
        u
    }

    /// `{base}/beta{path}?{query}`.
    pub fn beta(&self, path: &str, query: &Query) -> Url {
        self.url("beta", path, query)
    }

    /// `{base}/v1.0{path}?{query}`.
    pub fn v1(&self, path: &str, query: &Query) -> Url {
        self.url("v1.0", path, query)
    }

    /// Is `url` on the configured Graph origin (scheme, host and port)?
    pub fn is_graph_origin(&self, url: &Url) -> bool {
        url.origin() == self.base.origin() && url.path().starts_with(self.base.path())
    }

    /// Who the current access token speaks for: a signed-in user or the app (with its
    /// application permissions). Asks the token provider, so it may sign in or refresh.
    pub async fn caller(&self) -> Result<crate::auth::access::Caller, GraphError> {
        let token = self.tokens.access_token(None).await?;
        Ok(crate::auth::access::caller_of(&token))
    }

    /// The Graph path without base and version (`/deviceManagement/...`), for the governor.
    fn resource_path<'a>(&self, url: &'a Url) -> &'a str {
        let rest = url
            .path()
            .strip_prefix(self.base.path())
            .unwrap_or(url.path());
        rest.split_once('/').map_or("", |(_, r)| r)
    }

    /// Sends `req` with auth, governor, retries and one token refresh on 401. Only 2xx is `Ok`.
    pub async fn execute(&self, req: Request) -> Result<Answer, GraphError> {
        if !self.is_graph_origin(&req.url) {
            tracing::warn!(origin = %req.url.origin().ascii_serialization(), "refused a URL outside the Graph origin");
            return Err(GraphError::ForeignOrigin {
                origin: req.url.origin().ascii_serialization(),
            });
        }
        let resource = self.resource_path(&req.url);
        let family = Family::of_path(&format!("/{resource}"));
        let write = req.method != Method::GET;
        // A `$batch` is not throttled as itself: Graph evaluates each request inside it, and
        // `batch()` counted each one in its own family before sending. Counted here as well, the
        // POST made every batch a write of the Identity family (100 per 20 s), which held a
        // bench reading 2,000 devices to one batch in 200 ms after the first 100.
        let counted = resource != "$batch";
        let mut token = self.tokens.access_token(None).await?;
        let mut refreshed = false;
        let mut attempt: u32 = 1;
        loop {
            if counted {
                self.governor.acquire(family, write).await;
            } else {
                self.governor.wait_signed_in().await;
            }
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let span = tracing::debug_span!(
                "graph",
                method = %req.method,
                path = req.url.path(),
                client_request_id = %client_request_id,
                attempt
            );
            let _enter = span.enter();
            let sent = self
                .http
                .request(req.method.clone(), req.url.clone())
                .header(AUTHORIZATION, bearer(&token)?)
                .header("client-request-id", &client_request_id)
                .header(ACCEPT, "application/json");
            let sent = match &req.body {
                Some(b) => sent
                    .header(CONTENT_TYPE, "application/json")
                    .body(b.clone()),
                // reqwest sends no Content-Length for an empty body, and Graph answers a bodiless
                // POST without one with 411 (docs/graph.md §17).
                None if needs_length(&req.method) => sent.header(CONTENT_LENGTH, "0"),
                None => sent,
            };
            let result = match sent.send().await {
                Ok(resp) => read_answer(resp).await,
                Err(e) => Err(e),
            };
            // An answer over the size limit is not retried: it would be as large again.
            let result = match result {
                Ok(Ok(parts)) => Ok(parts),
                Ok(Err(too_large)) => {
                    tracing::warn!(error = %too_large, "answer over the size limit");
                    return Err(too_large);
                }
                Err(e) => Err(e),
            };
            let (status, body, request_id, retry_after, claims) = match result {
                Ok(parts) => parts,
                Err(e) => {
                    let connect = e.is_connect();
                    let err = map_transport(e);
                    tracing::warn!(error = %err, "transport failure");
                    if attempt < self.retry.max_attempts && may_retry_transport(req.safety, connect)
                    {
                        tokio::time::sleep(backoff(&self.retry, attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    if connect {
                        self.governor.offline(&err.to_string());
                    }
                    return Err(err);
                }
            };
            tracing::debug!(
                status = status.as_u16(),
                request_id = request_id.as_deref().unwrap_or(""),
                "answer"
            );
            if status.is_success() {
                self.governor.answered();
                return Ok(Answer {
                    status,
                    body,
                    request_id,
                });
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // One refresh, one retry: the provider must not hand back the rejected token. A
                // claims challenge asks for a token carrying those claims instead.
                token = match &claims {
                    Some(c) => {
                        tracing::info!("claims challenge: asking for a token with its claims");
                        self.tokens.claims_challenge(&token, c).await?
                    }
                    None => self.tokens.access_token(Some(&token)).await?,
                };
                refreshed = true;
                continue;
            }
            if is_retryable_status(status) {
                let wait = retry_after.unwrap_or_else(|| backoff(&self.retry, attempt));
                if status == StatusCode::TOO_MANY_REQUESTS || retry_after.is_some() {
                    // Everyone in this family slows down, not just this task: for at most as
                    // long as one retry would wait, so one answer cannot freeze a family for a day.
                    self.governor
                        .throttled(family, wait.min(self.retry.max_retry_after));
                }
                let retry = may_retry_status(req.safety, status)
                    && attempt < self.retry.max_attempts
                    && wait <= self.retry.max_retry_after;
                if retry {
                    tracing::info!(
                        status = status.as_u16(),
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    if retry_after.is_none() && status != StatusCode::TOO_MANY_REQUESTS {
                        tokio::time::sleep(wait).await;
                    }
                    attempt += 1;
                    continue;
                }
            } else {
                self.governor.answered();
            }
            // The caller's own pause is held to the same ceiling as the family's.
            let retry_after = retry_after.map(|w| w.min(self.retry.max_retry_after));
            let err = map_status(status, &body, request_id, retry_after);
            tracing::warn!(error = %err, status = status.as_u16(), "Graph error");
            return Err(err);
        }
    }

    /// GET a JSON entity (tolerates the `{"value": {...}}` wrapper).
    pub async fn get_entity<T: DeserializeOwned>(&self, url: Url) -> Result<T, GraphError> {
        let a = self
            .execute(Request {
                method: Method::GET,
                url: url.clone(),
                body: None,
                safety: RetrySafety::Idempotent,
            })
            .await?;
        decode_entity(&url, &a)
    }

    /// Sends `body` with `method` and decodes the answer as `T` (use `()` for 204 answers).
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        safety: RetrySafety,
    ) -> Result<T, GraphError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| GraphError::Invalid(format!("cannot encode the request body: {e}")))?;
        let a = self
            .execute(Request {
                method,
                url: url.clone(),
                body,
                safety,
            })
            .await?;
        decode_entity(&url, &a)
    }

    /// Downloads a pre-signed URL with the blob client: no Authorization header, ever.
    pub(crate) async fn download_blob(&self, url: &str) -> Result<Vec<u8>, GraphError> {
        let u = crate::config::check_url(url, "export url", None)
            .map_err(|_| GraphError::Invalid("the export download URL is not https".into()))?;
        let resp = self.blob.get(u).send().await.map_err(|e| {
            if e.is_redirect() {
                GraphError::Invalid(format!(
                    "the export download was redirected where it may not go (https only, at most {} redirect)",
                    super::limits::MAX_EXPORT_REDIRECTS
                ))
            } else {
                map_transport(e)
            }
        })?;
        let status = resp.status();
        let limit = super::limits::MAX_EXPORT_DOWNLOAD_BYTES;
        let body = match super::limits::read_body(resp, limit).await {
            Ok(b) => b,
            Err(Ok(_)) => {
                return Err(GraphError::Invalid(format!(
                    "the export download is larger than {}",
                    super::limits::mib(limit)
                )));
            }
            Err(Err(e)) => return Err(map_transport(e)),
        };
        if !status.is_success() {
            return Err(map_status(status, &body, None, None));
        }
        Ok(body)
    }
}

/// Status, body, `request-id`, `Retry-After`, and the decoded claims of an `insufficient_claims`
/// challenge in `WWW-Authenticate` (Continuous Access Evaluation).
type Parts = (
    StatusCode,
    Vec<u8>,
    Option<String>,
    Option<Duration>,
    Option<String>,
);

/// The export download's redirect rule: at most [`super::limits::MAX_EXPORT_REDIRECTS`], each to
/// https (or from loopback http to loopback http, for the simulator).
fn blob_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let loopback_chain = attempt
            .previous()
            .iter()
            .all(|u| u.scheme() == "http" && crate::config::is_loopback(u));
        let allowed = attempt.url().scheme() == "https"
            || (attempt.url().scheme() == "http"
                && crate::config::is_loopback(attempt.url())
                && loopback_chain);
        if attempt.previous().len() > super::limits::MAX_EXPORT_REDIRECTS {
            attempt.error("too many redirects")
        } else if !allowed {
            attempt.error("redirect to a URL that is not https")
        } else {
            attempt.follow()
        }
    })
}

/// The parts of an answer; the inner `Err` is an answer larger than the response limit.
async fn read_answer(resp: reqwest::Response) -> Result<Result<Parts, GraphError>, reqwest::Error> {
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request_id = header("request-id");
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let claims = (status == StatusCode::UNAUTHORIZED)
        .then(|| header("www-authenticate"))
        .flatten()
        .and_then(|h| crate::auth::claims::from_www_authenticate(&h));
    let path = resp.url().path().to_string();
    let limit = super::limits::MAX_RESPONSE_BYTES;
    let body = match super::limits::read_body(resp, limit).await {
        Ok(b) => b,
        Err(Ok(_)) => {
            return Ok(Err(GraphError::Decode {
                what: path,
                detail: format!("the answer is larger than {}", super::limits::mib(limit)),
                request_id,
            }));
        }
        Err(Err(e)) => return Err(e),
    };
    Ok(Ok((status, body, request_id, retry_after, claims)))
}

/// Methods whose request carries a body by definition: without one they still say `0`.
fn needs_length(m: &Method) -> bool {
    *m == Method::POST || *m == Method::PUT || *m == Method::PATCH
}

fn bearer(token: &Secret) -> Result<HeaderValue, GraphError> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        GraphError::Invalid("the access token contains characters not allowed in a header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Decodes an answer body; an empty body (204) decodes as JSON `null` so `()` works.
pub(crate) fn decode_entity<T: DeserializeOwned>(url: &Url, a: &Answer) -> Result<T, GraphError> {
    let body: &[u8] = if a.body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        &a.body
    };
    parse_entity(body).map_err(|e| GraphError::Decode {
        what: url.path().to_string(),
        detail: e.to_string(),
        request_id: a.request_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::StaticToken;

    fn client(base: &str) -> Result<GraphClient, GraphError> {
        GraphClient::new(
            Url::parse(base).unwrap(),
            Timeouts::default(),
            Arc::new(StaticToken(Secret::new("t"))),
            Arc::new(Governor::new(&[])),
        )
    }

    #[test]
    fn urls_are_built_from_the_injected_base() {
        let c = client("http://127.0.0.1:9/").unwrap();
        let u = c.beta("/deviceManagement/managedDevices", &Query::new().top(1000));
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/beta/deviceManagement/managedDevices?$top=1000"
        );
        let c = client("https://graph.example/prefix").unwrap();
        assert_eq!(
            c.v1("/users/x", &Query::new()).as_str(),
            "https://graph.example/prefix/v1.0/users/x"
        );
        assert_eq!(c.resource_path(&c.v1("/users/x", &Query::new())), "users/x");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        assert!(matches!(
            client("http://graph.example/"),
            Err(GraphError::Invalid(_))
        ));
        assert!(client("http://localhost:8080/").is_ok());
    }

    #[test]
    fn origin_check_covers_scheme_host_port_and_base_path() {
        let c = client("https://graph.example/").unwrap();
        assert!(
            c.is_graph_origin(&Url::parse("https://graph.example/beta/x?$skiptoken=1").unwrap())
        );
        assert!(!c.is_graph_origin(&Url::parse("http://graph.example/beta/x").unwrap()));
        assert!(!c.is_graph_origin(&Url::parse("https://graph.example:444/beta/x").unwrap()));
        assert!(!c.is_graph_origin(&Url::parse("https://evil.example/beta/x").unwrap()));
    }

    #[test]
    fn authorization_header_is_sensitive_and_debug_is_redacted() {
        let v = bearer(&Secret::new("abc")).unwrap();
        assert!(v.is_sensitive());
        let c = client("https://graph.example/").unwrap();
        assert!(!format!("{c:?}").contains("Secret"));
    }
}
