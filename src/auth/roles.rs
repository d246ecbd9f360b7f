//! The one permissions table of stagehand.
//!
//! - [`any_of`]: what Graph demands per operation, as "any one of these permissions" sets (the
//!   permission tables of docs/graph.md §1.2, §2.1, §4.3, §7-9). The simulator's route table
//!   enforces them and doctor checks granted scopes against them.
//! - [`ROLE_NEEDS`]: what each console role needs, as those sets with a reason (doctor's check 5).
//! - [`Role`]: what each role asks for at sign-in — exactly what its screens need, plus
//!   `offline_access` (refresh token) and `openid profile` (the account name for the status bar).
//! - [`ALL_DELEGATED`]: every delegated permission the app registration has (`.default`).

use std::fmt;
use std::str::FromStr;

const GRAPH: &str = "https://graph.microsoft.com/";

/// Permission sets where any one member is enough for an operation.
pub mod any_of {
    pub const SVC_READ: &[&str] = &[
        "DeviceManagementServiceConfig.Read.All",
        "DeviceManagementServiceConfig.ReadWrite.All",
    ];
    pub const SVC_WRITE: &[&str] = &["DeviceManagementServiceConfig.ReadWrite.All"];
    pub const DEV_READ: &[&str] = &[
        "DeviceManagementManagedDevices.Read.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
    ];
    pub const DEV_WRITE: &[&str] = &["DeviceManagementManagedDevices.ReadWrite.All"];
    pub const DEV_PRIV: &[&str] = &["DeviceManagementManagedDevices.PrivilegedOperations.All"];
    pub const REPORTS: &[&str] = &[
        "DeviceManagementConfiguration.ReadWrite.All",
        "DeviceManagementApps.ReadWrite.All",
        "DeviceManagementManagedDevices.ReadWrite.All",
    ];
    pub const CONFIG_READ: &[&str] = &[
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementConfiguration.ReadWrite.All",
    ];
    pub const USERS: &[&str] = &["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"];
    pub const LICENSES: &[&str] = &[
        "LicenseAssignment.Read.All",
        "User.Read.All",
        "Directory.Read.All",
    ];
    pub const ME: &[&str] = &["User.Read", "User.Read.All", "Directory.Read.All"];
    pub const MEMBER_OF: &[&str] = &["User.Read", "GroupMember.Read.All", "Directory.Read.All"];
    pub const RBAC: &[&str] = &[
        "DeviceManagementRBAC.Read.All",
        "DeviceManagementRBAC.ReadWrite.All",
    ];
    pub const APPS: &[&str] = &[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
    ];
    pub const OWNERS: &[&str] = &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "Directory.Read.All",
    ];
    pub const POLICY: &[&str] = &["Policy.Read.All"];
}

/// One permission a role needs: any of `scopes` is enough.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    pub scopes: &'static [&'static str],
    pub why: &'static str,
}

const fn n(scopes: &'static [&'static str], why: &'static str) -> Need {
    Need { scopes, why }
}

/// What each console role needs (doctor's names: technician, ops-lead, doctor).
pub const ROLE_NEEDS: &[(&str, &[Need])] = &[
    (
        "technician",
        &[
            n(
                any_of::SVC_WRITE,
                "register scanned serials as corporate identifiers",
            ),
            n(any_of::DEV_READ, "watch devices enroll"),
            n(
                any_of::REPORTS,
                "read the device preparation deployment report",
            ),
        ],
    ),
    (
        "ops-lead",
        &[
            n(any_of::DEV_WRITE, "change the primary user"),
            n(any_of::USERS, "look up users"),
            n(any_of::LICENSES, "read licences"),
            n(any_of::RBAC, "read Intune roles before destructive actions"),
            n(any_of::DEV_PRIV, "retire or wipe a device"),
        ],
    ),
    (
        "doctor",
        &[
            n(any_of::APPS, "find the Intune Provisioning Client"),
            n(any_of::OWNERS, "read the device group's owners"),
            n(any_of::CONFIG_READ, "read the Device Preparation policy"),
            n(any_of::POLICY, "read Conditional Access policies"),
            n(any_of::SVC_READ, "count corporate identifiers"),
        ],
    ),
];

/// Every delegated permission the app registration has (what `.default` expands to).
pub const ALL_DELEGATED: &[&str] = &[
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementManagedDevices.PrivilegedOperations.All",
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementRBAC.Read.All",
    "User.Read",
    "User.Read.All",
    "LicenseAssignment.Read.All",
    "GroupMember.Read.All",
    "Application.Read.All",
    "Policy.Read.All",
    // A device's groups (`transitiveMemberOf`): which Enrollment Status Page applies to it.
    "Device.Read.All",
];

/// Who signs in interactively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Role {
    /// Bench technician: registers serials, watches enrolment.
    Technician,
    /// Ops lead: also reviews and approves primary-user changes.
    Lead,
    /// Administrator: also privileged device operations (wipe, retire).
    Admin,
    /// `stagehand doctor`: reads the tenant's policies, apps, groups and configuration.
    Doctor,
}

