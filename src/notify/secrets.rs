//! Where the notification secrets live: the OS credential store, the same one Graph's refresh
//! tokens use (`auth::store::CredentialCache`), under keys that name the instance and account.
//! Never a file, never the config.

use super::ServiceNowConfig;
use super::servicenow::SnSecrets;
use crate::auth::store::CredentialCache;
use crate::secret::Secret;

/// The Teams Workflows webhook URL.
pub const TEAMS_KEY: &str = "notify/teams/webhook_url";

fn host(cfg: &ServiceNowConfig) -> String {
    url::Url::parse(&cfg.instance_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| cfg.instance_url.clone())
}

pub fn password_key(cfg: &ServiceNowConfig) -> Option<String> {
    cfg.user
        .as_ref()
        .map(|u| format!("notify/servicenow/{}/{u}/password", host(cfg)))
}

pub fn client_secret_key(cfg: &ServiceNowConfig) -> Option<String> {
    cfg.client_id
        .as_ref()
        .map(|c| format!("notify/servicenow/{}/{c}/client_secret", host(cfg)))
}

/// The stored ServiceNow secrets (either may be absent).
pub fn load_servicenow(
    cache: &CredentialCache,
    cfg: &ServiceNowConfig,
) -> anyhow::Result<SnSecrets> {
    let get = |k: Option<String>| -> anyhow::Result<Option<Secret>> {
        match k {
            Some(k) => Ok(cache.load(&k)?),
            None => Ok(None),
        }
    };
    Ok(SnSecrets {
        password: get(password_key(cfg))?,
        client_secret: get(client_secret_key(cfg))?,
    })
}

pub fn load_teams(cache: &CredentialCache) -> anyhow::Result<Option<Secret>> {
    Ok(cache.load(TEAMS_KEY)?)
}
