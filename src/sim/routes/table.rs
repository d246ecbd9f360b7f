//! Every Graph route the simulator serves, with its rate-limit family and the scopes it needs
//! (the sets come from `crate::auth::roles::any_of`, the one permissions table).

pub use crate::auth::roles::ALL_DELEGATED;
use crate::auth::roles::any_of::{
    APPS, CONFIG_READ, DEV_PRIV, DEV_READ, DEV_WRITE, LICENSES, ME, MEMBER_OF, OWNERS, POLICY,
    RBAC, REPORTS, SVC_READ, SVC_WRITE, USERS,
};
use crate::sim::limits::ThrottleFamily;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ListIdentities,
    ImportIdentities,
    SearchIdentities,
    DeleteIdentity(String),
    ListDevices,
    GetDevice(String),
    DeviceUsers(String),
    SetPrimaryUser(String),
    DeviceAction(String, String),
    CreateExport,
    GetExport(String),
    GetUser(String),
    LicenseDetails(String),
    Me,
    MeTransitiveMemberOf,
    AssignedRoleDetails,
    ServicePrincipals,
    GroupOwners(String),
    ConfigurationPolicies,
    RetrieveMembershipTarget(String),
    ConditionalAccessPolicies,
    ImportAutopilot,
    ListAutopilotImports,
    GetAutopilotImport(String),
    DeleteAutopilotImport(String),
    ListAutopilotDevices,
    GetAutopilotDevice(String),
    DeleteAutopilotDevice(String),
    UpdateAutopilotDevice(String),
    AutopilotSettings,
    AutopilotSync,
    Batch,
    /// The evidence endpoints (`routes/evidence.rs`).
    Evidence(super::evidence::Ev),
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub family: ThrottleFamily,
    pub write: bool,
    /// Any one of these (delegated scope or app role) is enough. Empty: no token check here.
    pub scopes: &'static [&'static str],
    /// App-only tokens are refused (403 with Graph's envelope).
    pub delegated_only: bool,
}

