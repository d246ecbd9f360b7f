//! Snapshots: the filter header, the detail view (loaded at 80x24 and 160x48, failed), and the
//! wipe modal.

use crossterm::event::KeyCode;

use crate::app::devices::tests::{chars, detail, fleet, key};
use crate::app::devices::{ActionFailure, DevicesMsg};
use crate::app::status::StatusMsg;
use crate::app::{App, Msg};
use crate::console::test_support::{app, render};
use crate::devices::show::DeviceDeployment;

fn status_app() -> App {
    let mut a = app();
    a.update(key(KeyCode::F(3)));
    a.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: a.now,
        rows: fleet().into_iter().map(std::sync::Arc::new).collect(),
    }));
    a.settle();
    a
}

fn open_c3(a: &mut App) {
    a.update(key(KeyCode::Home));
    while a.status.selected().map(|r| &*r.serial) != Some("C3") {
        a.update(key(KeyCode::Down));
    }
    a.update(key(KeyCode::Enter));
}

#[test]
fn filters_show_in_the_pane_header_with_the_count() {
    let mut a = status_app();
    chars(&mut a, "ggggcc");
    a.update(Msg::Devices(DevicesMsg::Synced {
        serial: "E5".into(),
        result: Ok(()),
    }));
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn detail_view_shows_the_device_as_intune_has_it() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = status_app();
        a.update(Msg::Devices(DevicesMsg::Authority(Ok(
            crate::devices::Authority::IntuneAdministrator,
        ))));
        open_c3(&mut a);
        let generation = a.devices.generation;
        a.update(Msg::Devices(DevicesMsg::Detail {
            generation,
            result: Ok(Box::new(detail("C3"))),
        }));
        a.update(Msg::Devices(DevicesMsg::Deployment {
            generation,
            result: Ok(Some(DeviceDeployment {
                status: "in progress".into(),
                status_code: "1".into(),
                phase: "2".into(),
                result_code: "0".into(),
                upn: "stage01@contoso.example".into(),
            })),
        }));
        let t = render(&mut a, w, h);
        insta::with_settings!({snapshot_suffix => format!("{w}x{h}")}, {
            insta::assert_snapshot!(t.backend());
        });
    }
}

#[test]
fn detail_view_says_loading_then_shows_the_graph_error() {
    let mut a = status_app();
    open_c3(&mut a);
    let text = format!("{}", render(&mut a, 80, 24).backend());
    assert!(text.contains("loading…"), "{text}");
    let generation = a.devices.generation;
    a.update(Msg::Devices(DevicesMsg::Detail {
        generation,
        result: Err("Graph error 503: busy (serviceUnavailable) request-id 7f1c".into()),
    }));
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!(t.backend());
}

#[test]
fn wipe_modal_states_what_happens_and_shows_the_outcome() {
    let mut a = status_app();
    a.update(Msg::Devices(DevicesMsg::Authority(Ok(
        crate::devices::Authority::IntuneAdministrator,
    ))));
    open_c3(&mut a);
    a.update(key(KeyCode::Char('W')));
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Char(' ')));
    let t = render(&mut a, 80, 24);
    insta::assert_snapshot!("wipe_modal_editing", t.backend());
    a.update(key(KeyCode::Tab));
    a.update(key(KeyCode::Tab));
    chars(&mut a, "C3");
    a.update(key(KeyCode::Enter));
    a.update(Msg::Devices(DevicesMsg::Acted {
        serial: "C3".into(),
        result: Err(ActionFailure {
            refused: true,
            message: "a wipe is already pending on this device".into(),
        }),
    }));
    let text = format!("{}", render(&mut a, 80, 24).backend());
    assert!(
        text.contains("refused: a wipe is already pending"),
        "{text}"
    );
    assert!(text.contains("✓ matches"), "{text}");
}

#[test]
fn the_technician_sees_no_retire_or_wipe_hint() {
    let mut a = status_app();
    open_c3(&mut a);
    let text = format!("{}", render(&mut a, 160, 48).backend());
    assert!(
        text.contains("y sync") && !text.contains("W wipe"),
        "{text}"
    );
}

#[test]
fn the_role_holders_help_lists_every_status_key_at_80x24() {
    let mut a = status_app();
    a.update(Msg::Devices(DevicesMsg::Authority(Ok(
        crate::devices::Authority::IntuneAdministrator,
    ))));
    a.update(key(KeyCode::F(1)));
    // The overlay scrolls (the footer line takes a row): every line is reachable.
    let mut text = String::new();
    for _ in 0..5 {
        text.push_str(&format!("{}", render(&mut a, 80, 24).backend()));
        a.update(key(KeyCode::Down));
    }
    let help = crate::app::keymap::help_for_role(crate::app::Pane::Status, true);
    for (k, h) in help {
        assert!(
            text.contains(h) && text.contains(&k),
            "{k} {h} missing\n{text}"
        );
    }
    assert!(
        text.contains("R W") && text.contains("retire (R) or wipe (W)"),
        "{text}"
    );
}
