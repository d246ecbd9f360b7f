//! The Entra v2 token endpoint: `{login_url}/{tenant}/oauth2/v2.0/{devicecode,token,authorize}`.
//! Form posts in, [`TokenSet`] or an Entra error body (`error`, `error_description`,
//! `error_codes`, `claims`) out.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::AuthError;
use crate::secret::Secret;

/// The longest lifetime believed from a token answer's `expires_in`.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// The most of a token endpoint answer that is read.
pub const MAX_TOKEN_ANSWER_BYTES: usize = 1 << 20;

/// Tokens from one successful answer. Debug is redacted through [`Secret`].
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// When the access token expires (monotonic clock).
    pub expires_at: Instant,
    /// Lifetime as issued, for `whoami`.
    pub expires_in: Duration,
    /// Scopes granted, as the endpoint listed them (empty for client credentials).
    pub scopes: Vec<String>,
    /// `preferred_username` from the id token, when one was issued.
    pub account: Option<String>,
}

/// An Entra error answer, as parsed. Holds no secret: Entra never echoes one back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    /// Present with `interaction_required` when Conditional Access wants more claims.
    #[serde(default)]
    pub claims: Option<String>,
    #[serde(default)]
    pub suberror: Option<String>,
}

impl OAuthError {
    /// The general mapping for grants that use a stored credential (refresh, client credentials).
    pub fn into_auth_error(self) -> AuthError {
        match self.error.as_str() {
            "interaction_required" if self.claims.as_deref().is_some_and(|c| !c.is_empty()) => {
                let raw = self.claims.unwrap_or_default();
                AuthError::ClaimsChallenge {
                    claims: super::claims::decode_claims(&raw).unwrap_or(raw),
                }
            }
            "invalid_grant" | "interaction_required" | "consent_required" => {
                AuthError::Expired { code: self.error }
            }
            _ => AuthError::Refused {
                code: self.error,
                description: first_line(&self.error_description),
            },
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// What a token post can end in before the grant-specific mapping.
#[derive(Debug)]
pub enum PostError {
    OAuth(OAuthError),
    Auth(AuthError),
}

impl From<PostError> for AuthError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::OAuth(o) => o.into_auth_error(),
            PostError::Auth(a) => a,
        }
    }
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<Secret>,
}

/// One tenant's endpoints for one client id.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    http: reqwest::Client,
    base: Url,
    client_id: String,
    tenant: String,
    /// Client capabilities declared on every `claims` parameter (`cp1`).
    capabilities: Vec<String>,
}

