//! Users, licences, directory objects and Intune role ids (docs/graph.md §7, §8).

use serde::Deserialize;

use super::null_default;

/// `user` (the default properties plus `accountEnabled` when selected).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// Only when selected; readable with an app token, unlike `licenseDetails` (§7).
    #[serde(default, deserialize_with = "null_default")]
    pub assigned_plans: Vec<AssignedPlan>,
}

/// `assignedPlan`: one service plan of the user's licences.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedPlan {
    #[serde(default)]
    pub service_plan_id: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub capability_status: Option<String>,
}

impl AssignedPlan {
    /// The Intune plan (`INTUNE_A` by id), enabled.
    pub fn is_intune(&self) -> bool {
        self.service_plan_id
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(INTUNE_A_PLAN_ID))
            && self.capability_status.as_deref() == Some("Enabled")
    }
}

/// `servicePlanInfo`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanInfo {
    #[serde(default)]
    pub service_plan_id: Option<String>,
    #[serde(default)]
    pub service_plan_name: Option<String>,
    #[serde(default)]
    pub provisioning_status: Option<String>,
    #[serde(default)]
    pub applies_to: Option<String>,
}

/// `licenseDetails`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDetails {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub sku_id: Option<String>,
    #[serde(default)]
    pub sku_part_number: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub service_plans: Vec<ServicePlanInfo>,
}

/// The Intune plan (`INTUNE_A`) id.
pub const INTUNE_A_PLAN_ID: &str = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5";

impl LicenseDetails {
    /// Does this licence carry a provisioned Intune plan?
    pub fn has_intune(&self) -> bool {
        self.service_plans.iter().any(|p| {
            (p.service_plan_id.as_deref() == Some(INTUNE_A_PLAN_ID)
                || p.service_plan_name.as_deref() == Some("INTUNE_A"))
                && p.provisioning_status.as_deref() == Some("Success")
        })
    }
}

/// A `directoryObject` of any subtype (user, group, servicePrincipal, directoryRole).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(default, rename = "@odata.type")]
    pub odata_type: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub role_template_id: Option<String>,
    #[serde(default)]
    pub service_principal_type: Option<String>,
}

/// `deviceAndAppManagementAssignedRoleDetails`: what `getAssignedRoleDetails` returns.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedRoleDetails {
    #[serde(default, deserialize_with = "null_default")]
    pub role_definition_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub role_assignment_ids: Vec<String>,
}
