//! Retire and wipe against the simulated tenant: success with audit before/after, and every
//! refusal, with the simulator's request log proving no refused action reached it.

use chrono::Utc;
use stagehand::commands::devices::{DemoRole, DevicesSession, demo_session};
use stagehand::config::Config;
use stagehand::devices::{
    ActionContext, DestructiveRequest, DeviceKey, DevicesError, GuardRefusal, Lifecycle,
    ListFilter, run_destructive,
};
use stagehand::devices::{Destructive, list, resolve};
use stagehand::graph::models::{ManagementState, WipeOptions};
use stagehand::store::{AuditLog, AuditPhase, AuditRecord, StoreClient};

fn config() -> Config {
    let mut c = Config::default();
    c.staging.accounts = stagehand::sim::SimOptions::default().staging_accounts;
    c
}

/// A managed device with nothing pending (by its list row).
async fn some_serial(s: &DevicesSession, c: &Config) -> String {
    let rows = list(&s.client, &c.staging, &ListFilter::default())
        .await
        .unwrap();
    rows.iter()
        .find(|r| {
            r.management_state == Some(ManagementState::Managed) && r.stage != Lifecycle::Unassigned
        })
        .expect("the demo fleet has managed devices")
        .serial
        .clone()
}

/// POSTs to retire or wipe the simulator received.
fn destructive_calls(s: &DevicesSession) -> Vec<String> {
    s.sim
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && (r.path.ends_with("/retire") || r.path.ends_with("/wipe"))
        })
        .map(|r| r.path)
        .collect()
}

/// The store thread (the one audit writer) and a reader of its audit log.
struct Audit {
    client: StoreClient,
    log: AuditLog,
}

impl Audit {
    fn open(dir: &std::path::Path) -> Audit {
        let store = stagehand::store::open_headless(dir).unwrap();
        Audit {
            client: store.client().unwrap(),
            log: AuditLog::open(dir).unwrap(),
        }
    }
}

async fn attempt(
    s: &DevicesSession,
    c: &Config,
    audit: &mut Audit,
    req: &DestructiveRequest,
    final_answer: bool,
) -> Result<stagehand::devices::ActionOutcome, DevicesError> {
    let ctx = ActionContext {
        client: &s.client,
        config: c,
        audit: &audit.client,
        actor: &s.actor,
        now: &Utc::now,
    };
    run_destructive(ctx, req, |_| final_answer).await
}

fn records(audit: &Audit) -> Vec<AuditRecord> {
    let read = audit.log.read_all().unwrap();
    assert!(read.damaged.is_empty(), "{:?}", read.damaged);
    read.records
}

fn wipe(serial: &str, confirm: Option<&str>) -> DestructiveRequest {
    DestructiveRequest {
        serial: serial.into(),
        confirm: confirm.map(String::from),
        action: Destructive::Wipe(WipeOptions {
            keep_enrollment_data: true,
            ..WipeOptions::default()
        }),
    }
}

#[tokio::test]
async fn wipe_goes_through_once_with_audit_before_and_after_then_refuses_while_pending() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let c = config();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = Audit::open(dir.path());
    let serial = some_serial(&s, &c).await;

    let done = attempt(
        &s,
        &c,
        &mut audit,
        &wipe(&serial, Some(&serial.to_lowercase())),
        true,
    )
    .await
    .unwrap();
    let calls = destructive_calls(&s);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].ends_with(&format!("{}/wipe", done.device_id)),
        "{calls:?}"
    );
    let rec = records(&audit);
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0].phase, AuditPhase::Before);
    assert_eq!(rec[0].result, None);
    assert_eq!(rec[1].phase, AuditPhase::After);
    assert_eq!(rec[1].result.as_deref(), Some("ok"));
    assert_eq!(rec[1].device_id.as_deref(), Some(done.device_id.as_str()));
    assert!(done.request_id.is_some());
    assert_eq!(rec[1].request_id, done.request_id);
    for r in &rec {
        assert_eq!(
            (r.actor.as_str(), r.action.as_str()),
            ("lead@contoso.example", "wipe")
        );
        assert_eq!(r.serial.as_deref(), Some(serial.as_str()));
        assert_eq!(r.options["keepEnrollmentData"], true);
        assert_eq!(r.options["keepUserData"], false);
    }
    let now = s
        .client
        .get_managed_device(&done.device_id, &[])
        .await
        .unwrap();
    assert_eq!(now.management_state, Some(ManagementState::WipePending));

    // A second wipe (or a retire) while the first is pending never reaches Intune.
    for req in [
        wipe(&serial, Some(&serial)),
        DestructiveRequest {
            action: Destructive::Retire,
            ..wipe(&serial, Some(&serial))
        },
    ] {
        let err = attempt(&s, &c, &mut audit, &req, true).await.unwrap_err();
        assert!(
            matches!(
                err,
                DevicesError::Refused(GuardRefusal::AlreadyPending { .. })
            ),
            "{err}"
        );
    }
    assert_eq!(destructive_calls(&s).len(), 1);
    let rec = records(&audit);
    assert_eq!(rec.len(), 6);
    assert!(
        rec[3]
            .result
            .as_deref()
            .unwrap()
            .starts_with("refused: a wipe is already pending")
    );
    assert!(
        rec[5]
            .result
            .as_deref()
            .unwrap()
            .starts_with("refused: a wipe is already pending")
    );
}

