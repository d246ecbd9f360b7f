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
        SerialKey::new(serial),
        QueueInput {
            state: EntryState::Registered,
            scanned_at: t(0),
            message: None,
        },
    );
    l
}

/// The key a read is answered under: what the listed row of `l`'s first serial shows.
fn key(l: &Listed) -> RowKey {
    RowKey::of(&l.devices[&l.serials[0].key])
}

fn reads(plan: &[PlannedRead]) -> Vec<(&str, Read)> {
    plan.iter()
        .map(|r| (r.device_id.as_str(), r.read))
        .collect()
}

/// The device of `l`'s first serial checks in at `m` (its list row's sync time moves).
fn synced(mut l: Listed, m: i64) -> Listed {
    let k = l.serials[0].key.clone();
    let mut row = (*l.devices[&k]).clone();
    row.last_sync = Some(t(m));
    l.devices.insert(k, std::sync::Arc::new(row));
    l
}

fn with_device(mut l: Listed, id: &str) -> Listed {
    let key = l.serials[0].key.clone();
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
        tr.plan(&l, t(1), false).is_empty(),
        "nothing to read before enrollment"
    );
    let rows = tr.finish(&l, t(1));
    assert_eq!(rows[0].stage, Stage::Registered);
    assert_eq!(&*rows[0].serial, "pf1");

    let mut l = with_device(listed("pf1"), "md-1");
    let plan = tr.plan(&l, t(10), false);
    assert_eq!(
        reads(&plan),
        vec![("md-1", Read::Details), ("md-1", Read::PrimaryUser)],
        "both reads the first time"
    );
    assert_eq!(plan[0].serial, SerialKey::new("PF1"));
    assert_eq!(plan[0].row, key(&l));
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![],
        },
        key(&l),
    );
    assert_eq!(tr.finish(&l, t(10))[0].stage, Stage::Enrolled);
    assert_eq!(
        reads(&tr.plan(&l, t(11), false)),
        vec![("md-1", Read::PrimaryUser)],
        "only the read not answered yet"
    );
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-stage".into(),
            upn: "stage01@contoso.example".into(),
        })),
        key(&l),
    );
    assert!(tr.plan(&l, t(11), false).is_empty(), "nothing moved");
    assert_eq!(tr.pending(&l, t(11)), 0);

    l.report.insert(
        "PF1".into(),
        std::sync::Arc::new(ReportRow {
            deployment_status: "1".into(),
            phase: "2".into(),
            ..ReportRow::default()
        }),
    );
    assert_eq!(tr.finish(&l, t(12))[0].stage, Stage::Provisioning);
    assert!(
        tr.plan(&l, t(12), false).is_empty(),
        "a report change needs no device read"
    );
    // 31 minutes later in provisioning: stuck.
    let rows = tr.finish(&l, t(43));
    assert!(rows[0].flags.stuck);
    assert_eq!(rows[0].since, t(12));

    // The device checks in: its details are read again, and only they.
    let l = synced(l, 44);
    assert_eq!(
        reads(&tr.plan(&l, t(44), false)),
        vec![("md-1", Read::Details)]
    );
    // The lead asks for a refresh: both again, moved or not.
    assert_eq!(tr.plan(&l, t(44), true).len(), 2);
    // Handed over: the list row names the new primary user, so /users is read again.
    let mut l = l;
    let mut row = (*l.devices[&SerialKey::new("PF1")]).clone();
    row.user_principal_name = Some("ada@contoso.example".into());
    l.devices.insert("PF1".into(), std::sync::Arc::new(row));
    let plan = tr.plan(&l, t(45), false);
    assert!(plan.iter().any(|r| r.read == Read::PrimaryUser), "{plan:?}");
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-ada".into(),
            upn: "ada@contoso.example".into(),
        })),
        key(&l),
    );
    let rows = tr.finish(&l, t(45));
    assert_eq!(rows[0].stage, Stage::Assigned);
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
        tr.plan(&synced(l, 50), t(50), false).is_empty(),
        "assigned and confirmed: no more reads, check-ins or not"
    );
}

