//! Checks 1 and 2: the Intune Provisioning Client service principal, and the Device Preparation
//! policy with its device group (docs/graph.md §4.2, §4.3, §8).

use super::{CheckResult, PROVISIONING_CLIENT_APP_ID, ids};
use crate::graph::models::{DirectoryObject, MembershipTargetResult, ServicePrincipal};
use crate::graph::ops::{DEVICE_PREPARATION_TEMPLATES, device_preparation_mode};
use crate::graph::{GraphClient, GraphError};

const SP_FIX: &str = "create it as a Global or Application Administrator: `New-MgServicePrincipal -AppId f1346770-5b25-470b-88bd-d5744ab7952c` (Microsoft Graph PowerShell)";

/// Check 1: the service principal exists (and is enabled).
pub async fn provisioning_client(client: &GraphClient) -> CheckResult {
    let r = CheckResult::new(
        ids::PROVISIONING_CLIENT,
        "Intune Provisioning Client service principal",
    );
    match client
        .service_principal_by_app_id(PROVISIONING_CLIENT_APP_ID)
        .await
    {
        Ok(sp) => judge_service_principal(r, sp.as_ref()),
        Err(e) => r.failed_read("servicePrincipals", &e),
    }
}

pub fn judge_service_principal(r: CheckResult, sp: Option<&ServicePrincipal>) -> CheckResult {
    let Some(sp) = sp else {
        return r
            .saw(format!(
                "GET servicePrincipals?$filter=appId eq '{PROVISIONING_CLIENT_APP_ID}': none"
            ))
            .fail(SP_FIX);
    };
    let r = r.saw(format!(
        "service principal {} \"{}\" (appId {PROVISIONING_CLIENT_APP_ID})",
        sp.id.as_deref().unwrap_or("?"),
        sp.display_name.as_deref().unwrap_or("?")
    ));
    if sp.account_enabled == Some(false) {
        return r
            .saw("accountEnabled: false")
            .fail("enable the Intune Provisioning Client service principal in Entra ID > Enterprise applications");
    }
    r.pass()
}

/// What was read about one Device Preparation policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyFacts {
    pub id: String,
    pub name: String,
    /// `user-driven` or `automatic` (which of the two templates).
    pub mode: &'static str,
    /// From the enrollment-time membership target, if the policy has one.
    pub target: Option<MembershipTargetResult>,
    /// Graph does not offer `retrieveEnrollmentTimeDeviceMembershipTarget` here (400 "Resource
    /// not found for the segment"): the device group cannot be read, which says nothing about
    /// the tenant.
    pub target_unavailable: bool,
    /// Owners per device group, or why they could not be read.
    pub owners: Vec<(String, Result<Vec<DirectoryObject>, String>)>,
}

/// Check 2: the policy exists, its device group is owned by the provisioning client and
/// Intune's own validation succeeded.
pub async fn device_preparation(client: &GraphClient) -> CheckResult {
    let r = CheckResult::new(
        ids::DEVICE_PREPARATION,
        "Device Preparation policy and its device group",
    );
    let policies = match client.device_preparation_policies().await {
        Ok(p) => p,
        Err(e) => return r.failed_read("configurationPolicies", &e),
    };
    let mut facts = Vec::new();
    for p in policies {
        let id = p.id.clone().unwrap_or_default();
        let mut f = PolicyFacts {
            name: p.name.clone().unwrap_or_default(),
            id: id.clone(),
            mode: p
                .template_reference
                .as_ref()
                .and_then(|t| t.template_id.as_deref())
                .and_then(device_preparation_mode)
                .unwrap_or("unknown"),
            ..PolicyFacts::default()
        };
        match client.retrieve_enrollment_time_membership_target(&id).await {
            Ok(t) => f.target = Some(t),
            Err(e) if e.is_unknown_operation() => f.target_unavailable = true,
            Err(GraphError::NotFound { .. }) => {}
            Err(e) => return r.failed_read("retrieveEnrollmentTimeDeviceMembershipTarget", &e),
        }
        for g in f.target_groups() {
            let owners = client.group_owners(&g).await.map_err(|e| e.to_string());
            f.owners.push((g, owners));
        }
        facts.push(f);
    }
    judge_device_preparation(r, &facts)
}

impl PolicyFacts {
    /// Device groups the policy targets (its enrollment-time membership target).
    pub fn target_groups(&self) -> Vec<String> {
        self.target
            .iter()
            .flat_map(|t| &t.enrollment_time_device_membership_target_validation_statuses)
            .filter_map(|s| s.target_id.clone())
            .collect()
    }
}

