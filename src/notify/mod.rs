//! Follow-up when a device fails: one ServiceNow incident per device and episode (with the
//! evidence bundle attached) and/or an Adaptive Card in a Teams channel through a Workflows
//! webhook. What was sent is remembered (`sent.rs`), so a restart or another poll never opens a
//! second ticket for the same episode; a recovery adds a work note. Delivery runs in its own
//! task with retries and backoff and never blocks the console (`deliver.rs`).

pub mod command;
pub mod deliver;
pub(crate) mod episodes;
pub mod secrets;
pub(crate) mod sent;
pub mod servicenow;
pub mod teams;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConfigError;

pub use deliver::Notifier;
pub use episodes::{Change, Kind};

/// `[notify]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// A device whose deployment failed (stage `failed`).
    pub on_failed: bool,
    /// A device longer in a stage than its profile allows.
    pub on_stuck: bool,
    /// A device Intune reports noncompliant.
    pub on_noncompliant: bool,
    /// Attach the evidence bundle (zip) to the incident.
    pub attach_evidence: bool,
    pub servicenow: Option<ServiceNowConfig>,
    pub teams: Option<TeamsConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            on_failed: true,
            on_stuck: true,
            on_noncompliant: true,
            attach_evidence: true,
            servicenow: None,
            teams: None,
        }
    }
}

/// How stagehand signs in to ServiceNow. The password or client secret is in the OS credential
/// store (`stagehand notify login`), never here.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SnAuth {
    /// `Authorization: Basic` with `user` and the stored password.
    #[default]
    Basic,
    /// OAuth: password grant when `user` is set, else client credentials; `client_id` needed.
    Oauth,
}

/// `[notify.servicenow]`: the incident's fields come from here.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowConfig {
    /// `https://<instance>.service-now.com`.
    pub instance_url: String,
    #[serde(default)]
    pub auth: SnAuth,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// `sys_user_group` sys_id (or its name with `input_display_value = true`).
    #[serde(default)]
    pub assignment_group: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// "1" high, "2" medium, "3" low.
    #[serde(default = "medium")]
    pub urgency: String,
    #[serde(default = "medium")]
    pub impact: String,
    /// The caller (`caller_id`): a sys_id, or a user name with `input_display_value = true`.
    #[serde(default)]
    pub caller: Option<String>,
    /// Send reference fields as display values (`sysparm_input_display_value=true`).
    #[serde(default)]
    pub input_display_value: bool,
}

fn medium() -> String {
    "2".into()
}

/// `[notify.teams]`: the Workflows webhook URL is a secret, stored with `notify login --teams`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl NotifyConfig {
    /// Checks what serde cannot: URLs and the 1–3 scale.
    pub fn validate(&self, file: Option<&Path>) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: String| ConfigError::Invalid {
            file: file.map(Path::to_path_buf),
            key: key.into(),
            reason,
        };
        if let Some(sn) = &self.servicenow {
            crate::config::check_url(&sn.instance_url, "notify.servicenow.instance_url", file)?;
            for (k, v) in [("urgency", &sn.urgency), ("impact", &sn.impact)] {
                if !matches!(v.as_str(), "1" | "2" | "3") {
                    return Err(invalid(
                        &format!("notify.servicenow.{k}"),
                        format!("{v:?}: expected \"1\" (high), \"2\" (medium) or \"3\" (low)"),
                    ));
                }
            }
            match sn.auth {
                SnAuth::Basic if sn.user.is_none() => {
                    return Err(invalid(
                        "notify.servicenow.user",
                        "basic authentication needs a user".into(),
                    ));
                }
                SnAuth::Oauth if sn.client_id.is_none() => {
                    return Err(invalid(
                        "notify.servicenow.client_id",
                        "OAuth needs the client id of the ServiceNow OAuth application".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn wants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Failed => self.on_failed,
            Kind::Stuck => self.on_stuck,
            Kind::Noncompliant => self.on_noncompliant,
        }
    }

    /// Anything to send to?
    pub fn enabled(&self) -> bool {
        self.servicenow.is_some() || self.teams.as_ref().is_some_and(|t| t.enabled)
    }
}

/// Where an older stagehand kept the sent-notification state (imported into the store once).
pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join(sent::LEGACY_FILE)
}
