//! The streaming loop: rows in, validated, de-duplicated, formatted, written; problems counted.

use std::path::Path;
use std::sync::Arc;

use super::dedupe::{FirstSeen, SeenSerials};
use super::report::{self, RowError, Severity, Summary};
use super::{Defaults, Format, InputFile, Outcome, PrepArgs, damage, sniff, split};

pub(super) fn pipeline(
    args: &PrepArgs,
    d: &Defaults,
    files: Vec<InputFile>,
    is_input: impl Fn(&Path) -> bool,
    progress: bool,
) -> Outcome {
    let format = args.format;
    let header: Vec<u8> = match format {
        Format::Autopilot => [super::writer::AUTOPILOT_HEADER.as_bytes(), b"\r\n"].concat(),
        Format::Json => b"{\"rows\":[\n".to_vec(),
        _ => Vec::new(),
    };
    let (max_rows, max_bytes) = format.limits();
    let mut out = split::SplitWriter::new(&args.output, &header, max_rows, max_bytes);
    let mut summary = Summary::default();
    let mut problems: Vec<RowError> = Vec::new();
    // Sized from the inputs (about 24 bytes a row, capped) so a big file does not rehash often.
    let estimate = files.iter().map(|f| f.size).sum::<u64>() / 24;
    let mut seen = SeenSerials::with_capacity(estimate.min(1 << 21) as usize);
    let mut names: Vec<Arc<Path>> = Vec::new();
    let mut bar = report::Progress::new(progress);
    let mut line = Vec::with_capacity(256);
    let mut io_error = None;
    for (fi, mut file) in files.into_iter().enumerate() {
        names.push(file.path.clone());
        let big = file.size > 8 * 1024 * 1024;
        let mut zeros = damage::LeadingZeros::default();
        let mut serial_column = 1;
        let mut rows = 0u64;
        loop {
            if big && rows.is_multiple_of(8192) {
                bar.update(&file.path, rows, file.position(), file.size);
            }
            let Some(item) = file.next_row() else { break };
            rows += 1;
            let row = match item {
                Ok(r) => r,
                Err(e) => {
                    summary.count(&e);
                    problems.push(e);
                    continue;
                }
            };
            line.clear();
            if let Err(u) = format.format_row(&row, d, &mut line) {
                let e = RowError {
                    file: row.file.clone(),
                    line: row.line,
                    column: u.column.map(|c| c + 1),
                    severity: Severity::Rejected,
                    code: u.code,
                    reason: u.reason,
                };
                summary.count(&e);
                problems.push(e);
                continue;
            }
            // Duplicates compare case-insensitively. File index and line fit in 8 bytes; a line
            // past 4 billion is recorded as the maximum.
            let at = FirstSeen {
                file: fi as u32,
                line: u32::try_from(row.line).unwrap_or(u32::MAX),
            };
            if let Some(first) = seen.insert(&row.serial, at) {
                let e = RowError {
                    file: row.file.clone(),
                    line: row.line,
                    column: Some(row.serial_column),
                    severity: Severity::Duplicate,
                    code: "duplicate",
                    reason: format!(
                        "serial {} already on {} line {}; written once",
                        row.serial,
                        names[first.file as usize].display(),
                        first.line
                    ),
                };
                summary.count(&e);
                problems.push(e);
                continue;
            }
            if row.periods_removed > 0 {
                summary.note_periods(&row.file, row.line);
            }
            serial_column = row.serial_column;
            zeros.observe(row.line, &row.serial);
            if format == Format::Json && out.rows_written() > 0 {
                line.splice(0..0, *b",");
            }
            line.extend_from_slice(format.line_end());
            if let Err(e) = out.write_line(&line) {
                io_error = Some(e);
                break;
            }
        }
        for s in zeros.finish() {
            let e = RowError {
                file: file.path.clone(),
                line: s.line,
                column: Some(serial_column),
                severity: Severity::Warning,
                code: "leading-zeros",
                reason: format!(
                    "serial {} has {} digits where this column's serials have {}: a spreadsheet may have dropped leading zeros (written; check it)",
                    s.serial,
                    s.serial.len(),
                    s.usual
                ),
            };
            summary.count(&e);
            problems.push(e);
        }
        summary.rows_read += rows;
        summary.inputs.push(report::InputInfo {
            file: file.path.display().to_string(),
            encoding: file.encoding.label(),
            delimiter: sniff::delimiter_name(file.delimiter),
            header: file.header,
            rows,
        });
        if io_error.is_some() {
            break;
        }
    }
    bar.finish();
    problems.sort_by_key(|p| (names.iter().position(|n| *n == p.file), p.line));
    let fail = |summary: Summary, problems: Vec<RowError>, msg: String| Outcome {
        exit_code: 2,
        error: Some(msg),
        summary,
        problems,
    };
    if let Some(e) = io_error {
        return fail(
            summary,
            problems,
            format!("{}: cannot write: {e}", args.output.display()),
        );
    }
    let rejected = summary.rejected > 0;
    let nothing = out.rows_written() == 0 && format != Format::Json;
    if (args.strict && rejected) || nothing {
        drop(out);
    } else {
        summary.rows_written = out.rows_written();
        if format == Format::Json {
            let tail = serde_json::json!({ "problems": problems, "summary": summary });
            let tail = tail.to_string();
            // `{"rows":[ ... ],"problems":…,"summary":…}`
            let closing = format!("],{}\n", &tail[1..]);
            if let Err(e) = out.write_raw(closing.as_bytes()) {
                return fail(
                    summary,
                    problems,
                    format!("{}: cannot write: {e}", args.output.display()),
                );
            }
        }
        if let Some(clash) = out.final_names().into_iter().find(|n| is_input(n)) {
            summary.rows_written = 0;
            return fail(
                summary,
                problems,
                format!(
                    "{}: would overwrite an input; nothing written",
                    clash.display()
                ),
            );
        }
        match out.commit() {
            Ok(names) => summary.outputs = names.iter().map(|n| n.display().to_string()).collect(),
            Err(e) => {
                summary.rows_written = 0;
                return fail(
                    summary,
                    problems,
                    format!("{}: cannot write: {e}", args.output.display()),
                );
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
