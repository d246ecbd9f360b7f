//! Sign-in and tokens. The Graph client only sees [`TokenProvider`]; the flows (device code,
//! authorization code with PKCE, client credentials) and the credential cache live beside it.
//!
//! - [`account`]: the signed-in account's name (id token, else `GET /me`).
//! - [`access`]: whether an access token speaks for a user or for the app (and its `roles`).
//! - [`endpoint`]: the Entra token endpoint (form posts, token and error bodies).
//! - [`roles`]: which delegated scopes each role asks for.
//! - [`device_code`], [`pkce`], [`client_credentials`]: the three ways in.
//! - [`store`]: refresh tokens and client secrets in the OS credential store, never on disk.
//! - [`claims`]: claims challenges and client capabilities (`cp1`).
//! - [`live`]: the console's swappable session and the signed-out gate.
//! - [`interactive`]: the console's sign-in task (device code or browser), driven by messages.
//! - [`session`]: the live [`TokenProvider`] (in-memory access token, single-flight refresh).
//! - [`commands`]: `stagehand login | logout | whoami`.

pub mod access;
pub mod account;
pub mod claims;
pub mod client_credentials;
pub mod commands;
pub mod device_code;
pub mod endpoint;
pub mod interactive;
pub mod live;
pub mod pkce;
pub(crate) mod roles;
pub(crate) mod session;
pub mod store;

use futures::future::BoxFuture;

use crate::secret::Secret;

pub use endpoint::{TokenEndpoint, TokenSet};
pub use roles::Role;
pub use session::Session;
pub use store::{AccountRecord, CredentialCache};

/// Why a token could not be had. Never carries a token, a secret or an assertion.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("not signed in: run `stagehand login`")]
    NotSignedIn,
    #[error("sign-in expired or was revoked ({code}): sign in again")]
    Expired { code: String },
    /// `claims`: the JSON the next interactive sign-in must ask for (not a secret; not shown).
    #[error("Conditional Access asks for more claims: sign in again")]
    ClaimsChallenge { claims: String },
    #[error("the token endpoint refused the request: {code}: {description}")]
    Refused { code: String, description: String },
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the sign-in was declined in the browser")]
    Declined,
    #[error("the device code expired before anyone signed in: run `stagehand login` again")]
    CodeExpired,
    #[error("the token endpoint did not recognise the device code (bad_verification_code)")]
    BadVerificationCode,
    #[error("the browser sign-in failed: {0}")]
    Redirect(String),
    #[error("the token endpoint answered something unexpected: {0}")]
    Protocol(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("certificate sign-in: {0}")]
    Certificate(String),
    #[error(
        "no OS credential store is available ({0}); the session is kept in memory only and \
         nothing secret is written to disk"
    )]
    NoCredentialStore(String),
    #[error("the OS credential store failed: {0}")]
    Store(String),
}

/// Gives the Graph client a bearer token.
pub trait TokenProvider: Send + Sync + 'static {
    /// A valid access token. `rejected` is the token Graph just answered 401 to: the provider must
    /// not hand it out again but refresh (once) instead.
    fn access_token<'a>(
        &'a self,
        rejected: Option<&'a Secret>,
    ) -> BoxFuture<'a, Result<Secret, AuthError>>;

    /// Graph answered `rejected` with a claims challenge (`claims`: the decoded JSON). The provider
    /// asks for a new token carrying those claims; by default it just refreshes.
    fn claims_challenge<'a>(
        &'a self,
        rejected: &'a Secret,
        claims: &'a str,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        let _ = claims;
        self.access_token(Some(rejected))
    }
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
