//! Hash files: what `Get-WindowsAutopilotInfo -OutputFile` writes (UTF-16 LE with BOM under
//! Windows PowerShell, else UTF-8), one device or many, header `Device Serial Number,Windows
//! Product ID,Hardware Hash` and optionally `Group Tag`, `Assigned User`. Any encoding `prep`
//! reads is accepted.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::hash::{self, HardwareHash};
use crate::prep::sniff::{ColumnRole, header_role};

/// Largest hash file read (a 500-row import file is about 2 MB in UTF-16).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// One device row of a hash file, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRecord {
    pub file: PathBuf,
    /// 1-based line of the row.
    pub line: u64,
    /// The `Device Serial Number` cell, trimmed (may be empty).
    pub serial_cell: String,
    pub product_id: String,
    /// The hash text as in the file (trimmed).
    pub hash_text: String,
    pub group_tag: Option<String>,
    pub assigned_user: Option<String>,
    pub hash: HardwareHash,
}

/// A problem with a hash file, naming file, line, column and (for a hash) the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    pub line: u64,
    /// 1-based column.
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        write!(f, ": {}", super::safe(&self.message))
    }
}

impl std::error::Error for FileError {}

/// Columns of a hash file (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashColumns {
    pub serial: Option<usize>,
    pub product_id: Option<usize>,
    pub hash: usize,
    pub group_tag: Option<usize>,
    pub user: Option<usize>,
}

/// The columns when `cells` is a hash-file header (it has a hardware hash column).
pub fn hash_columns(cells: &[&str]) -> Option<HashColumns> {
    let roles: Vec<Option<ColumnRole>> = cells.iter().map(|c| header_role(c)).collect();
    let first = |r: ColumnRole| roles.iter().position(|x| *x == Some(r));
    Some(HashColumns {
        hash: first(ColumnRole::HardwareHash)?,
        serial: first(ColumnRole::Serial),
        product_id: first(ColumnRole::ProductId),
        group_tag: first(ColumnRole::GroupTag),
        user: first(ColumnRole::User),
    })
}

/// The file's text as UTF-8, whatever its encoding.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let err = |message: String| FileError {
        file: path.to_path_buf(),
        line: 0,
        column: None,
        message,
    };
    let decoded = crate::prep::decode::open(path, None).map_err(|e| err(e.to_string()))?;
    if decoded.size > MAX_FILE {
        return Err(err(format!(
            "{} bytes is more than any hash file ({MAX_FILE} at most)",
            decoded.size
        )));
    }
    let mut text = String::new();
    decoded
        .reader
        .take(MAX_FILE * 2)
        .read_to_string(&mut text)
        .map_err(|e| err(format!("cannot read: {e}")))?;
    Ok(text)
}

/// True when the first non-blank line of the file is a hash-file header. Reads only the start
/// of the file (a big procurement CSV costs no more than before).
pub fn is_hash_file(path: &Path) -> bool {
    use crate::prep::TextEncoding;
    let mut head = Vec::with_capacity(64 * 1024);
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    if f.take(64 * 1024).read_to_end(&mut head).is_err() {
        return false;
    }
    let enc = match head.as_slice() {
        [0xFF, 0xFE, ..] => Some(TextEncoding::Utf16Le),
        [0xFE, 0xFF, ..] => Some(TextEncoding::Utf16Be),
        _ => crate::prep::utf16::guess(&head),
    };
    let text = match enc {
        Some(TextEncoding::Utf16Le) => encoding_rs::UTF_16LE.decode(&head).0.into_owned(),
        Some(TextEncoding::Utf16Be) => encoding_rs::UTF_16BE.decode(&head).0.into_owned(),
        _ => String::from_utf8_lossy(&head).into_owned(),
    };
    first_header(text.trim_start_matches('\u{feff}')).is_some()
}

fn first_header(text: &str) -> Option<HashColumns> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let delimiter = crate::prep::sniff::detect_delimiter(line);
    let cells: Vec<&str> = line.split(char::from(delimiter)).map(str::trim).collect();
    hash_columns(&cells)
}

/// Reads every row of a hash file. Rows whose hash cannot be decoded are returned as errors
/// (with the byte offset); the other rows are still read. An unreadable file, or one without a
/// hardware hash column, is a single error.
pub fn read(path: &Path) -> Result<(Vec<HashRecord>, Vec<FileError>), FileError> {
    let text = read_text(path)?;
    parse(path, &text)
}

/// As [`read`], on text already decoded.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<HashRecord>, Vec<FileError>), FileError> {
    let fail = |line: u64, message: String| FileError {
        file: path.to_path_buf(),
        line,
        column: None,
        message,
    };
    let Some(cols) = first_header(text) else {
        return Err(fail(
            1,
            "no \"Hardware Hash\" column in the first row: not a hardware hash file (header \"Device Serial Number,Windows Product ID,Hardware Hash\")".into(),
        ));
    };
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = crate::prep::sniff::detect_delimiter(first_line);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut header_seen = false;
    // One record per line: hash files never hold a line break inside a field.
    for (i, raw) in text.split('\n').enumerate() {
        let line = i as u64 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(raw.as_bytes());
        let row = match rdr.records().next() {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                errors.push(fail(line, format!("not readable as CSV: {e}")));
                continue;
            }
            None => continue,
        };
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).map(str::trim).unwrap_or("");
        let opt = |i: Option<usize>| Some(cell(i).to_string()).filter(|s| !s.is_empty());
        let hash_text = cell(Some(cols.hash)).to_string();
        match hash::parse(&hash_text) {
            Ok(h) => records.push(HashRecord {
                file: path.to_path_buf(),
                line,
                serial_cell: cell(cols.serial).to_string(),
                product_id: cell(cols.product_id).to_string(),
                hash_text,
                group_tag: opt(cols.group_tag),
                assigned_user: opt(cols.user),
                hash: h,
            }),
            Err(e) => errors.push(FileError {
                file: path.to_path_buf(),
                line,
                column: Some(cols.hash + 1),
                message: format!("hardware hash: {e}"),
            }),
        }
    }
    Ok((records, errors))
}
