//! Output formats (exactly what Intune accepts), splitting, and atomic writes.

use encoding_rs::WINDOWS_1252;
use serde::Serialize;

use super::row::RowRef;
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
        row: &RowRef<'_>,
        d: &Defaults,
        buf: &mut Vec<u8>,
    ) -> Result<(), Unwritable> {
        let manufacturer = row.manufacturer.or(d.manufacturer.as_deref());
        let model = row.model.or(d.model.as_deref());
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
                buf.reserve(m.len() + mo.len() + row.serial.len() + 4);
                buf.extend_from_slice(m.as_bytes());
                buf.push(b',');
                buf.extend_from_slice(mo.as_bytes());
                buf.push(b',');
                buf.extend_from_slice(row.serial.as_bytes());
            }
            Format::CorporateIdentifiers => {
                buf.extend_from_slice(row.serial.as_bytes());
                if let Some(details) = row.details.or(d.details.as_deref()) {
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
                let hash = row.hardware_hash.ok_or_else(|| {
                    unwritable(
                        "missing-hash",
                        "no hardware hash: the Autopilot format needs a \"Hardware Hash\" column",
                    )
                })?;
                let fields = [
                    ("serial", &*row.serial),
                    ("Windows Product ID", row.product_id.unwrap_or("")),
                    ("hardware hash", hash),
                    ("group tag", row.group_tag.unwrap_or("")),
                    ("assigned user", row.user.unwrap_or("")),
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
                    user: row.user,
                    group_tag: row.group_tag,
                    product_id: row.product_id,
                    has_hardware_hash: row.hardware_hash.is_some(),
                    details: row.details,
                };
                serde_json::to_writer(&mut *buf, &j)
                    .map_err(|e| unwritable("json", e.to_string()))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prep::PrepRow;
    use std::path::Path;
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
        f.format_row(&r.view(), d, &mut buf)
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
        Format::Autopilot
            .format_row(&r.view(), &d, &mut buf)
            .unwrap();
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
}
