//! `stagehand status`: the status pane without the console. One complete answer (or `--watch`
//! to keep polling), printed as a table or as JSON.
//!
//! Without `--watch` the answer is complete: poll cycles run until no read is pending (a cycle
//! normally completes everything; a failed read is tried again, at most `ONE_SHOT_CYCLES`
//! times), so a device a real user signed in to shows `in_use`, not `provisioned`.
//!
//! Output contract, TTY or not: `--json` prints one JSON array of every tracked device per poll,
//! on one line (so `--json --watch` is JSON Lines: one array per line, one line per poll, each
//! flushed as soon as it is written). `--watch` stops cleanly, exit code 0, on Ctrl-C/SIGINT and,
//! on Unix, SIGTERM, whether it is polling or waiting.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::config::Config;
use crate::graph::GraphClient;
use crate::serial::SerialKey;
use crate::status::DeviceStatus;
use crate::status::poll::Poller;
use crate::store::Store;
use crate::text::escape as esc;

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print a JSON array of devices instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep polling at the adaptive interval until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Also show every device a staging account enrolled within the window.
    #[arg(long)]
    pub all_staged: bool,
    /// Write the devices to `<data dir>/exports/` as CSV and JSON (the pane's columns), print
    /// the two paths, and exit.
    #[arg(long, conflicts_with = "watch")]
    pub csv: bool,
    /// Only these serials (repeatable); serials not in the queue are tracked too.
    #[arg(long = "serial", value_name = "S")]
    pub serials: Vec<String>,
    /// Only devices stuck in a stage beyond their profile's `stuck_minutes`.
    #[arg(long)]
    pub stuck: bool,
}

