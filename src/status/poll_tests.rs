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
