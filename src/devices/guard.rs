//! The guard rails of retire and wipe, as separate testable steps: who may (checked through Graph
//! at the time of the action, never from the config alone), did the user type the serial, is the
//! serial one device, is a retire or wipe already under way.

use crate::auth::access::{Caller, PRIVILEGED_OPERATIONS};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::graph::models::{
    ActionState, AssignedRoleDetails, DirectoryObject, ManagedDevice, ManagementState,
};

use super::DevicesError;

/// Entra built-in role "Intune Administrator" (docs/graph.md §7).
pub const INTUNE_ADMIN_ROLE_TEMPLATE: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

/// Why a destructive action was refused before anything reached Intune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardRefusal {
    /// The signed-in identity holds neither Intune Administrator nor a configured RBAC role.
    NoRole { actor: String },
    /// Running as the app, whose token lacks the application permission for retire and wipe.
    NoAppPermission { actor: String },
    /// The serial was not typed to confirm.
    MissingConfirmation,
    /// The typed confirmation is not the device's serial.
    WrongConfirmation { typed: String, serial: String },
    /// More than one managed device has this serial.
    Ambiguous { serial: String, count: usize },
    /// No managed device has this serial.
    NoDevice { serial: String },
    /// A retire or wipe is already pending on the device.
    AlreadyPending { what: String },
    /// The user answered no at the last question.
    Declined,
}

impl std::fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRole { actor } => write!(
                f,
                "{actor} holds neither Intune Administrator nor a configured Intune RBAC role"
            ),
            Self::NoAppPermission { actor } => write!(
                f,
                "{actor} runs as the app without the application permission \
                 {PRIVILEGED_OPERATIONS}: grant it (with admin consent) to retire or wipe"
            ),
            Self::MissingConfirmation => {
                write!(f, "type the device's serial to confirm (--confirm SERIAL)")
            }
            Self::WrongConfirmation { typed, serial } => write!(
                f,
                "confirmation {typed:?} does not match the device's serial {serial:?}"
            ),
            Self::Ambiguous { serial, count } => write!(
                f,
                "serial {serial:?} matches {count} managed devices; act on one device at a time in the Intune admin center"
            ),
            Self::NoDevice { serial } => write!(f, "no managed device has serial {serial:?}"),
            Self::AlreadyPending { what } => write!(f, "{what} is already pending on this device"),
            Self::Declined => write!(f, "not confirmed at the final question"),
        }
    }
}

/// What allowed a destructive action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Authority {
    /// The Entra role Intune Administrator (directly or through a group).
    IntuneAdministrator,
    /// A configured Intune RBAC role definition id the user is assigned.
    RbacRole(String),
    /// Running as the app: this application permission, from the access token's `roles`.
    AppPermission(String),
}

/// Pure decision from what Graph said about the signed-in user.
pub fn decide_authority(
    member_of: &[DirectoryObject],
    rbac: Option<&AssignedRoleDetails>,
    configured_rbac_roles: &[String],
) -> Option<Authority> {
    let admin = member_of.iter().any(|o| {
        o.odata_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("#microsoft.graph.directoryRole"))
            && o.role_template_id
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(INTUNE_ADMIN_ROLE_TEMPLATE))
    });
    if admin {
        return Some(Authority::IntuneAdministrator);
    }
    let held = rbac?;
    configured_rbac_roles
        .iter()
        .find(|want| {
            held.role_definition_ids
                .iter()
                .any(|h| h.eq_ignore_ascii_case(want.trim()))
        })
        .map(|r| Authority::RbacRole(r.trim().to_string()))
}

/// The app may retire or wipe when its token carries the application permission for it.
pub fn decide_app_authority(caller: &Caller) -> Option<Authority> {
    caller
        .app_has(PRIVILEGED_OPERATIONS)
        .then(|| Authority::AppPermission(PRIVILEGED_OPERATIONS.to_string()))
}

