//! Table tests: every stage, every flag, and the list-vs-single disagreement rule.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::status::inputs::{LoggedOn, UserRef};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

const NOW: &str = "2026-11-22T10:00:00Z";
const STAGING: &str = "stage01@contoso.example";
const STAGING_ID: &str = "00000000-0000-0000-0000-00000000aaaa";

fn staging() -> StagingConfig {
    StagingConfig {
        accounts: vec![STAGING.into(), "stage02@contoso.example".into()],
    }
}

/// A fixture holding owned inputs; `derive` borrows them.
#[derive(Default, Clone)]
struct Fx {
    queue: Option<QueueInput>,
    identity: Option<IdentityInput>,
    device: Option<DeviceRow>,
    single: Option<SingleDevice>,
    report: Option<ReportRow>,
    previous: Option<(Stage, DateTime<Utc>)>,
    poll_failed: bool,
}

impl Fx {
    fn run(&self) -> Derived {
        let staging = staging();
        let th = Thresholds::default();
        derive(&Inputs {
            queue: self.queue.as_ref(),
            identity: self.identity.as_ref(),
            device: self.device.as_ref(),
            single: self.single.as_ref(),
            report: self.report.as_ref(),
            staging: &staging,
            thresholds: &th,
            previous: self.previous,
            poll_failed: self.poll_failed,
            now: t(NOW),
        })
    }
}

fn queued(state: EntryState, message: Option<&str>) -> Option<QueueInput> {
    Some(QueueInput {
        state,
        scanned_at: t("2026-11-22T08:00:00Z"),
        message: message.map(String::from),
    })
}

fn identity(state: EnrollmentState) -> Option<IdentityInput> {
    Some(IdentityInput {
        enrollment_state: state,
        last_contacted: None,
    })
}

fn device(upn: Option<&str>) -> Option<DeviceRow> {
    Some(DeviceRow {
        id: "md-1".into(),
        device_name: "DESKTOP-1".into(),
        user_principal_name: upn.map(Into::into),
        enrolled_at: Some(t("2026-11-22T09:10:00Z")),
        last_sync: Some(t("2026-11-22T09:55:00Z")),
        compliance: Some(crate::graph::models::ComplianceState::Compliant),
    })
}

fn report(status: &str, phase: &str, code: &str) -> Option<ReportRow> {
    Some(ReportRow {
        deployment_status: status.into(),
        phase: phase.into(),
        result_code: code.into(),
        upn: Some(STAGING.into()),
        enrollment_time: Some(t("2026-11-22T09:12:00Z")),
    })
}

fn user(id: &str, upn: &str) -> UserRef {
    UserRef {
        id: id.into(),
        upn: upn.into(),
    }
}

fn logon(id: &str, upn: Option<&str>, at: &str) -> LoggedOn {
    LoggedOn {
        user_id: id.into(),
        upn: upn.map(Into::into),
        at: t(at),
    }
}

fn base_enrolled() -> Fx {
    Fx {
        queue: queued(EntryState::Registered, None),
        identity: identity(EnrollmentState::Enrolled),
        device: device(Some(STAGING)),
        ..Fx::default()
    }
}

