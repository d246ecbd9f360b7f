//! Typed operations, one file per resource family. Each write says why retrying it is (or is
//! not) safe; see [`crate::graph::retry::RetrySafety`].

mod devices;
mod directory;
mod evidence;
mod identities;
mod reports;
mod users;

pub use directory::DEVICE_PREPARATION_TEMPLATE_ID;
pub use evidence::{ESP_TYPE, Fetched, LogCollection};
pub use reports::{AUTOPILOT_V2_DEPLOYMENT_STATUS, AutopilotDeployment};

use super::odata::encode;

/// A path segment from an id: percent-encoded so an id can never add path or query parts.
pub(crate) fn seg(id: &str) -> String {
    encode(id)
}
