//! The signed-in Graph client every tenant command and the console use: the session from the
//! credential cache (or `STAGEHAND_CLIENT_SECRET` for an app), handed to the Graph client; and
//! the console's, which can start signed out and sign in from its modal.

use std::path::Path;
use std::sync::Arc;

use crate::auth::interactive::Flow;
use crate::auth::live::LiveSession;
use crate::auth::session::Session;
use crate::auth::{AuthError, Role};
use crate::config::Config;
use crate::graph::{Governor, GraphClient, Timeouts};

/// A live connection to the configured tenant.
pub struct Connected {
    pub client: GraphClient,
    pub session: Arc<Session>,
    /// The signed-in account (UPN, or `app:{client id}`): the audit actor.
    pub actor: String,
    /// Scopes granted at sign-in, when known.
    pub scopes: Option<Vec<String>>,
}

/// Signs in from the cache (no prompt). Errors say how to sign in.
pub async fn connect(config: &Config, data_dir: &Path) -> anyhow::Result<Connected> {
    let env = |k: &str| std::env::var(k).ok();
    let (session, record) = crate::auth::commands::resolve(config, data_dir, &env)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let session = Arc::new(session);
    let client = GraphClient::new(
        config.graph_url(),
        Timeouts::default(),
        session.clone(),
        Governor::global(),
    )?;
    let actor = session.account().to_string();
    Ok(Connected {
        client,
        session,
        actor,
        scopes: record.map(|r| r.scopes),
    })
}

/// What the console talks to the tenant with when sign-in can happen inside it.
pub struct ConsoleLink {
    pub client: GraphClient,
    /// The swappable session behind `client`; its gate holds every request while signed out.
    pub live: Arc<LiveSession>,
    /// The sign-in task's settings (device code / browser from the modal).
    pub flow: Flow,
    /// No usable cached session: the console opens the sign-in modal at start. `Some(None)`
    /// when simply nobody is signed in, `Some(Some(why))` when the cache could not be used.
    pub sign_in_now: Option<Option<String>>,
}

/// The console's connection: the cached session if there is one, else a signed-out client whose
/// requests wait for the sign-in modal. `Err` (why) when sign-in cannot work at all here (no
/// tenant or client id configured).
pub async fn connect_console(config: &Config, data_dir: &Path) -> Result<ConsoleLink, String> {
    let endpoint = crate::auth::commands::endpoint(config).map_err(|e| e.to_string())?;
    let env = |k: &str| std::env::var(k).ok();
    let governor = Governor::global();
    let (live, role, sign_in_now) =
        match crate::auth::commands::resolve(config, data_dir, &env).await {
            Ok((session, record)) => {
                let role = record
                    .and_then(|r| r.role)
                    .and_then(|r| r.parse::<Role>().ok());
                (
                    LiveSession::new(governor.clone(), Some(session)),
                    role,
                    None,
                )
            }
            Err(e) => {
                let why = (e != AuthError::NotSignedIn).then(|| e.to_string());
                (LiveSession::new(governor.clone(), None), None, Some(why))
            }
        };
    let client = GraphClient::new(
        config.graph_url(),
        Timeouts::default(),
        live.clone(),
        governor,
    )
    .map_err(|e| e.to_string())?;
    let flow = Flow {
        endpoint,
        // The console reviews and approves user changes: a lead unless the cache says otherwise.
        role: role.unwrap_or(Role::Lead),
        data_dir: data_dir.to_path_buf(),
        live: live.clone(),
        open_browser: true,
        store: None,
        graph_url: config.graph_url(),
    };
    Ok(ConsoleLink {
        client,
        live,
        flow,
        sign_in_now,
    })
}
