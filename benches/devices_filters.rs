//! The status pane's device filters over 10,000 rows: re-filtering after each filter key (stage,
//! compliance, a typed user character, clear), and one frame of the device detail view at 80x24
//! and 160x48. Prints median / p99 / max per operation and the process's peak RSS (VmHWM).
//!
//! Run: `cargo bench --bench devices_filters`. Target: a filter key re-filters in ≤ 5 ms.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stagehand::app::devices::DevicesMsg;
use stagehand::app::status::StatusMsg;
use stagehand::app::{App, Msg};
use stagehand::config::Config;
use stagehand::graph::models::ComplianceState;
use stagehand::status::{Change, DeviceStatus, Flags, Stage};

const DEVICES: usize = 10_000;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn rows() -> Vec<DeviceStatus> {
    const COMPLIANCE: [ComplianceState; 4] = [
        ComplianceState::Compliant,
        ComplianceState::Noncompliant,
        ComplianceState::InGracePeriod,
        ComplianceState::Unknown,
    ];
    (0..DEVICES)
        .map(|i| {
            let stage = Stage::ALL[i % Stage::ALL.len()];
            DeviceStatus {
                serial: format!("PF{i:08}").into(),
                stage,
                flags: Flags::default(),
                device_name: Some(format!("DESKTOP-{i:07}").into()),
                managed_device_id: Some(format!("md-{i}").into()),
                primary_user: Some(format!("user{}@contoso.example", i % 500).into()),
                enrolled_by: Some("stage01@contoso.example".into()),
                enrollment_state: Some(stagehand::graph::models::EnrollmentState::Enrolled),
                deployment_status: None,
                last_sync: Some(t0()),
                compliance: Some(COMPLIANCE[i % COMPLIANCE.len()]),
                message: "deploying, phase 2".into(),
                code: None,
                phase: None,
                since: t0(),
                timeline: vec![Change { at: t0(), stage }].into(),
                raw: Default::default(),
            }
        })
        .collect()
}

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn stats(label: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<46} n={:<4} median={:>9.3?} p99={:>9.3?} max={:>9.3?}",
        lat.len(),
        pick(0.5),
        pick(0.99),
        lat[lat.len() - 1]
    );
}

fn timed(app: &mut App, msgs: impl Fn() -> Vec<Msg>, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let m = msgs();
            let start = Instant::now();
            for msg in m {
                app.update(msg);
            }
            app.settle();
            start.elapsed()
        })
        .collect()
}

fn peak_rss() -> String {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM"))
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .unwrap_or_else(|| "VmHWM: unavailable".into())
    }
    #[cfg(not(target_os = "linux"))]
    {
        "VmHWM: unavailable on this platform".into()
    }
}

fn main() {
    let mut app = App::new(Config::default(), t0());
    app.update(key(KeyCode::F(3)));
    app.update(Msg::Status(StatusMsg::Snapshot {
        generation: 0,
        at: t0(),
        rows: rows().into_iter().map(std::sync::Arc::new).collect(),
    }));
    app.settle();
    stats(
        "stage filter key (g), 10,000 rows",
        timed(&mut app, || vec![key(KeyCode::Char('g'))], 90),
    );
    stats(
        "compliance filter key (c), 10,000 rows",
        timed(&mut app, || vec![key(KeyCode::Char('c'))], 70),
    );
    app.update(key(KeyCode::Char('u')));
    stats(
        "user filter character, 10,000 rows",
        timed(
            &mut app,
            || vec![key(KeyCode::Char('1')), key(KeyCode::Backspace)],
            50,
        ),
    );
    app.update(key(KeyCode::Enter));
    stats(
        "clear every filter (x), 10,000 rows",
        timed(
            &mut app,
            || vec![key(KeyCode::Char('g')), key(KeyCode::Char('x'))],
            50,
        ),
    );
    println!(
        "visible after clear: {} of {}",
        app.status.list.len(),
        DEVICES
    );

    app.update(key(KeyCode::Enter));
    let generation = app.devices.generation;
    app.update(Msg::Devices(DevicesMsg::Detail {
        generation,
        result: Err("Graph error 503: busy (serviceUnavailable) request-id 7f1c".into()),
    }));
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        app.update(Msg::Resize {
            width: w,
            height: h,
        });
        app.settle();
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let frames: Vec<Duration> = (0..200)
            .map(|_| {
                let start = Instant::now();
                term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
                start.elapsed()
            })
            .collect();
        stats(&format!("detail view frame {w}x{h}"), frames);
    }
    println!("{}", peak_rss());
}
