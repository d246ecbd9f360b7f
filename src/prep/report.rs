//! What prep found: file-level errors, per-row problems, the summary, and the TTY progress line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A whole input cannot be used (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{}: cannot read: {reason}", file.display())]
    Unreadable { file: PathBuf, reason: String },
    #[error("{}: looks like a binary file, not text (byte 0x{byte:02X} at offset {offset})", file.display())]
    Binary {
        file: PathBuf,
        offset: u64,
        byte: u8,
    },
    #[error("{}:{line}: {reason}", file.display())]
    Layout {
        file: PathBuf,
        line: u64,
        reason: String,
    },
}

/// How serious a row problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row was not written.
    Rejected,
    /// Written, but a person should look (e.g. leading zeros lost in a spreadsheet).
    Warning,
    /// Written once; reported for the record (duplicates).
    Duplicate,
}

/// One problem with one row, naming file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    #[serde(serialize_with = "ser_path")]
    pub file: Arc<Path>,
    pub line: u64,
    /// 1-based column (field) number, when one column is at fault.
    pub column: Option<usize>,
    pub severity: Severity,
    /// A short stable key for the summary ("bad-serial", "scientific-notation", …).
    pub code: &'static str,
    pub reason: String,
}

fn ser_path<S: serde::Serializer>(p: &Arc<Path>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.display().to_string())
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        let tag = match self.severity {
            Severity::Rejected => "rejected",
            Severity::Warning => "warning",
            Severity::Duplicate => "duplicate",
        };
        write!(f, ": {tag}: {}", self.reason)
    }
}

impl std::error::Error for RowError {}

/// A notice that applies to many rows (periods removed), kept compact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeriodNotice {
    pub rows: usize,
    /// The first lines affected, per file (at most [`NOTICE_LINES`]).
    pub first_lines: BTreeMap<String, Vec<u64>>,
}

pub const NOTICE_LINES: usize = 10;

/// What one input turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputInfo {
    pub file: String,
    pub encoding: &'static str,
    pub delimiter: String,
    pub header: bool,
    pub rows: u64,
}

/// The end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub inputs: Vec<InputInfo>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    pub duplicates: u64,
    pub warnings: u64,
    pub periods_removed: PeriodNotice,
    pub outputs: Vec<String>,
}

impl Summary {
    pub fn count(&mut self, e: &RowError) {
        match e.severity {
            Severity::Rejected => {
                self.rejected += 1;
                *self.rejected_by_reason.entry(e.code).or_default() += 1;
            }
            Severity::Warning => self.warnings += 1,
            Severity::Duplicate => self.duplicates += 1,
        }
    }

    pub fn note_periods(&mut self, file: &Path, line: u64) {
        self.periods_removed.rows += 1;
        let lines = self
            .periods_removed
            .first_lines
            .entry(file.display().to_string())
            .or_default();
        if lines.len() < NOTICE_LINES {
            lines.push(line);
        }
    }

    /// The human summary printed at the end (stderr).
    pub fn render(&self) -> String {
        let mut s = String::new();
        for i in &self.inputs {
            s.push_str(&format!(
                "{}: {}, delimiter {}, {}, {} rows\n",
                i.file,
                i.encoding,
                i.delimiter,
                if i.header { "header row" } else { "no header" },
                i.rows
            ));
        }
        s.push_str(&format!(
            "rows read {}, written {}, rejected {}, duplicates {}, warnings {}\n",
            self.rows_read, self.rows_written, self.rejected, self.duplicates, self.warnings
        ));
        for (code, n) in &self.rejected_by_reason {
            s.push_str(&format!("  rejected {code}: {n}\n"));
        }
        if self.periods_removed.rows > 0 {
            s.push_str(&format!(
                "periods removed from {} serials (Intune portal rule)",
                self.periods_removed.rows
            ));
            for (file, lines) in &self.periods_removed.first_lines {
                let shown: Vec<String> = lines.iter().map(u64::to_string).collect();
                s.push_str(&format!("; {file} lines {}", shown.join(", ")));
            }
            if self.periods_removed.rows > NOTICE_LINES {
                s.push_str(", …");
            }
            s.push('\n');
        }
        for o in &self.outputs {
            s.push_str(&format!("wrote {o}\n"));
        }
        s
    }
}

/// A one-line progress indicator on stderr, drawn only on a TTY and at most 10 times a second.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: Instant,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(1),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("[{bar:20}] {percent:>3}% {msg}")
            {
                bar.set_style(style.progress_chars("#-"));
            }
            bar
        });
        Self {
            bar,
            last: Instant::now(),
        }
    }

    /// `done`/`total` in bytes of the current file; call often, it throttles itself (the
    /// message is formatted at most ten times a second, so the row loop stays cheap).
    pub fn update(&mut self, file: &Path, rows: u64, done: u64, total: u64) {
        let Some(bar) = &self.bar else { return };
        if self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        bar.set_length(total.max(1));
        bar.set_position(done.min(total));
        bar.set_message(format!("{rows} rows  {}", file.display()));
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_error_names_file_line_column() {
        let e = RowError {
            file: Arc::from(Path::new("a.csv")),
            line: 7,
            column: Some(3),
            severity: Severity::Rejected,
            code: "bad-serial",
            reason: "character '#' at position 4 is not allowed".into(),
        };
        assert_eq!(
            e.to_string(),
            "a.csv:7:3: rejected: character '#' at position 4 is not allowed"
        );
    }

    #[test]
    fn summary_counts_by_reason_and_caps_notice_lines() {
        let mut s = Summary::default();
        let mk = |sev, code| RowError {
            file: Arc::from(Path::new("a.csv")),
            line: 1,
            column: None,
            severity: sev,
            code,
            reason: String::new(),
        };
        s.count(&mk(Severity::Rejected, "bad-serial"));
        s.count(&mk(Severity::Rejected, "bad-serial"));
        s.count(&mk(Severity::Rejected, "scientific-notation"));
        s.count(&mk(Severity::Duplicate, "duplicate"));
        assert_eq!(s.rejected, 3);
        assert_eq!(s.rejected_by_reason["bad-serial"], 2);
        assert_eq!(s.duplicates, 1);
        for line in 1..=12 {
            s.note_periods(Path::new("a.csv"), line);
        }
        assert_eq!(s.periods_removed.rows, 12);
        assert_eq!(s.periods_removed.first_lines["a.csv"].len(), NOTICE_LINES);
        let text = s.render();
        assert!(text.contains("rejected bad-serial: 2"), "{text}");
        assert!(text.contains("periods removed from 12 serials"), "{text}");
    }
}