#[test]
fn every_stage_from_its_inputs() {
    let staging_primary = SingleDevice {
        enrolled_by: Some(STAGING.into()),
        users_logged_on: vec![logon(STAGING_ID, Some(STAGING), "2026-11-22T09:20:00Z")],
        primary: PrimaryRead::User(user(STAGING_ID, STAGING)),
    };
    let cases: Vec<(&str, Fx, Stage, &str)> = vec![
        (
            "only in the local queue",
            Fx {
                queue: queued(EntryState::Queued, None),
                ..Fx::default()
            },
            Stage::Queued,
            "waiting to be uploaded",
        ),
        (
            "upload failed locally is still queued",
            Fx {
                queue: queued(EntryState::Failed, Some("timed out")),
                ..Fx::default()
            },
            Stage::Queued,
            "upload failed: timed out",
        ),
        (
            "identity in Intune, no device",
            Fx {
                queue: queued(EntryState::Registered, None),
                identity: identity(EnrollmentState::NotContacted),
                ..Fx::default()
            },
            Stage::Registered,
            "notContacted",
        ),
        (
            "accepted by import, identity list not read yet",
            Fx {
                queue: queued(EntryState::Registered, None),
                ..Fx::default()
            },
            Stage::Registered,
            "accepted",
        ),
        (
            "managed device, no report",
            base_enrolled(),
            Stage::Enrolled,
            "no deployment report",
        ),
        (
            "report in progress",
            Fx {
                report: report("1", "2", "0"),
                ..base_enrolled()
            },
            Stage::Provisioning,
            "deploying, phase 2",
        ),
        (
            "report succeeded",
            Fx {
                report: report("2", "4", "0"),
                single: Some(staging_primary.clone()),
                ..base_enrolled()
            },
            Stage::Provisioned,
            "waiting for the user",
        ),
        (
            "import rejected",
            Fx {
                queue: queued(EntryState::Rejected, Some("ZeroSerial")),
                ..Fx::default()
            },
            Stage::Failed,
            "import rejected: ZeroSerial",
        ),
        (
            "enrollment failed",
            Fx {
                identity: identity(EnrollmentState::Failed),
                ..base_enrolled()
            },
            Stage::Failed,
            "enrollment failed",
        ),
        (
            "enrollment blocked",
            Fx {
                identity: identity(EnrollmentState::Blocked),
                device: None,
                ..base_enrolled()
            },
            Stage::Failed,
            "enrollment blocked",
        ),
        (
            "deployment failed",
            Fx {
                report: report("3", "2", "-2147023436"),
                ..base_enrolled()
            },
            Stage::Failed,
            "0x800705B4: securing the hardware failed: self-deploying mode needs a physical TPM 2.0 (not virtual, not 1.2) and Windows 10 1709 or later (1809 for hybrid join) (deployment, phase 2)",
        ),
        (
            "a real user signed in, primary still staging",
            Fx {
                report: report("2", "4", "0"),
                single: Some(SingleDevice {
                    users_logged_on: vec![
                        logon(STAGING_ID, Some(STAGING), "2026-11-22T09:20:00Z"),
                        logon("u-ghost", None, "2026-11-22T09:45:00Z"),
                        logon("u-ada", Some("ada@contoso.example"), "2026-11-22T09:40:00Z"),
                    ],
                    ..staging_primary.clone()
                }),
                ..base_enrolled()
            },
            Stage::InUse,
            "ada@contoso.example signed in 2026-11-22 09:40; primary user still stage01@contoso.example",
        ),
        (
            "primary user is a real user",
            Fx {
                report: report("2", "4", "0"),
                device: device(Some("ada@contoso.example")),
                ..base_enrolled()
            },
            Stage::Assigned,
            "primary user ada@contoso.example",
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (name, fx, stage, msg) in cases {
        let d = fx.run();
        assert_eq!(d.stage, stage, "{name}: {d:?}");
        assert!(d.message.contains(msg), "{name}: {:?}", d.message);
        seen.insert(stage);
    }
    assert_eq!(seen.len(), Stage::ALL.len(), "every stage is covered");
}

#[test]
fn failure_codes_are_kept() {
    let d = Fx {
        report: report("3", "1796", "-2147023436"),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.code.as_deref(), Some("-2147023436 (0x800705B4)"));
    let d = Fx {
        identity: identity(EnrollmentState::Blocked),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.code.as_deref(), Some("enrollmentState=blocked"));
}

#[test]
fn single_device_users_wins_over_the_list_row() {
    // The list still shows the real user (or lags): /users says the staging account.
    let d = Fx {
        device: device(Some("ada@contoso.example")),
        single: Some(SingleDevice {
            primary: PrimaryRead::User(user(STAGING_ID, STAGING)),
            ..SingleDevice::default()
        }),
        report: report("2", "4", "0"),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.stage, Stage::Provisioned);
    assert_eq!(d.primary_user.as_deref(), Some(STAGING));
    let note = d.disagreement.expect("disagreement noted");
    assert!(
        note.contains("ada@contoso.example") && note.contains(STAGING),
        "{note}"
    );

    // And the other way round: the list lags behind a change to a real user.
    let d = Fx {
        device: device(Some(STAGING)),
        single: Some(SingleDevice {
            primary: PrimaryRead::User(user("u-ada", "ada@contoso.example")),
            ..SingleDevice::default()
        }),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.stage, Stage::Assigned);
    assert_eq!(d.primary_user.as_deref(), Some("ada@contoso.example"));
    assert!(d.disagreement.is_some());

    // /users read: no primary user; the list's UPN is ignored.
    let d = Fx {
        device: device(Some("ada@contoso.example")),
        single: Some(SingleDevice {
            primary: PrimaryRead::NoUser,
            ..SingleDevice::default()
        }),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.primary_user, None);
    assert_eq!(d.stage, Stage::Enrolled);

    // Agreement (case-insensitive) is not a disagreement.
    let d = Fx {
        device: device(Some("ADA@contoso.example")),
        single: Some(SingleDevice {
            primary: PrimaryRead::User(user("u-ada", "ada@contoso.example")),
            ..SingleDevice::default()
        }),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.disagreement, None);
}

#[test]
fn an_unresolved_user_id_is_not_in_use() {
    let d = Fx {
        report: report("2", "4", "0"),
        single: Some(SingleDevice {
            users_logged_on: vec![logon("u-unknown", None, "2026-11-22T09:50:00Z")],
            primary: PrimaryRead::User(user(STAGING_ID, STAGING)),
            ..SingleDevice::default()
        }),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.stage, Stage::Provisioned);
}

#[test]
fn another_staging_account_signing_in_is_not_in_use() {
    let d = Fx {
        report: report("2", "4", "0"),
        single: Some(SingleDevice {
            users_logged_on: vec![logon(
                "u-s2",
                Some("STAGE02@contoso.example"),
                "2026-11-22T09:50:00Z",
            )],
            primary: PrimaryRead::User(user(STAGING_ID, STAGING)),
            ..SingleDevice::default()
        }),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.stage, Stage::Provisioned);
}

#[test]
fn stuck_after_the_threshold_in_provisioning_only() {
    let prov = |since: &str| Fx {
        report: report("1", "2", "0"),
        previous: Some((Stage::Provisioning, t(since))),
        ..base_enrolled()
    };
    // 30 minutes exactly is not stuck; 31 is.
    assert!(!prov("2026-11-22T09:30:00Z").run().flags.stuck);
    assert!(prov("2026-11-22T09:29:00Z").run().flags.stuck);
    // First sight: the report's enrollment time (09:12) is the evidence: 48 min, stuck.
    let d = Fx {
        report: report("1", "2", "0"),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.since, t("2026-11-22T09:12:00Z"));
    assert!(d.flags.stuck);
    // Registered for days is not stuck (no threshold for that stage).
    let d = Fx {
        identity: identity(EnrollmentState::NotContacted),
        device: None,
        previous: Some((Stage::Registered, t("2026-11-01T00:00:00Z"))),
        ..base_enrolled()
    }
    .run();
    assert!(!d.flags.stuck);
}

#[test]
fn a_stage_change_restarts_the_clock() {
    // Intune dates the new stage (the report's enrollment time, after the old stage began).
    let d = Fx {
        report: report("1", "2", "0"),
        previous: Some((Stage::Enrolled, t("2026-11-22T09:10:00Z"))),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.since, t("2026-11-22T09:12:00Z"));
    // Intune's time is older than the previous stage: the change is dated when it was seen.
    let d = Fx {
        report: report("1", "2", "0"),
        previous: Some((Stage::Enrolled, t("2026-11-22T09:30:00Z"))),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.since, t(NOW));
    assert!(!d.flags.stuck);
}

#[test]
fn time_in_stage_on_first_sight_comes_from_intune() {
    // A restart, or the one-shot CLI: nothing observed before, Intune's timestamps date it.
    let d = Fx {
        report: report("1", "2", "0"),
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.since, t("2026-11-22T09:12:00Z"));
    let d = Fx {
        report: None,
        ..base_enrolled()
    }
    .run();
    assert_eq!(d.since, t("2026-11-22T09:10:00Z"), "enrolledDateTime");
}

#[test]
fn custom_thresholds_apply_per_stage() {
    let th = Thresholds::from_profile_minutes(15).with(Stage::Enrolled, Duration::minutes(20));
    assert_eq!(th.limit(Stage::Provisioning), Some(Duration::minutes(15)));
    assert_eq!(th.limit(Stage::Enrolled), Some(Duration::minutes(20)));
    assert_eq!(th.limit(Stage::Queued), None);
}

#[test]
fn stale_and_noncompliant_flags() {
    let mut fx = base_enrolled();
    fx.poll_failed = true;
    if let Some(d) = fx.device.as_mut() {
        d.compliance = Some(crate::graph::models::ComplianceState::Noncompliant);
    }
    let d = fx.run();
    assert_eq!(d.flags.names(), vec!["stale", "noncompliant"]);
    let d = base_enrolled().run();
    assert!(d.flags.names().is_empty());
    let all = Flags {
        stuck: true,
        stale: true,
        noncompliant: true,
    };
    assert_eq!(
        serde_json::to_string(&all).unwrap(),
        r#"["stuck","stale","noncompliant"]"#
    );
}

#[test]
fn first_sight_uses_graph_timestamps_but_never_the_future() {
    let d = Fx {
        queue: queued(EntryState::Queued, None),
        ..Fx::default()
    }
    .run();
    assert_eq!(d.since, t("2026-11-22T08:00:00Z"));
    let mut fx = base_enrolled();
    if let Some(dev) = fx.device.as_mut() {
        dev.enrolled_at = Some(t("2026-11-22T11:00:00Z"));
    }
    assert_eq!(fx.run().since, t(NOW));
}
