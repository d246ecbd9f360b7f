//! Check 5: does the signed-in identity hold what each console role needs?
//!
//! The role → needs table is `crate::auth::roles::ROLE_NEEDS`, the one permissions table the
//! simulator's routes and the sign-in scopes also read. Each need is "any one of these scopes".
//!
//! Granted scopes come from the token endpoint (the `scope` of the token response, what Entra
//! actually granted); the Intune role of the signed-in user comes from Graph itself
//! (`/me/transitiveMemberOf` for the Entra Intune Administrator role, `getAssignedRoleDetails`
//! for Intune RBAC). As the app: the granted application permissions are the access token's
//! `roles`, and there is no signed-in user whose Intune role could be checked (docs/graph.md §7).

use super::{CheckResult, ids};
use crate::auth::access::Caller;
use crate::auth::roles::any_of::RBAC;
use crate::config::Config;
use crate::graph::{GraphClient, GraphError};

pub use crate::auth::roles::{Need, ROLE_NEEDS as ROLES};

/// Entra built-in role "Intune Administrator" (docs/graph.md §7).
pub const INTUNE_ADMIN_ROLE_TEMPLATE: &str = "3a2c62db-5318-420d-8d74-23affee5d9d5";

/// Needs of `needs` that none of `granted` satisfies.
pub fn missing<'a>(needs: &'a [Need], granted: &[String]) -> Vec<&'a Need> {
    needs
        .iter()
        .filter(|need| {
            !need
                .scopes
                .iter()
                .any(|s| granted.iter().any(|g| g.eq_ignore_ascii_case(s)))
        })
        .collect()
}

/// One `permissions` result per role, and one `intune-role` result.
pub async fn check(
    client: &GraphClient,
    config: &Config,
    granted: Option<&[String]>,
    caller: &Caller,
) -> Vec<CheckResult> {
    if let Caller::App { roles } = caller {
        let mut out: Vec<CheckResult> = ROLES
            .iter()
            .map(|(role, needs)| judge_app_role(role, needs, roles))
            .collect();
        out.push(app_intune_role());
        return out;
    }
    let mut out: Vec<CheckResult> = ROLES
        .iter()
        .map(|(role, needs)| judge_role(role, needs, granted))
        .collect();
    let member_of = client.transitive_member_of_me().await;
    let rbac = client.assigned_role_details().await;
    out.push(judge_intune_role(
        &member_of.map(|v| {
            v.into_iter()
                .filter_map(|o| o.role_template_id)
                .collect::<Vec<_>>()
        }),
        &rbac.map(|r| r.role_definition_ids),
        &config.roles.destructive_rbac_roles,
    ));
    out
}

pub fn judge_role(role: &str, needs: &[Need], granted: Option<&[String]>) -> CheckResult {
    let r = CheckResult::new(ids::PERMISSIONS, format!("Permissions for the {role} role"))
        .subject(role);
    let Some(granted) = granted else {
        return r
            .saw("the token endpoint did not report granted scopes")
            .warn("sign in with `stagehand login` so the granted scopes are known, then run doctor again");
    };
    let mut r = r.saw(format!("{} scopes granted", granted.len()));
    for need in needs {
        let held = need
            .scopes
            .iter()
            .find(|s| granted.iter().any(|g| g.eq_ignore_ascii_case(s)));
        r = r.saw(match held {
            Some(s) => format!("to {}: {s}", need.why),
            None => format!("to {}: missing {}", need.why, need.scopes.join(" or ")),
        });
    }
    let miss = missing(needs, granted);
    if miss.is_empty() {
        return r.pass();
    }
    let names: Vec<&str> = miss.iter().map(|m| m.scopes[0]).collect();
    r.fail(format!(
        "grant admin consent for {} on the stagehand app registration",
        names.join(", ")
    ))
}

/// A role's needs judged against the app's application permissions (its token's `roles`). The
/// Intune RBAC read is for a signed-in user's roles and does not apply to an app, whose power to
/// retire or wipe is its own application permission.
pub fn judge_app_role(role: &str, needs: &[Need], app_roles: &[String]) -> CheckResult {
    let applicable: Vec<Need> = needs.iter().copied().filter(|n| n.scopes != RBAC).collect();
    let mut r = judge_role(role, &applicable, Some(app_roles));
    r.evidence[0] = format!(
        "running as the app: {} application permissions in the token's roles",
        app_roles.len()
    );
    if applicable.len() < needs.len() {
        r.evidence
            .push("to read Intune roles: not applicable to an app".into());
    }
    r
}

/// The `intune-role` check as the app: there is no signed-in user.
pub fn app_intune_role() -> CheckResult {
    CheckResult::new(ids::INTUNE_ROLE, "Intune role of the signed-in user").not_applicable(
        "not applicable to an app: no user is signed in; the app's powers are its application permissions (see permissions)",
    )
}