#[tokio::test]
async fn retire_goes_through_with_audit_and_a_repeat_is_refused() {
    let s = demo_session(11, DemoRole::Admin).await.unwrap();
    let c = config();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = Audit::open(dir.path());
    let serial = some_serial(&s, &c).await;
    let retire = DestructiveRequest {
        serial: serial.clone(),
        confirm: Some(serial.clone()),
        action: Destructive::Retire,
    };
    let done = attempt(&s, &c, &mut audit, &retire, true).await.unwrap();
    assert_eq!(
        destructive_calls(&s),
        vec![format!(
            "/beta/deviceManagement/managedDevices/{}/retire",
            done.device_id
        )]
    );
    let d = resolve(&s.client, &DeviceKey::Serial(serial.clone()))
        .await
        .unwrap();
    assert_eq!(d.management_state, Some(ManagementState::RetirePending));
    let err = attempt(&s, &c, &mut audit, &retire, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DevicesError::Refused(GuardRefusal::AlreadyPending { ref what }) if what == "a retire"),
        "{err}"
    );
    assert_eq!(destructive_calls(&s).len(), 1);
    let rec = records(&audit);
    let results: Vec<_> = rec.iter().map(|r| (r.phase, r.result.clone())).collect();
    assert_eq!(results[0], (AuditPhase::Before, None));
    assert_eq!(results[1], (AuditPhase::After, Some("ok".into())));
    assert_eq!(results[2], (AuditPhase::Before, None));
    assert!(
        results[3]
            .1
            .as_deref()
            .unwrap()
            .starts_with("refused: a retire")
    );
    assert_eq!(rec[1].options, serde_json::Value::Null);
}

/// Every refusal: nothing reaches retire/wipe, each attempt is audited with its refusal.
#[tokio::test]
async fn refusals_never_reach_intune_and_are_all_audited() {
    let admin = demo_session(7, DemoRole::Admin).await.unwrap();
    let tech = demo_session(7, DemoRole::Technician).await.unwrap();
    let mut c = config();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = Audit::open(dir.path());
    let serial = some_serial(&admin, &c).await;
    let twin = admin
        .sim
        .as_ref()
        .unwrap()
        .duplicate_serial(&serial)
        .unwrap();

    // Missing and wrong confirmation: refused before anything is asked of Graph.
    let before = admin.sim.as_ref().unwrap().requests().len();
    for (confirm, want) in [
        (None, "type the device's serial"),
        (Some("5CG0000000"), "does not match"),
    ] {
        let err = attempt(&admin, &c, &mut audit, &wipe(&serial, confirm), true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    assert_eq!(admin.sim.as_ref().unwrap().requests().len(), before);

    // Ambiguous serial: two devices carry it.
    let err = attempt(&admin, &c, &mut audit, &wipe(&serial, Some(&serial)), true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DevicesError::Refused(GuardRefusal::Ambiguous { count: 2, .. })
        ),
        "{err}"
    );
    // Unknown serial.
    let err = attempt(
        &admin,
        &c,
        &mut audit,
        &wipe("NOSUCH123", Some("NOSUCH123")),
        true,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DevicesError::Refused(GuardRefusal::NoDevice { .. })),
        "{err}"
    );
    // Declined at the last question (a second, unambiguous device).
    let other = list(&admin.client, &c.staging, &ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.serial != serial && r.management_state == Some(ManagementState::Managed))
        .unwrap()
        .serial;
    let err = attempt(&admin, &c, &mut audit, &wipe(&other, Some(&other)), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DevicesError::Refused(GuardRefusal::Declined)),
        "{err}"
    );
    assert!(destructive_calls(&admin).is_empty());
    assert!(!twin.is_empty());

    // No role: the technician is asked about through Graph, at the time of the action.
    let err = attempt(&tech, &c, &mut audit, &wipe(&other, Some(&other)), true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DevicesError::Refused(GuardRefusal::NoRole { .. })),
        "{err}"
    );
    // Configured RBAC roles the technician does not hold: the Intune RBAC call is made too.
    c.roles.destructive_rbac_roles = vec!["0bd113fe-6be5-400c-a28f-ae5553f9c0be".into()];
    let retire = DestructiveRequest {
        action: Destructive::Retire,
        ..wipe(&other, Some(&other))
    };
    let err = attempt(&tech, &c, &mut audit, &retire, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DevicesError::Refused(GuardRefusal::NoRole { .. })),
        "{err}"
    );
    let tech_routes: Vec<String> = tech
        .sim
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        tech_routes
            .iter()
            .filter(|p| p.ends_with("/me/transitiveMemberOf"))
            .count(),
        2
    );
    assert_eq!(
        tech_routes
            .iter()
            .filter(|p| p.ends_with("/getAssignedRoleDetails"))
            .count(),
        1
    );
    assert!(destructive_calls(&tech).is_empty());

    // Seven attempts, each a Before and an After carrying its refusal.
    let rec = records(&audit);
    assert_eq!(rec.len(), 14);
    let outcomes: Vec<String> = rec
        .chunks(2)
        .map(|p| {
            assert_eq!(
                (p[0].phase, p[1].phase),
                (AuditPhase::Before, AuditPhase::After)
            );
            assert_eq!(p[0].result, None);
            p[1].result.clone().unwrap()
        })
        .collect();
    let wants = [
        "refused: type the device's serial",
        "refused: confirmation \"5CG0000000\"",
        "refused: serial",
        "refused: no managed device has serial \"NOSUCH123\"",
        "refused: not confirmed",
        "refused: adele.vance@contoso.example holds neither",
        "refused: adele.vance@contoso.example holds neither",
    ];
    for (got, want) in outcomes.iter().zip(wants) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
    assert!(outcomes[2].contains("matches 2 managed devices"));
    assert_eq!(rec[12].action, "retire");
    assert_eq!(rec[13].actor, "adele.vance@contoso.example");
}

