//! `prep` on hardware hash files: every hash is decoded and checked (`crate::autopilot`), then
//! written as Windows corporate identifiers (`manufacturer,model,serial` from the hash: the
//! Device Preparation step with no typing) or merged into Autopilot import files (at most 500
//! rows each, UTF-16 LE with BOM as Get-WindowsAutopilotInfo writes them, the exact header).
//! Duplicates are found by serial, never by hash text.

use std::path::Path;
use std::sync::Arc;

use super::report::{InputInfo, RowError, Severity, Summary};
use super::split::SplitWriter;
use super::writer::{AUTOPILOT_HEADER, AUTOPILOT_MAX_ROWS, CORP_MAX_BYTES, CORP_MAX_ROWS};
use super::{Defaults, Format, Outcome, PrepArgs, usage};
use crate::autopilot::api::pad;
use crate::autopilot::check::{self, Level};
use crate::autopilot::file::{self, HashRecord};
use crate::config::Platform;
use crate::serial;

/// UTF-16 LE bytes of `text`.
pub fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub(super) fn run(args: &PrepArgs, d: &Defaults, is_input: impl Fn(&Path) -> bool) -> Outcome {
    match args.format {
        Format::CorporateIdentifiers if d.platform != Platform::Windows => {
            return usage(
                "hardware hash files are Windows devices: corporate identifiers from them are Windows only (drop --platform)",
            );
        }
        Format::CorporateIdentifiers | Format::Autopilot => {}
        Format::Queue | Format::Json => {
            return usage(
                "hardware hash files: use --format corporate-identifiers or --format autopilot (or `stagehand autopilot show --json`)",
            );
        }
    }
    if args.serial_column.is_some() {
        return usage(
            "--serial-column: a hardware hash file's serial column is \"Device Serial Number\"",
        );
    }
    let mut summary = Summary::default();
    let mut problems = Vec::new();
    let mut records: Vec<HashRecord> = Vec::new();
    for p in &args.inputs {
        let (recs, errors) = match file::read(p) {
            Ok(x) => x,
            Err(e) => return usage(e),
        };
        let arc: Arc<Path> = Arc::from(p.as_path());
        let rows = (recs.len() + errors.len()) as u64;
        summary.rows_read += rows;
        summary.inputs.push(InputInfo {
            file: p.display().to_string(),
            encoding: encoding_of(p),
            delimiter: "comma".into(),
            header: true,
            rows,
        });
        for e in errors {
            let err = RowError {
                file: arc.clone(),
                line: e.line,
                column: e.column,
                severity: Severity::Rejected,
                code: "bad-hash",
                reason: e.message,
            };
            summary.count(&err);
            problems.push(err);
        }
        records.extend(recs);
    }
    let mut checked: Vec<_> = records.iter().map(check::check).collect();
    check::cross_check(&records, &mut checked);
    let autopilot = args.format == Format::Autopilot;
    let (header, max_rows, max_bytes) = if autopilot {
        let mut h = vec![0xFF, 0xFE];
        h.extend(utf16le(&format!("{AUTOPILOT_HEADER}\r\n")));
        (h, Some(AUTOPILOT_MAX_ROWS), None)
    } else {
        (Vec::new(), Some(CORP_MAX_ROWS), Some(CORP_MAX_BYTES))
    };
    let mut out = SplitWriter::new(&args.output, &header, max_rows, max_bytes);
    for (r, c) in records.iter().zip(&checked) {
        let arc: Arc<Path> = Arc::from(r.file.as_path());
        let row_error = |severity, code, reason: String| RowError {
            file: arc.clone(),
            line: r.line,
            column: None,
            severity,
            code,
            reason,
        };
        let mut refused = false;
        for f in &c.findings {
            let severity = match (f.level, f.code) {
                (_, "duplicate") => Severity::Duplicate,
                (Level::Error, _) => {
                    refused = true;
                    Severity::Rejected
                }
                _ => Severity::Warning,
            };
            let e = row_error(severity, f.code, f.message.clone());
            summary.count(&e);
            problems.push(e);
        }
        if refused || c.duplicate_of.is_some() {
            continue;
        }
        let Some(s) = c.serial.as_deref() else {
            continue;
        };
        let line = match line_for(args, r, s, autopilot) {
            Ok(l) => l,
            Err((code, reason)) => {
                let e = row_error(Severity::Rejected, code, reason);
                summary.count(&e);
                problems.push(e);
                continue;
            }
        };
        let bytes = if autopilot {
            utf16le(&format!("{line}\r\n"))
        } else {
            format!("{line}\r\n").into_bytes()
        };
        if let Err(e) = out.write_line(&bytes) {
            return fail(
                summary,
                problems,
                format!("{}: cannot write: {e}", args.output.display()),
            );
        }
    }
    problems.sort_by_key(|p| (args.inputs.iter().position(|i| *i == *p.file), p.line));
    let rejected = summary.rejected > 0;
    if (args.strict && rejected) || out.rows_written() == 0 {
        drop(out);
    } else {
        summary.rows_written = out.rows_written();
        match out.commit_unless_input(&is_input, &args.output) {
            Ok(names) => summary.outputs = names,
            Err(msg) => {
                summary.rows_written = 0;
                return fail(summary, problems, msg);
            }
        }
    }
    Outcome {
        exit_code: i32::from(rejected),
        error: None,
        summary,
        problems,
    }
}

fn fail(summary: Summary, problems: Vec<RowError>, msg: String) -> Outcome {
    Outcome {
        exit_code: 2,
        error: Some(msg),
        summary,
        problems,
    }
}

fn encoding_of(p: &Path) -> &'static str {
    crate::prep::decode::open(p, None)
        .map(|d| d.encoding.label())
        .unwrap_or("unknown")
}

/// One output line (without line ending), or why the row cannot be written.
fn line_for(
    args: &PrepArgs,
    r: &HashRecord,
    serial_in: &str,
    autopilot: bool,
) -> Result<String, (&'static str, String)> {
    let clean = serial::clean(serial_in)
        .map_err(|e| ("bad-serial", format!("serial {serial_in:?}: {e}")))?;
    let serial = clean.value.as_ref();
    if autopilot {
        let tag = args
            .group_tag
            .as_deref()
            .or(r.group_tag.as_deref())
            .unwrap_or("");
        let user = args
            .assigned_user
            .as_deref()
            .or(r.assigned_user.as_deref())
            .unwrap_or("");
        let hash = pad(&r.hash_text);
        let fields = [
            ("serial", serial),
            ("Windows Product ID", r.product_id.as_str()),
            ("group tag", tag),
            ("assigned user", user),
        ];
        for (name, v) in fields {
            if v.contains([',', '"', '\r', '\n']) {
                return Err((
                    "bad-autopilot-field",
                    format!(
                        "the {name} must not contain commas, quotes or line breaks (the Autopilot CSV allows no quoting)"
                    ),
                ));
            }
        }
        return Ok(format!("{serial},{},{hash},{tag},{user}", r.product_id));
    }
    let label = |field: &'static str, v: Option<&str>| -> Result<String, (&'static str, String)> {
        let v = v
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(("missing-label", format!("the hash has no {field}")))?;
        serial::check_label(field, v)
            .map(str::to_string)
            .map_err(|e| ("bad-label", e.to_string()))
    };
    let m = label("manufacturer", r.hash.manufacturer.as_deref())?;
    let mo = label("model", r.hash.model.as_deref())?;
    Ok(format!("{m},{mo},{serial}"))
}
