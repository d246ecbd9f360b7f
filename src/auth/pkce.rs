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

/// How long one connection to the loopback redirect may take to send its request line and headers.
pub const REDIRECT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to the loopback redirect served at once; more wait to be accepted.
const REDIRECT_CONNECTIONS: usize = 16;

/// Serves the loopback redirect until a request with this sign-in's `state` carries `code` or
/// `error`. A request with any other `state` (or none) is answered and dropped, errors included,
/// so a forged redirect from another page cannot end the sign-in; each connection has
/// [`REDIRECT_CONNECTION_TIMEOUT`] and several are served at once, so a silent one blocks nothing.
async fn wait_for_code(listener: &TcpListener, state: &str) -> Result<Secret, AuthError> {
    serve_redirect(listener, state, REDIRECT_CONNECTION_TIMEOUT).await
}

/// [`wait_for_code`] with the per-connection timeout given (tests use a short one).
pub async fn serve_redirect(
    listener: &TcpListener,
    state: &str,
    per_connection: Duration,
) -> Result<Secret, AuthError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Secret, AuthError>>(4);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        // Reap finished connections so the set only holds live ones.
        while conns.try_join_next().is_some() {}
        tokio::select! {
            biased;
            Some(outcome) = rx.recv() => return outcome,
            accepted = listener.accept(), if conns.len() < REDIRECT_CONNECTIONS => {
                let (sock, _) = accepted
                    .map_err(|e| AuthError::Redirect(format!("loopback accept: {e}")))?;
                let (tx, state) = (tx.clone(), state.to_string());
                conns.spawn(async move {
                    let served = tokio::time::timeout(per_connection, serve_one(sock, &state)).await;
                    if let Ok(Some(outcome)) = served {
                        let _ = tx.send(outcome).await;
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// One connection: reads the request head, answers, and returns the sign-in's outcome when the
/// request belongs to this sign-in (`state` matches) and carries `code` or `error`.
async fn serve_one(
    mut sock: tokio::net::TcpStream,
    state: &str,
) -> Option<Result<Secret, AuthError>> {
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
    let q: std::collections::HashMap<String, String> =
        match Url::parse(&format!("http://127.0.0.1{target}")) {
            Ok(url) => url.query_pairs().into_owned().collect(),
            Err(_) => Default::default(),
        };
    let ours = q.get("state").map(String::as_str) == Some(state);
    let outcome = if !ours {
        if q.contains_key("code") || q.contains_key("error") {
            tracing::warn!("ignored a redirect whose state is not this sign-in's");
        }
        None
    } else if let Some(err) = q.get("error") {
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
    } else {
        q.get("code").map(|code| Ok(Secret::new(code.clone())))
    };
    let (status, text) = match &outcome {
        Some(Ok(_)) => ("200 OK", "Signed in to stagehand. You can close this tab."),
        Some(Err(_)) => (
            "400 Bad Request",
            "stagehand sign-in failed; see the terminal.",
        ),
        None if ours => ("404 Not Found", "Not found."),
        None => (
            "400 Bad Request",
            "This answer does not belong to the sign-in in progress; it was ignored.",
        ),
    };
    let body = format!("<!doctype html><title>stagehand</title><p>{text}</p>");
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
    outcome
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

    async fn get(port: u16, target: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn forged_redirects_and_a_silent_connection_do_not_end_or_block_the_sign_in() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            serve_redirect(&listener, "the-state", Duration::from_secs(600)).await
        });
        // A connection that never sends a byte, held open for the whole test.
        let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // Forged answers with the wrong state (or none): refused, and the sign-in goes on.
        for forged in [
            "/?error=access_denied&state=wrong",
            "/?error=invalid_request",
            "/?code=forged-code&state=wrong",
            "/?code=forged-code",
        ] {
            let answer = get(port, forged).await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{forged}: {answer}");
            assert!(!server.is_finished(), "{forged} ended the sign-in");
        }
        let answer = get(port, "/?code=the-real-code&state=the-state").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let code = tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the real redirect is served while a silent connection is open")
            .unwrap()
            .unwrap();
        assert_eq!(code.expose(), "the-real-code");
    }

    #[tokio::test]
    async fn a_denial_with_the_right_state_ends_the_sign_in() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server =
            tokio::spawn(
                async move { serve_redirect(&listener, "s", Duration::from_secs(5)).await },
            );
        get(port, "/?error=access_denied&state=s").await;
        assert_eq!(server.await.unwrap(), Err(AuthError::Declined));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_dropped_after_its_timeout() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _server =
            tokio::spawn(
                async move { serve_redirect(&listener, "s", Duration::from_secs(5)).await },
            );
        let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut out = Vec::new();
        // The clock auto-advances while everything waits: the server gives up on the connection.
        let n = silent.read_to_end(&mut out).await.unwrap();
        assert_eq!(n, 0, "closed without an answer");
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
