//! The console's sign-in task: takes [`SignInCmd`]s, runs one attempt at a time (device code, or
//! the browser with PKCE), reports each step as a [`SignInEvent`], and on success keeps the refresh
//! token (OS credential store, or memory only, said plainly), writes the account record and
//! installs the new session in the [`LiveSession`], which opens the signed-out gate. The render
//! loop never waits on any of this.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::AuthError;
use super::commands::keep;
use super::device_code;
use super::endpoint::{TokenEndpoint, TokenSet};
use super::live::LiveSession;
use super::pkce;
use super::roles::Role;
use super::session::Session;
use super::store::{AccountRecord, CredentialCache, SecretKind};

/// To the sign-in task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInCmd {
    /// Abandon any attempt and start a new one (device code, or the browser with PKCE).
    Start { generation: u64, browser: bool },
    /// Abandon the attempt in progress.
    Cancel,
}

/// How an attempt ended without a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Declined,
    /// The code expired before anyone signed in.
    CodeExpired,
    Error(String),
}

/// What an attempt reports, in order: a code or a browser URL, then done or failed. The console
/// maps these into its messages (`feeds::session`); this module knows nothing of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInEvent {
    /// The device code to show.
    Code {
        generation: u64,
        user_code: String,
        verification_uri: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// The browser sign-in URL (opened if a browser could be started).
    Browser {
        generation: u64,
        url: String,
        opened: bool,
    },
    /// Signed in; `note` says when nothing could be kept for next time.
    Done {
        generation: u64,
        account: String,
        note: Option<String>,
    },
    Failed {
        generation: u64,
        failure: Failure,
    },
}

/// How long the browser sign-in waits for the redirect.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Everything an attempt needs.
#[derive(Debug)]
pub struct Flow {
    pub endpoint: TokenEndpoint,
    pub role: Role,
    pub data_dir: PathBuf,
    pub live: Arc<LiveSession>,
    /// Open the system browser for PKCE (false in tests: the URL is shown instead).
    pub open_browser: bool,
    /// The credential store for the refresh token (`None`: the platform's; tests pass a mock).
    pub store: Option<CredentialCache>,
    /// The Graph root, asked `GET /me` for the account name when the answer has no id token.
    pub graph_url: url::Url,
}

/// Runs the task until `cancel` or until the command channel closes.
pub fn spawn<M: From<SignInEvent> + Send + 'static>(
    flow: Flow,
    mut cmds: mpsc::UnboundedReceiver<SignInCmd>,
    tx: mpsc::Sender<M>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let flow = Arc::new(flow);
    tokio::spawn(async move {
        let mut attempt: Option<JoinHandle<()>> = None;
        loop {
            let cmd = tokio::select! {
                _ = cancel.cancelled() => None,
                c = cmds.recv() => c,
            };
            if let Some(a) = attempt.take() {
                a.abort();
            }
            match cmd {
                None => return,
                Some(SignInCmd::Cancel) => tracing::info!("sign-in cancelled"),
                Some(SignInCmd::Start {
                    generation,
                    browser,
                }) => {
                    tracing::info!(generation, browser, "sign-in started");
                    attempt = Some(tokio::spawn(run(
                        flow.clone(),
                        generation,
                        browser,
                        tx.clone(),
                    )));
                }
            }
        }
    })
}

async fn run<M: From<SignInEvent>>(
    flow: Arc<Flow>,
    generation: u64,
    browser: bool,
    tx: mpsc::Sender<M>,
) {
    let msg = match attempt(&flow, generation, browser, &tx).await {
        Ok((account, note)) => SignInEvent::Done {
            generation,
            account,
            note,
        },
        Err(e) => {
            tracing::warn!(error = %e, "sign-in failed");
            let failure = match e {
                AuthError::Declined => Failure::Declined,
                AuthError::CodeExpired => Failure::CodeExpired,
                other => Failure::Error(other.to_string()),
            };
            SignInEvent::Failed {
                generation,
                failure,
            }
        }
    };
    let _ = tx.send(M::from(msg)).await;
}

async fn attempt<M: From<SignInEvent>>(
    flow: &Flow,
    generation: u64,
    browser: bool,
    tx: &mpsc::Sender<M>,
) -> Result<(String, Option<String>), AuthError> {
    let ep = &flow.endpoint;
    let scope = flow.role.scope_param();
    let claims = flow.live.pending_claims();
    let tokens = if browser {
        pkce::sign_in_with_claims(ep, &scope, claims.as_deref(), BROWSER_TIMEOUT, |url| {
            let opened = flow.open_browser && pkce::open_browser(url);
            let _ = tx.try_send(M::from(SignInEvent::Browser {
                generation,
                url: url.to_string(),
                opened,
            }));
        })
        .await?
    } else {
        let prompt = device_code::start_with_claims(ep, &scope, claims.as_deref()).await?;
        let left = chrono::Duration::seconds(i64::try_from(prompt.expires_in).unwrap_or(900));
        let shown = M::from(SignInEvent::Code {
            generation,
            user_code: prompt.user_code.clone(),
            verification_uri: prompt.verification_uri.clone(),
            expires_at: chrono::Utc::now() + left,
        });
        if tx.send(shown).await.is_err() {
            return Err(AuthError::Protocol("the console is gone".into()));
        }
        device_code::poll(ep, &prompt, &device_code::tokio_sleep).await?
    };
    install(flow, &scope, tokens).await
}

/// Keeps the refresh token, records the account and installs the session.
async fn install(
    flow: &Flow,
    scope: &str,
    tokens: TokenSet,
) -> Result<(String, Option<String>), AuthError> {
    let ep = &flow.endpoint;
    let account = super::account::name(&tokens, &flow.graph_url).await?;
    let refresh = tokens.refresh_token.clone().ok_or_else(|| {
        AuthError::Protocol("no refresh token in the answer (was offline_access granted?)".into())
    })?;
    let record = AccountRecord {
        tenant: ep.tenant().into(),
        client_id: ep.client_id().into(),
        account: account.clone(),
        kind: SecretKind::RefreshToken,
        role: Some(flow.role.to_string()),
        scopes: tokens.scopes.clone(),
    };
    let kept = keep(
        &flow.data_dir,
        &record,
        Some(refresh.clone()),
        flow.store.clone(),
    )
    .await?;
    let persist = kept.store.map(|s| (s, record.secret_key()));
    let session = Session::delegated(
        ep.clone(),
        scope.to_string(),
        account.clone(),
        refresh,
        Some(tokens),
        persist,
    );
    flow.live.install(session);
    tracing::info!(%account, "signed in from the console");
    Ok((account, kept.note))
}