const TECHNICIAN: &[&str] = &[
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementManagedDevices.Read.All",
    // Evidence: the device's groups decide which Enrollment Status Page applies.
    "Device.Read.All",
];
const LEAD_EXTRA: &[&str] = &[
    "DeviceManagementManagedDevices.ReadWrite.All",
    "User.Read.All",
    "LicenseAssignment.Read.All",
];
const ADMIN_EXTRA: &[&str] = &["DeviceManagementManagedDevices.PrivilegedOperations.All"];
const DOCTOR: &[&str] = &[
    "Policy.Read.All",
    "Application.Read.All",
    "GroupMember.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementRBAC.Read.All",
];
/// Asked for by every interactive role.
pub const OIDC: &[&str] = &["openid", "profile", "offline_access"];

impl Role {
    pub const ALL: [Role; 4] = [Role::Technician, Role::Lead, Role::Admin, Role::Doctor];

    /// Graph permissions (without the resource prefix), for the README and `whoami`.
    pub fn permissions(self) -> Vec<&'static str> {
        let mut out: Vec<&str> = match self {
            Role::Technician => TECHNICIAN.to_vec(),
            Role::Lead => [TECHNICIAN, LEAD_EXTRA].concat(),
            Role::Admin => [TECHNICIAN, LEAD_EXTRA, ADMIN_EXTRA].concat(),
            Role::Doctor => DOCTOR.to_vec(),
        };
        // A ReadWrite grant covers its Read twin: ask only for the stronger one.
        let has = out.clone();
        out.retain(|p| {
            !p.ends_with(".Read.All")
                || !has.contains(&p.replace(".Read.All", ".ReadWrite.All").as_str())
        });
        out
    }

    /// The `scope` parameter: Graph permissions as full URIs plus the OIDC scopes.
    pub fn scope_param(self) -> String {
        let mut parts: Vec<String> = self
            .permissions()
            .iter()
            .map(|p| format!("{GRAPH}{p}"))
            .collect();
        parts.extend(OIDC.iter().map(|s| s.to_string()));
        parts.join(" ")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Technician => "technician",
            Role::Lead => "lead",
            Role::Admin => "admin",
            Role::Doctor => "doctor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (technician, lead, admin, doctor)"))
    }
}

/// The app-only scope: whatever application permissions were consented.
pub fn app_scope_param() -> String {
    format!("{GRAPH}.default")
}

/// The README's "Permissions by role" section, generated from the table above.
#[cfg(test)]
pub fn readme_table() -> String {
    let mut out = String::from(
        "| Role | Delegated Graph permissions (plus openid, profile, offline_access) |\n|---|---|\n",
    );
    for r in Role::ALL {
        out.push_str(&format!("| {r} | {} |\n", r.permissions().join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_builds_on_the_one_below() {
        let t = Role::Technician.permissions();
        let l = Role::Lead.permissions();
        let a = Role::Admin.permissions();
        assert!(t.contains(&"DeviceManagementServiceConfig.ReadWrite.All"));
        assert!(t.contains(&"DeviceManagementManagedDevices.Read.All"));
        // The lead's ReadWrite replaces the technician's Read.
        assert!(l.contains(&"DeviceManagementManagedDevices.ReadWrite.All"));
        assert!(!l.contains(&"DeviceManagementManagedDevices.Read.All"));
        assert!(l.contains(&"User.Read.All") && l.contains(&"LicenseAssignment.Read.All"));
        assert!(a.contains(&"DeviceManagementManagedDevices.PrivilegedOperations.All"));
        assert!(!l.contains(&"DeviceManagementManagedDevices.PrivilegedOperations.All"));
        assert!(
            !Role::Doctor
                .permissions()
                .iter()
                .any(|p| p.contains("ReadWrite"))
        );
    }

    #[test]
    fn scope_param_has_offline_access_and_full_uris() {
        let s = Role::Technician.scope_param();
        assert!(s.split(' ').any(|x| x == "offline_access"));
        assert!(
            s.contains("https://graph.microsoft.com/DeviceManagementServiceConfig.ReadWrite.All")
        );
        assert_eq!(app_scope_param(), "https://graph.microsoft.com/.default");
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("boss".parse::<Role>().unwrap_err().contains("boss"));
        assert_eq!(readme_table().lines().count(), 6);
    }

    #[test]
    fn every_need_and_every_requested_permission_is_reachable_with_default() {
        for (role, needs) in ROLE_NEEDS {
            for need in *needs {
                assert!(
                    need.scopes.iter().any(|s| ALL_DELEGATED.contains(s)),
                    "{role}: {} cannot be granted by .default",
                    need.why
                );
            }
        }
        for r in Role::ALL {
            for p in r.permissions() {
                let covered = ALL_DELEGATED.contains(&p)
                    || ALL_DELEGATED.contains(&p.replace(".Read.All", ".ReadWrite.All").as_str());
                assert!(
                    covered,
                    "{r} asks for {p}, which the app registration lacks"
                );
            }
        }
    }
}

#[cfg(test)]
mod readme_tests {
    #[test]
    fn the_readme_lists_each_role_s_permissions_as_the_code_asks_for_them() {
        let readme = include_str!("../../README.md");
        let want = super::readme_table();
        assert!(
            readme.contains(&want),
            "README.md's \"Permissions by role\" table is stale; replace it with:\n{want}"
        );
    }
}
