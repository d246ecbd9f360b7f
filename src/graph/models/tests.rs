//! Every Graph doc sample in tests/fixtures/graph parses into its type (or, for payloads
//! stagehand has no type for, keeps the shape docs/graph.md describes).

use super::*;
use crate::graph::batch::{BatchRequestBody, BatchResponseBody};
use crate::graph::error::parse_error_body;
use crate::graph::fixtures::read;

fn list<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    serde_json::from_slice::<Collection<T>>(&read(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .value
}

fn one<T: serde::de::DeserializeOwned>(name: &str) -> T {
    parse_entity(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_sample_parses_into_its_type() {
    let ids: Vec<ImportedDeviceIdentity> = list("importedDeviceIdentity-list.json");
    assert_eq!(ids[0].enrollment_state, Some(EnrollmentState::Enrolled));
    assert_eq!(ids[0].platform, Some(Platform::Ios));
    let found: Vec<ImportedDeviceIdentity> = list("searchExistingIdentities-response.json");
    assert_eq!(found.len(), 1);
    let res: Vec<ImportedDeviceIdentityResult> = list("importDeviceIdentityList-response.json");
    assert_eq!(res[0].status, Some(true));
    assert_eq!(
        res[0].identity.id.as_deref(),
        Some("9dfd3690-3690-9dfd-9036-fd9d9036fd9d")
    );
    let req: serde_json::Value =
        serde_json::from_slice(&read("importDeviceIdentityList-request.json")).unwrap();
    let req_ids: Vec<ImportedDeviceIdentity> =
        serde_json::from_value(req["importedDeviceIdentities"].clone()).unwrap();
    assert_eq!(
        req_ids[0].imported_device_identity_type,
        Some(ImportedDeviceIdentityType::Imei)
    );

    let d: ManagedDevice = one("managedDevice-get.json");
    let s: ManagedDeviceSummary = one("managedDevice-get.json");
    assert_eq!(
        (
            &s.id,
            &s.device_name,
            &s.serial_number,
            &s.user_principal_name,
            s.enrolled_date_time,
            s.last_sync_date_time,
            s.compliance_state
        ),
        (
            &d.id,
            &d.device_name,
            &d.serial_number,
            &d.user_principal_name,
            d.enrolled_date_time,
            d.last_sync_date_time,
            d.compliance_state
        ),
        "the status list's summary reads the same fields as the full entity"
    );
    assert!(s.serial_number.is_some() && s.enrolled_date_time.is_some());
    assert_eq!(d.id, "705c034c-034c-705c-4c03-5c704c035c70");
    assert_eq!(d.management_state, Some(ManagementState::RetirePending));
    assert_eq!(d.join_type, Some(JoinType::AzureAdJoined));
    assert_eq!(
        d.users_logged_on[0].user_id.as_deref(),
        Some("User Id value")
    );
    assert_eq!(
        d.device_action_results[0].action_state,
        Some(ActionState::Pending)
    );
    assert_eq!(
        d.azure_ad_device_id.as_deref(),
        Some("Azure ADDevice Id value")
    );

    let target: MembershipTargetResult = one("enrollmentTimeDeviceMembershipTarget-response.json");
    assert_eq!(
        target.enrollment_time_device_membership_target_validation_statuses[0]
            .target_id
            .as_deref(),
        Some("Target Id value")
    );
    let set_req: serde_json::Value = serde_json::from_slice(&read(
        "setEnrollmentTimeDeviceMembershipTarget-request.json",
    ))
    .unwrap();
    assert_eq!(
        set_req["enrollmentTimeDeviceMembershipTargets"][0]["targetId"],
        "Target Id value"
    );

    let job: ExportJob = one("exportJob-create-response.json");
    assert_eq!(job.status, Some(ReportStatus::NotStarted));
    assert_eq!(job.format, Some(ReportFormat::Pdf));
    assert_eq!(job.url.as_ref().map(|u| u.expose()), Some("Url value"));
    assert!(
        !format!("{job:?}").contains("Url value"),
        "the pre-signed URL is redacted"
    );

    let roles: AssignedRoleDetails = one("getAssignedRoleDetails-response.json");
    assert_eq!(roles.role_definition_ids, vec!["Role Definition Ids value"]);
    assert_eq!(roles.role_assignment_ids, vec!["Role Assignment Ids value"]);

    let batch_req: BatchRequestBody = serde_json::from_slice(&read("batch-request.json")).unwrap();
    assert_eq!(batch_req.requests.len(), 5);
    let batch: BatchResponseBody = serde_json::from_slice(&read("batch-response.json")).unwrap();
    let statuses: Vec<u16> = batch.responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 403, 403, 405, 200]);

    assert_eq!(
        parse_error_body(&read("error-429.json")).code,
        "TooManyRequests"
    );
    assert_eq!(
        parse_error_body(&read("error-generic.json")).code,
        "invalidRange"
    );

    let ca: Vec<ConditionalAccessPolicy> = list("conditionalAccess-policies-list.json");
    assert_eq!(ca[0].state, Some(PolicyState::Disabled));
    assert_eq!(ca[0].created_date_time, None);
    let apps = ca[0]
        .conditions
        .as_ref()
        .unwrap()
        .applications
        .as_ref()
        .unwrap();
    assert_eq!(apps.include_applications, vec!["None"]);

    let u: User = one("user-get.json");
    assert_eq!(u.user_principal_name.as_deref(), Some("AdeleV@contoso.com"));
    let lic: Vec<LicenseDetails> = list("user-licenseDetails-list.json");
    assert!(!lic.is_empty() && !lic[0].service_plans.is_empty());
    let groups: Vec<DirectoryObject> = list("user-transitiveMemberOf.json");
    assert_eq!(
        groups[0].odata_type.as_deref(),
        Some("#microsoft.graph.group")
    );
    let sps: Vec<ServicePrincipal> = list("servicePrincipals-list.json");
    assert_eq!(
        sps[0].app_id.as_deref(),
        Some("65415bb1-9267-4313-bbf5-ae259732ee12")
    );
    let owners: Vec<DirectoryObject> = list("group-owners-list.json");
    assert!(owners.iter().all(|o| o.id.is_some()));
}

#[test]
fn unknown_members_unknown_fields_and_nulls_are_tolerated() {
    let d: ManagedDevice = serde_json::from_str(
        r#"{"id":"1","managementState":"someFutureState","complianceState":null,
            "usersLoggedOn":null,"deviceActionResults":[{"actionState":"unknownFutureValue"}],
            "brandNewField":{"x":1},"joinType":"unknownFutureValue"}"#,
    )
    .unwrap();
    assert_eq!(d.management_state, Some(ManagementState::Other));
    assert_eq!(d.compliance_state, None);
    assert!(d.users_logged_on.is_empty());
    assert_eq!(
        d.device_action_results[0].action_state,
        Some(ActionState::Other)
    );
    assert_eq!(d.join_type, Some(JoinType::Other));
    let p: Platform = serde_json::from_str("\"tvos\"").unwrap();
    assert_eq!(p, Platform::TvOs);
}