/// Asks, now, whether the signed-in identity may retire or wipe. As the app: the application
/// permission in the access token's `roles` (never `/me`, which Graph refuses to an app). As a
/// user: Graph's `me/transitiveMemberOf`, and the Intune RBAC call only when roles are configured
/// and the Entra role is absent.
pub async fn check_authority(
    client: &GraphClient,
    config: &Config,
    actor: &str,
) -> Result<Authority, DevicesError> {
    let caller = client.caller().await?;
    if caller.is_app() {
        return decide_app_authority(&caller).ok_or_else(|| {
            DevicesError::Refused(GuardRefusal::NoAppPermission {
                actor: actor.to_string(),
            })
        });
    }
    let member_of = client.transitive_member_of_me().await?;
    let configured = &config.roles.destructive_rbac_roles;
    if let Some(a) = decide_authority(&member_of, None, configured) {
        return Ok(a);
    }
    let rbac = if configured.is_empty() {
        None
    } else {
        Some(client.assigned_role_details().await?)
    };
    decide_authority(&member_of, rbac.as_ref(), configured).ok_or_else(|| {
        DevicesError::Refused(GuardRefusal::NoRole {
            actor: actor.to_string(),
        })
    })
}

/// The user must have typed the serial. Compared trimmed and ASCII-case-insensitively, as the
/// scanner path normalises serials.
pub fn check_confirmation(serial: &str, typed: Option<&str>) -> Result<(), GuardRefusal> {
    let Some(typed) = typed.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(GuardRefusal::MissingConfirmation);
    };
    if typed.eq_ignore_ascii_case(serial.trim()) {
        Ok(())
    } else {
        Err(GuardRefusal::WrongConfirmation {
            typed: typed.to_string(),
            serial: serial.trim().to_string(),
        })
    }
}

