//! Check 3 (each staging account exists, is enabled, holds an Intune licence, and a Conditional
//! Access policy confines it) and check 4 (the DEM caveat). docs/graph.md §4.4, §7, §9.

use super::{CheckResult, DEVICE_REGISTRATION_APP_ID, INTUNE_ENROLLMENT_APP_ID, ids};
use crate::auth::access::Caller;
use crate::config::Config;
use crate::graph::GraphClient;
use crate::graph::GraphError;
use crate::graph::models::{
    AssignedPlan, ConditionalAccessPolicy, LicenseDetails, PolicyState, User,
};

/// What was read about a staging account's licences.
#[derive(Debug)]
pub enum Licences {
    /// `users/{id}/licenseDetails` (delegated tokens).
    Details(Result<Vec<LicenseDetails>, GraphError>),
    /// As the app: the user's `assignedPlans`, since `licenseDetails` does not accept app
    /// tokens (docs/graph.md §7).
    Plans(Vec<AssignedPlan>),
}

/// Check 3 for every configured staging account: one `staging-account` and one
/// `staging-conditional-access` result each. Conditional Access is read once (1 read/s/tenant).
pub async fn check(client: &GraphClient, config: &Config, caller: &Caller) -> Vec<CheckResult> {
    let accounts = &config.staging.accounts;
    if accounts.is_empty() {
        return vec![
            CheckResult::new(ids::STAGING_ACCOUNT, "Staging accounts")
                .saw("[staging] accounts is empty in the config")
                .warn("list the staging account UPNs under [staging] accounts in stagehand.toml"),
        ];
    }
    let ca = client.conditional_access_policies().await;
    let mut out = Vec::new();
    for upn in accounts {
        let mut select = vec!["id", "userPrincipalName", "displayName", "accountEnabled"];
        if caller.is_app() {
            select.push("assignedPlans");
        }
        let user = client.get_user(upn, &select).await;
        let licences = match &user {
            Ok(u) if caller.is_app() => Some(Licences::Plans(u.assigned_plans.clone())),
            Ok(u) => Some(Licences::Details(
                client
                    .user_license_details(u.id.as_deref().unwrap_or(upn))
                    .await,
            )),
            Err(_) => None,
        };
        out.push(judge_account(
            upn,
            &user,
            licences.as_ref(),
            &config.review.intune_service_plans,
        ));
        let ca_result = CheckResult::new(
            ids::STAGING_CA,
            "Conditional Access confines the staging account",
        )
        .subject(upn);
        out.push(match (&user, &ca) {
            (Err(e), _) => ca_result.failed_read("the staging account", e),
            (_, Err(e)) => ca_result.failed_read("Conditional Access policies", e),
            (Ok(u), Ok(policies)) => judge_ca(ca_result, u.id.as_deref().unwrap_or(""), policies),
        });
    }
    out
}

