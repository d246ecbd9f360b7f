//! Output formats (exactly what Intune accepts), splitting, and atomic writes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use encoding_rs::WINDOWS_1252;
use serde::Serialize;

use super::reader::PrepRow;
use crate::config::Platform;

/// What `prep` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Intune corporate identifiers: `manufacturer,model,serial` (Windows) or `serial,details`.
    CorporateIdentifiers,
    /// The Autopilot hardware-hash import CSV.
    Autopilot,
    /// JSON lines for `stagehand intake import`.
    Queue,
    /// A machine-readable report of every row and problem.
    Json,
}

/// The exact header of the Autopilot import CSV (memdocs `autopilot/add-devices.md`).
pub const AUTOPILOT_HEADER: &str =
    "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User";
/// Portal limits per corporate identifier CSV.
pub const CORP_MAX_ROWS: usize = 5_000;
pub const CORP_MAX_BYTES: u64 = 5_000_000;
/// Portal limit per Autopilot CSV.
pub const AUTOPILOT_MAX_ROWS: usize = 500;
/// Longest iOS/Android details text.
pub const DETAILS_MAX: usize = 128;

/// Values used when a row has no column for them (from flags or the profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub platform: Platform,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub details: Option<String>,
    pub profile: Option<String>,
}

/// Why a valid row cannot be written in the chosen format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable {
    pub code: &'static str,
    /// 0-based column of the row at fault, when known.
    pub column: Option<usize>,
    pub reason: String,
}

fn unwritable(code: &'static str, reason: impl Into<String>) -> Unwritable {
    Unwritable {
        code,
        column: None,
        reason: reason.into(),
    }
}

#[derive(Serialize)]
struct QueueLine<'a> {
    serial: &'a str,
    manufacturer: Option<&'a str>,
    model: Option<&'a str>,
    platform: Platform,
    profile: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    file: String,
    line: u64,
    serial: &'a str,
    manufacturer: Option<&'a str>,
    model: Option<&'a str>,
    platform: Platform,
    user: Option<&'a str>,
    group_tag: Option<&'a str>,
    product_id: Option<&'a str>,
    has_hardware_hash: bool,
    details: Option<&'a str>,
}

impl Format {
    pub fn limits(self) -> (Option<usize>, Option<u64>) {
        match self {
            Format::CorporateIdentifiers => (Some(CORP_MAX_ROWS), Some(CORP_MAX_BYTES)),
            Format::Autopilot => (Some(AUTOPILOT_MAX_ROWS), None),
            Format::Queue | Format::Json => (None, None),
        }
    }