impl TokenEndpoint {
    /// `login_url` is already validated by config (https, or http on loopback).
    pub fn new(login_url: &Url, tenant: &str, client_id: &str) -> Result<Self, AuthError> {
        let base = tenant_base(login_url, tenant)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AuthError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            client_id: client_id.to_string(),
            tenant: tenant.to_string(),
            capabilities: Vec::new(),
        })
    }

    /// Declares client capabilities (`cp1`: this client handles claims challenges).
    pub fn with_capabilities(mut self, capabilities: Vec<String>) -> Self {
        self.capabilities = capabilities;
        self
    }

    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// The `claims` parameter for a request answering `challenge` (JSON), if any is due.
    pub fn claims_param(&self, challenge: Option<&str>) -> Option<String> {
        super::claims::request_param(challenge, &self.capabilities)
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn url(&self, leaf: &str) -> Url {
        self.base.join(leaf).expect("fixed leaf names join")
    }

    /// POSTs a form to `leaf` and returns the JSON body of a 200, or the Entra error.
    pub(crate) async fn post_form<T: serde::de::DeserializeOwned>(
        &self,
        leaf: &str,
        form: &[(&str, &str)],
    ) -> Result<T, PostError> {
        let url = self.url(leaf);
        let resp = self
            .http
            .post(url.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| {
                PostError::Auth(AuthError::Unreachable(format!(
                    "{url}: {}",
                    e.without_url()
                )))
            })?;
        let status = resp.status();
        // A token answer is a few kilobytes; whatever the server sends, no more than this is read.
        let body = match crate::graph::limits::read_body(resp, MAX_TOKEN_ANSWER_BYTES).await {
            Ok(b) => b,
            Err(Ok(_)) => {
                return Err(PostError::Auth(AuthError::Protocol(format!(
                    "{url}: HTTP {status}: the answer is larger than {} KiB",
                    MAX_TOKEN_ANSWER_BYTES >> 10
                ))));
            }
            Err(Err(e)) => {
                return Err(PostError::Auth(AuthError::Unreachable(format!(
                    "{url}: {}",
                    e.without_url()
                ))));
            }
        };
        if status.is_success() {
            serde_json::from_slice(&body).map_err(|e| {
                // serde's message can quote a value; only the position is reported.
                PostError::Auth(AuthError::Protocol(format!(
                    "{url}: HTTP {status}: the body is not the expected JSON (line {}, column {})",
                    e.line(),
                    e.column()
                )))
            })
        } else {
            match serde_json::from_slice::<OAuthError>(&body) {
                Ok(err) => Err(PostError::OAuth(err)),
                Err(_) => Err(PostError::Auth(AuthError::Protocol(format!(
                    "{url}: HTTP {status} without an OAuth error body"
                )))),
            }
        }
    }

    /// POSTs to `/token` and parses a token answer.
    pub async fn token(&self, form: &[(&str, &str)]) -> Result<TokenSet, PostError> {
        let sent_at = Instant::now();
        let raw: RawToken = self.post_form("token", form).await?;
        let secs = match raw.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            PostError::Auth(AuthError::Protocol(
                "token answer without a numeric expires_in".into(),
            ))
        })?;
        // `expires_in` comes from the server: held to a day (Entra issues 60 to 90 minutes), so
        // `18446744073709551615` cannot overflow the clock.
        let expires_in = Duration::from_secs(secs.min(MAX_TOKEN_LIFETIME.as_secs()));
        Ok(TokenSet {
            access_token: raw.access_token,
            refresh_token: raw.refresh_token.filter(|r| !r.is_empty()),
            expires_at: sent_at
                .checked_add(expires_in)
                .unwrap_or(sent_at + Duration::from_secs(60)),
            expires_in,
            scopes: raw
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            account: raw.id_token.as_ref().and_then(account_from_id_token),
        })
    }

    /// The refresh-token grant (public client: no secret). Rotation is the caller's to persist.
    pub async fn refresh(&self, refresh: &Secret, scopes: &str) -> Result<TokenSet, AuthError> {
        self.refresh_with_claims(refresh, scopes, None).await
    }

    /// The refresh-token grant answering a claims challenge (`claims` is the decoded JSON).
    pub async fn refresh_with_claims(
        &self,
        refresh: &Secret,
        scopes: &str,
        claims: Option<&str>,
    ) -> Result<TokenSet, AuthError> {
        let param = self.claims_param(claims);
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("scope", scopes),
        ];
        if let Some(p) = &param {
            form.push(("claims", p.as_str()));
        }
        Ok(self.token(&form).await?)
    }
}