/// Exists, enabled, licensed for Intune.
pub fn judge_account(
    upn: &str,
    user: &Result<User, GraphError>,
    licences: Option<&Licences>,
    intune_plans: &[String],
) -> CheckResult {
    let r = CheckResult::new(
        ids::STAGING_ACCOUNT,
        "Staging account exists, is enabled and licensed",
    )
    .subject(upn);
    let u = match user {
        Ok(u) => u,
        Err(GraphError::NotFound { .. }) => {
            return r.saw(format!("GET users/{upn}: not found")).fail(format!(
                "create {upn} in Entra ID, or correct [staging] accounts in stagehand.toml"
            ));
        }
        Err(e) => return r.failed_read("users", e),
    };
    let mut r = r.saw(format!(
        "user {} ({})",
        u.id.as_deref().unwrap_or("?"),
        u.display_name.as_deref().unwrap_or("?")
    ));
    let mut problems = Vec::new();
    match u.account_enabled {
        Some(true) => r = r.saw("accountEnabled: true"),
        Some(false) => {
            r = r.saw("accountEnabled: false");
            problems.push(format!("enable {upn} in Entra ID"));
        }
        None => r = r.saw("accountEnabled: not returned"),
    }
    match licences {
        Some(Licences::Plans(plans)) => {
            let enabled = plans
                .iter()
                .filter(|p| p.capability_status.as_deref() == Some("Enabled"))
                .count();
            r = r.saw(format!(
                "assignedPlans: {} plans, {enabled} enabled (read as the app)",
                plans.len()
            ));
            if plans.iter().any(AssignedPlan::is_intune) {
                r = r.saw("Intune plan (INTUNE_A): enabled");
            } else {
                problems.push(format!(
                    "assign {upn} a licence with Intune (INTUNE_A), directly or through a group"
                ));
            }
        }
        Some(Licences::Details(Ok(list))) => {
            let skus: Vec<&str> = list
                .iter()
                .filter_map(|l| l.sku_part_number.as_deref())
                .collect();
            r = r.saw(format!(
                "licences: {}",
                if skus.is_empty() {
                    "none".into()
                } else {
                    skus.join(", ")
                }
            ));
            let intune = list.iter().any(|l| {
                l.has_intune()
                    || l.service_plans.iter().any(|p| {
                        p.provisioning_status.as_deref() == Some("Success")
                            && p.service_plan_name
                                .as_deref()
                                .is_some_and(|n| intune_plans.iter().any(|w| w == n))
                    })
            });
            if !intune {
                problems.push(format!(
                    "assign {upn} a licence with Intune (INTUNE_A), directly or through a group"
                ));
            }
        }
        Some(Licences::Details(Err(e))) => {
            r = r.saw(format!("licenseDetails: {e}"));
            problems.push("grant LicenseAssignment.Read.All to read licences".into());
        }
        None => {}
    }
    if problems.is_empty() {
        r.pass()
    } else {
        r.fail(problems.join("; "))
    }
}

fn has(list: &[String], v: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(v))
}

/// Covers the user (directly or "All", not excluded), targets all cloud apps, and blocks.
fn confines(p: &ConditionalAccessPolicy, user_id: &str) -> bool {
    let Some(c) = &p.conditions else { return false };
    let users_ok = c.users.as_ref().is_some_and(|u| {
        (has(&u.include_users, user_id) || has(&u.include_users, "All"))
            && !has(&u.exclude_users, user_id)
    });
    let all_apps = c
        .applications
        .as_ref()
        .is_some_and(|a| has(&a.include_applications, "All"));
    let blocks = p
        .grant_controls
        .as_ref()
        .is_some_and(|g| has(&g.built_in_controls, "block"));
    users_ok && all_apps && blocks
}

fn missing_exclusions(p: &ConditionalAccessPolicy) -> Vec<&'static str> {
    let ex: &[String] = p
        .conditions
        .as_ref()
        .and_then(|c| c.applications.as_ref())
        .map_or(&[], |a| &a.exclude_applications);
    [
        ("Microsoft Intune Enrollment", INTUNE_ENROLLMENT_APP_ID),
        ("Device Registration Service", DEVICE_REGISTRATION_APP_ID),
    ]
    .into_iter()
    .filter(|(_, id)| !has(ex, id))
    .map(|(name, _)| name)
    .collect()
}

fn state_name(s: Option<&PolicyState>) -> String {
    match s {
        Some(PolicyState::Enabled) => "enabled".into(),
        Some(PolicyState::Disabled) => "disabled".into(),
        Some(PolicyState::EnabledForReportingButNotEnforced) => "report-only".into(),
        Some(other) => format!("{other:?}"),
        None => "no state".into(),
    }
}

