//! Rows out of one or more inputs, each validated and stamped with its file and line.
//!
//! `stagehand intake import` reuses this through [`read_rows`]; duplicates and spreadsheet damage
//! that need the whole column (lost leading zeros) are the caller's concern (see `prep::run`).

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::decode::{self, TextEncoding};
use super::records::{Fields, Records};
use super::report::{InputError, RowError, Severity};
use super::row::{Labels, RowRef, convert};
use super::sniff::{self, Columns, SerialColumn};

/// How inputs are read; `None` means "detect".
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub delimiter: Option<u8>,
    pub encoding: Option<TextEncoding>,
    /// `--serial-column`: which column holds the serial, by header name or number.
    pub serial_column: Option<SerialColumn>,
}

pub use super::row::PrepRow;

const SAMPLE: usize = 64 * 1024;

/// One open input, iterating its rows.
pub struct InputFile {
    pub path: Arc<Path>,
    pub encoding: TextEncoding,
    pub delimiter: u8,
    pub header: bool,
    /// Size on disk, for progress.
    pub size: u64,
    columns: Columns,
    records: Records,
    /// The start line of the first row when it is the current record and not yet yielded.
    first: Option<u64>,
    labels: Labels,
    failed: bool,
}

impl InputFile {
    /// Opens, decodes and sniffs an input. Fails on unreadable or binary files and on a header
    /// row without a serial column.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<Self, InputError> {
        let decoded = decode::open(path, opts.encoding)?;
        let mut reader = decoded.reader;
        let mut sample = Vec::with_capacity(SAMPLE);
        (&mut reader)
            .take(SAMPLE as u64)
            .read_to_end(&mut sample)
            .map_err(|e| InputError::Unreadable {
                file: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let text = match std::str::from_utf8(&sample) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&sample[..e.valid_up_to()]).unwrap_or(""),
        };
        let delimiter = opts
            .delimiter
            .unwrap_or_else(|| sniff::detect_delimiter(text));
        let chained: Box<dyn Read + Send> = Box::new(EndsWithNewline {
            inner: Cursor::new(sample).chain(reader),
            last: b'\n',
            done: false,
        });
        // Records end at LF only (a CR stays in the last field and is trimmed), and every record
        // ends with one, so a record's first line is computable (see `records`).
        let mut records = Records::new(chained, delimiter, SAMPLE);
        let file: Arc<Path> = Arc::from(path);
        let layout = |line: u64, reason: String| InputError::Layout {
            file: path.to_path_buf(),
            line,
            reason,
        };
        // The first row that is not blank decides header / layout.
        let first = loop {
            match records.next_record() {
                Ok(None) => break None,
                Ok(Some(_)) if is_blank(&records.fields()) => continue,
                Ok(Some(line)) => break Some(line),
                // An IO error has no position (csv gave none either).
                Err(e) => return Err(layout(0, e.to_string())),
            }
        };
        let (columns, header, first) = if let Some(line) = first {
            let fields = records.fields();
            let cells: Vec<&str> = fields
                .iter()
                .map(|c| std::str::from_utf8(c).unwrap_or("").trim())
                .collect();
            let (columns, header) = layout_of(&cells, opts.serial_column.as_ref())
                .map_err(|reason| layout(line, reason))?;
            (columns, header, (!header).then_some(line))
        } else {
            (Columns::default(), false, None)
        };
        Ok(Self {
            path: file,
            encoding: decoded.encoding,
            delimiter,
            header,
            size: decoded.size,
            columns,
            records,
            first,
            labels: Labels::default(),
            failed: false,
        })
    }

    /// Decoded bytes consumed so far (for progress).
    pub fn position(&self) -> u64 {
        self.records.position()
    }

    /// Moves to the next record that is not blank (the held first record comes first) and
    /// returns its start line, or the error that stopped reading.
    fn advance(&mut self) -> Option<Result<u64, RowError>> {
        if let Some(line) = self.first.take() {
            return Some(Ok(line));
        }
        if self.failed {
            return None;
        }
        loop {
            match self.records.next_record() {
                Ok(None) => return None,
                Ok(Some(_)) if is_blank(&self.records.fields()) => continue,
                Ok(Some(line)) => return Some(Ok(line)),
                Err(e) => {
                    // Only IO errors stop reading; the rest of the file is lost. They carry no
                    // line (as from csv).
                    self.failed = true;
                    return Some(Err(RowError {
                        file: self.path.clone(),
                        line: 0,
                        column: None,
                        severity: Severity::Rejected,
                        code: "unreadable",
                        reason: format!("reading stopped here: {e}"),
                    }));
                }
            }
        }
    }

    /// The next row as a view into the reader's buffer: no allocation per row. The iterator
    /// yields the same rows owned.
    pub fn next_row(&mut self) -> Option<Result<RowRef<'_>, RowError>> {
        Some(match self.advance()? {
            Ok(line) => convert(
                &self.path,
                &self.columns,
                &mut self.labels,
                self.records.fields(),
                line,
            ),
            Err(e) => Err(e),
        })
    }
}

