//! Service principals, configuration policies and Conditional Access (docs/graph.md §4.2-4.3, §8-9).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{graph_enum, null_default};

/// `servicePrincipal` (the fields the readiness checks use).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub service_principal_type: Option<String>,
}

/// `deviceManagementConfigurationPolicyTemplateReference`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateReference {
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub template_family: Option<String>,
    #[serde(default)]
    pub template_display_name: Option<String>,
}

/// Settings Catalog `configurationPolicy` (APv2 device preparation policies are these).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationPolicy {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub platforms: Option<String>,
    #[serde(default)]
    pub technologies: Option<String>,
    #[serde(default)]
    pub template_reference: Option<TemplateReference>,
}

/// One enrollment-time membership target (security group the device joins at enrollment).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipTargetStatus {
    #[serde(default)]
    pub target_id: Option<String>,
    #[serde(default)]
    pub validation_succeeded: Option<bool>,
    #[serde(default)]
    pub target_validation_error_code: Option<String>,
}

/// `enrollmentTimeDeviceMembershipTargetResult`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipTargetResult {
    #[serde(default)]
    pub validation_succeeded: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub enrollment_time_device_membership_target_validation_statuses: Vec<MembershipTargetStatus>,
}

graph_enum!(PolicyState {
    Enabled,
    Disabled,
    EnabledForReportingButNotEnforced
});

/// `conditionalAccessPolicy`: typed where the readiness check looks, the rest ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccessPolicy {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub state: Option<PolicyState>,
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub modified_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub conditions: Option<CaConditions>,
    #[serde(default)]
    pub grant_controls: Option<CaGrantControls>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaConditions {
    #[serde(default)]
    pub applications: Option<CaApplications>,
    #[serde(default)]
    pub users: Option<CaUsers>,
    #[serde(default, deserialize_with = "null_default")]
    pub client_app_types: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaApplications {
    #[serde(default, deserialize_with = "null_default")]
    pub include_applications: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub exclude_applications: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub include_user_actions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaUsers {
    #[serde(default, deserialize_with = "null_default")]
    pub include_users: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub exclude_users: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub include_groups: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub exclude_groups: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub include_roles: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub exclude_roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaGrantControls {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub built_in_controls: Vec<String>,
}
