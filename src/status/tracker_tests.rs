use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::status::Stage;
use crate::status::{EnrollmentState, UserRef};
use crate::store::EntryState;

fn t(m: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
        + Duration::minutes(m)
}

fn tracker() -> Tracker {
    Tracker::new(
        StagingConfig {
            accounts: vec!["stage01@contoso.example".into()],
        },
        Thresholds::default(),
    )
}

fn listed(serial: &str) -> Listed {
    let mut l = Listed {
        serials: vec![serial.into()],
        ..Listed::default()
    };
    l.queue.insert(
        serial_key(serial),
        QueueInput {
            state: EntryState::Registered,
            scanned_at: t(0),
            message: None,
        },
    );
    l
}

fn with_device(mut l: Listed, id: &str) -> Listed {
    let key = serial_key(&l.serials[0]);
    l.identities.insert(
        key.clone(),
        IdentityInput {
            enrollment_state: EnrollmentState::Enrolled,
            last_contacted: None,
        },
    );
    l.devices.insert(
        key,
        std::sync::Arc::new(DeviceRow {
            id: id.into(),
            device_name: "D".into(),
            user_principal_name: Some("stage01@contoso.example".into()),
            enrolled_at: Some(t(5)),
            last_sync: Some(t(6)),
            compliance: None,
        }),
    );
    l
}

#[test]
fn a_device_walks_the_pipeline_and_the_timeline_records_it() {
    let mut tr = tracker();
    let l = listed("pf1");
    assert!(
        tr.plan(&l, t(1)).is_empty(),
        "nothing to read before enrollment"
    );
    let rows = tr.finish(&l, t(1));
    assert_eq!(rows[0].stage, Stage::Registered);
    assert_eq!(&*rows[0].serial, "pf1");

    let mut l = with_device(listed("pf1"), "md-1");
    let plan = tr.plan(&l, t(10));
    assert_eq!(
        plan,
        vec![("PF1".to_string(), "md-1".to_string(), Read::Details)]
    );
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![],
        },
        t(10),
    );
    assert_eq!(tr.finish(&l, t(10))[0].stage, Stage::Enrolled);
    assert_eq!(
        tr.plan(&l, t(11))[0].2,
        Read::PrimaryUser,
        "the other read next"
    );

    l.report.insert(
        "PF1".into(),
        std::sync::Arc::new(ReportRow {
            deployment_status: "1".into(),
            phase: "2".into(),
            ..ReportRow::default()
        }),
    );
    assert_eq!(tr.finish(&l, t(12))[0].stage, Stage::Provisioning);
    // 31 minutes later in provisioning: stuck.
    let rows = tr.finish(&l, t(43));
    assert!(rows[0].flags.stuck);
    assert_eq!(rows[0].since, t(12));

    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-ada".into(),
            upn: "ada@contoso.example".into(),
        })),
        t(44),
    );
    let rows = tr.finish(&l, t(44));
    assert_eq!(rows[0].stage, Stage::Assigned);
    assert!(
        rows[0].message.contains("using /users"),
        "list still says staging: {}",
        rows[0].message
    );
    let stages: Vec<Stage> = rows[0].timeline.iter().map(|c| c.stage).collect();
    assert_eq!(
        stages,
        vec![
            Stage::Registered,
            Stage::Enrolled,
            Stage::Provisioning,
            Stage::Assigned
        ]
    );
    assert!(
        tr.plan(&l, t(45)).is_empty(),
        "assigned and confirmed: no more reads"
    );
}

#[test]
fn a_new_managed_device_id_discards_old_single_data() {
    let mut tr = tracker();
    let l = with_device(listed("pf1"), "md-1");
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-ada".into(),
            upn: "ada@contoso.example".into(),
        })),
        t(1),
    );
    assert_eq!(tr.finish(&l, t(1))[0].stage, Stage::Assigned);
    // Re-enrolled: another id; the old /users answer no longer applies.
    let l = with_device(listed("pf1"), "md-2");
    let rows = tr.finish(&l, t(2));
    assert_eq!(rows[0].stage, Stage::Enrolled);
    assert_eq!(tr.plan(&l, t(2))[0].1, "md-2");
}

#[test]
fn logged_on_ids_are_resolved_once_and_deleted_users_dropped() {
    let mut tr = tracker();
    let mut l = with_device(listed("pf1"), "md-1");
    l.report.insert(
        "PF1".into(),
        std::sync::Arc::new(ReportRow {
            deployment_status: "2".into(),
            ..ReportRow::default()
        }),
    );
    let logon = |id: &str, m| LoggedOn {
        user_id: id.into(),
        upn: None,
        at: t(m),
    };
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![logon("u-stage", 6), logon("u-ghost", 7), logon("u-ada", 30)],
        },
        t(31),
    );
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-stage".into(),
            upn: "stage01@contoso.example".into(),
        })),
        t(32),
    );
    assert_eq!(
        tr.finish(&l, t(32))[0].stage,
        Stage::Provisioned,
        "unresolved ids do not count"
    );
    assert_eq!(tr.plan(&l, t(33))[0].2, Read::User("u-ghost".into()));
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::User {
            id: "u-ghost".into(),
            upn: None,
        },
        t(33),
    );
    assert_eq!(tr.plan(&l, t(34))[0].2, Read::User("u-ada".into()));
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::User {
            id: "u-ada".into(),
            upn: Some("ada@contoso.example".into()),
        },
        t(34),
    );
    let rows = tr.finish(&l, t(35));
    assert_eq!(rows[0].stage, Stage::InUse);
    assert!(
        rows[0].message.starts_with("ada@contoso.example signed in"),
        "{}",
        rows[0].message
    );
    let logons = rows[0].raw.get("managedDevice.usersLoggedOn").unwrap();
    assert!(!logons.contains("u-ghost"), "{logons}");
    // Nothing left to resolve: back to alternating device reads.
    assert!(matches!(
        tr.plan(&l, t(36))[0].2,
        Read::Details | Read::PrimaryUser
    ));

    // The same answers read again (deleted user included) change nothing: the row keeps the
    // very same single-device data and is itself re-used.
    let shared = |tr: &Tracker| tr.kept["PF1"].single.clone().unwrap();
    let before = shared(&tr);
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![logon("u-stage", 6), logon("u-ghost", 7), logon("u-ada", 30)],
        },
        t(36),
    );
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-stage".into(),
            upn: "stage01@contoso.example".into(),
        })),
        t(37),
    );
    assert!(Arc::ptr_eq(&before, &shared(&tr)));
    let again = tr.finish(&l, t(35));
    assert!(Arc::ptr_eq(&rows[0], &again[0]));
    // A new sign-in is a change.
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![logon("u-stage", 6), logon("u-ada", 40)],
        },
        t(41),
    );
    assert!(!Arc::ptr_eq(&before, &shared(&tr)));
    assert_eq!(shared(&tr).users_logged_on[1].at, t(40));
}