#[test]
fn the_list_row_lagging_behind_users_is_reported_and_settles() {
    let mut tr = tracker();
    let l = with_device(listed("pf1"), "md-1");
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-ada".into(),
            upn: "ada@contoso.example".into(),
        })),
        key(&l),
    );
    let rows = tr.finish(&l, t(44));
    assert_eq!(rows[0].stage, Stage::Assigned);
    assert!(
        rows[0].message.contains("using /users"),
        "list still says staging: {}",
        rows[0].message
    );
}

#[test]
fn only_stages_the_reads_can_change_are_read() {
    let mut tr = tracker();
    let mut l = with_device(listed("pf1"), "md-1");
    // Enrollment failed per the deployment report: nothing a device read says changes that.
    l.report.insert(
        "PF1".into(),
        std::sync::Arc::new(ReportRow {
            deployment_status: "3".into(),
            ..ReportRow::default()
        }),
    );
    assert_eq!(tr.finish(&l, t(10))[0].stage, Stage::Failed);
    assert!(tr.plan(&l, t(10), false).is_empty());
    assert!(tr.plan(&synced(l.clone(), 20), t(20), true).is_empty());
    assert_eq!(
        tr.wanted(&l, t(20)),
        plan::Wanted::default(),
        "a failed device asks for neither report nor identities"
    );
    let queued = listed("pf2");
    assert!(tr.wanted(&queued, t(20)).identities);
    let enrolled = with_device(listed("pf3"), "md-3");
    assert!(tr.wanted(&enrolled, t(20)).report);
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
        key(&l),
    );
    assert_eq!(tr.finish(&l, t(1))[0].stage, Stage::Assigned);
    // Re-enrolled: another id; the old /users answer no longer applies.
    let l = with_device(listed("pf1"), "md-2");
    let rows = tr.finish(&l, t(2));
    assert_eq!(rows[0].stage, Stage::Enrolled);
    assert_eq!(tr.plan(&l, t(2), false)[0].device_id, "md-2");
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
    // A second device the same people signed in to.
    let mut two = with_device(listed("pf2"), "md-2");
    l.serials.push("pf2".into());
    l.devices.insert(
        "PF2".into(),
        two.devices.remove(&SerialKey::new("PF2")).unwrap(),
    );
    l.report
        .insert("PF2".into(), l.report[&SerialKey::new("PF1")].clone());
    let logon = |id: &str, m| LoggedOn {
        user_id: id.into(),
        upn: None,
        at: t(m),
    };
    for (serial, id) in [("pf1", "md-1"), ("pf2", "md-2")] {
        let row = RowKey::of(&l.devices[&SerialKey::new(serial)]);
        tr.record(
            serial,
            id,
            ReadAnswer::Details {
                enrolled_by: Some("stage01@contoso.example".into()),
                users_logged_on: vec![logon("u-stage", 6), logon("u-ghost", 7), logon("u-ada", 30)],
            },
            row.clone(),
        );
        tr.record(
            serial,
            id,
            ReadAnswer::Primary(PrimaryRead::User(UserRef {
                id: "u-stage".into(),
                upn: "stage01@contoso.example".into(),
            })),
            row,
        );
    }
    assert_eq!(
        tr.finish(&l, t(32))[0].stage,
        Stage::Provisioned,
        "unresolved ids do not count"
    );
    assert!(tr.plan(&l, t(33), false).is_empty());
    assert_eq!(
        tr.unresolved_users(&l),
        vec!["u-ada".to_string(), "u-ghost".to_string()],
        "each id once, whichever devices it signed in to; the primary user is known"
    );
    assert_eq!(tr.pending(&l, t(33)), 2);
    tr.record_users([
        ("u-ghost".to_string(), None),
        ("u-ada".to_string(), Some("ada@contoso.example".to_string())),
    ]);
    assert!(tr.unresolved_users(&l).is_empty());
    assert_eq!(tr.pending(&l, t(34)), 0);
    let rows = tr.finish(&l, t(35));
    for r in &rows {
        assert_eq!(r.stage, Stage::InUse, "{r:?}");
        assert!(
            r.message.starts_with("ada@contoso.example signed in"),
            "{}",
            r.message
        );
        let logons = r.raw.get("managedDevice.usersLoggedOn").unwrap();
        assert!(!logons.contains("u-ghost"), "{logons}");
    }
    assert!(
        tr.plan(&l, t(36), false).is_empty(),
        "in use, nothing moved"
    );

    // The same answers read again (deleted user included) change nothing: the row keeps the
    // very same single-device data and is itself re-used.
    let shared = |tr: &Tracker| tr.kept[&SerialKey::new("PF1")].single.clone().unwrap();
    let before = shared(&tr);
    let k = key(&l);
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![logon("u-stage", 6), logon("u-ghost", 7), logon("u-ada", 30)],
        },
        k.clone(),
    );
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Primary(PrimaryRead::User(UserRef {
            id: "u-stage".into(),
            upn: "stage01@contoso.example".into(),
        })),
        k.clone(),
    );
    assert!(Arc::ptr_eq(&before, &shared(&tr)));
    let again = tr.finish(&l, t(35));
    assert!(Arc::ptr_eq(&rows[0], &again[0]));
    assert!(tr.unresolved_users(&l).is_empty(), "known ids stay known");
    // A new sign-in is a change.
    tr.record(
        "pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![logon("u-stage", 6), logon("u-ada", 40)],
        },
        k,
    );
    assert!(!Arc::ptr_eq(&before, &shared(&tr)));
    assert_eq!(shared(&tr).users_logged_on[1].at, t(40));
}