impl Route {
    /// Matches `method` and the path segments after `/beta` or `/v1.0`.
    pub fn parse(method: &str, version: &str, segs: &[&str]) -> Option<Route> {
        let id = |s: &str| s.to_string();
        let beta = version == "beta";
        Some(match (method, segs) {
            ("GET", ["deviceManagement", "importedDeviceIdentities"]) if beta => {
                Route::ListIdentities
            }
            (
                "POST",
                [
                    "deviceManagement",
                    "importedDeviceIdentities",
                    "importDeviceIdentityList",
                ],
            ) if beta => Route::ImportIdentities,
            (
                "POST",
                [
                    "deviceManagement",
                    "importedDeviceIdentities",
                    "searchExistingIdentities",
                ],
            ) if beta => Route::SearchIdentities,
            ("DELETE", ["deviceManagement", "importedDeviceIdentities", x]) if beta => {
                Route::DeleteIdentity(id(x))
            }
            ("GET", ["deviceManagement", "managedDevices"]) if beta => Route::ListDevices,
            ("GET", ["deviceManagement", "managedDevices", x]) if beta => Route::GetDevice(id(x)),
            ("GET", ["deviceManagement", "managedDevices", x, "users"]) if beta => {
                Route::DeviceUsers(id(x))
            }
            ("POST", ["deviceManagement", "managedDevices", x, "users", "$ref"]) if beta => {
                Route::SetPrimaryUser(id(x))
            }
            (
                "POST",
                [
                    "deviceManagement",
                    "managedDevices",
                    x,
                    a @ ("syncDevice" | "retire" | "wipe"),
                ],
            ) if beta => Route::DeviceAction(id(x), id(a)),
            ("POST", ["deviceManagement", "reports", "exportJobs"]) if beta => Route::CreateExport,
            ("GET", ["deviceManagement", "reports", "exportJobs", x]) if beta => {
                Route::GetExport(id(x))
            }
            // A parameterless function: Graph accepts it with and without `()`.
            (
                "GET",
                [
                    "deviceManagement",
                    "getAssignedRoleDetails" | "getAssignedRoleDetails()",
                ],
            ) if beta => Route::AssignedRoleDetails,
            ("GET", ["deviceManagement", "configurationPolicies"]) if beta => {
                Route::ConfigurationPolicies
            }
            (
                "POST",
                [
                    "deviceManagement",
                    "configurationPolicies",
                    x,
                    "retrieveEnrollmentTimeDeviceMembershipTarget",
                ],
            ) if beta => Route::RetrieveMembershipTarget(id(x)),
            ("GET", ["users", x]) => Route::GetUser(id(x)),
            ("GET", ["users", x, "licenseDetails"]) => Route::LicenseDetails(id(x)),
            ("GET", ["me"]) => Route::Me,
            ("GET", ["me", "transitiveMemberOf"]) => Route::MeTransitiveMemberOf,
            ("GET", ["servicePrincipals"]) => Route::ServicePrincipals,
            ("GET", ["groups", x, "owners"]) => Route::GroupOwners(id(x)),
            ("GET", ["identity", "conditionalAccess", "policies"]) => {
                Route::ConditionalAccessPolicies
            }
            (
                "POST",
                [
                    "deviceManagement",
                    "importedWindowsAutopilotDeviceIdentities",
                    "import",
                ],
            ) => Route::ImportAutopilot,
            (
                "GET",
                [
                    "deviceManagement",
                    "importedWindowsAutopilotDeviceIdentities",
                ],
            ) => Route::ListAutopilotImports,
            (
                "GET",
                [
                    "deviceManagement",
                    "importedWindowsAutopilotDeviceIdentities",
                    x,
                ],
            ) => Route::GetAutopilotImport(id(x)),
            (
                "DELETE",
                [
                    "deviceManagement",
                    "importedWindowsAutopilotDeviceIdentities",
                    x,
                ],
            ) => Route::DeleteAutopilotImport(id(x)),
            ("GET", ["deviceManagement", "windowsAutopilotDeviceIdentities"]) => {
                Route::ListAutopilotDevices
            }
            ("GET", ["deviceManagement", "windowsAutopilotDeviceIdentities", x]) => {
                Route::GetAutopilotDevice(id(x))
            }
            ("DELETE", ["deviceManagement", "windowsAutopilotDeviceIdentities", x]) => {
                Route::DeleteAutopilotDevice(id(x))
            }
            (
                "POST",
                [
                    "deviceManagement",
                    "windowsAutopilotDeviceIdentities",
                    x,
                    "updateDeviceProperties",
                ],
            ) if beta => Route::UpdateAutopilotDevice(id(x)),
            ("GET", ["deviceManagement", "windowsAutopilotSettings"]) if beta => {
                Route::AutopilotSettings
            }
            ("POST", ["deviceManagement", "windowsAutopilotSettings", "sync"]) if beta => {
                Route::AutopilotSync
            }
            ("POST", ["$batch"]) => Route::Batch,
            _ => return super::evidence::parse(method, version, segs).map(Route::Evidence),
        })
    }

