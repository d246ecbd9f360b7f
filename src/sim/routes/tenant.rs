//! Tenant setup the doctor checks: the Intune Provisioning Client service principal, the device
//! group's owners, the Device Preparation policy and its device group, Conditional Access. Each
//! can be broken through [`crate::sim::TenantSetup`].

use serde_json::{Value, json};

use super::{context, error, filter, page};
use crate::sim::odata::Dialect;
use crate::sim::server::{Incoming, Reply, State};

pub const PROVISIONING_CLIENT_APP_ID: &str = "f1346770-5b25-470b-88bd-d5744ab7952c";
pub const INTUNE_ENROLLMENT_APP_ID: &str = "d4ebce55-015a-49b5-a083-c84d1797ae8c";
pub const DEVICE_REGISTRATION_APP_ID: &str = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9";
/// The user-driven device preparation template; `a6157a7f-aa00-42d9-ac82-7d2479f545db_1` is the
/// automatic one (docs/graph.md §4.2).
pub const DEVICE_PREP_TEMPLATE_ID: &str = "80d33118-b7b4-40d8-b15f-81be745e053f_1";
pub const DEVICE_PREP_AUTOMATIC_TEMPLATE_ID: &str = "a6157a7f-aa00-42d9-ac82-7d2479f545db_1";
pub const DEVICE_PREP_POLICY_ID: &str = "4b0f6a3e-7c1d-4e2a-9f3b-1d2c3e4f5a6b";
pub const CA_POLICY_ID: &str = "6e2a9c1b-3d4f-4a5b-8c7d-9e0f1a2b3c4d";
pub const CA_STAGING_POLICY_ID: &str = "7f3b0d2c-4e5a-4b6c-9d8e-0f1a2b3c4d5e";
const SP_OBJECT_ID: &str = "2c9d7e4f-1a3b-4c5d-8e6f-7a8b9c0d1e2f";

pub fn service_principals(st: &mut State, inc: &Incoming) -> Reply {
    let mut all = vec![
        json!({"id": "0d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f70", "appId": st.client_id, "displayName": "stagehand", "servicePrincipalType": "Application", "accountEnabled": true}),
    ];
    if st.opts.tenant.provisioning_sp_present {
        all.push(json!({"id": SP_OBJECT_ID, "appId": PROVISIONING_CLIENT_APP_ID, "displayName": "Intune Provisioning Client", "servicePrincipalType": "Application", "accountEnabled": true}));
    }
    const D: Dialect = Dialect {
        supported: &["appId", "displayName", "id"],
        intune_quirks: false,
    };
    match filter(inc, all, &D) {
        Ok(v) => page(st, inc, v, &context(st, inc, "servicePrincipals")),
        Err(r) => r,
    }
}

pub fn group_owners(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    if !id.eq_ignore_ascii_case(&st.opts.tenant.device_group_id) {
        return error(
            404,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
            inc,
        );
    }
    let lead = st.dir.lead();
    let mut owners = vec![
        json!({"@odata.type": "#microsoft.graph.user", "id": lead.id, "displayName": lead.display_name, "userPrincipalName": lead.upn, "accountEnabled": true}),
    ];
    if st.opts.tenant.group_owned_by_provisioning_client && st.opts.tenant.provisioning_sp_present {
        owners.push(json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": SP_OBJECT_ID, "appId": PROVISIONING_CLIENT_APP_ID, "displayName": "Intune Provisioning Client", "servicePrincipalType": "Application"}));
    }
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "directoryObjects"), "value": owners}),
    )
}