#[test]
fn changes_are_kept_for_the_store_only_once_restored_and_a_restore_continues_the_timeline() {
    // Without a store nothing piles up.
    let mut plain = tracker();
    plain.finish(&listed("PF1"), t(1));
    assert!(plain.take_changes().is_empty());

    // Run 1: registered (dated by the scan, t(0)), then the device enrolls (enrolledDateTime, t(5)).
    let mut first = tracker();
    first.restore(&Default::default());
    first.finish(&listed("pf1"), t(1));
    first.finish(&with_device(listed("pf1"), "md-1"), t(7));
    let changes = first.take_changes();
    let got: Vec<_> = changes
        .iter()
        .map(|c| (c.serial.as_str(), c.at, c.stage.as_str()))
        .collect();
    assert_eq!(
        got,
        [("PF1", t(0), "registered"), ("PF1", t(5), "enrolled")]
    );
    assert!(first.take_changes().is_empty(), "handed out once");

    // Run 2 restores what the store holds: a later poll keeps the start and the timeline.
    let mut stored = crate::store::timeline::Timelines::new();
    stored.insert(
        "PF1".into(),
        changes.iter().map(|c| (c.at, c.stage.clone())).collect(),
    );
    let mut second = tracker();
    second.restore(&stored);
    let row = second
        .finish(&with_device(listed("PF1"), "md-1"), t(60))
        .remove(0);
    assert_eq!((row.stage, row.since), (Stage::Enrolled, t(5)));
    let timeline: Vec<_> = row.timeline.iter().map(|c| (c.at, c.stage)).collect();
    assert_eq!(
        timeline,
        [(t(0), Stage::Registered), (t(5), Stage::Enrolled)]
    );
    assert!(second.take_changes().is_empty(), "nothing new was seen");

    // A change that could not be saved goes out again with the next ones.
    second.unsaved(changes.clone());
    assert_eq!(second.take_changes(), changes);
}

#[test]
fn two_spellings_of_one_serial_are_one_device_in_the_tracker() {
    let mut tr = tracker();
    // Scanned as "pf1 ", listed by Intune as "PF1": one key, one kept state.
    let l = with_device(listed(" pf1 "), "md-1");
    assert_eq!(l.serials[0].key, SerialKey::new("PF1"));
    let plan = tr.plan(&l, t(10), false);
    assert_eq!(plan[0].serial, SerialKey::new("pf1"));
    tr.record(
        "Pf1",
        "md-1",
        ReadAnswer::Details {
            enrolled_by: Some("stage01@contoso.example".into()),
            users_logged_on: vec![],
        },
        key(&l),
    );
    assert_eq!(
        tr.enrolled_by(&SerialKey::new("PF1")),
        Some("stage01@contoso.example")
    );
    let rows = tr.finish(&l, t(10));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].stage, Stage::Enrolled);
    // The row shows the serial as scanned; the state is kept once, under the key.
    assert_eq!(&*rows[0].serial, " pf1 ");
    assert_eq!(tr.kept.len(), 1);
    assert_eq!(
        reads(&tr.plan(&l, t(11), false)),
        vec![("md-1", Read::PrimaryUser)],
        "the answer recorded under another spelling counts"
    );
}