    /// The line ending: CRLF for the portal CSVs, LF for JSON.
    pub fn line_end(self) -> &'static [u8] {
        match self {
            Format::CorporateIdentifiers | Format::Autopilot => b"\r\n",
            Format::Queue | Format::Json => b"\n",
        }
    }

    /// Appends one row (without line ending) to `buf`, or says why it cannot be written.
    pub fn format_row(
        self,
        row: &PrepRow,
        d: &Defaults,
        buf: &mut Vec<u8>,
    ) -> Result<(), Unwritable> {
        let manufacturer = row.manufacturer.as_deref().or(d.manufacturer.as_deref());
        let model = row.model.as_deref().or(d.model.as_deref());
        match self {
            Format::CorporateIdentifiers if d.platform == Platform::Windows => {
                let m = manufacturer.ok_or_else(|| {
                    unwritable("missing-manufacturer", "no manufacturer: add a manufacturer column, or pass --manufacturer or --profile")
                })?;
                let mo = model.ok_or_else(|| {
                    unwritable(
                        "missing-model",
                        "no model: add a model column, or pass --model or --profile",
                    )
                })?;
                for part in [m, ",", mo, ",", &row.serial] {
                    buf.extend_from_slice(part.as_bytes());
                }
            }
            Format::CorporateIdentifiers => {
                buf.extend_from_slice(row.serial.as_bytes());
                if let Some(details) = row.details.as_deref().or(d.details.as_deref()) {
                    let n = details.chars().count();
                    if n > DETAILS_MAX {
                        return Err(unwritable(
                            "details-too-long",
                            format!("details are {n} characters; Intune allows {DETAILS_MAX}"),
                        ));
                    }
                    if details.contains([',', '"', '\r', '\n']) {
                        return Err(unwritable(
                            "bad-details",
                            "details must not contain commas, quotes or line breaks",
                        ));
                    }
                    buf.push(b',');
                    buf.extend_from_slice(details.as_bytes());
                }
            }
            Format::Autopilot => {
                let hash = row.hardware_hash.as_deref().ok_or_else(|| {
                    unwritable(
                        "missing-hash",
                        "no hardware hash: the Autopilot format needs a \"Hardware Hash\" column",
                    )
                })?;
                let fields = [
                    ("serial", row.serial.as_str()),
                    (
                        "Windows Product ID",
                        row.product_id.as_deref().unwrap_or(""),
                    ),
                    ("hardware hash", hash),
                    ("group tag", row.group_tag.as_deref().unwrap_or("")),
                    ("assigned user", row.user.as_deref().unwrap_or("")),
                ];
                let mut line = String::new();
                for (i, (name, value)) in fields.iter().enumerate() {
                    if value.contains([',', '"', '\r', '\n']) {
                        return Err(unwritable(
                            "bad-autopilot-field",
                            format!(
                                "the {name} must not contain commas, quotes or line breaks (the Autopilot CSV allows no quoting)"
                            ),
                        ));
                    }
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(value);
                }
                let (bytes, _, unmappable) = WINDOWS_1252.encode(&line);
                if unmappable {
                    return Err(unwritable(
                        "not-ansi",
                        "the row has characters that ANSI (Windows-1252) cannot hold; the Autopilot CSV must be ANSI",
                    ));
                }
                buf.extend_from_slice(&bytes);
            }
            Format::Queue => {
                let q = QueueLine {
                    serial: &row.serial,
                    manufacturer,
                    model,
                    platform: d.platform,
                    profile: d.profile.as_deref(),
                };
                serde_json::to_writer(&mut *buf, &q)
                    .map_err(|e| unwritable("json", e.to_string()))?;
            }
            Format::Json => {
                let j = JsonRow {
                    file: row.file.display().to_string(),
                    line: row.line,
                    serial: &row.serial,
                    manufacturer,
                    model,
                    platform: d.platform,
                    user: row.user.as_deref(),
                    group_tag: row.group_tag.as_deref(),
                    product_id: row.product_id.as_deref(),
                    has_hardware_hash: row.hardware_hash.is_some(),
                    details: row.details.as_deref(),
                };
                serde_json::to_writer(&mut *buf, &j)
                    .map_err(|e| unwritable("json", e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// Writes rows into temporary files next to the target, starting a new part when a limit would be
/// passed, and renames them into place only on [`SplitWriter::commit`]. Dropped without commit,
/// it removes its temporary files.
pub struct SplitWriter {
    target: PathBuf,
    header: Vec<u8>,
    max_rows: Option<usize>,
    max_bytes: Option<u64>,
    parts: Vec<PathBuf>,
    current: Option<BufWriter<File>>,
    rows: usize,
    bytes: u64,
    total_rows: u64,
}

impl SplitWriter {
    /// `header` is written (with its line ending) at the top of every part.
    pub fn new(
        target: &Path,
        header: &[u8],
        max_rows: Option<usize>,
        max_bytes: Option<u64>,
    ) -> Self {
        Self {
            target: target.to_path_buf(),
            header: header.to_vec(),
            max_rows,
            max_bytes,
            parts: Vec::new(),
            current: None,
            rows: 0,
            bytes: 0,
            total_rows: 0,
        }
    }

    pub fn rows_written(&self) -> u64 {
        self.total_rows
    }

    /// Writes one complete line (including its line ending).
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        let full = self.current.is_some()
            && (self.max_rows.is_some_and(|m| self.rows >= m)
                || self.max_bytes.is_some_and(|m| self.bytes + len > m));
        if self.current.is_none() || full {
            self.start_part()?;
        }
        let w = self.current.as_mut().expect("part started");
        w.write_all(line)?;
        self.rows += 1;
        self.bytes += len;
        self.total_rows += 1;
        Ok(())
    }

    /// Appends bytes to the current part without counting a row (JSON framing).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.current.is_none() {
            self.start_part()?;
        }
        self.current
            .as_mut()
            .expect("part started")
            .write_all(bytes)
    }

    fn start_part(&mut self) -> io::Result<()> {
        self.close_current()?;
        let dir = parent_dir(&self.target);
        let name = self
            .target
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            self.parts.len() + 1
        ));
        let mut w = BufWriter::with_capacity(256 * 1024, File::create(&tmp)?);
        self.parts.push(tmp);
        w.write_all(&self.header)?;
        self.rows = 0;
        self.bytes = self.header.len() as u64;
        self.current = Some(w);
        Ok(())
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some(w) = self.current.take() {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        Ok(())
    }

    /// The names the parts will get: the target itself for one part, else `stem-01.ext` … .
    pub fn final_names(&self) -> Vec<PathBuf> {
        part_names(&self.target, self.parts.len())
    }

    /// Flushes, syncs and renames every part into place; returns the final names.
    pub fn commit(mut self) -> io::Result<Vec<PathBuf>> {
        self.close_current()?;
        let names = self.final_names();
        for (tmp, name) in self.parts.iter().zip(&names) {
            std::fs::rename(tmp, name)?;
        }
        self.parts.clear();
        sync_dir(&parent_dir(&self.target));
        Ok(names)
    }
}

impl Drop for SplitWriter {
    fn drop(&mut self) {
        self.current.take();
        for p in &self.parts {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `out.csv` for one part; `out-1.csv`… (zero-padded to the count's width) for several.
pub fn part_names(target: &Path, n: usize) -> Vec<PathBuf> {
    if n <= 1 {
        return vec![target.to_path_buf(); n];
    }
    let stem = target.file_stem().unwrap_or_default().to_string_lossy();
    let ext = target
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let width = n.to_string().len();
    (1..=n)
        .map(|i| target.with_file_name(format!("{stem}-{i:0width$}{ext}")))
        .collect()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Makes the renames durable; a failure here leaves the files in place, so it is not fatal.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(serial: &str) -> PrepRow {
        PrepRow {
            file: Arc::from(Path::new("a.csv")),
            line: 1,
            serial: serial.into(),
            serial_column: 1,
            periods_removed: 0,
            manufacturer: None,
            model: None,
            user: None,
            group_tag: None,
            hardware_hash: None,
            product_id: None,
            details: None,
        }
    }

    fn defaults(platform: Platform) -> Defaults {
        Defaults {
            platform,
            manufacturer: Some("Contoso".into()),
            model: Some("Laptop 7".into()),
            details: None,
            profile: Some("Standard".into()),
        }
    }

    fn fmt(f: Format, r: &PrepRow, d: &Defaults) -> Result<String, Unwritable> {
        let mut buf = Vec::new();
        f.format_row(r, d, &mut buf)
            .map(|_| String::from_utf8_lossy(&buf).into_owned())
    }

    #[test]
    fn corporate_identifier_lines() {
        let d = defaults(Platform::Windows);
        let mut r = row("SN1");
        assert_eq!(
            fmt(Format::CorporateIdentifiers, &r, &d).unwrap(),
            "Contoso,Laptop 7,SN1"
        );
        r.manufacturer = Some("Dell".into());
        assert_eq!(
            fmt(Format::CorporateIdentifiers, &r, &d).unwrap(),
            "Dell,Laptop 7,SN1"
        );
        let none = Defaults {
            manufacturer: None,
            ..d.clone()
        };
        assert_eq!(
            fmt(Format::CorporateIdentifiers, &row("S"), &none)
                .unwrap_err()
                .code,
            "missing-manufacturer"
        );
        let ios = Defaults {
            details: Some("Corporate phone".into()),
            ..defaults(Platform::Ios)
        };
        assert_eq!(
            fmt(Format::CorporateIdentifiers, &row("F2L"), &ios).unwrap(),
            "F2L,Corporate phone"
        );
        let mut long = row("F2L");
        long.details = Some("x".repeat(129));
        assert_eq!(
            fmt(Format::CorporateIdentifiers, &long, &ios)
                .unwrap_err()
                .code,
            "details-too-long"
        );
    }

    #[test]
    fn autopilot_lines_are_ansi_and_unquoted() {
        let d = defaults(Platform::Windows);
        let mut r = row("SN1");
        assert_eq!(
            fmt(Format::Autopilot, &r, &d).unwrap_err().code,
            "missing-hash"
        );
        r.hardware_hash = Some("T0FBQQ==".into());
        r.user = Some("José@contoso.com".into());
        let mut buf = Vec::new();
        Format::Autopilot.format_row(&r, &d, &mut buf).unwrap();
        assert_eq!(buf, b"SN1,,T0FBQQ==,,Jos\xe9@contoso.com");
        r.user = Some("Zoë 😀".into());
        assert_eq!(fmt(Format::Autopilot, &r, &d).unwrap_err().code, "not-ansi");
        r.user = None;
        r.group_tag = Some("a,b".into());
        assert_eq!(
            fmt(Format::Autopilot, &r, &d).unwrap_err().code,
            "bad-autopilot-field"
        );
    }

    #[test]
    fn queue_line_is_json() {
        let d = defaults(Platform::Windows);
        let line = fmt(Format::Queue, &row("SN1"), &d).unwrap();
        assert_eq!(
            line,
            r#"{"serial":"SN1","manufacturer":"Contoso","model":"Laptop 7","platform":"windows","profile":"Standard"}"#
        );
    }

    #[test]
    fn split_writer_splits_renames_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mut w = SplitWriter::new(&target, b"H\r\n", Some(2), None);
        for i in 0..5 {
            w.write_line(format!("r{i}\r\n").as_bytes()).unwrap();
        }
        let names = w.commit().unwrap();
        let want: Vec<PathBuf> = (1..=3)
            .map(|i| dir.path().join(format!("out-{i}.csv")))
            .collect();
        assert_eq!(names, want);
        assert_eq!(std::fs::read_to_string(&want[2]).unwrap(), "H\r\nr4\r\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        // Byte limit (header included) and abandoning: no file is left behind.
        let mut w = SplitWriter::new(&target, b"", None, Some(8));
        w.write_line(b"1234\n").unwrap();
        w.write_line(b"5678\n").unwrap();
        assert_eq!(w.final_names().len(), 2);
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        assert_eq!(part_names(&target, 12)[0], dir.path().join("out-01.csv"));
    }
}
