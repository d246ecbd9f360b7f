//! The signed-in account's name, the audit actor of everything done in the session: the id
//! token's `preferred_username` (Entra issues one when `openid` is asked for), else Graph's
//! `GET /me` with the new access token (docs/graph.md §7, §13). Never a placeholder: an audit
//! record must name who acted, so a sign-in that cannot tell is refused.

use std::sync::Arc;

use url::Url;

use super::endpoint::TokenSet;
use super::{AuthError, StaticToken};
use crate::graph::{Governor, GraphClient, Timeouts};

/// Who signed in with `tokens` (a delegated sign-in). `graph_url`: the configured Graph root,
/// asked only when the answer carried no id token.
pub async fn name(tokens: &TokenSet, graph_url: &Url) -> Result<String, AuthError> {
    if let Some(a) = tokens.account.as_deref().filter(|a| !a.trim().is_empty()) {
        return Ok(a.to_string());
    }
    let unknown = |why: String| {
        AuthError::Protocol(format!(
            "the sign-in answer carried no id token and GET /me failed ({why}): cannot tell who signed in"
        ))
    };
    let client = GraphClient::new(
        graph_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(tokens.access_token.clone())),
        Arc::new(Governor::new(&[])),
    )
    .map_err(|e| unknown(e.to_string()))?;
    let me = client
        .me(&["id", "userPrincipalName"])
        .await
        .map_err(|e| unknown(e.to_string()))?;
    me.user_principal_name
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| unknown("no userPrincipalName".into()))
}
