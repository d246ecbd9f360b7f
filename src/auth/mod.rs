//! Sign-in and tokens. The Graph client only sees [`TokenProvider`]; the flows (device code,
//! authorization code with PKCE, client credentials) and the credential cache live beside it.

use futures::future::BoxFuture;

use crate::secret::Secret;

/// Why a token could not be had. Never carries a token, a secret or an assertion.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("not signed in: run `stagehand login`")]
    NotSignedIn,
    #[error("sign-in expired or was revoked ({code}): sign in again")]
    Expired { code: String },
    #[error("Conditional Access asks for more claims: sign in again")]
    ClaimsChallenge,
    #[error("the token endpoint refused the request: {code}: {description}")]
    Refused { code: String, description: String },
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
}

/// Gives the Graph client a bearer token.
pub trait TokenProvider: Send + Sync + 'static {
    /// A valid access token. `rejected` is the token Graph just answered 401 to: the provider must
    /// not hand it out again but refresh (once) instead.
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>>;
}

/// A fixed token, for tests and for tools that already hold one.
#[derive(Debug)]
pub struct StaticToken(pub Secret);

impl TokenProvider for StaticToken {
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            match rejected {
                Some(r) if *r == self.0 => Err(AuthError::Expired {
                    code: "static token rejected".into(),
                }),
                _ => Ok(self.0.clone()),
            }
        })
    }
}
