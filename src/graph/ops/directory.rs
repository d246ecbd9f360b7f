//! Service principals, group owners, configuration policies, Conditional Access (§4, §8, §9).

use reqwest::Method;

use super::super::client::GraphClient;
use super::super::error::GraphError;
use super::super::models::{
    ConditionalAccessPolicy, ConfigurationPolicy, DirectoryObject, MembershipTargetResult,
    ServicePrincipal,
};
use super::super::odata::{Query, literal};
use super::super::retry::RetrySafety;
use super::seg;

/// The Settings Catalog templates of Autopilot device preparation policies, with their mode
/// (docs/graph.md §4.2). Both belong to the `enrollmentConfiguration` template family.
pub const DEVICE_PREPARATION_TEMPLATES: &[(&str, &str)] = &[
    ("80d33118-b7b4-40d8-b15f-81be745e053f_1", "user-driven"),
    ("a6157a7f-aa00-42d9-ac82-7d2479f545db_1", "automatic"),
];

/// The device preparation mode of a template id, matched on the base id without its `_N`
/// version suffix (so a later version of either template still counts).
pub fn device_preparation_mode(template_id: &str) -> Option<&'static str> {
    let base = |t: &str| {
        t.rsplit_once('_')
            .map_or(t, |(b, _)| b)
            .to_ascii_lowercase()
    };
    let want = base(template_id.trim());
    DEVICE_PREPARATION_TEMPLATES
        .iter()
        .find(|(id, _)| base(id) == want)
        .map(|(_, mode)| *mode)
}

impl GraphClient {
    /// The tenant's service principal for `app_id`, `None` if missing (re-checked exactly).
    pub async fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Option<ServicePrincipal>, GraphError> {
        let q = Query::new().filter(format!("appId eq {}", literal(app_id)));
        let mut all: Vec<ServicePrincipal> =
            self.get_all(self.v1("/servicePrincipals", &q)).await?;
        all.retain(|s| {
            s.app_id
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(app_id))
        });
        match all.len() {
            0 => Ok(None),
            1 => Ok(all.pop()),
            n => Err(GraphError::Ambiguous {
                what: format!("service principal for app {app_id}"),
                count: n,
            }),
        }
    }

    /// `GET /beta/groups/{id}/owners` (beta lists service principals as owners; v1.0 may not).
    pub async fn group_owners(&self, group_id: &str) -> Result<Vec<DirectoryObject>, GraphError> {
        self.get_all(self.beta(&format!("/groups/{}/owners", seg(group_id)), &Query::new()))
            .await
    }

    /// Settings Catalog policies; `filter` is an OData expression whose string values were
    /// built with [`literal`]. Callers re-check rows: Intune may ignore the filter.
    pub async fn configuration_policies(
        &self,
        filter: Option<&str>,
    ) -> Result<Vec<ConfigurationPolicy>, GraphError> {
        let q = filter.map_or_else(Query::new, |f| Query::new().filter(f));
        self.get_all(self.beta("/deviceManagement/configurationPolicies", &q))
            .await
    }

    /// Autopilot device preparation policies of either template (user-driven or automatic):
    /// filtered by template family server-side and matched by template id client-side, since
    /// Intune may ignore the filter.
    pub async fn device_preparation_policies(
        &self,
    ) -> Result<Vec<ConfigurationPolicy>, GraphError> {
        let filter = format!(
            "(technologies has {}) and (platforms eq {}) and (templateReference/templateFamily eq {})",
            literal("enrollment"),
            literal("windows10"),
            literal("enrollmentConfiguration")
        );
        let mut all = self.configuration_policies(Some(&filter)).await?;
        all.retain(|p| {
            p.template_reference
                .as_ref()
                .and_then(|t| t.template_id.as_deref())
                .and_then(device_preparation_mode)
                .is_some()
        });
        Ok(all)
    }

    /// `POST configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget`: a read,
    /// so retried freely. No body (sent with `Content-Length: 0`).
    pub async fn retrieve_enrollment_time_membership_target(
        &self,
        policy_id: &str,
    ) -> Result<MembershipTargetResult, GraphError> {
        self.send_json::<(), _>(
            Method::POST,
            self.beta(
                &format!(
                    "/deviceManagement/configurationPolicies/{}/retrieveEnrollmentTimeDeviceMembershipTarget",
                    seg(policy_id)
                ),
                &Query::new(),
            ),
            None,
            RetrySafety::Idempotent,
        )
        .await
    }

    /// `GET /v1.0/identity/conditionalAccess/policies` (paced at 1 request/s by the governor).
    pub async fn conditional_access_policies(
        &self,
    ) -> Result<Vec<ConditionalAccessPolicy>, GraphError> {
        self.get_all(self.v1("/identity/conditionalAccess/policies", &Query::new()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_device_preparation_templates_are_recognised_in_any_version() {
        assert_eq!(
            device_preparation_mode("80d33118-b7b4-40d8-b15f-81be745e053f_1"),
            Some("user-driven")
        );
        assert_eq!(
            device_preparation_mode("A6157A7F-AA00-42D9-AC82-7D2479F545DB_1"),
            Some("automatic")
        );
        assert_eq!(
            device_preparation_mode("a6157a7f-aa00-42d9-ac82-7d2479f545db_2"),
            Some("automatic")
        );
        // The unverified older template and ordinary Settings Catalog templates are not ours.
        assert_eq!(
            device_preparation_mode("70d256b3-6120-4f88-9e00-0972ec64fc83_1"),
            None
        );
        assert_eq!(device_preparation_mode(""), None);
    }
}