pub fn judge_device_preparation(r: CheckResult, policies: &[PolicyFacts]) -> CheckResult {
    let mut r = r;
    if policies.is_empty() {
        let ids: Vec<String> = DEVICE_PREPARATION_TEMPLATES
            .iter()
            .map(|(id, mode)| format!("{id} ({mode})"))
            .collect();
        return r
            .saw(format!(
                "no configurationPolicy with templateId {}",
                ids.join(" or ")
            ))
            .fail("create a Windows Autopilot device preparation policy (Intune admin center > Devices > Enrollment > Device preparation policies) with an assigned device group");
    }
    let mut problems: Vec<String> = Vec::new();
    let mut unverified: Vec<String> = Vec::new();
    for p in policies {
        r = r.saw(format!(
            "policy \"{}\" ({}), {} template",
            p.name, p.id, p.mode
        ));
        if p.target_unavailable {
            r = r.saw("retrieveEnrollmentTimeDeviceMembershipTarget: not available from this Graph endpoint (Resource not found for the segment)");
            unverified.push(format!(
                "check the device group of \"{}\" in the Intune admin center: Graph did not offer its membership target",
                p.name
            ));
            continue;
        }
        let groups = p.target_groups();
        if groups.is_empty() {
            problems.push(format!(
                "policy \"{}\" has no device group: assign an assigned security group owned by the Intune Provisioning Client",
                p.name
            ));
            continue;
        }
        if let Some(t) = &p.target {
            r = r.saw(format!(
                "membership target validationSucceeded: {}",
                t.validation_succeeded
                    .map_or("not reported".into(), |v| v.to_string())
            ));
            for s in &t.enrollment_time_device_membership_target_validation_statuses {
                if let Some(code) = &s.target_validation_error_code {
                    r = r.saw(format!(
                        "group {}: {code}",
                        s.target_id.as_deref().unwrap_or("?")
                    ));
                }
            }
            if t.validation_succeeded != Some(true) {
                problems.push(format!(
                    "Intune's validation of the device group of \"{}\" failed: it must be an assigned (static) security group owned by the Intune Provisioning Client",
                    p.name
                ));
            }
        }
        for (g, owners) in &p.owners {
            match owners {
                Ok(list) => {
                    let names: Vec<String> = list
                        .iter()
                        .map(|o| {
                            o.display_name
                                .clone()
                                .unwrap_or_else(|| o.id.clone().unwrap_or_default())
                        })
                        .collect();
                    r = r.saw(format!("group {g} owners: {}", names.join(", ")));
                    let owned = list.iter().any(|o| {
                        o.app_id
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(PROVISIONING_CLIENT_APP_ID))
                    });
                    if !owned {
                        problems.push(format!(
                            "add the Intune Provisioning Client ({PROVISIONING_CLIENT_APP_ID}) as an owner of group {g}"
                        ));
                    }
                }
                Err(e) => {
                    r = r.saw(format!("group {g} owners: {e}"));
                    problems.push(format!(
                        "could not read the owners of group {g}: grant GroupMember.Read.All"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.extend(unverified);
        r.fail(problems.join("; "))
    } else if !unverified.is_empty() {
        r.warn(unverified.join("; "))
    } else {
        r.pass()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn owner(app_id: Option<&str>, name: &str) -> DirectoryObject {
        DirectoryObject {
            display_name: Some(name.into()),
            app_id: app_id.map(String::from),
            ..DirectoryObject::default()
        }
    }

    fn policy(mode: &'static str, owners: Vec<DirectoryObject>) -> PolicyFacts {
        PolicyFacts {
            id: "p1".into(),
            name: "Device Preparation".into(),
            mode,
            target: Some(MembershipTargetResult {
                validation_succeeded: Some(true),
                enrollment_time_device_membership_target_validation_statuses: vec![
                    crate::graph::models::MembershipTargetStatus {
                        target_id: Some("g1".into()),
                        validation_succeeded: Some(true),
                        target_validation_error_code: None,
                    },
                ],
            }),
            owners: vec![("g1".into(), Ok(owners))],
            ..PolicyFacts::default()
        }
    }

    fn verdict(p: &[PolicyFacts]) -> CheckResult {
        judge_device_preparation(CheckResult::new(ids::DEVICE_PREPARATION, "t"), p)
    }

    fn provisioning_client() -> DirectoryObject {
        owner(
            Some(PROVISIONING_CLIENT_APP_ID),
            "Intune Provisioning Client",
        )
    }

    #[test]
    fn either_template_passes_when_its_group_is_owned_by_the_provisioning_client() {
        for mode in ["user-driven", "automatic"] {
            let ok = verdict(&[policy(mode, vec![provisioning_client()])]);
            assert_eq!(ok.status, Status::Pass, "{ok:?}");
            assert!(
                ok.evidence
                    .iter()
                    .any(|e| e.contains(&format!("{mode} template"))),
                "{ok:?}"
            );
        }
        let bad = verdict(&[policy("automatic", vec![owner(None, "Someone")])]);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.fix.unwrap().contains("as an owner of group g1"));
    }

    #[test]
    fn an_unavailable_membership_operation_warns_and_is_no_failure() {
        let mut p = policy("user-driven", vec![]);
        p.target = None;
        p.owners.clear();
        p.target_unavailable = true;
        let r = verdict(&[p]);
        assert_eq!(r.status, Status::Warn, "{r:?}");
        assert!(
            !r.evidence.iter().any(|e| e.contains("JustInTime")),
            "{r:?}"
        );
        assert!(r.fix.unwrap().contains("Intune admin center"));
    }

    #[test]
    fn no_policy_or_no_group_fails() {
        let none = verdict(&[]);
        assert_eq!(none.status, Status::Fail);
        assert!(none.evidence[0].contains("80d33118-b7b4-40d8-b15f-81be745e053f_1"));
        assert!(none.evidence[0].contains("a6157a7f-aa00-42d9-ac82-7d2479f545db_1"));
        let mut p = policy("user-driven", vec![]);
        p.target = None;
        p.owners.clear();
        let r = verdict(&[p]);
        assert_eq!(r.status, Status::Fail);
        assert!(r.fix.unwrap().contains("has no device group"));
    }
}