/// Hands `Before` records to the store thread and refuses the `After` record, as a disk that
/// filled up between the two would.
struct AfterFails(StoreClient);

impl stagehand::store::AuditSink for AfterFails {
    fn record(&self, record: AuditRecord) -> futures::future::BoxFuture<'_, Result<(), String>> {
        if record.phase == AuditPhase::After {
            return Box::pin(async { Err("audit.jsonl: fsync: No space left on device".into()) });
        }
        Box::pin(self.0.audit(record))
    }
}

/// A wipe sent and accepted whose `After` record fails is reported as exactly that, with its own
/// exit code, never as an error suggesting nothing was sent; the wipe went out once.
#[tokio::test]
async fn a_wipe_sent_whose_after_record_fails_says_so_with_its_own_exit_code() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let c = config();
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::open(dir.path());
    let sink = AfterFails(audit.client.clone());
    let serial = some_serial(&s, &c).await;
    let req = wipe(&serial, Some(&serial));
    let ctx = ActionContext {
        client: &s.client,
        config: &c,
        audit: &sink,
        actor: &s.actor,
        now: &Utc::now,
    };
    let outcome = run_destructive(ctx, &req, |_| true).await;
    let Err(DevicesError::Unrecorded { done, reason }) = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("No space left"), "{reason}");
    assert_eq!(done.serial, serial);
    assert_eq!(destructive_calls(&s).len(), 1, "sent once");
    let rec = records(&audit);
    assert_eq!(rec.len(), 1, "only the before-record is on disk: {rec:?}");
    assert_eq!(rec[0].phase, AuditPhase::Before);

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = stagehand::commands::devices::report_destructive(&req, outcome, &mut out, &mut err)
        .unwrap();
    assert_eq!(
        code,
        std::process::ExitCode::from(stagehand::commands::devices::EXIT_UNRECORDED)
    );
    let said = String::from_utf8(err).unwrap();
    assert!(
        said.contains("wipe sent and accepted")
            && said.contains("the audit 'after' record could not be written"),
        "{said}"
    );
    assert!(out.is_empty());
}

/// Intune itself refuses retire and wipe to a user without an Intune role, whatever the client
/// concluded: the simulator must not trust the client's guard (or a misread token) as the only
/// check. A technician's client that skips the guard gets 403 and nothing changes.
#[tokio::test]
async fn the_simulator_refuses_retire_and_wipe_to_a_user_without_a_role() {
    let admin = demo_session(7, DemoRole::Admin).await.unwrap();
    let tech = demo_session(7, DemoRole::Technician).await.unwrap();
    let c = config();
    let serial = some_serial(&admin, &c).await;
    let device = resolve(&tech.client, &DeviceKey::Serial(serial.clone()))
        .await
        .unwrap();
    let id = device.id.clone();
    let err = tech.client.retire(&id).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let err = tech
        .client
        .wipe(&id, &WipeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let after = resolve(&tech.client, &DeviceKey::Id(id.clone()))
        .await
        .unwrap();
    assert_eq!(after.management_state, Some(ManagementState::Managed));
    // The lead, who holds Intune Administrator, is still allowed.
    admin.client.retire(&id).await.unwrap();
}