/// Refuses when a retire or wipe is already under way: `managementState` says so, or a
/// `deviceActionResults` entry for retire/wipe is pending or active.
pub fn check_not_pending(device: &ManagedDevice) -> Result<(), GuardRefusal> {
    let by_state = match device.management_state {
        Some(ManagementState::RetirePending | ManagementState::RetireIssued) => Some("a retire"),
        Some(ManagementState::WipePending | ManagementState::WipeIssued) => Some("a wipe"),
        _ => None,
    };
    if let Some(what) = by_state {
        return Err(GuardRefusal::AlreadyPending { what: what.into() });
    }
    let by_action = device.device_action_results.iter().find(|r| {
        matches!(
            r.action_state,
            Some(ActionState::Pending | ActionState::Active)
        ) && r.action_name.as_deref().is_some_and(|n| {
            ["retire", "wipe", "factoryReset"]
                .iter()
                .any(|a| n.eq_ignore_ascii_case(a))
        })
    });
    match by_action {
        Some(r) => Err(GuardRefusal::AlreadyPending {
            what: format!("a {}", r.action_name.as_deref().unwrap_or("remote action")),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::models::DeviceActionResult;

    fn role(template: &str) -> DirectoryObject {
        DirectoryObject {
            odata_type: Some("#microsoft.graph.directoryRole".into()),
            role_template_id: Some(template.into()),
            ..DirectoryObject::default()
        }
    }

    #[test]
    fn intune_administrator_allows_and_other_roles_do_not() {
        let admin = [role(INTUNE_ADMIN_ROLE_TEMPLATE.to_uppercase().as_str())];
        assert_eq!(
            decide_authority(&admin, None, &[]),
            Some(Authority::IntuneAdministrator)
        );
        // Global Reader is a directory role, but not this one.
        let reader = [role("f2ef992c-3afb-46b9-b7cf-a126ee74c451")];
        assert_eq!(decide_authority(&reader, None, &[]), None);
        // A group whose id happens to be the template id is not the role.
        let group = [DirectoryObject {
            odata_type: Some("#microsoft.graph.group".into()),
            id: Some(INTUNE_ADMIN_ROLE_TEMPLATE.into()),
            role_template_id: Some(INTUNE_ADMIN_ROLE_TEMPLATE.into()),
            ..DirectoryObject::default()
        }];
        assert_eq!(decide_authority(&group, None, &[]), None);
    }

    #[test]
    fn configured_rbac_roles_allow_only_when_held() {
        let held = AssignedRoleDetails {
            role_definition_ids: vec!["0bd113fe-6be5-400c-a28f-ae5553f9c0be".into()],
            role_assignment_ids: vec![],
        };
        let configured = vec![" 0BD113FE-6be5-400c-a28f-ae5553f9c0be".to_string()];
        assert_eq!(
            decide_authority(&[], Some(&held), &configured),
            Some(Authority::RbacRole(
                "0BD113FE-6be5-400c-a28f-ae5553f9c0be".into()
            ))
        );
        assert_eq!(decide_authority(&[], Some(&held), &[]), None);
        assert_eq!(decide_authority(&[], None, &configured), None);
        let other = vec!["c1d9fcbb-cba5-40b0-bf6b-527006585f4b".to_string()];
        assert_eq!(decide_authority(&[], Some(&held), &other), None);
    }

    #[test]
    fn the_app_needs_the_privileged_operations_permission() {
        let with = Caller::App {
            roles: vec![
                "DeviceManagementManagedDevices.ReadWrite.All".into(),
                PRIVILEGED_OPERATIONS.into(),
            ],
        };
        assert_eq!(
            decide_app_authority(&with),
            Some(Authority::AppPermission(PRIVILEGED_OPERATIONS.into()))
        );
        let without = Caller::App {
            roles: vec!["DeviceManagementManagedDevices.ReadWrite.All".into()],
        };
        assert_eq!(decide_app_authority(&without), None);
        assert_eq!(decide_app_authority(&Caller::User), None);
        let msg = GuardRefusal::NoAppPermission {
            actor: "app:c1".into(),
        }
        .to_string();
        assert!(msg.contains(PRIVILEGED_OPERATIONS), "{msg}");
    }

    #[test]
    fn confirmation_must_be_the_serial() {
        assert_eq!(
            check_confirmation("5CG123", None),
            Err(GuardRefusal::MissingConfirmation)
        );
        assert_eq!(
            check_confirmation("5CG123", Some("  ")),
            Err(GuardRefusal::MissingConfirmation)
        );
        assert!(matches!(
            check_confirmation("5CG123", Some("5CG124")),
            Err(GuardRefusal::WrongConfirmation { .. })
        ));
        assert_eq!(check_confirmation("5CG123", Some(" 5cg123 ")), Ok(()));
    }

    #[test]
    fn pending_retire_or_wipe_refuses_and_a_pending_sync_does_not() {
        let mut d = ManagedDevice {
            management_state: Some(ManagementState::Managed),
            ..ManagedDevice::default()
        };
        assert_eq!(check_not_pending(&d), Ok(()));
        d.device_action_results.push(DeviceActionResult {
            action_name: Some("syncDevice".into()),
            action_state: Some(ActionState::Pending),
            ..DeviceActionResult::default()
        });
        assert_eq!(check_not_pending(&d), Ok(()));
        d.device_action_results.push(DeviceActionResult {
            action_name: Some("wipe".into()),
            action_state: Some(ActionState::Done),
            ..DeviceActionResult::default()
        });
        assert_eq!(check_not_pending(&d), Ok(()));
        d.device_action_results[1].action_state = Some(ActionState::Active);
        assert!(matches!(
            check_not_pending(&d),
            Err(GuardRefusal::AlreadyPending { .. })
        ));
        let retiring = ManagedDevice {
            management_state: Some(ManagementState::RetirePending),
            ..ManagedDevice::default()
        };
        assert_eq!(
            check_not_pending(&retiring),
            Err(GuardRefusal::AlreadyPending {
                what: "a retire".into()
            })
        );
    }
}
