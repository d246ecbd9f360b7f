//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `.ci/run`) loads the page built from a status poll of the simulated tenant, logs no console
//! message at all (the page has no script and loads nothing; a probe page shows the check can
//! see console errors), and its screenshot shows the timelines drawn: rows of pixels in the
//! stage colours, one band per device. The screenshot is kept in the target dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use stagehand::auth::StaticToken;
use stagehand::evidence::Collector;
use stagehand::evidence::command::{EvidenceArgs, run_with};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::sim::{self, ALL_DELEGATED, SimOptions};
use stagehand::status::poll::Poller;
use stagehand::status::{DeviceStatus, Stage};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            let ok = Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .ok()?;
            ok.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&ok.stdout).trim()))
        })
}

/// Loads `page` headless; returns (console lines, screenshot PNG bytes).
fn load(browser: &Path, page: &Path, shot: &Path, height: u32) -> (Vec<String>, Vec<u8>) {
    let out = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let console = err
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (console, std::fs::read(shot).expect("a screenshot"))
}

/// A minimal PNG reader for what Chromium writes: 8-bit RGB or RGBA, not interlaced.
fn decode_png(b: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    use std::io::Read;
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    let (mut i, mut w, mut h, mut ct) = (8, 0, 0, 0);
    let mut idat = Vec::new();
    while i + 8 <= b.len() {
        let n = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        let t = &b[i + 4..i + 8];
        let d = &b[i + 8..i + 8 + n];
        match t {
            b"IHDR" => {
                w = u32::from_be_bytes(d[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(d[4..8].try_into().unwrap()) as usize;
                assert_eq!(d[8], 8, "8-bit");
                ct = d[9];
                assert!(ct == 2 || ct == 6, "RGB or RGBA, got {ct}");
                assert_eq!(d[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(d),
            _ => {}
        }
        i += 12 + n;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let bpp = if ct == 6 { 4 } else { 3 };
    let stride = w * bpp;
    let mut prev = vec![0u8; stride];
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let f = raw[y * (stride + 1)];
        let mut line = raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)].to_vec();
        for x in 0..stride {
            let a = if x >= bpp { line[x - bpp] } else { 0 } as i32;
            let up = prev[x] as i32;
            let c = if x >= bpp { prev[x - bpp] } else { 0 } as i32;
            let add = match f {
                0 => 0,
                1 => a,
                2 => up,
                3 => (a + up) / 2,
                4 => {
                    let p = a + up - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - up).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        up
                    } else {
                        c
                    }
                }
                other => panic!("PNG filter {other}"),
            };
            line[x] = line[x].wrapping_add(add as u8);
        }
        for x in 0..w {
            px.push([line[x * bpp], line[x * bpp + 1], line[x * bpp + 2]]);
        }
        prev = line;
    }
    (w, h, px)
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// Rows of the image holding a run of at least `min` pixels of exactly `c`.
fn rows_with_run(w: usize, h: usize, px: &[[u8; 3]], c: [u8; 3], min: usize) -> usize {
    (0..h)
        .filter(|y| {
            let mut run = 0;
            (0..w).any(|x| {
                run = if px[y * w + x] == c { run + 1 } else { 0 };
                run >= min
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_renders_in_headless_chromium_with_its_timelines_drawn() {
    let Some(browser) = chromium() else {
        crate::common::missing(
            "report_browser",
            "chromium",
            "apt-get install -y chromium; .ci/run installs it",
        );
        return;
    };
    let sim = sim::start(SimOptions {
        devices: 16,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let token = sim.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        Arc::new(StaticToken(token)),
        Arc::new(Governor::new(&[])),
    )
    .unwrap();
    let mut config = stagehand::config::Config::default();
    config.staging.accounts = SimOptions::default().staging_accounts;
    let serials: Vec<String> = client
        .list_managed_devices(None, &["id", "serialNumber"])
        .await
        .unwrap()
        .into_iter()
        .filter_map(|d| d.serial_number)
        .collect();
    let mut poller = Poller::new(client.clone(), config.clone());
    poller.extra_serials = serials.clone();
    let rows: Vec<DeviceStatus> = poller
        .cycle(
            &Vec::<stagehand::store::QueueEntry>::new(),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (**r).clone())
        .collect();
    let failed: Vec<&DeviceStatus> = rows.iter().filter(|r| r.stage == Stage::Failed).collect();
    assert!(!failed.is_empty(), "the fleet has failed devices");

    // An evidence bundle for the first failed device, linked from the page.
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let who = Collector {
        tenant: sim.tenant_id(),
        collector: sim.signed_in_user().1,
    };
    let args = EvidenceArgs {
        command: None,
        serials: vec![failed[0].serial.to_string()],
        out: Some(evidence.clone()),
        redact: false,
        logs: false,
        log_wait: Duration::from_secs(1),
        log_poll: Duration::from_millis(20),
    };
    run_with(&client, &config, dir.path(), &who, &args, &mut Vec::new())
        .await
        .unwrap();

    let page = dir.path().join("report.html");
    let now = chrono::Utc::now();
    let data = stagehand::report::build(
        &sim.tenant_id(),
        "test batch".into(),
        &rows,
        &[],
        &evidence,
        &page,
        now,
    );
    let html = stagehand::report::render(&data);
    std::fs::write(&page, &html).unwrap();
    assert_eq!(html.matches("<tr class=\"device\"").count(), rows.len());
    assert_eq!(
        html.matches("<tr class=\"failure\"").count(),
        data.devices.iter().filter(|d| d.needs_attention()).count()
    );
    let link = data
        .devices
        .iter()
        .find_map(|d| d.evidence.clone())
        .expect("a bundle link");
    assert!(link.starts_with("evidence/"), "relative link: {link}");
    assert!(
        dir.path().join(&link).join("manifest.json").is_file(),
        "{link}"
    );

    // The check sees console errors at all: a probe page with one.
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, "<!DOCTYPE html><html><body><script>console.error('stagehand-probe')</script></body></html>").unwrap();
    let (probe_console, _) = load(&browser, &probe, &dir.path().join("probe.png"), 300);
    assert!(
        probe_console.iter().any(|l| l.contains("stagehand-probe")),
        "{probe_console:?}"
    );

    let height = 900 + 90 * rows.len() as u32;
    let shot = dir.path().join("report.png");
    let (console, png) = load(&browser, &page, &shot, height);
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::copy(&shot, &keep).unwrap();
    std::fs::copy(&page, keep.with_extension("html")).unwrap();
    eprintln!("report screenshot: {}", keep.display());
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let (w, h, px) = decode_png(&png);
    assert_eq!(w, 1280);
    // Each device's bar is 16 px high in its stage colours; the stage-count bar is 18 px. The
    // failed devices' timelines add rows of red beyond the count bar's.
    let red = rows_with_run(w, h, &px, rgb("#d32f2f"), 8);
    assert!(
        red >= 18 + 16 * failed.len() - 2,
        "red rows {red} for {} failed",
        failed.len()
    );
    // Every device has a bar: rows holding a 12 px run of some stage colour (the legend's
    // swatches are 10 px, so they do not count).
    let colours: Vec<[u8; 3]> = Stage::ALL
        .iter()
        .map(|s| rgb(stagehand::report::colour(*s)))
        .collect();
    let banded = (0..h)
        .filter(|y| {
            colours.iter().any(|c| {
                let mut run = 0;
                (0..w).any(|x| {
                    run = if px[y * w + x] == *c { run + 1 } else { 0 };
                    run >= 12
                })
            })
        })
        .count();
    assert!(
        banded >= 18 + 16 * rows.len() - 2,
        "{banded} banded rows for {} devices",
        rows.len()
    );
}
