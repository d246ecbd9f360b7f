//! `stagehand evidence SERIAL… [-o DIR|FILE.zip] [--redact] [--logs]` and
//! `stagehand evidence verify DIR|ZIP`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{Bundle, Collector, Local, Options, Redactor, collect, verify};
use crate::config::Config;
use crate::graph::GraphClient;
use crate::review::confirm::parse_duration;
use crate::serial::SerialKey;
use crate::status::DeviceStatus;
use crate::status::poll::Poller;
use crate::store::{AuditLog, AuditRecord, QueueEntry};

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: Option<EvidenceCommand>,
    /// Serial numbers of the devices.
    #[arg(value_name = "SERIAL")]
    pub serials: Vec<String>,
    /// A folder (one sub-folder per device) or a FILE.zip. Default: `<data dir>/evidence`.
    #[arg(short = 'o', long = "out", value_name = "DIR|FILE.zip")]
    pub out: Option<PathBuf>,
    /// Replace user names and emails with stable pseudonyms in every file.
    #[arg(long)]
    pub redact: bool,
    /// Ask each device for its diagnostics (IME and enrollment logs), wait, and download them.
    #[arg(long)]
    pub logs: bool,
    /// How long to wait for a device to upload its diagnostics (`90s`, `15m`, `1h`).
    #[arg(long, value_name = "DUR", default_value = "15m", value_parser = parse_duration)]
    pub log_wait: Duration,
    /// The first pause between polls of a diagnostics request; it doubles up to 30 s.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub log_poll: Duration,
}

#[derive(Debug, Clone, Subcommand)]
pub enum EvidenceCommand {
    /// Check a bundle folder or zip against its manifest(s): exit 0 when every file matches.
    Verify {
        #[arg(value_name = "DIR|ZIP")]
        path: PathBuf,
    },
}

/// `evidence verify`: prints each bundle and each problem; exit 0 only when all match.
pub fn run_verify(path: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let v = verify(path)?;
    for (folder, serial, n) in &v.bundles {
        let folder = if folder.is_empty() {
            "."
        } else {
            folder.as_str()
        };
        writeln!(out, "{folder}: {serial}, {n} files listed")?;
    }
    for p in &v.problems {
        writeln!(out, "FAIL {p}")?;
    }
    if v.ok() {
        writeln!(out, "OK: every file matches its manifest")?;
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

/// Every audit record (none when the log cannot be read). Does not take the data-dir lock.
pub fn audit_records(data_dir: &Path) -> Vec<AuditRecord> {
    AuditLog::open(data_dir)
        .and_then(|a| a.read_all())
        .map(|r| r.records)
        .unwrap_or_default()
}

/// What stagehand has locally for the serials: queue entries (when the data dir is free) and
/// every audit record naming one of them.
pub fn local_records(data_dir: &Path) -> (Vec<QueueEntry>, Vec<AuditRecord>, Vec<String>) {
    let mut notes = Vec::new();
    let queue = match crate::store::Store::open(data_dir) {
        Ok((_j, q, _)) => q.entries().iter().map(|e| (**e).clone()).collect(),
        Err(e) => {
            notes.push(format!("queue not read: {e}"));
            Vec::new()
        }
    };
    let audit = match AuditLog::open(data_dir).and_then(|a| a.read_all()) {
        Ok(r) => r.records,
        Err(e) => {
            notes.push(format!("audit log not read: {e}"));
            Vec::new()
        }
    };
    (queue, audit, notes)
}

/// What stagehand knows locally of one device: its status row, its queue entry and every audit
/// record naming its serial or its managed device id.
pub fn local_for<'a>(
    serial: &str,
    status: Option<&'a DeviceStatus>,
    queue: Option<&'a QueueEntry>,
    audit: &'a [AuditRecord],
) -> Local<'a> {
    let key = SerialKey::new(serial);
    let device_id = status.and_then(|s| s.managed_device_id.as_deref());
    Local {
        status,
        queue,
        audit: audit
            .iter()
            .filter(|r| {
                r.serial
                    .as_deref()
                    .is_some_and(|s| SerialKey::new(s) == key)
                    || (device_id.is_some()
                        && r.device_id.as_deref().map(str::to_ascii_lowercase)
                            == device_id.map(str::to_ascii_lowercase))
            })
            .collect(),
    }
}

