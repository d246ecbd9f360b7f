//! Typed operations, one file per resource family. Each write says why retrying it is (or is
//! not) safe; see [`crate::graph::retry::RetrySafety`].

pub mod autopilot;
mod devices;
mod directory;
mod evidence;
mod identities;
mod lists;
mod reports;
mod users;

pub use directory::{DEVICE_PREPARATION_TEMPLATES, device_preparation_mode};
pub use evidence::{ESP_TYPE, Fetched, LogCollection};
pub use lists::DEVICE_PAGE;
pub use reports::{AUTOPILOT_V2_DEPLOYMENT_STATUS, AutopilotDeployment};

use super::odata::encode;

/// A path segment from an id: percent-encoded so an id can never add path or query parts.
/// `.`, `..` and the empty id are never Graph ids, but the URL parser would resolve them away and
/// address the parent collection: they become a segment that matches nothing instead.
pub(crate) fn seg(id: &str) -> String {
    match id {
        "" | "." | ".." => format!("%00{}", id.replace('.', "%2E")),
        _ => encode(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_ids_do_not_climb_the_path() {
        let base = "/beta/deviceManagement/managedDevices/";
        for id in ["", ".", "..", "../..", "a/../..", "%2e%2e"] {
            let mut u = url::Url::parse("https://graph.example/").unwrap();
            u.set_path(&format!("{base}{}/retire", seg(id)));
            let mid = u
                .path()
                .strip_prefix(base)
                .and_then(|p| p.strip_suffix("/retire"))
                .unwrap_or_else(|| panic!("{id:?}: {u}"));
            assert!(!mid.is_empty() && !mid.contains('/'), "{id:?}: {u}");
        }
    }
}
