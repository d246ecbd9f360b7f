//! Authorization code with PKCE (S256) on a loopback redirect, for tenants whose Conditional
//! Access blocks device code flow. Listens on 127.0.0.1:0, opens the browser (or prints the URL),
//! checks `state`, and trades the code for tokens.

use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

use super::AuthError;
use super::endpoint::{TokenEndpoint, TokenSet};
use crate::secret::Secret;

/// A fresh PKCE pair: the verifier stays here, the challenge goes in the URL.
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

fn random_urlsafe() -> String {
    // Two v4 UUIDs come from the OS CSPRNG: 244 random bits.
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `code_challenge = BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 4.2).
pub fn challenge_for(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_urlsafe();
        let challenge = challenge_for(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens `url` in the system browser when there is one. Returns false when it could not. The
/// opener gets no stdin, stdout or stderr: the console owns the terminal.
pub fn open_browser(url: &Url) -> bool {
    use std::process::{Command, Stdio};
    let s = url.as_str();
    #[cfg(target_os = "macos")]
    let mut cmd = {
        let mut c = Command::new("open");
        c.arg(s);
        c
    };
    #[cfg(windows)]
    let mut cmd = {
        let mut c = Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", s]);
        c
    };
    #[cfg(all(unix, not(target_os = "macos")))]
    let mut cmd = {
        let has_display =
            std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
        if !has_display {
            return false;
        }
        let mut c = Command::new("xdg-open");
        c.arg(s);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}

/// The whole flow. `show` gets the authorize URL (open a browser and/or print it).
pub async fn sign_in(
    endpoint: &TokenEndpoint,
    scope: &str,
    timeout: Duration,
    show: impl FnOnce(&Url),
) -> Result<TokenSet, AuthError> {
    sign_in_with_claims(endpoint, scope, None, timeout, show).await
}

/// [`sign_in`] answering a claims challenge (`claims`: decoded JSON), with the client capabilities.
pub async fn sign_in_with_claims(
    endpoint: &TokenEndpoint,
    scope: &str,
    claims: Option<&str>,
    timeout: Duration,
    show: impl FnOnce(&Url),
) -> Result<TokenSet, AuthError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| AuthError::Redirect(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| AuthError::Redirect(e.to_string()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let pkce = Pkce::new();
    let state = random_urlsafe();
    let mut url = endpoint.url("authorize");
    url.query_pairs_mut()
        .append_pair("client_id", endpoint.client_id())
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_mode", "query")
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(c) = endpoint.claims_param(claims) {
        url.query_pairs_mut().append_pair("claims", &c);
    }
    show(&url);
    let code = tokio::time::timeout(timeout, wait_for_code(&listener, &state))
        .await
        .map_err(|_| {
            AuthError::Redirect(format!(
                "no answer from the browser within {}s",
                timeout.as_secs()
            ))
        })??;
    let form = [
        ("client_id", endpoint.client_id()),
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", pkce.verifier.expose()),
        ("scope", scope),
    ];
    Ok(endpoint.token(&form).await?)
}

/// Serves the loopback redirect until a request carries `code` or `error`.
async fn wait_for_code(listener: &TcpListener, state: &str) -> Result<Secret, AuthError> {
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| AuthError::Redirect(format!("loopback accept: {e}")))?;
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("");
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else {
            continue;
        };
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let outcome = if let Some(err) = q.get("error") {
            let desc = q
                .get("error_description")
                .map(|d| d.lines().next().unwrap_or("").to_string())
                .unwrap_or_default();
            Some(if err == "access_denied" {
                Err(AuthError::Declined)
            } else {
                Err(AuthError::Refused {
                    code: err.clone(),
                    description: desc,
                })
            })
        } else if let Some(code) = q.get("code") {
            if q.get("state").map(String::as_str) != Some(state) {
                Some(Err(AuthError::Redirect(
                    "the answer's state does not match this sign-in (ignored)".into(),
                )))
            } else {
                Some(Ok(Secret::new(code.clone())))
            }
        } else {
            None
        };
        let (status, text) = match &outcome {
            Some(Ok(_)) => ("200 OK", "Signed in to stagehand. You can close this tab."),
            Some(Err(_)) => (
                "400 Bad Request",
                "stagehand sign-in failed; see the terminal.",
            ),
            None => ("404 Not Found", "Not found."),
        };
        let body = format!("<!doctype html><title>stagehand</title><p>{text}</p>");
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = sock.write_all(resp.as_bytes()).await;
        let _ = sock.shutdown().await;
        if let Some(o) = outcome {
            return o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_fresh_long_enough_and_hidden() {
        let a = Pkce::new();
        let b = Pkce::new();
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.verifier.expose().len(), 43);
        assert_eq!(a.challenge, challenge_for(a.verifier.expose()));
        assert!(!format!("{a:?}").contains(a.verifier.expose()));
    }
}
