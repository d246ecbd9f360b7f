//! Device operations for IT operations (issue 9): list, show, sync, and the guarded destructive
//! actions retire and wipe. Library functions over a `&GraphClient`, so the CLI, the console and
//! the tests share one path; the guard rails are pure steps in [`guard`].

pub(crate) mod actions;
pub(crate) mod guard;
pub mod list;
pub mod show;

use crate::graph::models::ManagedDevice;
use crate::graph::{GraphClient, GraphError};

pub use actions::{
    ActionContext, ActionOutcome, Destructive, DestructiveRequest, Plan, SYNC_AUDIT_ACTION,
    run_destructive, sync, sync_audited,
};
pub use guard::{Authority, GuardRefusal, check_authority};
pub use list::{DeviceListRow, Lifecycle, ListFilter, list};
pub use show::{DeviceDetail, show};

/// Why a device operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// A guard rail said no; nothing was sent to Intune.
    #[error("refused: {0}")]
    Refused(GuardRefusal),
    #[error("no managed device with {0}")]
    NotFound(String),
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The audit `Before` record could not be made durable, so nothing was sent.
    #[error("the audit record could not be written, so nothing was sent: {0}")]
    Audit(String),
    /// The action was sent and Intune accepted it, but its audit `After` record could not be
    /// written: the change happened; only the local record of its outcome is missing.
    #[error(
        "{} sent and accepted for serial {} (request-id {}); the audit 'after' record could not be written: {reason}",
        done.action,
        done.serial,
        done.request_id.as_deref().unwrap_or("none")
    )]
    Unrecorded {
        done: Box<ActionOutcome>,
        reason: String,
    },
}

/// How the user named a device: an Intune device id (a GUID) or a serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKey {
    Id(String),
    Serial(String),
}

impl DeviceKey {
    /// A GUID is a device id; anything else is a serial (trimmed, as scanned).
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        if uuid::Uuid::parse_str(t).is_ok() && t.len() == 36 {
            Self::Id(t.to_string())
        } else {
            Self::Serial(t.to_string())
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Id(id) => format!("id {id}"),
            Self::Serial(s) => format!("serial {s:?}"),
        }
    }
}

/// The one device `key` names. A serial held by several devices is an error
/// ([`GraphError::Ambiguous`]); nothing downstream acts on a guess.
pub async fn resolve(client: &GraphClient, key: &DeviceKey) -> Result<ManagedDevice, DevicesError> {
    match key {
        DeviceKey::Id(id) => match client.get_managed_device(id, &[]).await {
            Ok(d) => Ok(d),
            Err(GraphError::NotFound { .. }) => Err(DevicesError::NotFound(key.describe())),
            Err(e) => Err(e.into()),
        },
        DeviceKey::Serial(s) => client
            .find_device_by_serial(s)
            .await?
            .ok_or_else(|| DevicesError::NotFound(key.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_ids_and_everything_else_is_a_serial() {
        assert_eq!(
            DeviceKey::parse(" 0b6c7a43-3c8d-4f25-9a5e-0c5ee5a1e0a4 "),
            DeviceKey::Id("0b6c7a43-3c8d-4f25-9a5e-0c5ee5a1e0a4".into())
        );
        assert_eq!(
            DeviceKey::parse("5CG1234567"),
            DeviceKey::Serial("5CG1234567".into())
        );
        // A 32-hex serial is not taken for a GUID without its dashes.
        assert_eq!(
            DeviceKey::parse("0b6c7a433c8d4f259a5e0c5ee5a1e0a4"),
            DeviceKey::Serial("0b6c7a433c8d4f259a5e0c5ee5a1e0a4".into())
        );
    }
}
