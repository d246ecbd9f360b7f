//! Devices queued from hash files in the Intake and Status panes: the import state, then the
//! profile assignment, a long wait for the profile flagged stuck, an import error in plain words.

use chrono::{DateTime, Duration, Utc};

use crate::app::status::StatusMsg;
use crate::app::{App, Msg, Pane};
use crate::autopilot::api::AutopilotDevice;
use crate::autopilot::bench::{self, ImportPhase, Registration};
use crate::config::{IdentifierType, Platform};
use crate::console::test_support::{app, render};
use crate::status::{DeviceStatus, Flags, RawFields, Stage};
use crate::store::{EntryState, Queue, QueueEntry, QueueEvent};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn entry(serial: &str, state: EntryState, message: Option<&str>) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "LENOVO".into(),
        model: "20XWCTO1WW".into(),
        profile: "default".into(),
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: t0() - Duration::minutes(50),
        bench: "bench-1".into(),
        state,
        message: message.map(str::to_string),
        note: None,
        imported_id: None,
        attempts: 1,
    }
}

/// The row the tracker builds for a device not enrolled yet.
fn tracked(serial: &str, stage: Stage) -> DeviceStatus {
    DeviceStatus {
        serial: serial.into(),
        stage,
        flags: Flags::default(),
        device_name: None,
        managed_device_id: None,
        primary_user: None,
        enrolled_by: None,
        enrollment_state: None,
        deployment_status: None,
        last_sync: None,
        compliance: None,
        message: "registered in Intune".into(),
        code: None,
        phase: None,
        since: t0() - Duration::minutes(10),
        timeline: Vec::new().into(),
        raw: RawFields::default(),
    }
}

fn reg(serial: &str, phase: ImportPhase, done_min_ago: Option<i64>) -> Registration {
    let mut r = Registration::queued(
        serial,
        "T0E=",
        "",
        Some("Kiosk".into()),
        None,
        "a.csv:2".into(),
    );
    r.import_state = phase;
    r.import_id = Some(format!("imp-{serial}"));
    r.completed_at = done_min_ago.map(|m| t0() - Duration::minutes(m));
    r
}

fn device(serial: &str, status: &str) -> AutopilotDevice {
    AutopilotDevice {
        id: format!("ap-{serial}"),
        serial_number: Some(serial.into()),
        deployment_profile_assignment_status: Some(status.into()),
        ..Default::default()
    }
}

fn hash_app() -> App {
    let mut a = app();
    let mut q = Queue::new();
    let mut regs = Vec::new();
    let mut err = reg("PFAP005", ImportPhase::Error, None);
    err.message = Some(
        "808 ZtdDeviceAssignedToOtherTenant: registered to another tenant; that tenant or the seller must deregister it".into(),
    );
    let cases = [
        (
            entry("PFAP001", EntryState::Uploading, None),
            reg("PFAP001", ImportPhase::Importing, None),
            None,
            Stage::Queued,
        ),
        (
            entry(
                "PFAP002",
                EntryState::Registered,
                Some(crate::autopilot::uploader::WAITING),
            ),
            reg("PFAP002", ImportPhase::Complete, Some(6)),
            Some(device("PFAP002", "notAssigned")),
            Stage::Registered,
        ),
        (
            entry(
                "PFAP003",
                EntryState::Registered,
                Some(crate::autopilot::uploader::WAITING),
            ),
            reg("PFAP003", ImportPhase::Complete, Some(45)),
            Some(device("PFAP003", "pending")),
            Stage::Registered,
        ),
        (
            entry(
                "PFAP004",
                EntryState::Registered,
                Some(crate::autopilot::uploader::WAITING),
            ),
            reg("PFAP004", ImportPhase::Complete, Some(12)),
            Some(device("PFAP004", "assignedInSync")),
            Stage::Registered,
        ),
        (
            entry("PFAP005", EntryState::Rejected, err.message.as_deref()),
            err.clone(),
            None,
            Stage::Failed,
        ),
    ];
    let mut rows = Vec::new();
    for (e, r, d, stage) in cases {
        crate::store::queue::apply(&mut q, &QueueEvent::Added(e));
        let view = bench::view_of(&r, d.as_ref(), t0());
        rows.push(std::sync::Arc::new(bench::row_with(
            &tracked(&r.serial, stage),
            view,
            false,
        )));
        regs.push(r);
    }
    a.intake.load(q, None);
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows,
    }));
    a
}

#[test]
fn the_intake_pane_shows_the_import_then_the_profile_assignment() {
    let mut a = hash_app();
    let screen = format!("{}", render(&mut a, 160, 48).backend());
    for want in [
        "importing to Autopilot",
        "waiting for profile assignment: 6 min",
        "waiting for profile assignment: 45 min",
        "Autopilot profile assigned (assignedInSync)",
        "808 ZtdDeviceAssignedToOtherTenant",
    ] {
        assert!(screen.contains(want), "{want:?} missing:\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn the_status_pane_flags_a_long_wait_for_the_profile_stuck() {
    let mut a = hash_app();
    a.focus = Pane::Status;
    assert_eq!(a.status.stuck, 1, "only the 45-minute wait is stuck");
    let screen = format!("{}", render(&mut a, 160, 48).backend());
    let line = screen
        .lines()
        .find(|l| l.contains("PFAP003"))
        .unwrap_or_else(|| panic!("no PFAP003 row:\n{screen}"));
    assert!(line.contains("stuck"), "{line}");
    // The message column ends at the screen's edge; the row holds it whole.
    assert!(line.contains("waiting for profil"), "{line}");
    let row = a
        .status
        .rows
        .iter()
        .find(|r| &*r.serial == "PFAP003")
        .unwrap();
    assert_eq!(&*row.message, "waiting for profile assignment: 45 min");
    let line = screen.lines().find(|l| l.contains("PFAP002")).unwrap();
    assert!(!line.contains("stuck"), "{line}");
    assert!(screen.contains("import failed: 808"), "{screen}");
    insta::assert_snapshot!(screen);
    // The stuck filter key (`t`) keeps the device waiting too long for its profile.
    a.update(Msg::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('t'),
        crossterm::event::KeyModifiers::NONE,
    )));
    let screen = format!("{}", render(&mut a, 160, 48).backend());
    let shown: Vec<&str> = screen.lines().filter(|l| l.contains("│PFAP")).collect();
    assert_eq!(shown.len(), 1, "{screen}");
    assert!(shown[0].contains("PFAP003"), "{screen}");
}
