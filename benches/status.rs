//! The status pane with 10,000 tracked devices: the tracker's per-cycle derivation, applying a
//! snapshot (sort + filter), and rendering one frame at 80x24 and 160x48 (only the viewport's rows
//! are built). Prints median / p99 / max per operation and the process's peak RSS (VmHWM).
//!
//! Run: `cargo bench --bench status`. Targets: ≤ 2 ms per frame, ≤ 50 MB peak RSS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stagehand::app::status::StatusMsg;
use stagehand::app::{App, Msg, Pane};
use stagehand::config::{Config, StagingConfig};
use stagehand::status::{
    DeviceRow, EnrollmentState, IdentityInput, Listed, QueueInput, ReportRow, Thresholds, Tracker,
};
use stagehand::store::EntryState;

const DEVICES: usize = 10_000;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// A fleet spread over every stage, as one cycle would list it.
fn listed() -> Listed {
    let mut l = Listed::default();
    for i in 0..DEVICES {
        let serial = format!("PF{i:08}");
        l.serials.push(serial.clone());
        let at = t0() - chrono::Duration::minutes((i % 120) as i64);
        let state = if i % 17 == 0 {
            EntryState::Rejected
        } else {
            EntryState::Registered
        };
        l.queue.insert(
            serial.clone(),
            QueueInput {
                state,
                scanned_at: at,
                message: None,
            },
        );
        if i % 8 == 0 {
            continue;
        }
        l.identities.insert(
            serial.clone(),
            IdentityInput {
                enrollment_state: EnrollmentState::Enrolled,
                last_contacted: Some(at),
            },
        );
        if i % 8 == 1 {
            continue;
        }
        l.devices.insert(
            serial.clone(),
            DeviceRow {
                id: format!("md-{i}"),
                device_name: format!("CT-{i:06}"),
                user_principal_name: Some(if i % 8 == 7 {
                    format!("user{i}@contoso.example")
                } else {
                    "stage01@contoso.example".into()
                }),
                enrolled_at: Some(at),
                last_sync: Some(at),
                compliance: Some(
                    if i % 5 == 0 {
                        "noncompliant"
                    } else {
                        "compliant"
                    }
                    .into(),
                ),
            },
        );
        if i % 8 >= 3 {
            l.report.insert(
                serial,
                ReportRow {
                    deployment_status: if i % 8 == 3 { "1" } else { "2" }.into(),
                    phase: "2".into(),
                    result_code: "0".into(),
                    upn: Some("stage01@contoso.example".into()),
                    enrollment_time: Some(at),
                },
            );
        }
    }
    l
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

fn time<F: FnMut()>(n: usize, mut f: F) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
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
    let staging = StagingConfig {
        accounts: vec!["stage01@contoso.example".into()],
    };
    let l = listed();
    let mut tracker = Tracker::new(staging, Thresholds::default());
    let mut rows = Vec::new();
    let mut minute = 0;
    let derive = time(20, || {
        minute += 1;
        rows = tracker.finish(&l, t0() + chrono::Duration::minutes(minute));
    });
    stats("tracker.finish (10,000 devices, one cycle)", derive);
    let plan = time(20, || {
        std::hint::black_box(tracker.plan(&l, t0()));
    });
    stats("tracker.plan (10,000 devices)", plan);
    let mut per_stage: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        *per_stage.entry(r.stage.label()).or_default() += 1;
    }
    let mut per_stage: Vec<_> = per_stage.into_iter().collect();
    per_stage.sort();
    println!("stages: {per_stage:?}");

    let mut app = App::new(Config::default(), t0());
    app.focus = Pane::Status;
    let apply = time(20, || {
        app.update(Msg::Status(StatusMsg::Snapshot {
            generation: 0,
            at: t0(),
            rows: rows.clone(),
        }));
        app.settle();
    });
    stats("snapshot apply + sort + filter (10,000 rows)", apply);

    for (w, h) in [(80u16, 24u16), (160, 48)] {
        app.update(Msg::Resize {
            width: w,
            height: h,
        });
        app.settle();
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let mut step = 0;
        let frames = time(500, || {
            // Scroll a page every frame so different rows are built each time.
            step += 1;
            let code = if step % 40 < 20 {
                KeyCode::PageDown
            } else {
                KeyCode::PageUp
            };
            app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
            app.settle();
            term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
        });
        stats(&format!("frame {w}x{h} (key + settle + draw)"), frames);
    }
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('/'),
        KeyModifiers::NONE,
    )));
    let filter = time(20, || {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('7'),
            KeyModifiers::NONE,
        )));
        app.settle();
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Backspace,
            KeyModifiers::NONE,
        )));
        app.settle();
    });
    stats("filter keystroke pair (10,000 rows)", filter);
    println!("peak RSS: {}", peak_rss());
}