/// Is `tenant` a tenant GUID or a DNS name (`contoso.onmicrosoft.com`, `organizations`, `common`)?
/// Nothing else may reach the login URL: a scheme (`http:evil.example`), a backslash or any other
/// character a URL parser reads as structure could send the token request elsewhere.
pub fn is_valid_tenant(tenant: &str) -> bool {
    if tenant.len() == 36 && uuid::Uuid::try_parse(tenant).is_ok() {
        return true;
    }
    !tenant.is_empty()
        && tenant.len() <= 253
        && tenant.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `{login_url}/{tenant}/oauth2/v2.0/`, built segment by segment, and held to the origin of
/// `login_url` whatever the tenant says.
fn tenant_base(login_url: &Url, tenant: &str) -> Result<Url, AuthError> {
    if !is_valid_tenant(tenant) {
        return Err(AuthError::Config(format!(
            "tenant id {:?} is neither a GUID nor a domain name",
            crate::text::escape(tenant)
        )));
    }
    let mut base = login_url.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.path_segments_mut()
        .map_err(|()| AuthError::Config("login_url cannot carry a path".into()))?
        .pop_if_empty()
        .extend([tenant, "oauth2", "v2.0", ""]);
    if base.origin() != login_url.origin() {
        return Err(AuthError::Config(format!(
            "tenant id {tenant:?} would leave the login origin"
        )));
    }
    Ok(base)
}

/// `preferred_username` (else `upn`) from an id token's payload. The id token comes straight from
/// the token endpoint over TLS, so its signature is not re-checked here.
fn account_from_id_token(id: &Secret) -> Option<String> {
    use base64::Engine as _;
    let payload = id.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["preferred_username", "upn", "email"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_error_sample_parses_and_maps_to_refused() {
        let text = crate::graph::fixtures::read("oauth-token-error-response.json");
        let err: OAuthError = serde_json::from_slice(&text).unwrap();
        assert_eq!(err.error_codes, vec![70011]);
        match err.into_auth_error() {
            AuthError::Refused { code, description } => {
                assert_eq!(code, "invalid_scope");
                assert!(description.starts_with("AADSTS70011"));
                assert!(!description.contains('\n'));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn entra_token_samples_parse() {
        let read = crate::graph::fixtures::read;
        let dc: RawToken =
            serde_json::from_slice(&read("oauth-devicecode-token-response.json")).unwrap();
        assert!(dc.refresh_token.is_some() && dc.id_token.is_some());
        assert_eq!(dc.scope.as_deref(), Some("User.Read profile openid email"));
        assert_eq!(dc.expires_in, Some(serde_json::json!(3599)));
        let cc: RawToken =
            serde_json::from_slice(&read("oauth-client-credentials-token-response.json")).unwrap();
        assert!(cc.refresh_token.is_none() && cc.id_token.is_none() && cc.scope.is_none());
        assert!(cc.access_token.expose().starts_with("eyJ"));
    }

    #[test]
    fn revoked_and_claims_challenge_are_told_apart() {
        let e = |error: &str, claims: Option<&str>| OAuthError {
            error: error.into(),
            error_description: String::new(),
            error_codes: vec![],
            claims: claims.map(str::to_string),
            suberror: None,
        };
        assert_eq!(
            e("invalid_grant", None).into_auth_error(),
            AuthError::Expired {
                code: "invalid_grant".into()
            }
        );
        assert_eq!(
            e("interaction_required", Some("{\"access_token\":{}}")).into_auth_error(),
            AuthError::ClaimsChallenge {
                claims: "{\"access_token\":{}}".into()
            }
        );
        assert_eq!(
            e("interaction_required", None).into_auth_error(),
            AuthError::Expired {
                code: "interaction_required".into()
            }
        );
    }

    #[test]
    fn endpoint_urls_are_built_from_the_login_url_and_tenant() {
        let ep = TokenEndpoint::new(
            &Url::parse("http://127.0.0.1:9/login").unwrap(),
            "contoso",
            "c",
        )
        .unwrap();
        assert_eq!(
            ep.url("token").as_str(),
            "http://127.0.0.1:9/login/contoso/oauth2/v2.0/token"
        );
        assert!(TokenEndpoint::new(&Url::parse("https://x/").unwrap(), "a/b", "c").is_err());
    }

    #[test]
    fn only_a_guid_or_a_domain_name_is_a_tenant() {
        for ok in [
            "contoso.onmicrosoft.com",
            "organizations",
            "common",
            "consumers",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "sub-domain.contoso.com",
        ] {
            assert!(is_valid_tenant(ok), "{ok}");
        }
        for bad in [
            "",
            "http:evil.example",
            "https:evil.example",
            "\\\\evil.example",
            "//evil.example",
            "evil.example:443",
            "a b",
            "a/b",
            "a?b",
            "a#b",
            "a@b",
            "..",
            ".contoso.com",
            "-contoso.com",
            "contoso..com",
            "%2F%2Fevil",
            "con\u{202e}toso",
            "contoso.com\n",
        ] {
            assert!(!is_valid_tenant(bad), "{bad:?}");
        }
        let login = Url::parse("https://login.microsoftonline.com/").unwrap();
        for tenant in ["contoso.onmicrosoft.com", "common"] {
            let base = tenant_base(&login, tenant).unwrap();
            assert_eq!(base.origin(), login.origin());
            assert_eq!(
                base.as_str(),
                format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/")
            );
        }
    }

    #[test]
    fn id_token_gives_the_account() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"preferred_username":"tech@contoso.com"}"#);
        let id = Secret::new(format!("e30.{payload}.sig"));
        assert_eq!(
            account_from_id_token(&id).as_deref(),
            Some("tech@contoso.com")
        );
        assert_eq!(account_from_id_token(&Secret::new("garbage")), None);
    }
}