/// The signed-in user holds the Entra Intune Administrator role or an Intune RBAC assignment.
pub fn judge_intune_role(
    role_templates: &Result<Vec<String>, GraphError>,
    rbac_definitions: &Result<Vec<String>, GraphError>,
    destructive: &[String],
) -> CheckResult {
    let mut r = CheckResult::new(ids::INTUNE_ROLE, "Intune role of the signed-in user");
    let admin = match role_templates {
        Ok(t) => {
            let a = t
                .iter()
                .any(|x| x.eq_ignore_ascii_case(INTUNE_ADMIN_ROLE_TEMPLATE));
            r = r.saw(format!(
                "Entra Intune Administrator role: {}",
                if a { "held" } else { "not held" }
            ));
            a
        }
        Err(e) => {
            r = r.saw(format!("me/transitiveMemberOf: {e}"));
            false
        }
    };
    let defs = match rbac_definitions {
        Ok(d) => {
            r = r.saw(format!(
                "Intune RBAC role definitions: {}",
                if d.is_empty() {
                    "none".into()
                } else {
                    d.join(", ")
                }
            ));
            d.clone()
        }
        Err(e) => {
            r = r.saw(format!("getAssignedRoleDetails: {e}"));
            vec![]
        }
    };
    if !admin && defs.is_empty() {
        return r.fail("assign the signed-in user an Intune role (Intune Administrator, or an Intune RBAC role assignment)");
    }
    if !admin && !destructive.is_empty() && !defs.iter().any(|d| destructive.contains(d)) {
        return r.warn("this identity cannot retire or wipe: none of its Intune roles is in [roles] destructive_rbac_roles");
    }
    r.pass()
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::auth::roles::any_of::{POLICY, USERS};

    const fn n(scopes: &'static [&'static str], why: &'static str) -> Need {
        Need { scopes, why }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn any_listed_scope_satisfies_a_need_case_insensitively() {
        let needs = [n(USERS, "look up users"), n(POLICY, "read CA")];
        assert!(missing(&needs, &s(&["directory.read.all", "Policy.Read.All"])).is_empty());
        let m = missing(&needs, &s(&["User.Read"]));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn role_verdicts_list_what_is_missing() {
        let (_, tech) = ROLES[0];
        let r = judge_role(
            "technician",
            tech,
            Some(&s(&["DeviceManagementManagedDevices.Read.All"])),
        );
        assert_eq!(r.status, Status::Fail);
        let fix = r.fix.unwrap();
        assert!(
            fix.contains("DeviceManagementServiceConfig.ReadWrite.All"),
            "{fix}"
        );
        assert!(
            !fix.contains("DeviceManagementManagedDevices.Read.All"),
            "{fix}"
        );
        assert_eq!(judge_role("technician", tech, None).status, Status::Warn);
    }

    #[test]
    fn an_app_is_judged_by_its_roles_without_the_rbac_need() {
        let (_, lead) = ROLES[1];
        let all = s(&[
            "DeviceManagementManagedDevices.ReadWrite.All",
            "User.Read.All",
            "DeviceManagementManagedDevices.PrivilegedOperations.All",
        ]);
        let r = judge_app_role("ops-lead", lead, &all);
        assert_eq!(r.status, Status::Pass, "{r:?}");
        assert!(r.evidence[0].contains("running as the app"), "{r:?}");
        assert!(
            r.evidence
                .iter()
                .any(|e| e.contains("not applicable to an app")),
            "{r:?}"
        );
        let without = judge_app_role("ops-lead", lead, &all[..2]);
        assert_eq!(without.status, Status::Fail);
        assert!(
            without
                .fix
                .unwrap()
                .contains("DeviceManagementManagedDevices.PrivilegedOperations.All")
        );
        let role = app_intune_role();
        assert_eq!(role.status, Status::NotApplicable);
        assert!(role.evidence[0].contains("not applicable to an app"));
        assert!(role.fix.is_none());
    }

    #[test]
    fn an_intune_role_is_required_and_destructive_roles_are_checked() {
        let none: Result<Vec<String>, GraphError> = Ok(vec![]);
        let admin: Result<Vec<String>, GraphError> = Ok(s(&[INTUNE_ADMIN_ROLE_TEMPLATE]));
        let rbac: Result<Vec<String>, GraphError> = Ok(s(&["role-a"]));
        assert_eq!(judge_intune_role(&none, &none, &[]).status, Status::Fail);
        assert_eq!(
            judge_intune_role(&admin, &none, &s(&["role-x"])).status,
            Status::Pass
        );
        assert_eq!(judge_intune_role(&none, &rbac, &[]).status, Status::Pass);
        assert_eq!(
            judge_intune_role(&none, &rbac, &s(&["role-x"])).status,
            Status::Warn
        );
        assert_eq!(
            judge_intune_role(&none, &rbac, &s(&["role-a"])).status,
            Status::Pass
        );
    }
}