/// The columns and whether `cells` (the first row) is a header. Never guesses: a header without
/// a serial column, a headerless row that is not Intune's own layout, or a serial column of
/// object ids is refused with the columns found and `--serial-column` as the way out.
fn layout_of(cells: &[&str], forced: Option<&SerialColumn>) -> Result<(Columns, bool), String> {
    let header = sniff::columns_from_header(cells);
    let is_header = !matches!(header, Ok(None));
    match forced {
        Some(SerialColumn::Name(name)) => {
            let key = sniff::header_key(name);
            let Some(at) = cells
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name) || sniff::header_key(c) == key)
            else {
                return Err(format!(
                    "--serial-column {name:?}: the first row has no such column (found: {})",
                    cells.join(", ")
                ));
            };
            return Ok((sniff::header_columns(cells, Some(at)), true));
        }
        Some(SerialColumn::Number(n)) => {
            if *n > cells.len() {
                return Err(format!(
                    "--serial-column {n}: the first row has only {} column(s)",
                    cells.len()
                ));
            }
            let c = match header {
                Ok(None) if cells.len() == 3 && *n == 3 => sniff::columns_without_header(3),
                Ok(None) => Columns {
                    serial: n - 1,
                    ..Columns::default()
                },
                _ => sniff::header_columns(cells, Some(n - 1)),
            };
            if !is_header && sniff::looks_like_guid(cells[n - 1]) {
                return Err(guid_column(n - 1, cells[n - 1]));
            }
            return Ok((c, is_header));
        }
        None => {}
    }
    match header {
        Ok(Some(c)) => Ok((c, true)),
        Err(reason) => Err(reason),
        Ok(None) => {
            if cells.len() > 3 {
                return Err(format!(
                    "the first row is not a header and has {} columns; a file without a header is read only in Intune's own layouts (serial; serial,details; manufacturer,model,serial): add a header row or pass --serial-column NAME or --serial-column N",
                    cells.len()
                ));
            }
            let c = sniff::columns_without_header(cells.len());
            if let Some(v) = cells.get(c.serial)
                && sniff::looks_like_guid(v)
            {
                return Err(guid_column(c.serial, v));
            }
            Ok((c, false))
        }
    }
}

fn guid_column(at: usize, value: &str) -> String {
    format!(
        "column {} holds {value:?}: this looks like an object id, not a serial; pass --serial-column NAME or --serial-column N for the serial column",
        at + 1
    )
}

/// Adds a final LF when the input does not end with one.
struct EndsWithNewline<R> {
    inner: R,
    last: u8,
    done: bool,
}

impl<R: Read> Read for EndsWithNewline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last = buf[n - 1];
            return Ok(n);
        }
        self.done = true;
        if self.last != b'\n' {
            buf[0] = b'\n';
            return Ok(1);
        }
        Ok(0)
    }
}

fn is_blank(rec: &Fields<'_>) -> bool {
    rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

impl Iterator for InputFile {
    type Item = Result<PrepRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = match self.advance()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        let row = convert(
            &self.path,
            &self.columns,
            &mut self.labels,
            self.records.fields(),
            line,
        );
        Some(row.map(|r| self.labels.to_owned(&r)))
    }
}

/// Opens every input (so an unreadable one fails before any row is produced) and chains their
/// rows in order.
pub fn read_rows(
    paths: &[PathBuf],
    opts: &ReadOptions,
) -> Result<impl Iterator<Item = Result<PrepRow, RowError>> + use<>, InputError> {
    let files = paths
        .iter()
        .map(|p| InputFile::open(p, opts))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(files.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[u8]) -> (InputFile, Vec<Result<PrepRow, RowError>>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, text).unwrap();
        let f = InputFile::open(&p, &ReadOptions::default()).unwrap();
        let info = InputFile::open(&p, &ReadOptions::default()).unwrap();
        (info, f.collect())
    }

    #[test]
    fn quoted_fields_with_delimiters_and_newlines_keep_line_numbers() {
        let (f, r) = rows(b"Make;Model;Serial;Notes\r\n\"Dell; Inc\";Lat 5440;AB.12;\"two\r\nlines\"\r\n\r\nHP;X;CD34\r\n\"Dell\";\"M\nN\";EF56\r\n");
        assert!(f.header);
        assert_eq!(f.delimiter, b';');
        let a = r[0].as_ref().unwrap();
        assert_eq!(
            (a.line, a.serial.as_str(), a.periods_removed),
            (2, "AB12", 1)
        );
        assert_eq!(a.manufacturer.as_deref(), Some("Dell; Inc"));
        assert_eq!(a.details.as_deref(), Some("two\r\nlines"));
        let b = r[1].as_ref().unwrap();
        assert_eq!((b.line, b.serial.as_str()), (5, "CD34"));
        let c = r[2].as_ref().unwrap_err();
        assert_eq!((c.line, c.column, c.code), (6, Some(2), "bad-label"));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn bad_rows_name_line_column_and_reason() {
        let (f, r) = rows(
            b"Dell,M1,OK1\nDell,M1,1.23457E+11\nDell,M1,AB#1\n\"Dell, Inc\",M1,OK2\nDell,M1,\n",
        );
        assert!(!f.header);
        let errs: Vec<String> = r
            .iter()
            .filter_map(|x| x.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].ends_with("in.csv:2:3: rejected: \"1.23457E+11\" is a number in scientific notation: a spreadsheet replaced the serial and its digits are lost; export the column as text"), "{}", errs[0]);
        assert!(
            errs[1].ends_with(
                ":3:3: rejected: serial \"AB#1\": character '#' at position 3 is not allowed"
            ),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].contains(":4:1: rejected: the manufacturer must not contain a comma"),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].ends_with(":5:3: rejected: the serial is empty"),
            "{}",
            errs[3]
        );
    }

    #[test]
    fn header_without_serial_is_a_layout_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.csv");
        std::fs::write(&p, "\n\nMake,Model\nDell,X\n").unwrap();
        let err = InputFile::open(&p, &ReadOptions::default()).err().unwrap();
        assert!(
            err.to_string()
                .contains("h.csv:3: the header row has no serial column"),
            "{err}"
        );
    }
}