/// One device's bundle into `<data dir>/evidence/<serial>-<time>/`, as `stagehand evidence
/// SERIAL` writes it, for the console's evidence key (which has the row and queue entry
/// already; the audit log is read without the data-dir lock). Returns the folder.
pub async fn collect_into_data_dir(
    client: &GraphClient,
    who: &Collector,
    data_dir: &Path,
    serial: &str,
    status: Option<&DeviceStatus>,
    queue: Option<&QueueEntry>,
    progress: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<PathBuf> {
    let audit = audit_records(data_dir);
    let local = local_for(serial, status, queue, &audit);
    let b = collect(client, who, serial, &local, &Options::default(), progress).await;
    let folders = super::write_dirs(&data_dir.join("evidence"), &[b])?;
    folders
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no folder was written"))
}

/// Collects, redacts if asked, and writes. Progress and the summary go to `out`.
pub async fn run_with(
    client: &GraphClient,
    config: &Config,
    data_dir: &Path,
    who: &Collector,
    args: &EvidenceArgs,
    out: &mut (impl Write + Send),
) -> anyhow::Result<(ExitCode, Vec<Bundle>)> {
    anyhow::ensure!(
        !args.serials.is_empty(),
        "name at least one serial (or `evidence verify DIR|ZIP`)"
    );
    let (queue, audit, notes) = local_records(data_dir);
    for n in &notes {
        writeln!(out, "note: {n}")?;
    }
    let keys: Vec<SerialKey> = args.serials.iter().map(|s| SerialKey::new(s)).collect();
    let entries: Vec<QueueEntry> = queue
        .into_iter()
        .filter(|e| keys.contains(&SerialKey::new(&e.serial)))
        .collect();
    let mut poller = Poller::new(client.clone(), config.clone());
    poller.extra_serials = args.serials.clone();
    let rows: Vec<DeviceStatus> = match poller.cycle(&entries, chrono::Utc::now()).await {
        Ok(rows) => rows.iter().map(|r| (**r).clone()).collect(),
        Err(e) => {
            writeln!(out, "note: status not read: {e}")?;
            Vec::new()
        }
    };
    let opts = Options {
        logs: args.logs,
        log_wait: args.log_wait,
        log_poll: args.log_poll,
    };
    let mut redactor = if args.redact {
        Some(Redactor::load_or_create(data_dir)?)
    } else {
        None
    };
    let mut bundles = Vec::new();
    for serial in &args.serials {
        let key = SerialKey::new(serial);
        let status = rows.iter().find(|r| SerialKey::new(&r.serial) == key);
        let queue = entries.iter().find(|e| SerialKey::new(&e.serial) == key);
        let local = local_for(serial, status, queue, &audit);
        let mut lines = Vec::new();
        let mut progress = |l: String| lines.push(l);
        let mut b = collect(client, who, serial, &local, &opts, &mut progress).await;
        for l in lines {
            writeln!(out, "{}", super::printable(&l))?;
        }
        if let Some(r) = redactor.as_mut() {
            b.redact(r);
        }
        bundles.push(b);
    }
    let root = args
        .out
        .clone()
        .unwrap_or_else(|| data_dir.join("evidence"));
    let is_zip = root
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if is_zip {
        super::write_zip(&root, &bundles)?;
    }
    let folders = if is_zip {
        vec![root.clone(); bundles.len()]
    } else {
        super::write_dirs(&root, &bundles)?
    };
    for (b, f) in bundles.iter().zip(&folders) {
        writeln!(
            out,
            "{}: {} files, {} not collected -> {}",
            super::printable(&b.manifest.serial),
            b.manifest.files.len(),
            b.manifest.not_collected.len(),
            f.display()
        )?;
        for m in &b.manifest.not_collected {
            writeln!(
                out,
                "  not collected: {}: {}",
                m.item,
                super::printable(&m.why)
            )?;
        }
    }
    Ok((ExitCode::SUCCESS, bundles))
}