/// PASS: an enforced policy blocks all apps but both enrollment apps. WARN: such a policy is
/// report-only or disabled. FAIL: none, or a blocking policy lacks an exclusion.
pub fn judge_ca(
    r: CheckResult,
    user_id: &str,
    policies: &[ConditionalAccessPolicy],
) -> CheckResult {
    let mut r = r;
    let covering: Vec<&ConditionalAccessPolicy> =
        policies.iter().filter(|p| confines(p, user_id)).collect();
    r = r.saw(format!(
        "{} Conditional Access policies read, {} block all cloud apps for this account",
        policies.len(),
        covering.len()
    ));
    let mut good_enforced = false;
    let mut good_not_enforced = Vec::new();
    let mut broken = Vec::new();
    for p in &covering {
        let name = p.display_name.as_deref().unwrap_or("?");
        let state = state_name(p.state.as_ref());
        let missing = missing_exclusions(p);
        r = r.saw(format!(
            "\"{name}\" ({}): {state}, excludes missing: {}",
            p.id.as_deref().unwrap_or("?"),
            if missing.is_empty() {
                "none".into()
            } else {
                missing.join(", ")
            }
        ));
        let enforced = matches!(p.state, Some(PolicyState::Enabled));
        if !missing.is_empty() {
            if !matches!(p.state, Some(PolicyState::Disabled)) {
                broken.push(format!("exclude {} from \"{name}\"", missing.join(" and ")));
            }
        } else if enforced {
            good_enforced = true;
        } else {
            good_not_enforced.push(format!("\"{name}\" is {state}"));
        }
    }
    if !broken.is_empty() {
        return r.fail(format!(
            "{}: {INTUNE_ENROLLMENT_APP_ID} and {DEVICE_REGISTRATION_APP_ID} must stay reachable or enrollment fails",
            broken.join("; ")
        ));
    }
    if good_enforced {
        return r.pass();
    }
    if !good_not_enforced.is_empty() {
        return r.warn(format!(
            "{}: turn it On so the staging account cannot reach anything but enrollment",
            good_not_enforced.join("; ")
        ));
    }
    r.fail(format!(
        "create a Conditional Access policy for the staging account: all cloud apps, exclude Microsoft Intune Enrollment ({INTUNE_ENROLLMENT_APP_ID}) and Device Registration Service ({DEVICE_REGISTRATION_APP_ID}), grant: Block"
    ))
}

