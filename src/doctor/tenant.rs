//! Checks 1 and 2: the Intune Provisioning Client service principal, and the Device Preparation
//! policy with its device group (docs/graph.md §4.2, §4.3, §8).

use reqwest::Method;
use serde::Deserialize;

use super::{CheckResult, PROVISIONING_CLIENT_APP_ID, ids};
use crate::graph::models::{DirectoryObject, MembershipTargetResult, ServicePrincipal};
use crate::graph::odata::Query;
use crate::graph::ops::DEVICE_PREPARATION_TEMPLATE_ID;
use crate::graph::{GraphClient, GraphError, RetrySafety};

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

/// The older just-in-time assignment (`retrieveJustInTimeConfiguration`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JitAssignment {
    #[serde(default)]
    target: Vec<String>,
}

/// What was read about one Device Preparation policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyFacts {
    pub id: String,
    pub name: String,
    /// From the enrollment-time membership target, if the policy has one.
    pub target: Option<MembershipTargetResult>,
    /// Groups from the older just-in-time configuration, when there is no membership target.
    pub jit_groups: Vec<String>,
    /// Why the just-in-time configuration could not be read (other than "none").
    pub jit_error: Option<String>,
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
            ..PolicyFacts::default()
        };
        match client.retrieve_enrollment_time_membership_target(&id).await {
            Ok(t) => f.target = Some(t),
            Err(GraphError::NotFound { .. }) => {}
            Err(e) => return r.failed_read("retrieveEnrollmentTimeDeviceMembershipTarget", &e),
        }
        if f.target_groups().is_empty() {
            match retrieve_jit(client, &id).await {
                Ok(groups) => f.jit_groups = groups,
                Err(GraphError::NotFound { .. }) => {}
                Err(e) => f.jit_error = Some(format!("retrieveJustInTimeConfiguration: {e}")),
            }
        }
        for g in f.target_groups() {
            let owners = client.group_owners(&g).await.map_err(|e| e.to_string());
            f.owners.push((g, owners));
        }
        facts.push(f);
    }
    judge_device_preparation(r, &facts)
}

/// Older tenants: `POST …/retrieveJustInTimeConfiguration`; a 404 means none.
async fn retrieve_jit(client: &GraphClient, policy: &str) -> Result<Vec<String>, GraphError> {
    let url = client.beta(
        &format!(
            "/deviceManagement/configurationPolicies/{}/retrieveJustInTimeConfiguration",
            crate::graph::odata::encode(policy)
        ),
        &Query::new(),
    );
    let a: JitAssignment = client
        .send_json::<(), _>(Method::POST, url, None, RetrySafety::Idempotent)
        .await?;
    Ok(a.target)
}

impl PolicyFacts {
    /// Device groups the policy targets (membership target first, else just-in-time).
    pub fn target_groups(&self) -> Vec<String> {
        let from_target: Vec<String> = self
            .target
            .iter()
            .flat_map(|t| &t.enrollment_time_device_membership_target_validation_statuses)
            .filter_map(|s| s.target_id.clone())
            .collect();
        if from_target.is_empty() {
            self.jit_groups.clone()
        } else {
            from_target
        }
    }
}

pub fn judge_device_preparation(r: CheckResult, policies: &[PolicyFacts]) -> CheckResult {
    let mut r = r;
    if policies.is_empty() {
        return r
            .saw(format!(
                "no configurationPolicy with templateId {DEVICE_PREPARATION_TEMPLATE_ID}"
            ))
            .fail("create a Windows Autopilot device preparation policy (Intune admin center > Devices > Enrollment > Device preparation policies) with an assigned device group");
    }
    let mut problems: Vec<String> = Vec::new();
    for p in policies {
        r = r.saw(format!("policy \"{}\" ({})", p.name, p.id));
        let groups = p.target_groups();
        if let Some(e) = &p.jit_error {
            r = r.saw(e.clone());
        }
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
        } else {
            r = r.saw("just-in-time configuration (older API): group type not validated by Intune");
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
    if problems.is_empty() {
        r.pass()
    } else {
        r.fail(problems.join("; "))
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

    fn jit(owners: Vec<DirectoryObject>) -> PolicyFacts {
        PolicyFacts {
            id: "p1".into(),
            name: "Device Preparation".into(),
            jit_groups: vec!["g1".into()],
            owners: vec![("g1".into(), Ok(owners))],
            ..PolicyFacts::default()
        }
    }

    fn verdict(p: &[PolicyFacts]) -> CheckResult {
        judge_device_preparation(CheckResult::new(ids::DEVICE_PREPARATION, "t"), p)
    }

    #[test]
    fn the_older_just_in_time_group_is_checked_by_its_owners() {
        let ok = verdict(&[jit(vec![owner(
            Some(PROVISIONING_CLIENT_APP_ID),
            "Intune Provisioning Client",
        )])]);
        assert_eq!(ok.status, Status::Pass);
        assert!(
            ok.evidence.iter().any(|e| e.contains("just-in-time")),
            "{ok:?}"
        );
        let bad = verdict(&[jit(vec![owner(None, "Someone")])]);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.fix.unwrap().contains("as an owner of group g1"));
    }

    #[test]
    fn no_policy_or_no_group_fails() {
        assert_eq!(verdict(&[]).status, Status::Fail);
        let mut p = jit(vec![]);
        p.jit_groups.clear();
        p.owners.clear();
        p.jit_error = Some("retrieveJustInTimeConfiguration: not allowed".into());
        let r = verdict(&[p]);
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.evidence.iter().any(|e| e.contains("not allowed")),
            "{r:?}"
        );
        assert!(r.fix.unwrap().contains("has no device group"));
    }
}