    pub fn spec(&self) -> Spec {
        use ThrottleFamily::*;
        let s = |family, write, scopes, delegated_only| Spec {
            family,
            write,
            scopes,
            delegated_only,
        };
        match self {
            Route::ListIdentities | Route::SearchIdentities => {
                s(Enrollment, false, SVC_READ, false)
            }
            Route::ImportIdentities | Route::DeleteIdentity(_) => {
                s(Enrollment, true, SVC_WRITE, false)
            }
            Route::ListDevices | Route::GetDevice(_) | Route::DeviceUsers(_) => {
                s(Devices, false, DEV_READ, false)
            }
            Route::SetPrimaryUser(_) => s(Devices, true, DEV_WRITE, false),
            Route::DeviceAction(..) => s(Devices, true, DEV_PRIV, false),
            Route::CreateExport => s(Reports, true, REPORTS, false),
            Route::GetExport(_) => s(Reports, false, REPORTS, false),
            Route::GetUser(_) => s(Identity, false, USERS, false),
            Route::LicenseDetails(_) => s(Identity, false, LICENSES, true),
            Route::Me => s(Identity, false, ME, true),
            Route::MeTransitiveMemberOf => s(Identity, false, MEMBER_OF, true),
            Route::AssignedRoleDetails => s(Enrollment, false, RBAC, true),
            Route::ServicePrincipals => s(Identity, false, APPS, false),
            Route::GroupOwners(_) => s(Identity, false, OWNERS, false),
            Route::ConfigurationPolicies | Route::RetrieveMembershipTarget(_) => {
                s(Enrollment, false, CONFIG_READ, false)
            }
            Route::ConditionalAccessPolicies => s(ConditionalAccess, false, POLICY, false),
            Route::ListAutopilotImports
            | Route::GetAutopilotImport(_)
            | Route::ListAutopilotDevices
            | Route::GetAutopilotDevice(_)
            | Route::AutopilotSettings => s(Enrollment, false, SVC_READ, false),
            Route::ImportAutopilot
            | Route::DeleteAutopilotImport(_)
            | Route::DeleteAutopilotDevice(_)
            | Route::UpdateAutopilotDevice(_)
            | Route::AutopilotSync => s(Enrollment, true, SVC_WRITE, false),
            Route::Batch => s(Identity, false, &[], false),
            Route::Evidence(e) => e.spec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_by_version_and_carry_the_right_scopes() {
        let p = |m, v, path: &str| Route::parse(m, v, &path.split('/').collect::<Vec<_>>());
        assert_eq!(
            p("GET", "beta", "deviceManagement/managedDevices/abc"),
            Some(Route::GetDevice("abc".into()))
        );
        assert_eq!(
            p("GET", "v1.0", "deviceManagement/managedDevices"),
            None,
            "Intune routes are beta only here"
        );
        assert_eq!(
            p("GET", "v1.0", "users/a@b"),
            Some(Route::GetUser("a@b".into()))
        );
        assert_eq!(
            p("POST", "beta", "deviceManagement/managedDevices/x/wipe"),
            Some(Route::DeviceAction("x".into(), "wipe".into()))
        );
        assert_eq!(
            p("POST", "beta", "deviceManagement/managedDevices/x/format"),
            None
        );
        assert_eq!(
            Route::DeviceAction("x".into(), "wipe".into()).spec().scopes,
            DEV_PRIV
        );
        assert!(!DEV_PRIV.contains(&"DeviceManagementManagedDevices.ReadWrite.All"));
        assert!(Route::LicenseDetails("x".into()).spec().delegated_only);
        for f in ["getAssignedRoleDetails", "getAssignedRoleDetails()"] {
            let r = p("GET", "beta", &format!("deviceManagement/{f}"));
            assert_eq!(r, Some(Route::AssignedRoleDetails));
            assert!(r.unwrap().spec().delegated_only, "users only");
        }
        // Gone from Graph's metadata: unknown segments (400 from the dispatcher).
        for gone in [
            "deviceManagement/getAssignedRoleIdsForLoggedInUser",
            "deviceManagement/configurationPolicies/x/retrieveJustInTimeConfiguration",
            "deviceManagement/configurationPolicies/x/assignJustInTimeConfiguration",
        ] {
            assert_eq!(p("GET", "beta", gone), None, "{gone}");
            assert_eq!(p("POST", "beta", gone), None, "{gone}");
        }
        for s in [SVC_WRITE, DEV_WRITE, DEV_PRIV, REPORTS, POLICY, RBAC] {
            assert!(
                s.iter().any(|x| ALL_DELEGATED.contains(x)),
                "{s:?} reachable with .default"
            );
        }
    }
}