/// Check 4: Microsoft documents DEM accounts as unsupported for Windows Autopilot (§4.4).
pub fn dem_warning(config: &Config) -> CheckResult {
    CheckResult::new(ids::DEM_AUTOPILOT, "Device enrollment manager accounts and Autopilot")
        .saw(format!("staging accounts: {}", config.staging.accounts.join(", ")))
        .saw("Microsoft's DEM page lists Windows Autopilot among enrollment methods that \"do not support the use of a device enrollment manager\" (memdocs device-enrollment-manager-enroll.md)")
        .warn("if a staging account is a device enrollment manager, stage one pilot device end to end before a full pallet")
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use serde_json::json;

    const USER: &str = "u-1";

    fn policy(
        state: &str,
        users: serde_json::Value,
        exclude_apps: &[&str],
        grant: &str,
    ) -> ConditionalAccessPolicy {
        serde_json::from_value(json!({
            "id": "p", "displayName": "Staging lock", "state": state,
            "conditions": {
                "applications": {"includeApplications": ["All"], "excludeApplications": exclude_apps},
                "users": users,
            },
            "grantControls": {"operator": "OR", "builtInControls": [grant]},
        }))
        .unwrap()
    }

    fn direct() -> serde_json::Value {
        json!({"includeUsers": [USER]})
    }

    const BOTH: &[&str] = &[INTUNE_ENROLLMENT_APP_ID, DEVICE_REGISTRATION_APP_ID];

    fn verdict(policies: &[ConditionalAccessPolicy]) -> CheckResult {
        judge_ca(CheckResult::new(ids::STAGING_CA, "t"), USER, policies)
    }

    #[test]
    fn enforced_block_with_both_exclusions_passes() {
        assert_eq!(
            verdict(&[policy("enabled", direct(), BOTH, "block")]).status,
            Status::Pass
        );
        let all = json!({"includeUsers": ["All"], "excludeUsers": []});
        assert_eq!(
            verdict(&[policy("enabled", all, BOTH, "block")]).status,
            Status::Pass
        );
    }

    #[test]
    fn report_only_or_disabled_warns() {
        for state in ["enabledForReportingButNotEnforced", "disabled"] {
            let r = verdict(&[policy(state, direct(), BOTH, "block")]);
            assert_eq!(r.status, Status::Warn, "{state}");
            assert!(r.fix.unwrap().contains("turn it On"));
        }
    }

    #[test]
    fn a_missing_exclusion_fails_and_names_the_app() {
        let r = verdict(&[policy(
            "enabled",
            direct(),
            &[INTUNE_ENROLLMENT_APP_ID],
            "block",
        )]);
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("Device Registration Service"));
        // Even beside a good policy: the broken one still blocks enrollment.
        let r = verdict(&[
            policy("enabled", direct(), BOTH, "block"),
            policy("enabledForReportingButNotEnforced", direct(), &[], "block"),
        ]);
        assert_eq!(r.status, Status::Fail);
    }

    #[test]
    fn policies_that_do_not_confine_the_account_do_not_count() {
        let excluded = json!({"includeUsers": ["All"], "excludeUsers": [USER]});
        let other = json!({"includeUsers": ["someone-else"]});
        let cases = [
            policy("enabled", excluded, BOTH, "block"),
            policy("enabled", other, BOTH, "block"),
            policy("enabled", direct(), BOTH, "mfa"),
        ];
        for p in &cases {
            assert_eq!(
                verdict(std::slice::from_ref(p)).status,
                Status::Fail,
                "{p:?}"
            );
        }
        let r = verdict(&[]);
        assert!(r.fix.unwrap().contains("grant: Block"));
        assert!(r.evidence[0].starts_with("0 Conditional Access policies read"));
    }

    fn user(enabled: bool) -> Result<User, GraphError> {
        Ok(serde_json::from_value(
            json!({"id": "u", "displayName": "S", "accountEnabled": enabled}),
        )
        .unwrap())
    }

    fn licences(plan: &str) -> Licences {
        Licences::Details(Ok(serde_json::from_value(
            json!([{"skuPartNumber": "SKU", "servicePlans": [
            {"servicePlanName": plan, "provisioningStatus": "Success"}]}]),
        )
        .unwrap()))
    }

    #[test]
    fn as_the_app_the_licence_comes_from_assigned_plans() {
        let plans = vec!["INTUNE_A".to_string()];
        let assigned = |id: &str, status: &str| {
            Licences::Plans(vec![AssignedPlan {
                service_plan_id: Some(id.into()),
                service: Some("SCO".into()),
                capability_status: Some(status.into()),
            }])
        };
        let intune = crate::graph::models::INTUNE_A_PLAN_ID;
        let ok = judge_account(
            "s@x",
            &user(true),
            Some(&assigned(intune, "Enabled")),
            &plans,
        );
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert!(ok.evidence.iter().any(|e| e.contains("read as the app")));
        let off = judge_account(
            "s@x",
            &user(true),
            Some(&assigned(intune, "Suspended")),
            &plans,
        );
        assert_eq!(off.status, Status::Fail);
        let other = judge_account(
            "s@x",
            &user(true),
            Some(&assigned("8c098270-9dd4-4350-9b30-ba4703f3b36b", "Enabled")),
            &plans,
        );
        assert_eq!(other.status, Status::Fail);
    }

    #[test]
    fn accounts_must_exist_be_enabled_and_licensed() {
        let plans = vec!["INTUNE_A".to_string(), "INTUNE_EDU".to_string()];
        let j =
            |u: &Result<User, GraphError>, l: &Licences| judge_account("s@x", u, Some(l), &plans);
        assert_eq!(j(&user(true), &licences("INTUNE_A")).status, Status::Pass);
        assert_eq!(
            j(&user(true), &licences("INTUNE_EDU")).status,
            Status::Pass,
            "configured plan names count"
        );
        let r = j(&user(false), &licences("INTUNE_A"));
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("enable s@x"));
        assert_eq!(j(&user(true), &licences("EXCHANGE_S")).status, Status::Fail);
        let gone: Result<User, GraphError> = Err(GraphError::NotFound {
            code: "Request_ResourceNotFound".into(),
            message: "x".into(),
            request_id: None,
        });
        let r = judge_account("s@x", &gone, None, &plans);
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("[staging] accounts"));
    }
}
