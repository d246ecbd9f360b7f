//! `stagehand autopilot show FILE|HASH [--json]`: the decoded fields and the checks.

use std::path::Path;

use serde::Serialize;

use super::check::{self, Checked, Level};
use super::file::{self, FileError, HashRecord};
use super::hash::{self, Checksum, HardwareHash};
use super::safe;

/// What `show` found in its inputs.
pub struct Shown {
    pub records: Vec<HashRecord>,
    pub checked: Vec<Checked>,
    pub errors: Vec<FileError>,
}

/// Reads each argument: an existing file is a hash file; anything else is hash text.
pub fn load(args: &[String]) -> Result<Shown, FileError> {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let p = Path::new(a);
        if p.is_file() {
            let (r, e) = file::read(p)?;
            records.extend(r);
            errors.extend(e);
            continue;
        }
        let name = std::path::PathBuf::from(format!("argument {}", i + 1));
        match hash::parse(a) {
            Ok(h) => records.push(HashRecord {
                file: name,
                line: 0,
                serial_cell: String::new(),
                product_id: String::new(),
                hash_text: a.trim().to_string(),
                group_tag: None,
                assigned_user: None,
                hash: h,
            }),
            Err(e) => {
                let message = if a.len() < 200 && (a.contains('/') || a.contains('.')) {
                    format!("no such file, and not a hardware hash: {e}")
                } else {
                    format!("hardware hash: {e}")
                };
                errors.push(FileError {
                    file: name,
                    line: 0,
                    column: None,
                    message,
                });
            }
        }
    }
    let mut checked: Vec<Checked> = records.iter().map(check::check).collect();
    check::cross_check(&records, &mut checked);
    Ok(Shown {
        records,
        checked,
        errors,
    })
}

impl Shown {
    /// 0 every hash read and importable, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        let bad = !self.errors.is_empty()
            || self
                .checked
                .iter()
                .any(|c| c.findings.iter().any(|f| f.level == Level::Error));
        u8::from(bad)
    }

    pub fn json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Row<'a> {
            file: String,
            line: u64,
            serial_column: &'a str,
            serial: Option<&'a str>,
            importable: bool,
            hash: &'a HardwareHash,
            findings: &'a [check::Finding],
        }
        let rows: Vec<Row<'_>> = self
            .records
            .iter()
            .zip(&self.checked)
            .map(|(r, c)| Row {
                file: r.file.display().to_string(),
                line: r.line,
                serial_column: &r.serial_cell,
                serial: c.serial.as_deref(),
                importable: c.is_importable(),
                hash: &r.hash,
                findings: &c.findings,
            })
            .collect();
        let errors: Vec<String> = self.errors.iter().map(|e| e.to_string()).collect();
        serde_json::json!({ "devices": rows, "errors": errors })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for (r, c) in self.records.iter().zip(&self.checked) {
            let at = if r.line > 0 {
                format!("{}:{}", r.file.display(), r.line)
            } else {
                r.file.display().to_string()
            };
            out.push_str(&safe(&at));
            out.push('\n');
            render(&mut out, r, c);
            out.push('\n');
        }
        for e in &self.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    }
}

fn render(out: &mut String, r: &HashRecord, c: &Checked) {
    let h = &r.hash;
    let mut line = |k: &str, v: &str| {
        out.push_str(&format!("  {k:<18}{}\n", safe(v)));
    };
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    line("serial", &o(&h.serial));
    if !r.serial_cell.is_empty() || r.line > 0 {
        line(
            "serial column",
            if r.serial_cell.is_empty() {
                "(empty)"
            } else {
                &r.serial_cell
            },
        );
    }
    line("manufacturer", &o(&h.manufacturer));
    line("model", &o(&h.model));
    line("SKU", &o(&h.sku));
    line("family", &o(&h.family));
    line("system version", &o(&h.system_version));
    line("board", &o(&h.board_product));
    line("firmware vendor", &o(&h.firmware_vendor));
    line("TPM", &o(&h.tpm_version));
    line(
        "EK public key",
        if h.tpm_ek_public_key {
            "present"
        } else {
            "absent"
        },
    );
    line("SMBIOS UUID", &o(&h.smbios_uuid));
    line("product key id", &o(&h.product_key_id));
    line(
        "disk serials",
        &if h.disk_serials.is_empty() {
            "—".to_string()
        } else {
            h.disk_serials.join(", ")
        },
    );
    let macs: Vec<String> = h
        .nics
        .iter()
        .map(|n| format!("{} ({})", n.mac, n.medium))
        .collect();
    line(
        "MAC addresses",
        &if macs.is_empty() {
            "—".to_string()
        } else {
            macs.join(", ")
        },
    );
    let cpu = match (&h.processor_model, h.processor_cores, h.processor_threads) {
        (Some(m), Some(c), Some(t)) => format!("{m} ({c} cores, {t} threads)"),
        (Some(m), _, _) => m.clone(),
        _ => "—".into(),
    };
    line("processor", &cpu);
    line(
        "OS build",
        &match (&h.os_build, h.os_architecture) {
            (Some(b), Some(a)) => format!("{b} {a}"),
            (Some(b), None) => b.clone(),
            _ => "—".into(),
        },
    );
    line(
        "entries",
        &format!(
            "{} in {} bytes; checksum {}",
            h.entries,
            h.length,
            match h.checksum {
                Checksum::Matches => "matches",
                Checksum::Differs => "DIFFERS",
                Checksum::Absent => "absent",
            }
        ),
    );
    for f in &c.findings {
        let tag = match f.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        };
        out.push_str(&format!("  {tag}: {}\n", safe(&f.message)));
    }
}
