//! The signed-in Graph client every tenant command and the console use: the session from the
//! credential cache (or `STAGEHAND_CLIENT_SECRET` for an app), handed to the Graph client.

use std::path::Path;
use std::sync::Arc;

use crate::auth::session::Session;
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
