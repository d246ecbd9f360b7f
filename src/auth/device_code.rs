//! Device code flow (public client): ask for a code, show it, poll `/token` at `interval`.
//! `authorization_pending` keeps polling; `slow_down` adds 5 s to the interval for good (RFC 8628
//! 3.5; Entra does not document it, so it is handled defensively); `authorization_declined`,
//! `expired_token` and `bad_verification_code` stop.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::time::Instant;

use super::AuthError;
use super::endpoint::{PostError, TokenEndpoint, TokenSet};
use crate::secret::Secret;

/// What the user is shown. The device code itself stays secret.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCodePrompt {
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub message: String,
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
    device_code: Secret,
}

fn default_interval() -> u64 {
    5
}

impl DeviceCodePrompt {
    /// The line to show when Entra sent no `message`.
    pub fn instructions(&self) -> String {
        if self.message.is_empty() {
            format!(
                "To sign in, open {} and enter the code {}",
                self.verification_uri, self.user_code
            )
        } else {
            self.message.clone()
        }
    }
}

/// Waits between polls; injected so tests can record the waits instead of sleeping.
pub type Sleeper = dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync;

/// The real sleeper.
pub fn tokio_sleep(d: Duration) -> BoxFuture<'static, ()> {
    Box::pin(tokio::time::sleep(d))
}

/// Step 1: `POST /devicecode`.
pub async fn start(endpoint: &TokenEndpoint, scope: &str) -> Result<DeviceCodePrompt, AuthError> {
    start_with_claims(endpoint, scope, None).await
}

/// Step 1 answering a claims challenge (`claims`: decoded JSON), with the client capabilities.
pub async fn start_with_claims(
    endpoint: &TokenEndpoint,
    scope: &str,
    claims: Option<&str>,
) -> Result<DeviceCodePrompt, AuthError> {
    let param = endpoint.claims_param(claims);
    let mut form = vec![("client_id", endpoint.client_id()), ("scope", scope)];
    if let Some(p) = &param {
        form.push(("claims", p.as_str()));
    }
    endpoint
        .post_form("devicecode", &form)
        .await
        .map_err(AuthError::from)
}

/// Step 2: poll until the user finished, declined, or the code expired.
pub async fn poll(
    endpoint: &TokenEndpoint,
    prompt: &DeviceCodePrompt,
    sleep: &Sleeper,
) -> Result<TokenSet, AuthError> {
    // `expires_in` comes from the server: an absurd value waits at most a day, never overflows.
    let deadline = Instant::now() + Duration::from_secs(prompt.expires_in.min(86_400));
    let mut interval = Duration::from_secs(prompt.interval);
    let form = [
        ("client_id", endpoint.client_id()),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", prompt.device_code.expose()),
    ];
    loop {
        sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(AuthError::CodeExpired);
        }
        match endpoint.token(&form).await {
            Ok(tokens) => return Ok(tokens),
            Err(PostError::OAuth(e)) => match e.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += Duration::from_secs(5),
                "authorization_declined" | "access_denied" => return Err(AuthError::Declined),
                "expired_token" => return Err(AuthError::CodeExpired),
                "bad_verification_code" => return Err(AuthError::BadVerificationCode),
                _ => return Err(e.into_auth_error()),
            },
            Err(PostError::Auth(e)) => return Err(e),
        }
        tracing::debug!(
            interval_s = interval.as_secs(),
            "device code: still waiting"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_keeps_the_device_code_out_of_debug() {
        let p: DeviceCodePrompt = serde_json::from_str(
            r#"{"device_code":"DC-very-secret","user_code":"ABCD-EFGH",
                "verification_uri":"https://microsoft.com/devicelogin","expires_in":900}"#,
        )
        .unwrap();
        assert_eq!(p.interval, 5);
        assert!(!format!("{p:?}").contains("DC-very-secret"));
        assert!(p.instructions().contains("ABCD-EFGH"));
    }
}
