//! The streaming loop: rows in, validated, de-duplicated, formatted, written; problems counted.

use std::path::Path;
use std::sync::Arc;

use super::dedupe::{FirstSeen, SeenSerials};
use super::report::{self, RowError, Severity, Summary};
use super::row::RowRef;
use super::writer::Unwritable;
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
    let mut io_error = None;
    for (fi, mut file) in files.into_iter().enumerate() {
        names.push(file.path.clone());
        let big = file.size > 8 * 1024 * 1024;
        let mut batch = Batch::new(fi as u32, file.path.clone());
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
            if let Err(u) = batch.hold(format, &row, d) {
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
            if batch.is_full() {
                let sink = Sink {
                    format,
                    seen: &mut seen,
                    names: &names,
                    summary: &mut summary,
                    problems: &mut problems,
                    out: &mut out,
                };
                if let Err(e) = batch.flush(sink) {
                    io_error = Some(e);
                    break;
                }
            }
        }
        if io_error.is_none() {
            let sink = Sink {
                format,
                seen: &mut seen,
                names: &names,
                summary: &mut summary,
                problems: &mut problems,
                out: &mut out,
            };
            if let Err(e) = batch.flush(sink) {
                io_error = Some(e);
            }
        }
        let serial_column = batch.serial_column;
        let zeros = std::mem::take(&mut batch.zeros);
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

/// Rows per duplicate-check batch.
const BATCH: usize = 64;

/// Valid, formatted rows of one file held until their duplicate check: checking a batch at once
/// lets the table lookups overlap (see [`SeenSerials::insert_batch`]). Rows leave in order.
struct Batch {
    file_index: u32,
    path: Arc<Path>,
    /// Formatted lines (with their line ending) and cleaned serials, back to back.
    bytes: Vec<u8>,
    serials: String,
    rows: Vec<Held>,
    answers: Vec<Option<FirstSeen>>,
    /// Spreadsheet damage in this file's serial column, and that column (1-based).
    zeros: damage::LeadingZeros,
    serial_column: usize,
}

struct Held {
    line: u64,
    bytes_end: usize,
    serial_end: usize,
    serial_column: usize,
    periods_removed: bool,
}

/// Where a batch's rows go.
struct Sink<'a> {
    format: Format,
    seen: &'a mut SeenSerials,
    names: &'a [Arc<Path>],
    summary: &'a mut Summary,
    problems: &'a mut Vec<RowError>,
    out: &'a mut split::SplitWriter,
}

impl Batch {
    fn new(file_index: u32, path: Arc<Path>) -> Self {
        Self {
            file_index,
            path,
            bytes: Vec::with_capacity(BATCH * 64),
            serials: String::with_capacity(BATCH * 16),
            rows: Vec::with_capacity(BATCH),
            answers: Vec::with_capacity(BATCH),
            zeros: damage::LeadingZeros::default(),
            serial_column: 1,
        }
    }

    fn is_full(&self) -> bool {
        self.rows.len() >= BATCH
    }

    /// Formats and holds a row, or says why it cannot be written (holding nothing).
    fn hold(&mut self, format: Format, row: &RowRef<'_>, d: &Defaults) -> Result<(), Unwritable> {
        let before = self.bytes.len();
        if let Err(u) = format.format_row(row, d, &mut self.bytes) {
            self.bytes.truncate(before);
            return Err(u);
        }
        self.bytes.extend_from_slice(format.line_end());
        self.serials.push_str(&row.serial);
        self.rows.push(Held {
            line: row.line,
            bytes_end: self.bytes.len(),
            serial_end: self.serials.len(),
            serial_column: row.serial_column,
            periods_removed: row.periods_removed > 0,
        });
        Ok(())
    }

    /// Checks the held rows for duplicates, then reports or writes each in order.
    fn flush(&mut self, sink: Sink<'_>) -> std::io::Result<()> {
        let mut items = Vec::with_capacity(self.rows.len());
        let mut start = 0;
        for h in &self.rows {
            let at = FirstSeen {
                file: self.file_index,
                line: u32::try_from(h.line).unwrap_or(u32::MAX),
            };
            items.push((&self.serials[start..h.serial_end], at));
            start = h.serial_end;
        }
        // Duplicates compare case-insensitively; a line past 4 billion is recorded as the maximum.
        sink.seen.insert_batch(&items, &mut self.answers);
        let (mut bytes_start, mut serial_start) = (0, 0);
        let mut result = Ok(());
        for (h, answer) in self.rows.iter().zip(&self.answers) {
            let line = &self.bytes[bytes_start..h.bytes_end];
            let serial = &self.serials[serial_start..h.serial_end];
            bytes_start = h.bytes_end;
            serial_start = h.serial_end;
            if let Some(first) = answer {
                let e = RowError {
                    file: self.path.clone(),
                    line: h.line,
                    column: Some(h.serial_column),
                    severity: Severity::Duplicate,
                    code: "duplicate",
                    reason: format!(
                        "serial {serial} already on {} line {}; written once",
                        sink.names[first.file as usize].display(),
                        first.line
                    ),
                };
                sink.summary.count(&e);
                sink.problems.push(e);
                continue;
            }
            if h.periods_removed {
                sink.summary.note_periods(&self.path, h.line);
            }
            self.serial_column = h.serial_column;
            self.zeros.observe(h.line, serial);
            result = if sink.format == Format::Json && sink.out.rows_written() > 0 {
                sink.out.write_parts(&[b",", line])
            } else {
                sink.out.write_line(line)
            };
            if result.is_err() {
                break;
            }
        }
        self.bytes.clear();
        self.serials.clear();
        self.rows.clear();
        result
    }
}
