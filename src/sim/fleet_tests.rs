use super::*;

fn dir() -> Directory {
    Directory::generate(
        &mut Rng::new(1),
        &[
            "staging@contoso.example".into(),
            "o'neil.staging@contoso.example".into(),
        ],
        false,
    )
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn fleet(seed: u64, fail: f64) -> Fleet {
    Fleet::new(
        Rng::new(seed),
        fail,
        vec![
            "staging@contoso.example".into(),
            "o'neil.staging@contoso.example".into(),
        ],
    )
}

#[test]
fn seeded_fleet_has_every_stage() {
    let d = dir();
    let mut f = fleet(7, 0.1);
    f.seed(8, now(), &d);
    let states: Vec<Option<SimDeployment>> =
        f.devices.iter().map(|x| x.deployment(now())).collect();
    assert_eq!(
        states,
        vec![
            None,
            Some(SimDeployment::InProgress { phase: 1 }),
            Some(SimDeployment::InProgress { phase: 2 }),
            Some(SimDeployment::InProgress { phase: 3 }),
            Some(SimDeployment::Succeeded),
            Some(SimDeployment::Failed { phase: 2 }),
            Some(SimDeployment::Succeeded),
            Some(SimDeployment::Succeeded),
        ]
    );
    let staging_id = d.find("staging@contoso.example").map(|u| u.id.clone());
    let oneil_id = d
        .find("o'neil.staging@contoso.example")
        .map(|u| u.id.clone());
    // In use: a real user signed in, staging still primary. Assigned: primary is the real user.
    let in_use = &f.devices[6];
    assert_eq!(
        in_use.users_logged_on(now(), &d).len(),
        2 + usize::from(in_use.ghost_logon.is_some())
    );
    let p = in_use.primary_at(now(), &d);
    assert!(p == staging_id || p == oneil_id);
    let assigned = &f.devices[7];
    assert_eq!(
        assigned.primary_at(now(), &d),
        assigned.logon.clone().map(|l| l.0)
    );
    assert_eq!(f.enrolled(now()).count(), 7);
}

#[test]
fn same_seed_same_fleet() {
    let d = dir();
    let (mut a, mut b, mut c) = (fleet(5, 0.2), fleet(5, 0.2), fleet(6, 0.2));
    a.seed(20, now(), &d);
    b.seed(20, now(), &d);
    c.seed(20, now(), &d);
    let ids = |f: &Fleet| {
        f.devices
            .iter()
            .map(|x| (x.id.clone(), x.serial.clone(), x.enroll_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
}

#[test]
fn imported_identity_enrolls_progresses_and_gets_a_user() {
    let d = dir();
    let mut f = fleet(11, 0.0);
    let ident = f.add_identity(
        "Dell Inc.,Latitude 7440,ABC123",
        "manufacturerModelSerial",
        "",
        now(),
        &d,
    );
    assert_eq!(f.identity_state(&ident, now()).0, "notContacted");
    assert_eq!(f.enrolled(now()).count(), 0);
    let dev = f.devices[0].clone();
    assert_eq!(dev.serial, "ABC123");
    assert_eq!(dev.manufacturer, "Dell Inc.");
    let mut t = now();
    let mut seen = vec![];
    while t < now() + Span::hours(2) {
        if let Some(s) = dev.deployment(t)
            && seen.last() != Some(&s)
        {
            seen.push(s);
        }
        t += Span::seconds(30);
    }
    assert_eq!(
        seen,
        vec![
            SimDeployment::InProgress { phase: 1 },
            SimDeployment::InProgress { phase: 2 },
            SimDeployment::InProgress { phase: 3 },
            SimDeployment::Succeeded
        ]
    );
    assert_eq!(f.identity_state(&ident, t).0, "enrolled");
    let (user, at) = dev
        .logon
        .clone()
        .expect("a real user signs in after success");
    assert!(at > dev.finished_at());
    assert!(
        dev.users_logged_on(t, &d)
            .iter()
            .any(|u| u["userId"] == user)
    );
    // With a 100% failure rate the deployment fails and nobody signs in.
    let mut g = fleet(11, 1.0);
    g.add_identity("SERIAL9", "serialNumber", "", now(), &d);
    let dev = &g.devices[0];
    assert!(matches!(
        dev.deployment(now() + Span::hours(2)),
        Some(SimDeployment::Failed { .. })
    ));
    assert!(dev.logon.is_none());
    assert_eq!(dev.serial, "SERIAL9");
}

#[test]
fn list_rows_hide_what_only_single_get_shows() {
    let d = dir();
    let mut f = fleet(3, 0.0);
    f.seed(8, now(), &d);
    let dev = &f.devices[6];
    let single = dev.to_json(now(), &d, false);
    let row = dev.to_json(now(), &d, true);
    assert!(
        single["usersLoggedOn"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(row["usersLoggedOn"], serde_json::json!([]));
    assert!(single.get("enrolledByUserPrincipalName").is_some());
    assert!(row.get("enrolledByUserPrincipalName").is_none());
    for (code, dep) in [
        (1, SimDeployment::InProgress { phase: 2 }),
        (2, SimDeployment::Succeeded),
        (3, SimDeployment::Failed { phase: 1 }),
    ] {
        assert_eq!(dep.status_code(), code);
    }
}

#[test]
fn deleting_an_identity_cancels_a_pending_enrollment() {
    let d = dir();
    let mut f = fleet(2, 0.0);
    let ident = f.add_identity("X1", "serialNumber", "", now(), &d);
    assert!(f.delete_identity(&ident.id.to_uppercase(), now()));
    assert!(f.devices.is_empty());
    assert!(!f.delete_identity(&ident.id, now()));
}

#[test]
fn list_upn_lags_behind_a_primary_change_on_lagging_devices() {
    let d = dir();
    let mut f = fleet(4, 0.0);
    f.seed(8, now(), &d);
    let dev = &mut f.devices[6];
    dev.upn_lag = Span::minutes(10);
    let adele = d.find("adele.vance@contoso.example").unwrap().clone();
    dev.primary_changes
        .push((now() + Span::minutes(3), adele.id.clone()));
    let at = |m: i64, list: bool| {
        dev.to_json(now() + Span::minutes(m), &d, list)["userPrincipalName"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(at(1, false).contains("staging@"), "not yet applied");
    assert_eq!(
        at(4, false),
        adele.upn,
        "single GET sees the change once applied"
    );
    assert!(at(4, true).contains("staging@"), "the list row still lags");
    assert_eq!(at(14, true), adele.upn, "and catches up after the lag");
}

#[test]
fn a_shaped_device_reports_its_os_join_type_compliance_and_extra_sign_ins() {
    let d = dir();
    let mut f = fleet(7, 0.0);
    f.seed(8, now(), &d);
    let dev = f.devices.last_mut().unwrap();
    let plain = dev.to_json(now(), &d, false);
    assert_eq!(plain["operatingSystem"], "Windows");
    assert_eq!(plain["joinType"], "azureADJoined");
    let before = plain["usersLoggedOn"].as_array().unwrap().len();
    dev.shape.operating_system = "iOS".into();
    dev.shape.join_type = "azureADRegistered".into();
    dev.shape.compliance = Some("noncompliant".into());
    dev.shape.extra_logons = vec![
        ("u-early".into(), now() - Span::hours(1)),
        ("u-future".into(), now() + Span::hours(1)),
    ];
    let shaped = dev.to_json(now(), &d, false);
    assert_eq!(shaped["operatingSystem"], "iOS");
    assert_eq!(shaped["joinType"], "azureADRegistered");
    assert_eq!(shaped["complianceState"], "noncompliant");
    let logons = shaped["usersLoggedOn"].as_array().unwrap();
    assert_eq!(logons.len(), before + 1, "only sign-ins already past show");
    assert!(logons.iter().any(|l| l["userId"] == "u-early"));
}

#[test]
fn devices_check_in_on_intunes_refresh_cycle_and_at_each_sign_in() {
    let e = now();
    let at = |m: i64| scheduled_check_in(e, e + Span::minutes(m) + Span::seconds(10));
    assert_eq!(scheduled_check_in(e, e - Span::minutes(5)), e);
    assert_eq!(at(0), e);
    assert_eq!(at(4), e + Span::minutes(3));
    assert_eq!(at(14), e + Span::minutes(12));
    assert_eq!(at(16), e + Span::minutes(15));
    assert_eq!(at(44), e + Span::minutes(30));
    assert_eq!(at(135), e + Span::minutes(135));
    assert_eq!(at(300), e + Span::minutes(135), "then about every 8 hours");
    assert_eq!(at(135 + 480), e + Span::minutes(135 + 480));

    let d = dir();
    let mut f = fleet(7, 0.0);
    f.seed(8, now(), &d);
    let dev = f.devices.iter_mut().find(|d| d.logon.is_none()).unwrap();
    let later = dev.enroll_at + Span::hours(4);
    let sync = |dev: &Device, t| dev.to_json(t, &d, true)["lastSyncDateTime"].clone();
    assert_eq!(sync(dev, later), iso(dev.enroll_at + Span::minutes(135)));
    assert_eq!(
        sync(dev, later),
        sync(dev, later + Span::hours(1)),
        "static"
    );
    dev.shape.extra_logons.push(("u-1".into(), later));
    assert_eq!(sync(dev, later), iso(later), "a sign-in runs a check-in");
    dev.syncs.push(later + Span::minutes(5));
    assert_eq!(sync(dev, later + Span::minutes(4)), iso(later));
    assert_eq!(
        sync(dev, later + Span::minutes(6)),
        iso(later + Span::minutes(5))
    );
}
