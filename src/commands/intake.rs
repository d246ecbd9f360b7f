//! `stagehand intake add|list|import`: the intake queue without the console. They take the same data-dir
//! lock as the console, so they never write a queue another stagehand is using.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::app::intake::scan::{self, ScanContext};
use crate::config::Config;
use crate::store::{QueueEntry, QueueEvent, Store};
use crate::text::{Escaped, escape};

#[derive(Debug, Args)]
pub struct IntakeArgs {
    #[command(subcommand)]
    pub command: IntakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Queue serials as if scanned at this bench.
    Add(AddArgs),
    /// Print the queue.
    List(ListArgs),
    /// Upload every queued entry to Intune, then exit (non-zero if any entry failed).
    Push,
    /// Queue the serials of files: a `stagehand prep --format queue` file, or any CSV/list that
    /// `stagehand prep` reads (same parser, same rules).
    Import(ImportArgs),
    /// Mark a queue entry failed with a reason (a hardware fault, say): a local note kept in the
    /// queue and shown in the console, never sent to Intune.
    Fail(FailArgs),
}

#[derive(Debug, Args)]
pub struct FailArgs {
    /// The queued serial.
    pub serial: String,
    /// Why it failed.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Staging profile for rows that name none (default: [intake] default_profile).
    #[arg(long)]
    pub profile: Option<String>,
}

/// One line of a `prep --format queue` file.
#[derive(Debug, serde::Deserialize)]
struct QueueLine {
    serial: String,
    manufacturer: Option<String>,
    model: Option<String>,
    profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Serial numbers.
    #[arg(required = true)]
    pub serials: Vec<String>,
    /// Staging profile (default: [intake] default_profile).
    #[arg(long)]
    pub profile: Option<String>,
    /// Manufacturer instead of the profile's.
    #[arg(long, requires = "model")]
    pub manufacturer: Option<String>,
    /// Model instead of the profile's.
    #[arg(long, requires = "manufacturer")]
    pub model: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One queue entry as `intake list --json` prints it.
#[derive(Debug, Serialize)]
pub struct ListedEntry<'a> {
    pub serial: &'a str,
    pub manufacturer: &'a str,
    pub model: &'a str,
    pub profile: &'a str,
    pub platform: crate::config::Platform,
    pub state: crate::store::EntryState,
    pub scanned_at: String,
    pub bench: &'a str,
    pub message: Option<&'a str>,
    pub note: Option<&'a str>,
    pub imported_id: Option<&'a str>,
}

impl<'a> From<&'a QueueEntry> for ListedEntry<'a> {
    fn from(e: &'a QueueEntry) -> Self {
        ListedEntry {
            serial: &e.serial,
            manufacturer: &e.manufacturer,
            model: &e.model,
            profile: &e.profile,
            platform: e.platform,
            state: e.state,
            scanned_at: e.scanned_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            bench: &e.bench,
            message: e.message.as_deref(),
            note: e.note.as_deref(),
            imported_id: e.imported_id.as_deref(),
        }
    }
}

pub fn run(args: &IntakeArgs, config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match &args.command {
        IntakeCommand::Push => anyhow::bail!("intake push needs a tenant connection: see run_push"),
        IntakeCommand::Add(a) => add(a, config, data_dir),
        IntakeCommand::List(a) => list(a, data_dir),
        IntakeCommand::Import(a) => import(a, config, data_dir),
        IntakeCommand::Fail(a) => fail(a, data_dir),
    }
}

/// A row to queue, from either file kind, with where it came from.
struct ImportRow {
    at: String,
    serial: String,
    manufacturer: Option<String>,
    model: Option<String>,
    profile: Option<String>,
}

