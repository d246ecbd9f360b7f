//! `stagehand report [--serial S…] [--since 8h] -o report.html`: one self-contained HTML page
//! per batch (no script, no network, no external asset; a Content-Security-Policy says so to
//! the browser): counts per stage, a drawn timeline per device, the failures with their
//! explained codes, and links to the evidence bundles.

mod html;
mod svg;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;

pub use html::render;
pub use svg::colour;

use crate::config::Config;
use crate::graph::GraphClient;
use crate::review::confirm::parse_duration;
use crate::serial::SerialKey;
use crate::status::poll::Poller;
use crate::status::{DeviceStatus, Stage};
use crate::store::QueueEntry;

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Only these serials (repeatable); serials not in the queue are included too.
    #[arg(long = "serial", value_name = "S")]
    pub serials: Vec<String>,
    /// Only devices scanned within this long (`8h`, `90m`, `2d` as `48h`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Where to write the page.
    #[arg(
        short = 'o',
        long = "out",
        value_name = "FILE",
        default_value = "report.html"
    )]
    pub out: PathBuf,
    /// Where the evidence bundles are (default `<data dir>/evidence`).
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
}

/// Everything the page shows, plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportData {
    pub tenant: String,
    pub generated: DateTime<Utc>,
    /// Which devices, in words (`scanned in the last 8h`, `3 serials`).
    pub scope: String,
    pub devices: Vec<DeviceLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLine {
    pub serial: String,
    pub device_name: Option<String>,
    pub stage: Stage,
    pub flags: Vec<&'static str>,
    pub message: String,
    pub code: Option<String>,
    /// The code in words, when known.
    pub explained: Option<String>,
    pub since: DateTime<Utc>,
    /// (entered at, stage), in time order.
    pub milestones: Vec<(DateTime<Utc>, Stage)>,
    /// Link to the newest evidence bundle (relative to the page when possible).
    pub evidence: Option<String>,
}

impl DeviceLine {
    /// Failed, stuck or noncompliant: listed under "Failures".
    pub fn needs_attention(&self) -> bool {
        self.stage == Stage::Failed
            || self.flags.contains(&"stuck")
            || self.flags.contains(&"noncompliant")
    }
}

/// The stages a device went through, from what is known: the scan, Intune's enrollment and
/// deployment times, and the changes stagehand observed. Earliest time per stage, in order.
pub fn milestones(row: &DeviceStatus, queue: Option<&QueueEntry>) -> Vec<(DateTime<Utc>, Stage)> {
    let mut m: Vec<(DateTime<Utc>, Stage)> = Vec::new();
    if let Some(q) = queue {
        m.push((q.scanned_at, Stage::Queued));
    }
    if let Some(t) = row.raw.device().and_then(|d| d.enrolled_at) {
        m.push((t, Stage::Enrolled));
    }
    if let Some(t) = row.raw.report().and_then(|r| r.enrollment_time)
        && row.stage >= Stage::Provisioning
    {
        m.push((t, Stage::Provisioning));
    }
    m.extend(row.timeline.iter().map(|c| (c.at, c.stage)));
    m.push((row.since, row.stage));
    let mut best: Vec<(DateTime<Utc>, Stage)> = Vec::new();
    for (t, s) in m {
        match best.iter_mut().find(|(_, x)| *x == s) {
            Some(e) if t < e.0 => e.0 = t,
            Some(_) => {}
            None => best.push((t, s)),
        }
    }
    best.sort_by_key(|(t, s)| (*t, s.index()));
    best
}

/// What a relative link keeps unencoded in a path segment (RFC 3986 unreserved).
const PATH_PART: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A link to `target` from a page written at `page`: relative when under the page's folder.
pub fn link(page: &Path, target: &Path) -> String {
    let base = page.parent().unwrap_or(Path::new("."));
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (base, target) = (abs(base), abs(target));
    match target.strip_prefix(&base) {
        Ok(rel) => {
            rel.components()
                .map(|c| {
                    percent_encoding::utf8_percent_encode(
                        &c.as_os_str().to_string_lossy(),
                        PATH_PART,
                    )
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("/")
                + "/"
        }
        Err(_) => url::Url::from_directory_path(&target)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| target.display().to_string()),
    }
}

/// Builds the page data from status rows, their queue entries and the bundles on disk.
pub fn build(
    tenant: &str,
    scope: String,
    rows: &[DeviceStatus],
    queue: &[QueueEntry],
    evidence_dir: &Path,
    page: &Path,
    now: DateTime<Utc>,
) -> ReportData {
    let bundles = crate::evidence::find_bundles(evidence_dir);
    let devices = rows
        .iter()
        .map(|r| {
            let key = SerialKey::new(&r.serial);
            let q = queue.iter().find(|e| SerialKey::new(&e.serial) == key);
            let code = r.code.as_deref().map(str::to_string);
            let explained = code
                .as_deref()
                .and_then(crate::status::deployment::result_code_label);
            DeviceLine {
                serial: r.serial.to_string(),
                device_name: r.device_name.as_deref().map(str::to_string),
                stage: r.stage,
                flags: r.flags.names(),
                message: r.message.to_string(),
                code,
                explained,
                since: r.since,
                milestones: milestones(r, q),
                evidence: bundles
                    .iter()
                    .find(|(s, _)| SerialKey::new(s) == key)
                    .map(|(_, p)| link(page, p)),
            }
        })
        .collect();
    ReportData {
        tenant: tenant.to_string(),
        generated: now,
        scope,
        devices,
    }
}

/// The command: one status poll over the chosen devices, then the page.
pub async fn run(
    client: &GraphClient,
    config: &Config,
    data_dir: &Path,
    args: &ReportArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let (queue, _, notes) = crate::evidence::command::local_records(data_dir);
    for n in &notes {
        writeln!(out, "note: {n}")?;
    }
    let keys: Vec<SerialKey> = args.serials.iter().map(|s| SerialKey::new(s)).collect();
    let cutoff = args
        .since
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_sub_signed(d));
    let entries: Vec<QueueEntry> = queue
        .into_iter()
        .filter(|e| keys.is_empty() || keys.contains(&SerialKey::new(&e.serial)))
        .filter(|e| cutoff.is_none_or(|c| e.scanned_at >= c))
        .collect();
    let mut scope = match (&args.since, args.serials.len()) {
        (Some(d), _) => format!("scanned in the last {}", humanize(*d)),
        (None, 0) => "the whole queue".to_string(),
        (None, n) => format!("{n} serial(s)"),
    };
    if args.since.is_some() && !args.serials.is_empty() {
        scope.push_str(&format!(", {} serial(s)", args.serials.len()));
    }
    let mut poller = Poller::new(client.clone(), config.clone());
    poller.extra_serials = args.serials.clone();
    let rows: Vec<DeviceStatus> = poller
        .cycle(&entries, now)
        .await?
        .iter()
        .map(|r| (**r).clone())
        .collect();
    let evidence_dir = args
        .evidence
        .clone()
        .unwrap_or_else(|| data_dir.join("evidence"));
    let tenant = config.tenant.id.clone().unwrap_or_default();
    let data = build(
        &tenant,
        scope,
        &rows,
        &entries,
        &evidence_dir,
        &args.out,
        now,
    );
    let page = render(&data);
    let tmp = args.out.with_extension("html.partial");
    std::fs::write(&tmp, page.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?;
    writeln!(
        out,
        "{} devices, {} needing attention -> {}",
        data.devices.len(),
        data.devices.iter().filter(|d| d.needs_attention()).count(),
        args.out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