#[test]
fn wrapped_and_top_level_entities_both_parse() {
    let top: User = parse_entity(br#"{"@odata.context":"x","id":"u1"}"#).unwrap();
    let wrapped: User = parse_entity(br#"{"value":{"id":"u1"}}"#).unwrap();
    assert_eq!(top, wrapped);
    let page: Collection<User> = parse_entity(br#"{"value":[{"id":"u1"}]}"#).unwrap();
    assert_eq!(page.value.len(), 1);
}

#[test]
fn windows_identity_serialises_as_the_portal_csv_does() {
    let v = serde_json::to_value(ImportedDeviceIdentity::windows(
        "Microsoft",
        "Surface 5",
        "0123",
    ))
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "importedDeviceIdentifier": "Microsoft,Surface 5,0123",
            "importedDeviceIdentityType": "manufacturerModelSerial",
            "platform": "windows"
        })
    );
}

#[test]
fn platform_names_are_the_metadata_wire_names() {
    for (p, wire) in [
        (Platform::Ios, "ios"),
        (Platform::WindowsMobile, "windowsMobile"),
        (Platform::MacOs, "macOS"),
        (Platform::VisionOs, "visionOS"),
        (Platform::TvOs, "tvOS"),
    ] {
        assert_eq!(serde_json::to_value(p).unwrap(), wire, "{p:?}");
        assert_eq!(serde_json::from_value::<Platform>(wire.into()).unwrap(), p);
    }
    // The docs' spelling of tvOS is read; a miscased visionOS is no known platform.
    assert_eq!(
        serde_json::from_str::<Platform>("\"tvos\"").unwrap(),
        Platform::TvOs
    );
    assert_eq!(
        serde_json::from_str::<Platform>("\"visionOs\"").unwrap(),
        Platform::Other
    );
}

