//! The live token provider: the access token lives in memory only and is refreshed ahead of
//! expiry; concurrent callers wait on one refresh (the cache lock is held across it); a rotated
//! refresh token is written to the credential store before the new access token is handed out;
//! the sign-in state is published on a `watch` for the status bar.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::client_credentials::{self, AppCredential};
use super::endpoint::{TokenEndpoint, TokenSet};
use super::store::CredentialCache;
use super::{AuthError, TokenProvider};
use crate::secret::Secret;

/// Who is signed in, as the session publishes it (for the status bar). Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SessionState {
    #[default]
    SignedOut,
    /// A user (UPN) or an app (its display name or client id).
    SignedIn { account: String },
    /// A refresh failed mid-session: polling pauses until the user signs in again.
    Expired { reason: String },
}

/// How the session gets its next token.
#[derive(Debug, Clone)]
pub enum Grant {
    /// Delegated: a refresh token for these scopes.
    Delegated { scope: String },
    /// Application: client credentials.
    App(AppCredential),
}

#[derive(Debug, Default)]
struct Cached {
    access: Option<(Secret, Instant)>,
    refresh: Option<Secret>,
    expires_in: Option<Duration>,
}

#[derive(Debug)]
struct Inner {
    endpoint: TokenEndpoint,
    grant: Grant,
    account: String,
    /// Where a rotated refresh token goes (`None`: memory only).
    persist: Option<(CredentialCache, String)>,
    /// Refresh margin in milliseconds.
    margin_ms: AtomicU64,
    cache: Mutex<Cached>,
    state: watch::Sender<SessionState>,
}

/// Cheap to clone; all clones share one token cache.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// Refresh this long before the access token expires (Entra issues 60-90 minutes).
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(300);

impl Session {
    /// A delegated session from a refresh token (and, right after sign-in, its first tokens).
    pub fn delegated(
        endpoint: TokenEndpoint,
        scope: String,
        account: String,
        refresh: Secret,
        first: Option<TokenSet>,
        persist: Option<(CredentialCache, String)>,
    ) -> Self {
        let mut cached = Cached {
            refresh: Some(refresh),
            ..Cached::default()
        };
        if let Some(t) = first {
            cached.access = Some((t.access_token, t.expires_at));
            cached.expires_in = Some(t.expires_in);
        }
        Self::build(
            endpoint,
            Grant::Delegated { scope },
            account,
            cached,
            persist,
        )
    }

    /// An app-only session: a token is fetched on first use.
    pub fn app(endpoint: TokenEndpoint, cred: AppCredential) -> Self {
        let account = format!("app:{}", endpoint.client_id());
        Self::build(endpoint, Grant::App(cred), account, Cached::default(), None)
    }

    fn build(
        endpoint: TokenEndpoint,
        grant: Grant,
        account: String,
        cached: Cached,
        persist: Option<(CredentialCache, String)>,
    ) -> Self {
        let (state, _) = watch::channel(SessionState::SignedIn {
            account: account.clone(),
        });
        Self {
            inner: Arc::new(Inner {
                endpoint,
                grant,
                account,
                persist,
                margin_ms: AtomicU64::new(DEFAULT_MARGIN.as_millis() as u64),
                cache: Mutex::new(cached),
                state,
            }),
        }
    }

    /// Refresh earlier or later than [`DEFAULT_MARGIN`] (all clones share it).
    pub fn with_margin(self, margin: Duration) -> Self {
        self.set_margin(margin);
        self
    }

    pub fn set_margin(&self, margin: Duration) {
        self.inner
            .margin_ms
            .store(margin.as_millis() as u64, Ordering::Relaxed);
    }

    /// The sign-in state for the status bar: `SignedIn`, then `Expired { reason }` after a
    /// refresh fails (polling pauses; the console offers to sign in again).
    pub fn watch(&self) -> watch::Receiver<SessionState> {
        self.inner.state.subscribe()
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub fn endpoint(&self) -> &TokenEndpoint {
        &self.inner.endpoint
    }

    /// When the cached access token expires and its issued lifetime, if one is cached.
    pub async fn expiry(&self) -> Option<(Instant, Duration)> {
        let c = self.inner.cache.lock().await;
        Some((c.access.as_ref()?.1, c.expires_in?))
    }

    /// Whether two handles share one token cache (clones of one session).
    pub fn same(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The delegated scopes this session refreshes for (`None` for an app).
    pub fn scope(&self) -> Option<&str> {
        match &self.inner.grant {
            Grant::Delegated { scope } => Some(scope),
            Grant::App(_) => None,
        }
    }

    async fn fetch(
        &self,
        cached: &mut Cached,
        claims: Option<&str>,
    ) -> Result<TokenSet, AuthError> {
        match &self.inner.grant {
            Grant::App(cred) => client_credentials::acquire(&self.inner.endpoint, cred).await,
            Grant::Delegated { scope } => {
                let refresh = cached.refresh.clone().ok_or(AuthError::NotSignedIn)?;
                let tokens = self
                    .inner
                    .endpoint
                    .refresh_with_claims(&refresh, scope, claims)
                    .await?;
                if let Some(new) = tokens.refresh_token.clone().filter(|n| *n != refresh) {
                    if let Some((store, key)) = self.inner.persist.clone() {
                        let value = new.clone();
                        let saved = tokio::task::spawn_blocking(move || store.save(&key, &value))
                            .await
                            .map_err(|e| AuthError::Store(format!("store task: {e}")))?;
                        if let Err(e) = saved {
                            // Keep going in memory; the old refresh token stays valid (it is not
                            // revoked by rotation), so the next start can still sign in.
                            tracing::warn!(error = %e, "could not persist the rotated refresh token");
                        }
                    }
                    cached.refresh = Some(new);
                }
                Ok(tokens)
            }
        }
    }

    async fn token(
        &self,
        rejected: Option<&Secret>,
        claims: Option<&str>,
    ) -> Result<Secret, AuthError> {
        let mut cached = self.inner.cache.lock().await;
        if let Some((tok, exp)) = &cached.access {
            let margin = Duration::from_millis(self.inner.margin_ms.load(Ordering::Relaxed));
            let fresh = Instant::now() + margin < *exp;
            // A claims challenge for a token already replaced by another task: the new one is
            // what that task got by answering the same challenge.
            if fresh && rejected != Some(tok) {
                return Ok(tok.clone());
            }
        }
        cached.access = None;
        match self.fetch(&mut cached, claims).await {
            Ok(t) => {
                cached.access = Some((t.access_token.clone(), t.expires_at));
                cached.expires_in = Some(t.expires_in);
                self.inner.state.send_if_modified(|s| {
                    let now = SessionState::SignedIn {
                        account: self.inner.account.clone(),
                    };
                    let changed = *s != now;
                    *s = now;
                    changed
                });
                tracing::debug!(account = %self.inner.account, expires_in_s = t.expires_in.as_secs(), "token refreshed");
                Ok(t.access_token)
            }
            Err(e) => {
                if !matches!(e, AuthError::Unreachable(_)) {
                    self.inner.state.send_replace(SessionState::Expired {
                        reason: e.to_string(),
                    });
                }
                tracing::warn!(error = %e, "token refresh failed");
                Err(e)
            }
        }
    }
}

impl TokenProvider for Session {
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(self.token(rejected, None))
    }

    fn claims_challenge<'a>(
        &'a self,
        rejected: &'a Secret,
        claims: &'a str,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(self.token(Some(rejected), Some(claims)))
    }
}
