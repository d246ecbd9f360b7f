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
    /// Remove registered corporate identifiers from Intune (asks first unless --yes; audited
    /// before and after each removal), then drop them from the queue.
    Remove(RemoveArgs),
    /// Mark a queue entry failed with a reason (a hardware fault, say): a local note kept in the
    /// queue and shown in the console, never sent to Intune.
    Fail(FailArgs),
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Serials of registered queue entries.
    #[arg(required = true)]
    pub serials: Vec<String>,
    /// Do not ask (for scripts): the removal is still audited before and after.
    #[arg(long)]
    pub yes: bool,
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
    /// Hash files: the Autopilot group tag for rows without one.
    #[arg(long, value_name = "T")]
    pub group_tag: Option<String>,
    /// Hash files: the assigned user (UPN) for rows without one.
    #[arg(long, value_name = "UPN")]
    pub assigned_user: Option<String>,
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
        IntakeCommand::Remove(_) => {
            anyhow::bail!("intake remove needs a tenant connection: see run_remove")
        }
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
    /// A hash file's row: queued as an Autopilot registration.
    autopilot: Option<crate::autopilot::bench::Registration>,
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
                        autopilot: None,
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
                            at: at.clone(),
                            serial: serial.clone(),
                            manufacturer: r.hash.manufacturer.clone(),
                            model: r.hash.model.clone(),
                            profile: None,
                            autopilot: Some(crate::autopilot::bench::Registration::queued(
                                serial,
                                &r.hash_text,
                                &r.product_id,
                                r.group_tag.clone().or_else(|| args.group_tag.clone()),
                                r.assigned_user
                                    .clone()
                                    .or_else(|| args.assigned_user.clone()),
                                at.clone(),
                            )),
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
                        autopilot: None,
                    }),
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
    }
    Ok((rows, problems))
}

fn import(args: &ImportArgs, config: &Config, data_dir: &Path) -> anyhow::Result<ExitCode> {
    crate::commands::autopilot::check_options(
        args.group_tag.as_deref(),
        args.assigned_user.as_deref(),
    )?;
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
    let mut registrations = Vec::new();
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
        match scan::accept(&r.serial, &ctx, |k| queue.contains_key(k)) {
            Ok(a) => {
                if let Some(reg) = &r.autopilot {
                    let mut reg = reg.clone();
                    reg.serial = a.entry.serial.clone();
                    registrations.push(reg);
                }
                let event = QueueEvent::Added(a.entry);
                crate::store::queue::apply(&mut queue, &event);
                events.push(event);
            }
            Err(e) => problems.push(format!("{}: {}: {e}", r.at, r.serial)),
        }
    }
    // The queue entries and their Autopilot registrations are one transaction: a hash is never
    // queued as a plain serial, nor a registration left without its entry.
    db.write("save the queue", |tx| {
        for ev in &events {
            crate::store::db::apply_sql(tx, ev)?;
        }
        for reg in &registrations {
            crate::autopilot::bench::put(tx, reg)?;
        }
        Ok(())
    })?;
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
    actor: &str,
) -> anyhow::Result<ExitCode> {
    use crate::app::intake::UploadResult;
    use crate::store::EntryState;
    let (mut db, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let registrations =
        crate::autopilot::bench::load(db.conn()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (hashes, todo): (Vec<QueueEntry>, Vec<QueueEntry>) = queue
        .entries()
        .iter()
        .filter(|e| matches!(e.state, EntryState::Queued | EntryState::Uploading))
        .map(|e| QueueEntry::clone(e))
        .partition(|e| registrations.contains_key(&crate::serial::SerialKey::new(&e.serial)));
    let (mut registered, mut rejected, mut failed) = (0usize, 0usize, 0usize);
    if !hashes.is_empty() {
        let counts = super::autopilot_push::push(
            &mut db,
            &mut queue,
            &registrations,
            &hashes,
            client,
            data_dir,
            actor,
        )
        .await?;
        registered += counts.0;
        rejected += counts.1;
        failed += counts.2;
    }
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
        todo.len() + hashes.len()
    );
    Ok(if rejected + failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `stagehand intake remove SERIAL…`: the console's `X`, headless. Every serial must be a
/// registered entry of this queue (its imported id is known). Nothing is removed before the
/// technician confirms (or `--yes`); each removal is audited durably before the call and after it
/// with the outcome, under the account signed in now.
pub async fn run_remove(
    args: &RemoveArgs,
    data_dir: &Path,
    client: &crate::graph::GraphClient,
    actor: &str,
    confirm: &mut dyn FnMut(&str) -> bool,
) -> anyhow::Result<ExitCode> {
    use crate::serial::SerialKey;
    use crate::store::{AuditLog, AuditRecord, EntryState};
    let (mut journal, mut queue, report) = Store::open(data_dir)?;
    if report.notice.is_some() {
        eprintln!("{report}");
    }
    let mut targets = Vec::new();
    let mut refused = 0usize;
    for raw in &args.serials {
        let serial = raw.trim();
        match queue.get(&SerialKey::new(serial)) {
            Some(e) if e.state == EntryState::Registered && e.imported_id.is_some() => {
                targets.push((e.serial.clone(), e.imported_id.clone().unwrap_or_default()));
            }
            Some(e) => {
                refused += 1;
                eprintln!(
                    "stagehand: {}: not removed: it is {:?} here, only a registered identity can be removed (a queued one: the console's d)",
                    serial.escape_debug(),
                    e.state
                );
            }
            None => {
                refused += 1;
                eprintln!(
                    "stagehand: {}: not removed: not in this bench's queue",
                    serial.escape_debug()
                );
            }
        }
    }
    if targets.is_empty() {
        return Ok(ExitCode::from(if refused > 0 { 1 } else { 0 }));
    }
    let list: Vec<&str> = targets.iter().map(|(s, _)| s.as_str()).collect();
    let question = format!(
        "Remove {} corporate identifier(s) from Intune ({})? Type yes: ",
        targets.len(),
        list.join(", ")
    );
    if !args.yes && !confirm(&question) {
        eprintln!("stagehand: nothing removed");
        return Ok(ExitCode::from(1));
    }
    let mut audit = AuditLog::open(data_dir)?;
    let mut failed = 0usize;
    for (serial, imported_id) in targets {
        let mut before = AuditRecord::before(Utc::now(), actor, "delete_identifier");
        before.serial = Some(serial.clone());
        before.device_id = Some(imported_id.clone());
        // The record is durable before Intune is asked; no record, no call.
        audit.append(&before)?;
        let result = client.delete_imported_identity(&imported_id).await;
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        audit.append(&before.after(Utc::now(), &outcome))?;
        match result {
            Ok(()) => {
                let event = QueueEvent::Removed {
                    serial: serial.clone(),
                };
                crate::store::queue::apply(&mut queue, &event);
                journal.append(std::slice::from_ref(&event))?;
                println!("{serial}: removed from Intune");
            }
            Err(e) => {
                failed += 1;
                eprintln!("stagehand: {serial}: not removed: {e}");
            }
        }
    }
    Ok(if failed + refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks on the terminal; anything but "yes" declines. Without a terminal it declines (use --yes).
pub fn confirm_on_tty(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        eprintln!("stagehand: not asking without a terminal; pass --yes to remove");
        return false;
    }
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
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
    let mut out = crate::text::TermWriter::new(std::io::stdout().lock());
    for raw in &args.serials {
        match scan::accept(raw, &ctx, |k| queue.contains_key(k)) {
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
    let mut out = crate::text::TermWriter::new(std::io::stdout().lock());
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