#[test]
fn compliance_names_are_the_wire_names() {
    use super::devices::ComplianceState as C;
    for c in [
        C::Unknown,
        C::Compliant,
        C::Noncompliant,
        C::Conflict,
        C::Error,
        C::InGracePeriod,
        C::ConfigManager,
        C::Other,
    ] {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_graph(), "{c:?}");
    }
    for c in C::ALL {
        assert_eq!(C::from_graph(&c.as_graph().to_uppercase()), Some(c));
    }
    assert_eq!(
        C::from_graph("other"),
        None,
        "only documented members parse"
    );
}

#[test]
fn enrollment_names_are_the_wire_names() {
    use super::identities::EnrollmentState as E;
    for e in [
        E::Unknown,
        E::Enrolled,
        E::PendingReset,
        E::Failed,
        E::NotContacted,
        E::Blocked,
        E::Other,
    ] {
        assert_eq!(serde_json::to_value(e).unwrap(), e.as_graph(), "{e:?}");
    }
}

/// The doc samples of payloads stagehand has no serde type for keep the fields docs/graph.md
/// relies on (other features read them as JSON): a renamed or dropped field fails here.
#[test]
fn untyped_samples_keep_the_documented_shape() {
    let v = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let cleared: bool = one("clearEnrollmentTimeDeviceMembershipTarget-response.json");
    assert!(cleared);

    let log_req = v("createDeviceLogCollectionRequest-request.json");
    assert_eq!(
        log_req["templateType"]["templateType"],
        "unknownFutureValue"
    );
    let log = v("createDeviceLogCollectionRequest-response.json");
    assert_eq!(log["value"]["status"], "completed");
    assert!(log["value"]["expirationDateTimeUTC"].is_string());
    let url = v("createDownloadUrl-response.json");
    assert!(url["value"].as_str().unwrap().starts_with("https://"));

    let audit = v("auditEvents-list.json");
    let ev = &audit["value"][0];
    assert!(ev["activityDateTime"].is_string());
    assert!(ev["actor"]["userPrincipalName"].is_string());
    assert!(ev["resources"][0]["modifiedProperties"][0]["newValue"].is_string());

    let signins = v("signIns-list.json");
    let s = &signins["value"][0];
    assert_eq!(s["userPrincipalName"], "testaccount1@contoso.com");
    assert_eq!(s["status"]["errorCode"], 0);
    assert!(s["deviceDetail"]["deviceId"].is_string());
    assert!(signins["@odata.nextLink"].is_string());

    let stream = v("reports-stream-response-shape.json");
    let columns = stream["Schema"].as_array().unwrap().len();
    assert_eq!(columns, 3);
    for row in stream["Values"].as_array().unwrap() {
        assert_eq!(
            row.as_array().unwrap().len(),
            columns,
            "one value per column"
        );
    }

    let ap_req = v("importedWindowsAutopilotDeviceIdentity-import-request.json");
    let ap_req = &ap_req["importedWindowsAutopilotDeviceIdentities"][0];
    assert!(ap_req["hardwareIdentifier"].is_string());
    assert!(ap_req["serialNumber"].is_string());
    let ap: Vec<serde_json::Value> =
        list("importedWindowsAutopilotDeviceIdentity-import-response.json");
    assert_eq!(ap.len(), 1);
    assert_eq!(ap[0]["state"]["deviceImportStatus"], "pending");
    assert!(
        ap[0].get("orderIdentifier").is_none(),
        "the newer page, without the retired orderIdentifier"
    );

    let apd = v("windowsAutopilotDeviceIdentity-get.json");
    assert_eq!(apd["value"]["enrollmentState"], "enrolled");
    assert!(apd["value"]["managedDeviceId"].is_string());
    let upd = v("windowsAutopilotDeviceIdentity-updateDeviceProperties-request.json");
    assert!(upd["groupTag"].is_string() && upd["userPrincipalName"].is_string());
    let assign = v("windowsAutopilotDeviceIdentity-assignUserToDevice-request.json");
    assert!(assign["addressableUserName"].is_string());

    let esp = v("windows10EnrollmentCompletionPageConfiguration-get.json");
    assert_eq!(esp["value"]["installProgressTimeoutInMinutes"], 15);
}
