//! Role -> delegated Graph scopes. Each role asks for exactly what its screens need, plus
//! `offline_access` (refresh token) and `openid profile` (the account name for the status bar).

use std::fmt;
use std::str::FromStr;

const GRAPH: &str = "https://graph.microsoft.com/";

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
}
