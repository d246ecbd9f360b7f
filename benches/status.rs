//! The status pane with 10,000 tracked devices, measured in the console-side process only: the
//! simulated tenant runs out of process (`stagehand sim`, same build profile), and this process
//! does what the console does: poll it with the real `Poller` (HTTP, tracker, rows), apply each
//! snapshot to the app (sort + filter), and render frames at 80x24 and 160x48 (only the
//! viewport's rows are built). Prints median / p99 / max per operation and this process's peak
//! RSS (VmHWM).
//!
//! Run: `cargo bench --bench status` (`STATUS_BENCH_CYCLES=N` for more than 4 polls). Targets:
//! <= 2 ms per frame, <= 50 MB peak RSS.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stagehand::app::status::StatusMsg;
use stagehand::app::{App, Msg, Pane};
use stagehand::config::{Config, IdentifierType, Platform};
use stagehand::graph::{Family, Governor, GraphClient, Limits, Timeouts};
use stagehand::status::Stage;
use stagehand::status::poll::Poller;
use stagehand::store::{EntryState, QueueEntry};

const DEVICES: usize = 10_000;
/// The simulator's client secret (its default; the tenant is local and throwaway).
const SIM_SECRET: &str = "sim-client-secret";

/// The simulator child: killed and reaped when dropped, whatever happens to the bench.
struct SimChild(Child);

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `stagehand sim` with a fleet of `DEVICES` and returns it with its env line's values.
fn start_sim() -> (SimChild, std::collections::HashMap<String, String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["sim", "--port", "0", "--devices", &DEVICES.to_string()])
        // The bench measures memory and time, not Intune's request budget.
        .args(["--fault", "throttle-burst=1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start `stagehand sim`");
    let stdout = child.stdout.take().expect("piped");
    let child = SimChild(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("sim stdout");
        if line.starts_with("STAGEHAND_GRAPH_URL=") {
            let env = line
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            return (child, env);
        }
    }
    panic!("`stagehand sim` exited before printing its env line");
}

fn entry(serial: &str) -> QueueEntry {
    QueueEntry {
        serial: serial.into(),
        manufacturer: "Contoso".into(),
        model: "Laptop 7".into(),
        profile: Config::default().intake.default_profile,
        platform: Platform::Windows,
        identifier_type: IdentifierType::ManufacturerModelSerial,
        scanned_at: Utc::now(),
        bench: "bench-1".into(),
        state: EntryState::Registered,
        message: None,
        note: None,
        imported_id: None,
        attempts: 1,
    }
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

/// Bytes the allocator hands out right now (in use, not freed), and RSS now: tells growth of what
/// is held from growth of what the allocator keeps.
fn in_use() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads malloc's counters.
        let m = unsafe { libc::mallinfo2() };
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS"))
                    .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            })
            .unwrap_or_default();
        format!(
            "heap in use {:.1} MB (mapped {:.1} MB), free in arenas {:.1} MB, VmRSS {rss} kB",
            (m.uordblks + m.hblkhd) as f64 / 1e6,
            m.hblkhd as f64 / 1e6,
            m.fordblks as f64 / 1e6
        )
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        String::new()
    }
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
    // As the console's `main` does, before any thread exists.
    stagehand::alloc::tune();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_sim, env) = start_sim();
    let mut config = Config::default();
    config.tenant.graph_url = env["STAGEHAND_GRAPH_URL"].clone();
    config.tenant.login_url = env["STAGEHAND_LOGIN_URL"].clone();
    config.tenant.id = Some(env["STAGEHAND_TENANT"].clone());
    config.tenant.client_id = Some(env["STAGEHAND_CLIENT_ID"].clone());
    config.staging.accounts = vec![
        "staging@contoso.example".into(),
        "o'neil.staging@contoso.example".into(),
    ];
    let data = tempfile::tempdir().unwrap();
    let client = runtime.block_on(async {
        let lookup = |k: &str| (k == "STAGEHAND_CLIENT_SECRET").then(|| SIM_SECRET.to_string());
        let (session, _) = stagehand::auth::commands::resolve(&config, data.path(), &lookup)
            .await
            .expect("app-only sign-in to the simulator");
        let lifted: Vec<(Family, Limits)> = [Family::Devices, Family::Enrollment, Family::Identity]
            .map(|f| {
                (
                    f,
                    Limits {
                        any: 1_000_000,
                        ..Limits::documented(f)
                    },
                )
            })
            .to_vec();
        GraphClient::new(
            config.graph_url(),
            Timeouts::default(),
            Arc::new(session),
            Arc::new(Governor::new(&lifted)),
        )
        .unwrap()
    });
    let queue: Vec<QueueEntry> = runtime.block_on(async {
        let ids = client.list_imported_identities(None).await.unwrap();
        ids.iter()
            .filter_map(|i| i.imported_device_identifier.as_deref())
            .map(|v| entry(v.rsplit(',').next().unwrap()))
            .collect()
    });
    println!(
        "tracked devices: {} (simulator out of process)",
        queue.len()
    );
    println!("after setup: {}", peak_rss());

    let mut poller = Poller::new(client, config.clone());
    let mut app = App::new(config, Utc::now());
    app.focus = Pane::Status;
    let mut cycles = Vec::new();
    let mut applies = Vec::new();
    let mut rows = Vec::new();
    // More cycles show whether memory settles (`STATUS_BENCH_CYCLES`, default 4).
    let cycles_wanted: u64 = std::env::var("STATUS_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    for generation in 0..cycles_wanted {
        let start = Instant::now();
        let previous = std::mem::take(&mut rows);
        rows = runtime
            .block_on(poller.cycle(&queue, Utc::now()))
            .expect("poll cycle");
        cycles.push(start.elapsed());
        let reused = rows
            .iter()
            .zip(&previous)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        drop(previous);
        println!("  cycle {generation}: {reused} rows re-used from the previous cycle");
        let start = Instant::now();
        app.update(Msg::Status(StatusMsg::Snapshot {
            generation,
            at: Utc::now(),
            rows: rows.clone(),
        }));
        app.settle();
        applies.push(start.elapsed());
        println!(
            "  cycle {generation}: {} single reads in {} batches; {}; {}",
            poller.last_cost.single_reads,
            poller.last_cost.batches,
            peak_rss(),
            in_use()
        );
    }
    stats("poll cycle (HTTP + tracker, 10,000 devices)", cycles);
    stats("snapshot apply + sort + filter (10,000 rows)", applies);
    let mut per_stage = [0usize; 8];
    for r in &rows {
        per_stage[r.stage.index()] += 1;
    }
    let per_stage: Vec<_> = Stage::ALL
        .iter()
        .map(|s| (s.label(), per_stage[s.index()]))
        .collect();
    println!("stages: {per_stage:?}");
    drop(rows);
    println!("after polling: {}", peak_rss());

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
        let draws = time(500, || {
            term.draw(|f| stagehand::console::draw(f, &app)).unwrap();
        });
        stats(&format!("frame {w}x{h} (draw only)"), draws);
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
