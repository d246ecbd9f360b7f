//! State tests: keys and feed answers in, fields and commands out. No terminal, no runtime.

use chrono::Duration;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::app::status::StatusMsg;
use crate::app::{App, Cmd, Msg, Pane};
use crate::config::Config;
use crate::devices::{Destructive, DeviceDetail};
use crate::graph::models::ComplianceState;
use crate::status::{DeviceStatus, Stage};

pub(crate) use crate::app::status::tests::t0;

/// The status pane's fixture row, as Intune reports an enrolled device; enrolled stages get a
/// managed device id `md-SERIAL`.
pub(crate) fn row(serial: &str, stage: Stage, minutes_in_stage: i64) -> DeviceStatus {
    DeviceStatus {
        enrollment_state: Some(crate::graph::models::EnrollmentState::Enrolled),
        ..crate::app::status::tests::row(serial, stage, minutes_in_stage)
    }
}

pub(crate) fn fleet() -> Vec<DeviceStatus> {
    let mut a1 = row("A1", Stage::Assigned, 5);
    a1.primary_user = Some("adele.vance@contoso.example".into());
    let mut d4 = row("D4", Stage::Failed, 10);
    d4.compliance = Some(crate::graph::models::ComplianceState::Noncompliant);
    let mut e5 = row("E5", Stage::Provisioning, 3);
    e5.compliance = Some(crate::graph::models::ComplianceState::Noncompliant);
    vec![
        row("C3", Stage::Provisioning, 40),
        a1,
        row("B2", Stage::Queued, 1),
        d4,
        e5,
    ]
}

pub(crate) fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(crate) fn chars(a: &mut App, text: &str) -> Vec<Cmd> {
    text.chars()
        .flat_map(|c| a.update(key(KeyCode::Char(c))))
        .collect()
}

/// The status pane at 80x24 with `fleet()` loaded, sorted by serial.
pub(crate) fn app() -> App {
    let mut a = App::new(Config::default(), t0());
    a.update(key(KeyCode::F(3)));
    a.update(Msg::Resize {
        width: 80,
        height: 24,
    });
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: fleet().into_iter().map(std::sync::Arc::new).collect(),
    }));
    a.settle();
    a
}

fn visible(a: &App) -> Vec<&str> {
    let mut v: Vec<&str> = a
        .status
        .list
        .visible()
        .iter()
        .map(|&i| &*a.status.rows[i].serial)
        .collect();
    v.sort_unstable();
    v
}

fn select(a: &mut App, serial: &str) {
    a.update(key(KeyCode::Home));
    while a.status.selected().map(|r| &*r.serial) != Some(serial) {
        let before = a.status.list.cursor();
        a.update(key(KeyCode::Down));
        assert_ne!(before, a.status.list.cursor(), "{serial} is not visible");
    }
}

pub(crate) fn detail(serial: &str) -> DeviceDetail {
    DeviceDetail {
        id: format!("md-{serial}"),
        serial: serial.into(),
        name: format!("DESKTOP-{serial}"),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        operating_system: "Windows".into(),
        os_version: "10.0.26100.2314".into(),
        last_sync: Some(t0() - Duration::minutes(2)),
        compliance: Some(ComplianceState::Compliant),
        primary_user: Some("stage01@contoso.example".into()),
        enrolled_by: Some("stage01@contoso.example".into()),
        enrollment_profile: Some("Device preparation".into()),
        join_type: Some(crate::graph::models::JoinType::AzureAdJoined),
        management_state: Some(crate::graph::models::ManagementState::Managed),
        pending_actions: vec![crate::devices::show::PendingAction {
            action: "syncDevice".into(),
            state: Some(crate::graph::models::ActionState::Pending),
            started: Some(t0() - Duration::minutes(1)),
            updated: Some(t0() - Duration::minutes(1)),
        }],
        corporate_identifier: Some(crate::devices::show::CorporateIdentifier {
            id: Some("imp-1".into()),
            identifier: format!("Contoso,Laptop 7,{serial}"),
            enrollment_state: Some(crate::graph::models::EnrollmentState::Enrolled),
        }),
        deployment: None,
    }
}

