//! The streaming loop: rows in, validated, de-duplicated, formatted, written; problems counted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

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
    let header: &[u8] = match format {
        Format::Autopilot => {
            b"Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n"
        }
        Format::Json => b"{\"rows\":[\n",
        _ => b"",
    };
    let (max_rows, max_bytes) = format.limits();
    let mut out = split::SplitWriter::new(&args.output, header, max_rows, max_bytes);
    let mut summary = Summary::default();
    let mut problems: Vec<RowError> = Vec::new();
    let mut seen: HashMap<Box<str>, (usize, u64)> = HashMap::new();
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
        while let Some(item) = file.next() {
            rows += 1;
            if big && rows.is_multiple_of(8192) {
                bar.update(&file.path, rows, file.position(), file.size);
            }
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
            let key: Box<str> = row.serial.to_ascii_uppercase().into_boxed_str();
            if let Some(&(pf, pl)) = seen.get(&key) {
                let e = RowError {
                    file: row.file.clone(),
                    line: row.line,
                    column: Some(row.serial_column),
                    severity: Severity::Duplicate,
                    code: "duplicate",
                    reason: format!(
                        "serial {} already on {} line {pl}; written once",
                        row.serial,
                        names[pf].display()
                    ),
                };
                summary.count(&e);
                problems.push(e);
                continue;
            }
            seen.insert(key, (fi, row.line));
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