/// Runs the command with a signed-in client.
pub async fn run(
    args: &StatusArgs,
    config: &Config,
    data_dir: &Path,
    client: GraphClient,
) -> anyhow::Result<ExitCode> {
    let (db, queue, report) = Store::open(data_dir)?;
    // Devices queued from hash files: their Autopilot import and profile assignment, read
    // again at each poll (an `intake push` may be importing them meanwhile).
    crate::autopilot::bench::load(db.conn()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db_file = db.path().to_path_buf();
    // The store thread keeps the observed stage timeline: loaded before the first poll, every
    // change recorded as it is seen, all of it written before the command exits.
    let store = crate::store::spawn_to(db, None, Box::new(|_| {}));
    let result = answer(
        args,
        config,
        data_dir,
        client,
        store.client()?,
        db_file,
        report,
        queue,
    )
    .await;
    let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
    result
}

/// The command's polls and output, with the store thread running.
#[allow(clippy::too_many_arguments)]
async fn answer(
    args: &StatusArgs,
    config: &Config,
    data_dir: &Path,
    client: GraphClient,
    store: crate::store::StoreClient,
    db_file: std::path::PathBuf,
    report: crate::store::OpenReport,
    queue: crate::store::Queue,
) -> anyhow::Result<ExitCode> {
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let wanted: Vec<SerialKey> = args.serials.iter().map(|s| SerialKey::new(s)).collect();
    let entries: Vec<_> = queue
        .entries()
        .iter()
        .filter(|e| wanted.is_empty() || wanted.contains(&SerialKey::new(&e.serial)))
        .cloned()
        .collect();
    let mut poller = Poller::new(client, config.clone());
    poller.all_staged = args.all_staged;
    poller.extra_serials = args.serials.clone();
    poller.autopilot_db = Some(db_file);
    if let Err(e) = poller.keep_timeline(store).await {
        eprintln!("warning: the stage timeline could not be read ({e}); time in stage starts now");
    }
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let rows = tokio::select! {
            _ = &mut stop => return Ok(ExitCode::SUCCESS),
            rows = poll(&mut poller, &entries, !args.watch) => rows?,
        };
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| !args.stuck || r.flags.stuck)
            .collect();
        // Devices from hash files carry `"autopilot"` (the poller's view of their registration).
        let decorated = if args.json && rows.iter().any(|r| r.raw.autopilot().is_some()) {
            let mut values = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut v = serde_json::to_value(&**r)?;
                if let Some(a) = r.raw.autopilot() {
                    crate::autopilot::bench::apply_view(&mut v, a);
                }
                values.push(v);
            }
            Some(values)
        } else {
            None
        };
        let mut out = crate::text::TermWriter::new(std::io::stdout().lock());
        if args.csv {
            let table = crate::export::status_table(rows.iter().map(|r| &**r));
            let w = crate::export::write(data_dir, &table, chrono::Utc::now())?;
            writeln!(out, "{}\n{}", w.csv.display(), w.json.display())?;
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(values) = &decorated {
            serde_json::to_writer(&mut out, values)?;
            writeln!(out)?;
        } else if args.json {
            let plain: Vec<&DeviceStatus> = rows.iter().map(|r| &**r).collect();
            serde_json::to_writer(&mut out, &plain)?;
            writeln!(out)?;
        } else {
            write_table(&mut out, rows.iter().map(|r| &**r), chrono::Utc::now())?;
        }
        out.flush()?;
        drop(out);
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        let wait = crate::status::plan::next_interval(&poller.cadence(), poller.moving, 0, None);
        tokio::select! {
            _ = &mut stop => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Most poll cycles a one-shot answer runs while reads stay pending.
pub const ONE_SHOT_CYCLES: usize = 4;

/// One poll cycle, or with `complete` cycles until no read is pending (at most
/// [`ONE_SHOT_CYCLES`]), with a progress line on stderr when stderr is a terminal.
async fn poll(
    poller: &mut Poller,
    entries: &[std::sync::Arc<crate::store::QueueEntry>],
    complete: bool,
) -> Result<Vec<crate::status::SharedRow>, crate::graph::GraphError> {
    use std::io::IsTerminal;
    let progress = complete && std::io::stderr().is_terminal();
    let say = |line: &str| {
        if progress {
            // Erase the line, then write it again: one line that updates in place.
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
        }
    };
    say("reading Intune…");
    let mut rows = poller.cycle(entries, chrono::Utc::now()).await?;
    let mut cycles = 1;
    while complete && poller.pending() > 0 && cycles < ONE_SHOT_CYCLES {
        say(&format!(
            "reading Intune… {} reads still pending, pass {}/{ONE_SHOT_CYCLES}",
            poller.pending(),
            cycles + 1
        ));
        // A short pause: a failed read is usually a throttled or busy moment.
        tokio::time::sleep(std::time::Duration::from_secs(cycles as u64)).await;
        rows = poller.cycle(entries, chrono::Utc::now()).await?;
        cycles += 1;
    }
    say("");
    if complete && poller.pending() > 0 {
        eprintln!(
            "warning: {} device reads still failed after {cycles} passes; the devices concerned are flagged stale",
            poller.pending()
        );
    }
    Ok(rows)
}

/// Resolves on Ctrl-C / SIGINT, or SIGTERM on Unix (how a scheduler or `timeout` stops us).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C still stops");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The table form: one line per device.
pub fn write_table<'a>(
    out: &mut impl Write,
    rows: impl IntoIterator<Item = &'a DeviceStatus>,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<16} {:<16} {:<26} {:>8}  {:<28} MESSAGE",
        "SERIAL", "DEVICE", "STAGE", "IN STAGE", "PRIMARY USER"
    )?;
    for r in rows {
        let flags = r.flags.names();
        let stage = if flags.is_empty() {
            r.stage.label().to_string()
        } else {
            format!("{} [{}]", r.stage.label(), flags.join(","))
        };
        writeln!(
            out,
            "{:<16} {:<16} {:<26} {:>8}  {:<28} {}",
            // Graph text, escaped field by field: a name cannot forge a line.
            esc(&r.serial),
            esc(r.device_name.as_deref().unwrap_or("-")),
            stage,
            crate::console::status::short_duration(now - r.since),
            esc(r.primary_user.as_deref().unwrap_or("-")),
            esc(&r.message)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Flags, Stage};

    #[test]
    fn table_lines_show_stage_flags_and_time_in_stage() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc();
        let row = DeviceStatus {
            serial: "PF1".into(),
            stage: Stage::Provisioning,
            flags: Flags {
                stuck: true,
                stale: true,
                noncompliant: false,
            },
            device_name: Some("DESKTOP-1".into()),
            managed_device_id: Some("md-1".into()),
            primary_user: None,
            enrolled_by: None,
            enrollment_state: None,
            deployment_status: Some("1".into()),
            last_sync: None,
            compliance: None,
            message: "deploying, phase 2".into(),
            code: None,
            phase: Some("phase 2".into()),
            since: now - chrono::Duration::minutes(42),
            timeline: Vec::new().into(),
            raw: Default::default(),
        };
        let mut out = Vec::new();
        write_table(&mut out, [&row], now).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert!(line.starts_with("PF1 "), "{line}");
        assert!(line.contains("provisioning [stuck,stale]"), "{line}");
        assert!(
            line.contains("42m") && line.ends_with("deploying, phase 2"),
            "{line}"
        );
    }
}