#[test]
fn stage_compliance_and_user_filters_combine_with_the_text_filter_and_x_clears_them_all() {
    let mut a = app();
    assert_eq!(visible(&a), ["A1", "B2", "C3", "D4", "E5"]);
    // g: queued, registered, enrolled, provisioning.
    chars(&mut a, "gggg");
    a.settle();
    assert_eq!(a.status.facets.stage, Some(Stage::Provisioning));
    assert_eq!(visible(&a), ["C3", "E5"]);
    // c: compliant, then noncompliant.
    chars(&mut a, "cc");
    a.settle();
    assert_eq!(visible(&a), ["E5"]);
    assert!(!a.typing());
    chars(&mut a, "g");
    a.settle();
    assert_eq!(visible(&a), [] as [&str; 0], "provisioned: nothing");
    chars(&mut a, "gggg");
    a.settle();
    assert_eq!(a.status.facets.stage, None);
    assert_eq!(visible(&a), ["D4", "E5"], "noncompliant at any stage");
    // u: typing goes to the user filter, not to the keymap (q would quit).
    chars(&mut a, "u");
    assert!(a.typing());
    chars(&mut a, "q");
    assert!(!a.quit);
    a.update(key(KeyCode::Backspace));
    chars(&mut a, "STAGE01");
    a.update(key(KeyCode::Enter));
    a.settle();
    assert!(!a.typing());
    assert_eq!(visible(&a), ["D4", "E5"]);
    // The / text filter narrows further.
    chars(&mut a, "/");
    chars(&mut a, "fail");
    a.update(key(KeyCode::Enter));
    a.settle();
    assert_eq!(visible(&a), ["D4"]);
    chars(&mut a, "x");
    a.settle();
    assert!(a.status.facets.is_empty() && a.status.filter.text.is_empty());
    assert_eq!(visible(&a), ["A1", "B2", "C3", "D4", "E5"]);
    // A user part only one primary user has.
    chars(&mut a, "uadele");
    a.update(key(KeyCode::Enter));
    a.settle();
    assert_eq!(visible(&a), ["A1"]);
}

#[test]
fn enter_fetches_the_device_once_and_stale_or_late_answers_are_dropped() {
    let mut a = app();
    select(&mut a, "C3");
    let cmds = a.update(key(KeyCode::Enter));
    assert!(a.status.detail);
    assert_eq!(
        cmds,
        vec![Cmd::Devices(DevicesCmd::Show {
            generation: 1,
            key: DeviceKey::Id("md-C3".into()),
        })]
    );
    assert_eq!(
        a.devices.detail,
        DetailLoad::Loading {
            serial: "C3".into()
        }
    );
    // Refresh in the detail view fetches again (and polls the status feed); the first answer is
    // now stale.
    let cmds = a.update(key(KeyCode::Char('r')));
    assert!(cmds.contains(&Cmd::Devices(DevicesCmd::Show {
        generation: 2,
        key: DeviceKey::Id("md-C3".into()),
    })));
    a.update(Msg::Devices(DevicesMsg::Detail {
        generation: 1,
        result: Ok(Box::new(detail("OLD"))),
    }));
    assert!(matches!(a.devices.detail, DetailLoad::Loading { .. }));
    a.update(Msg::Devices(DevicesMsg::Detail {
        generation: 2,
        result: Ok(Box::new(detail("C3"))),
    }));
    let DetailLoad::Ready {
        serial, deployment, ..
    } = &a.devices.detail
    else {
        panic!("{:?}", a.devices.detail)
    };
    assert_eq!(
        (serial.as_str(), deployment),
        ("C3", &DeploymentLoad::Loading)
    );
    a.update(Msg::Devices(DevicesMsg::Deployment {
        generation: 2,
        result: Err("report export failed".into()),
    }));
    assert!(matches!(
        &a.devices.detail,
        DetailLoad::Ready { deployment: DeploymentLoad::Failed(e), .. } if e == "report export failed"
    ));
    // Esc closes; an answer arriving after that is dropped.
    a.update(key(KeyCode::Esc));
    assert!(!a.status.detail);
    assert_eq!(a.devices.detail, DetailLoad::Idle);
    a.update(Msg::Devices(DevicesMsg::Detail {
        generation: 2,
        result: Ok(Box::new(detail("C3"))),
    }));
    assert_eq!(a.devices.detail, DetailLoad::Idle);
}

#[test]
fn a_row_without_a_managed_device_is_fetched_by_serial_and_failures_are_kept() {
    let mut a = app();
    select(&mut a, "B2");
    let cmds = a.update(key(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Cmd::Devices(DevicesCmd::Show {
            generation: 1,
            key: DeviceKey::Serial("B2".into()),
        })]
    );
    a.update(Msg::Devices(DevicesMsg::Detail {
        generation: 1,
        result: Err("no managed device with serial \"B2\"".into()),
    }));
    assert!(matches!(&a.devices.detail, DetailLoad::Failed { serial, .. } if serial == "B2"));
}