fn read_import_rows(args: &ImportArgs) -> anyhow::Result<(Vec<ImportRow>, Vec<String>)> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for path in &args.files {
        let text = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'{') {
            for (i, line) in String::from_utf8_lossy(&text).lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = format!("{}:{}", path.display(), i + 1);
                match serde_json::from_str::<QueueLine>(line) {
                    Ok(q) => rows.push(ImportRow {
                        at,
                        serial: q.serial,
                        manufacturer: q.manufacturer,
                        model: q.model,
                        profile: q.profile,
                    }),
                    Err(e) => problems.push(format!("{at}: not a queue line: {e}")),
                }
            }
        } else if crate::autopilot::file::is_hash_file(path) {
            // A Get-WindowsAutopilotInfo file: manufacturer and model come from the decoded
            // hash, and a hash the checks refuse is a problem, not a queued serial.
            let (recs, errors) =
                crate::autopilot::file::read(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            problems.extend(errors.iter().map(ToString::to_string));
            let mut checked: Vec<_> = recs.iter().map(crate::autopilot::check::check).collect();
            crate::autopilot::check::cross_check(&recs, &mut checked);
            for (r, c) in recs.iter().zip(&checked) {
                let at = format!("{}:{}", path.display(), r.line);
                let refused: Vec<&str> = c
                    .findings
                    .iter()
                    .filter(|f| f.level == crate::autopilot::check::Level::Error)
                    .map(|f| f.message.as_str())
                    .collect();
                match &c.serial {
                    Some(serial) if refused.is_empty() && c.duplicate_of.is_none() => {
                        rows.push(ImportRow {
                            at,
                            serial: serial.clone(),
                            manufacturer: r.hash.manufacturer.clone(),
                            model: r.hash.model.clone(),
                            profile: None,
                        })
                    }
                    _ if c.duplicate_of.is_some() => {}
                    _ => problems.push(format!(
                        "{at}: {}",
                        crate::autopilot::safe(&refused.join("; "))
                    )),
                }
            }
        } else {
            let opts = crate::prep::ReadOptions::default();
            let iter = crate::prep::read_rows(std::slice::from_ref(path), &opts)?;
            for row in iter {
                match row {
                    Ok(r) => rows.push(ImportRow {
                        at: format!("{}:{}", path.display(), r.line),
                        serial: r.serial,
                        manufacturer: r.manufacturer.map(|m| m.to_string()),
                        model: r.model.map(|m| m.to_string()),
                        profile: None,
                    }),
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
    }
    Ok((rows, problems))
}

fn import(args: &ImportArgs, config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let (rows, mut problems) = read_import_rows(args)?;
    let (mut db, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let bench = gethostname::gethostname().to_string_lossy().into_owned();
    let default_profile = args
        .profile
        .clone()
        .unwrap_or_else(|| config.intake.default_profile.clone());
    let now = Utc::now();
    let mut events = Vec::new();
    for r in &rows {
        let profile = r.profile.clone().unwrap_or_else(|| default_profile.clone());
        let ctx = ScanContext {
            config,
            profile: &profile,
            manufacturer: r.manufacturer.as_deref(),
            model: r.model.as_deref(),
            bench: &bench,
            now,
        };
        match scan::accept(&r.serial, &ctx, |k| queue.contains(k)) {
            Ok(a) => {
                let event = QueueEvent::Added(a.entry);
                crate::store::queue::apply(&mut queue, &event);
                events.push(event);
            }
            Err(e) => problems.push(format!("{}: {}: {e}", r.at, r.serial)),
        }
    }
    db.append(&events)?;
    for p in &problems {
        eprintln!("{p}");
    }
    println!(
        "queued {} of {} rows; {} problems",
        events.len(),
        rows.len(),
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `intake push`: upload the queued entries in batches with the console's uploader, saving every
/// outcome in the queue as it comes.
pub async fn run_push(
    config: &Config,
    data_dir: &Path,
    client: &crate::graph::GraphClient,
) -> anyhow::Result<ExitCode> {
    use crate::app::intake::UploadResult;
    use crate::store::EntryState;
    let (mut db, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let todo: Vec<QueueEntry> = queue
        .entries()
        .iter()
        .filter(|e| matches!(e.state, EntryState::Queued | EntryState::Uploading))
        .map(|e| QueueEntry::clone(e))
        .collect();
    let (mut registered, mut rejected, mut failed) = (0usize, 0usize, 0usize);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for (n, batch) in todo.chunks(config.intake.batch_size.max(1)).enumerate() {
        let start: Vec<QueueEvent> = batch
            .iter()
            .map(|e| QueueEvent::State {
                serial: e.serial.clone(),
                state: EntryState::Uploading,
                message: None,
            })
            .collect();
        db.append(&start)?;
        let outcomes = crate::feeds::intake::upload(client, batch).await;
        let mut events = Vec::new();
        for o in outcomes {
            let (state, message) = match o.result {
                UploadResult::Registered {
                    imported_id,
                    message,
                } => {
                    registered += 1;
                    if let Some(id) = imported_id {
                        events.push(QueueEvent::Imported {
                            serial: o.serial.clone(),
                            imported_id: id,
                        });
                    }
                    (EntryState::Registered, message)
                }
                UploadResult::Rejected { message } => {
                    rejected += 1;
                    eprintln!("{}: rejected: {}", escape(&o.serial), escape(&message));
                    (EntryState::Rejected, message)
                }
                UploadResult::Failed { message } => {
                    failed += 1;
                    eprintln!("{}: failed: {}", escape(&o.serial), escape(&message));
                    (EntryState::Queued, message)
                }
            };
            events.push(QueueEvent::State {
                serial: o.serial,
                state,
                message: Some(message),
            });
        }
        for e in &events {
            crate::store::queue::apply(&mut queue, e);
        }
        db.append(&events)?;
        if tty {
            let done = ((n + 1) * config.intake.batch_size.max(1)).min(todo.len());
            eprint!(
                "\r[{:<30}] {done}/{}",
                "#".repeat(done * 30 / todo.len().max(1)),
                todo.len()
            );
        }
    }
    if tty && !todo.is_empty() {
        eprintln!();
    }
    println!(
        "{registered} registered, {rejected} rejected, {failed} failed (left queued) of {}",
        todo.len()
    );
    Ok(if rejected + failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn add(args: &AddArgs, config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let (mut db, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let bench = gethostname::gethostname().to_string_lossy().into_owned();
    let profile = args
        .profile
        .clone()
        .unwrap_or_else(|| config.intake.default_profile.clone());
    let ctx = ScanContext {
        config,
        profile: &profile,
        manufacturer: args.manufacturer.as_deref(),
        model: args.model.as_deref(),
        bench: &bench,
        now: Utc::now(),
    };
    let mut events = Vec::new();
    let mut refused = 0;
    let mut out = crate::text::TermWriter(std::io::stdout().lock());
    for raw in &args.serials {
        match scan::accept(raw, &ctx, |k| queue.contains(k)) {
            Ok(a) => {
                if let Some(n) = &a.notice {
                    writeln!(out, "{}: {}", escape(&a.entry.serial), escape(n))?;
                }
                let event = QueueEvent::Added(a.entry);
                crate::store::queue::apply(&mut queue, &event);
                events.push(event);
            }
            Err(e) => {
                refused += 1;
                eprintln!("{}: {}", escape(raw), Escaped(&e));
            }
        }
    }
    db.append(&events)?;
    writeln!(
        out,
        "queued {} of {} serials",
        events.len(),
        args.serials.len()
    )?;
    Ok(if refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn fail(args: &FailArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let event = crate::app::intake::note::mark_failed(&args.serial, &args.reason)
        .map_err(|e| anyhow::anyhow!("--reason: {e}"))?;
    let (mut db, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let serial = args.serial.trim();
    if !queue.contains(serial) {
        eprintln!("stagehand: {} is not in the intake queue", escape(serial));
        return Ok(ExitCode::from(1));
    }
    crate::store::queue::apply(&mut queue, &event);
    db.append(std::slice::from_ref(&event))?;
    println!(
        "{} marked failed (local note, not sent to Intune)",
        escape(serial)
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: &ListArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let (_db, queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let mut out = crate::text::TermWriter(std::io::stdout().lock());
    if args.json {
        let rows: Vec<ListedEntry> = queue
            .entries()
            .iter()
            .map(|e| ListedEntry::from(&**e))
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        for e in queue.entries() {
            writeln!(
                out,
                "{:<10} {:<20} {:<12} {:<14} {:<10} {} {}",
                format!("{:?}", e.state).to_lowercase(),
                e.serial,
                e.manufacturer,
                e.model,
                e.profile,
                e.scanned_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                e.message.as_deref().unwrap_or("")
            )?;
        }
        writeln!(out, "{} entries", queue.len())?;
    }
    Ok(ExitCode::SUCCESS)
}
