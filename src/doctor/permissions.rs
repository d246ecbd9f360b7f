//! Check 5: does the signed-in identity hold what each console role needs?
//!
//! The role → needs table is `crate::auth::roles::ROLE_NEEDS`, the one permissions table the
//! simulator's routes and the sign-in scopes also read. Each need is "any one of these scopes".
//!
//! Granted scopes come from the token endpoint (the `scope` of the token response, what Entra
//! actually granted); the Intune role of the signed-in user comes from Graph itself
//! (`/me/transitiveMemberOf` for the Entra Intune Administrator role,
//! `getAssignedRoleIdsForLoggedInUser` for Intune RBAC).

use super::{CheckResult, ids};
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
) -> Vec<CheckResult> {
    let mut out: Vec<CheckResult> = ROLES
        .iter()
        .map(|(role, needs)| judge_role(role, needs, granted))
        .collect();
    let member_of = client.transitive_member_of_me().await;
    let rbac = client.assigned_role_ids_for_logged_in_user().await;
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
            r = r.saw(format!("getAssignedRoleIdsForLoggedInUser: {e}"));
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
