//! The console's token provider: the current [`Session`] (or none), swapped in place when the user
//! signs in again, so the Graph client and every feed built on it live across sign-ins.
//!
//! While there is no usable session the rate governor's signed-out gate is closed: every request
//! of every feed waits (in [`TokenProvider::access_token`] and in `Governor::acquire`) until
//! [`LiveSession::install`] opens it again. A refresh that ends the session (revoked or expired
//! refresh token, a claims challenge only the user can answer) closes the gate and publishes why.

use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::session::Session;
use super::session::SessionState;
use super::{AuthError, TokenProvider};
use crate::graph::Governor;
use crate::secret::Secret;

/// Shared as `Arc<LiveSession>` by the Graph client and the sign-in task.
#[derive(Debug)]
pub struct LiveSession {
    current: RwLock<Option<Session>>,
    governor: Arc<Governor>,
    state: watch::Sender<SessionState>,
    /// Claims Conditional Access asked for that a silent refresh could not satisfy: the next
    /// interactive sign-in sends them.
    pending_claims: Mutex<Option<String>>,
}

/// Why a session could not be used, for the status bar; `None` for errors that do not end it
/// (an unreachable token endpoint keeps the session: the next request tries again).
fn ends_session(e: &AuthError) -> bool {
    matches!(
        e,
        AuthError::NotSignedIn | AuthError::Expired { .. } | AuthError::ClaimsChallenge { .. }
    )
}

impl LiveSession {
    /// With `None` the gate closes at once ("not signed in").
    pub fn new(governor: Arc<Governor>, initial: Option<Session>) -> Arc<Self> {
        let state = match &initial {
            Some(s) => SessionState::SignedIn {
                account: s.account().to_string(),
            },
            None => SessionState::SignedOut,
        };
        if initial.is_none() {
            governor.sign_out("not signed in");
        } else {
            governor.sign_in();
        }
        Arc::new(Self {
            current: RwLock::new(initial),
            governor,
            state: watch::channel(state).0,
            pending_claims: Mutex::new(None),
        })
    }

    /// Makes `session` current, publishes it and opens the gate: waiting requests go out.
    pub fn install(&self, session: Session) {
        let account = session.account().to_string();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(session);
        *self
            .pending_claims
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        self.state.send_replace(SessionState::SignedIn { account });
        self.governor.sign_in();
    }

    /// The sign-in state, for the status bar (`Msg::Session` through `session::forward_state`).
    pub fn watch(&self) -> watch::Receiver<SessionState> {
        self.state.subscribe()
    }

    pub fn current(&self) -> Option<Session> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn governor(&self) -> &Arc<Governor> {
        &self.governor
    }

    /// The claims the next interactive sign-in must ask for, if a challenge is outstanding.
    pub fn pending_claims(&self) -> Option<String> {
        self.pending_claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `used` failed with `e`: if it is still the current session and `e` ends it, drop it, close
    /// the gate and say why. A newer session installed meanwhile is left alone.
    fn lose(&self, used: &Session, e: &AuthError, claims: Option<&str>) {
        if !ends_session(e) {
            return;
        }
        {
            let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
            if !cur.as_ref().is_some_and(|c| c.same(used)) {
                return;
            }
            *cur = None;
        }
        // The token endpoint's own claims win over Graph's challenge: they are what it wants.
        let wanted = match e {
            AuthError::ClaimsChallenge { claims } => Some(claims.as_str()),
            _ => claims,
        };
        if let Some(c) = wanted {
            *self
                .pending_claims
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(c.to_string());
        }
        let reason = e.to_string();
        self.state.send_replace(SessionState::Expired {
            reason: reason.clone(),
        });
        self.governor.sign_out(&reason);
    }

    async fn token(
        &self,
        rejected: Option<&Secret>,
        claims: Option<&str>,
    ) -> Result<Secret, AuthError> {
        self.governor.wait_signed_in().await;
        let Some(session) = self.current() else {
            return Err(AuthError::NotSignedIn);
        };
        let got = match (rejected, claims) {
            (Some(r), Some(c)) => session.claims_challenge(r, c).await,
            _ => session.access_token(rejected).await,
        };
        if let Err(e) = &got {
            self.lose(&session, e, claims);
        }
        got
    }
}

impl TokenProvider for LiveSession {
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