pub fn configuration_policies(st: &mut State, inc: &Incoming) -> Reply {
    let template = st.opts.tenant.device_prep_template_id.clone();
    let automatic = template.eq_ignore_ascii_case(DEVICE_PREP_AUTOMATIC_TEMPLATE_ID);
    let policy = json!({
        "id": DEVICE_PREP_POLICY_ID,
        "name": "Device Preparation - Staging",
        "description": "User-driven, Entra joined, staging bench",
        "platforms": "windows10",
        "technologies": "enrollment",
        "createdDateTime": "2026-01-05T10:00:00Z",
        "lastModifiedDateTime": "2026-06-01T10:00:00Z",
        "settingCount": 6,
        "roleScopeTagIds": ["0"],
        "isAssigned": true,
        "templateReference": {"templateId": template, "templateFamily": "enrollmentConfiguration", "templateDisplayName": if automatic { "Windows Autopilot device preparation (automatic)" } else { "Device Preparation" }, "templateDisplayVersion": "Version 1"},
    });
    let all: Vec<Value> = if st.opts.tenant.device_prep_policy_present {
        vec![policy]
    } else {
        vec![]
    };
    // Intune's dialect: `technologies has …` and `templateReference/templateId eq …` parse, but
    // only top-level properties it knows are applied.
    const D: Dialect = Dialect {
        supported: &["platforms", "technologies", "name"],
        intune_quirks: true,
    };
    match filter(inc, all, &D) {
        Ok(v) => page(
            st,
            inc,
            v,
            &context(st, inc, "deviceManagement/configurationPolicies"),
        ),
        Err(r) => r,
    }
}

pub fn membership_target(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    if !(st.opts.tenant.device_prep_policy_present
        && id.eq_ignore_ascii_case(DEVICE_PREP_POLICY_ID))
    {
        return error(
            404,
            "ResourceNotFound",
            &format!("configurationPolicy '{id}' was not found."),
            inc,
        );
    }
    let t = &st.opts.tenant;
    let ok = t.group_owned_by_provisioning_client && t.provisioning_sp_present;
    let code = if ok {
        Value::Null
    } else {
        json!("firstPartyAppNotAnOwner")
    };
    Reply::json(
        200,
        json!({
            "@odata.context": context(st, inc, "microsoft.graph.enrollmentTimeDeviceMembershipTargetResult"),
            "validationSucceeded": ok,
            "enrollmentTimeDeviceMembershipTargetValidationStatuses": [{"targetId": t.device_group_id, "validationSucceeded": ok, "targetValidationErrorCode": code}],
        }),
    )
}

pub fn ca_policies(st: &mut State, inc: &Incoming) -> Reply {
    let t = &st.opts.tenant;
    let staging: Vec<String> = st.dir.staging().iter().map(|u| u.id.clone()).collect();
    let exclude_apps: Vec<&str> = if t.ca_excludes_enrollment {
        vec![INTUNE_ENROLLMENT_APP_ID]
    } else {
        vec![]
    };
    // The staging accounts' own policy: block everything but enrollment and device registration.
    let mut staging_exclude = exclude_apps.clone();
    staging_exclude.push(DEVICE_REGISTRATION_APP_ID);
    let state = if t.ca_report_only {
        "enabledForReportingButNotEnforced"
    } else {
        "enabled"
    };
    let policy = json!({
        "id": CA_POLICY_ID,
        "displayName": "Require compliant device for all apps",
        "createdDateTime": "2026-01-05T10:00:00Z",
        "modifiedDateTime": null,
        "state": state,
        "sessionControls": null,
        "conditions": {
            "clientAppTypes": ["all"],
            "applications": {"includeApplications": ["All"], "excludeApplications": exclude_apps, "includeUserActions": []},
            "users": {"includeUsers": ["All"], "excludeUsers": staging.clone(), "includeGroups": [], "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["compliantDevice"], "customAuthenticationFactors": [], "termsOfUse": []},
    });
    let staging_policy = json!({
        "id": CA_STAGING_POLICY_ID,
        "displayName": "Staging accounts: block all but enrollment",
        "createdDateTime": "2026-01-05T10:00:00Z",
        "modifiedDateTime": null,
        "state": state,
        "sessionControls": null,
        "conditions": {
            "clientAppTypes": ["all"],
            "applications": {"includeApplications": ["All"], "excludeApplications": staging_exclude, "includeUserActions": []},
            "users": {"includeUsers": staging, "excludeUsers": [], "includeGroups": [], "excludeGroups": [], "includeRoles": [], "excludeRoles": []},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"], "customAuthenticationFactors": [], "termsOfUse": []},
    });
    Reply::json(
        200,
        json!({"@odata.context": context(st, inc, "identity/conditionalAccess/policies"), "value": [policy, staging_policy]}),
    )
}
