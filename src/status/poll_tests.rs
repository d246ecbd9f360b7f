use super::*;

#[test]
fn report_times_parse_in_both_shapes() {
    let want = DateTime::parse_from_rfc3339("2026-11-22T09:12:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(parse_time("2026-11-22T09:12:00Z"), Some(want));
    assert_eq!(parse_time("2026-11-22T09:12:00.000"), Some(want));
    assert_eq!(parse_time("2026-11-22 09:12:00"), Some(want));
    assert_eq!(parse_time("yesterday"), None);
}

#[test]
fn every_selected_field_lands_in_the_summary() {
    let mut obj = serde_json::Map::new();
    for f in DEVICE_SELECT {
        let v = match *f {
            "enrolledDateTime" | "lastSyncDateTime" => "2026-11-22T09:00:00Z",
            "complianceState" => "noncompliant",
            other => other,
        };
        obj.insert(f.to_string(), v.into());
    }
    let d: ManagedDeviceSummary = serde_json::from_value(obj.into()).unwrap();
    let row = device_row(d.clone());
    assert_eq!(&*row.id, "id");
    assert_eq!(&*row.device_name, "deviceName");
    assert_eq!(d.serial_number.as_deref(), Some("serialNumber"));
    assert_eq!(
        row.user_principal_name.as_deref(),
        Some("userPrincipalName")
    );
    assert!(row.enrolled_at.is_some() && row.last_sync.is_some());
    assert_eq!(
        row.compliance,
        Some(crate::graph::models::ComplianceState::Noncompliant)
    );
}

#[test]
fn a_device_listed_again_reuses_what_did_not_change() {
    let summary = |sync: &str, upn: Option<&str>| ManagedDeviceSummary {
        id: "md-1".into(),
        device_name: Some("CT-1".into()),
        serial_number: Some("PF1".into()),
        user_principal_name: upn.map(String::from),
        last_sync_date_time: Some(sync.parse().unwrap()),
        ..Default::default()
    };
    let first = device_row_like(summary("2026-11-22T09:00:00Z", Some("a@x")), None);
    let same = device_row_like(summary("2026-11-22T09:00:00Z", Some("a@x")), Some(&first));
    assert!(
        Arc::ptr_eq(&first, &same),
        "an unchanged device is the same row"
    );
    let synced = device_row_like(summary("2026-11-22T10:00:00Z", Some("a@x")), Some(&first));
    assert!(!Arc::ptr_eq(&first, &synced));
    assert_eq!(
        synced.last_sync,
        Some("2026-11-22T10:00:00Z".parse().unwrap())
    );
    assert!(
        Arc::ptr_eq(&first.id, &synced.id) && Arc::ptr_eq(&first.device_name, &synced.device_name)
    );
    let upn = |r: &DeviceRow| r.user_principal_name.clone().unwrap();
    assert!(Arc::ptr_eq(&upn(&first), &upn(&synced)));
    let moved = device_row_like(summary("2026-11-22T10:00:00Z", Some("b@x")), Some(&synced));
    assert_eq!(moved.user_principal_name.as_deref(), Some("b@x"));
    assert_eq!(
        *device_row_like(summary("2026-11-22T10:00:00Z", None), Some(&moved)),
        DeviceRow {
            user_principal_name: None,
            ..(*moved).clone()
        }
    );
}

#[test]
fn identity_serial_is_the_last_field() {
    let i = ImportedDeviceIdentity {
        imported_device_identifier: Some("Dell Inc.,Latitude 7440,pf1abc".into()),
        ..Default::default()
    };
    let (k, v) = identity(&i).unwrap();
    assert_eq!(k, SerialKey::new("PF1ABC"));
    assert_eq!(v.enrollment_state, EnrollmentState::Unknown);
}

#[test]
fn the_autopilot_listing_stops_once_every_hash_device_is_assigned_and_enrolled() {
    use crate::autopilot::bench::{ImportPhase, Registration};
    use crate::graph::ops::autopilot::AutopilotDevice;
    use crate::status::Stage;
    let reg = |serial: &str, state: ImportPhase| {
        let mut r = Registration::queued(serial, "T0E=", "", None, None, "a.csv:2".into());
        r.import_state = state;
        r
    };
    let row = |serial: &str, enrolled: bool| {
        let mut r = crate::app::status::tests::row(serial, Stage::Registered, 1);
        r.managed_device_id = enrolled.then(|| format!("md-{serial}").into());
        SharedRow::new(r)
    };
    let device = |status: &str| AutopilotDevice {
        deployment_profile_assignment_status: Some(status.into()),
        ..AutopilotDevice::default()
    };
    let k = SerialKey::new;
    let regs: HashMap<SerialKey, Registration> = [
        (k("PFA"), reg("PFA", ImportPhase::Complete)),
        (k("PFB"), reg("PFB", ImportPhase::AlreadyRegistered)),
    ]
    .into();
    let both = [ListedSerial::new("PFA"), ListedSerial::new("PFB")];
    let waiting = [row("PFA", false), row("PFB", false)];
    let enrolled = [row("PFA", true), row("PFB", true)];
    let assigned: HashMap<SerialKey, AutopilotDevice> = [
        (k("PFA"), device("assignedUnknownSyncState")),
        (k("PFB"), device("assignedInSync")),
    ]
    .into();
    let mut half = assigned.clone();
    half.insert(k("PFB"), device("pending"));
    let none = HashMap::new();

    // Nothing listed yet: list.
    assert!(autopilot_list_needed(&waiting, &both, &regs, &none));
    // Assigned but not enrolled: keep listing (the profile can still change before OOBE).
    assert!(autopilot_list_needed(&waiting, &both, &regs, &assigned));
    // Enrolled, but one profile still pending: keep listing.
    assert!(autopilot_list_needed(&enrolled, &both, &regs, &half));
    // Every device assigned and enrolled: no more whole-tenant listings.
    assert!(!autopilot_list_needed(&enrolled, &both, &regs, &assigned));
    // A registration not imported yet needs no listing at all.
    let queued: HashMap<SerialKey, Registration> =
        [(k("PFA"), reg("PFA", ImportPhase::Queued))].into();
    assert!(!autopilot_list_needed(
        &waiting[..1],
        &both[..1],
        &queued,
        &none
    ));
}