#[test]
fn sync_works_on_the_selected_row_and_in_the_detail_view_and_reports_the_outcome() {
    let mut a = app();
    select(&mut a, "E5");
    let cmds = a.update(key(KeyCode::Char('y')));
    assert_eq!(
        cmds,
        vec![Cmd::Devices(DevicesCmd::Sync {
            serial: "E5".into(),
            key: DeviceKey::Id("md-E5".into()),
        })]
    );
    a.update(Msg::Devices(DevicesMsg::Synced {
        serial: "E5".into(),
        result: Ok(()),
    }));
    let n = a.devices.notice.clone().unwrap();
    assert_eq!((n.text.as_str(), n.bad), ("E5: sync requested", false));
    a.update(key(KeyCode::Enter));
    let cmds = a.update(key(KeyCode::Char('y')));
    assert!(matches!(&cmds[..], [Cmd::Devices(DevicesCmd::Sync { serial, .. })] if serial == "E5"));
    a.update(Msg::Devices(DevicesMsg::Synced {
        serial: "E5".into(),
        result: Err("Graph error 503: busy (x) request-id r-1".into()),
    }));
    let n = a.devices.notice.clone().unwrap();
    assert!(n.bad && n.text.contains("request-id r-1"), "{n:?}");
}

#[test]
fn retire_and_wipe_are_not_offered_without_the_role() {
    let mut a = app();
    select(&mut a, "C3");
    a.update(Msg::Devices(DevicesMsg::Authority(Err(
        "adele holds neither role".into(),
    ))));
    for c in ['R', 'W'] {
        assert!(a.update(key(KeyCode::Char(c))).is_empty());
        assert!(a.devices.modal.is_none());
    }
}

#[test]
fn wipe_modal_sends_the_typed_serial_and_toggles_and_shows_the_outcome() {
    let mut a = app();
    a.update(Msg::Devices(DevicesMsg::Authority(Ok(
        crate::devices::Authority::IntuneAdministrator,
    ))));
    select(&mut a, "C3");
    a.update(key(KeyCode::Char('W')));
    assert!(a.typing(), "the modal takes printable keys");
    // Keys that would act on the pane type into the modal instead.
    assert!(chars(&mut a, "xyq").is_empty());
    assert!(!a.quit);
    for _ in 0..3 {
        a.update(key(KeyCode::Backspace));
    }
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Char(' ')));
    a.update(key(KeyCode::Tab));
    chars(&mut a, "c3");
    let cmds = a.update(key(KeyCode::Enter));
    let [Cmd::Devices(DevicesCmd::Destructive(req))] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    assert_eq!(req.serial, "C3");
    assert_eq!(req.confirm.as_deref(), Some("c3"));
    assert!(
        matches!(&req.action, Destructive::Wipe(o) if o.keep_user_data && !o.keep_enrollment_data)
    );
    a.update(Msg::Devices(DevicesMsg::Acted {
        serial: "C3".into(),
        result: Err(ActionFailure {
            refused: true,
            message: "a wipe is already pending on this device".into(),
        }),
    }));
    let m = a.devices.modal.as_ref().unwrap();
    assert!(
        matches!(&m.stage, ModalStage::Done { ok: false, message } if message.starts_with("refused: a wipe"))
    );
    a.update(key(KeyCode::Enter));
    assert!(a.devices.modal.is_none());
    assert!(a.devices.notice.as_ref().unwrap().bad);
}

#[test]
fn esc_closes_the_modal_without_sending() {
    let mut a = app();
    a.update(Msg::Devices(DevicesMsg::Authority(Ok(
        crate::devices::Authority::IntuneAdministrator,
    ))));
    select(&mut a, "A1");
    a.update(key(KeyCode::Char('R')));
    assert_eq!(a.devices.modal.as_ref().unwrap().kind, ActionKind::Retire);
    chars(&mut a, "A1");
    assert!(a.update(key(KeyCode::Esc)).is_empty());
    assert!(a.devices.modal.is_none());
    assert_eq!(a.focus, Pane::Status);
}

#[test]
fn a_sync_notice_stays_while_asked_and_its_outcome_clears_itself() {
    let mut a = app();
    select(&mut a, "E5");
    a.update(key(KeyCode::Char('y')));
    let asking = a.devices.notice.clone().unwrap().text;
    assert!(asking.ends_with('…'), "{asking}");
    // No answer yet: however long it takes, the notice stays.
    a.update(Msg::Tick(t0() + chrono::Duration::seconds(600)));
    assert_eq!(a.devices.notice.as_ref().unwrap().text, asking);
    a.update(Msg::Tick(t0() + chrono::Duration::seconds(601)));
    a.update(Msg::Devices(DevicesMsg::Synced {
        serial: "E5".into(),
        result: Ok(()),
    }));
    let at = a.now;
    assert_eq!(
        a.devices.notice.as_ref().unwrap().text,
        "E5: sync requested"
    );
    let secs = crate::app::NOTICE_SECS;
    a.update(Msg::Tick(at + chrono::Duration::seconds(secs - 1)));
    assert!(a.devices.notice.is_some());
    a.update(Msg::Tick(at + chrono::Duration::seconds(secs)));
    assert!(a.devices.notice.is_none());
}
