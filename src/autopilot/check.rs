//! Checks before anything is sent: serial cell against the hash, placeholder serials, TPM,
//! virtual machines, and (across files) duplicates by serial and board swaps.

use serde::Serialize;

use super::file::HashRecord;
use super::hash::{Checksum, HardwareHash};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The device is not imported.
    Error,
    /// Imported; a person should read this.
    Warning,
    /// For the record.
    Note,
}

/// One finding about one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub code: &'static str,
    pub message: String,
}

fn finding(level: Level, code: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        level,
        code,
        message: message.into(),
    }
}

/// Serials firmware writes when nobody set one: never a device's identity.
const PLACEHOLDERS: &[&str] = &[
    "default string",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "system serial number",
    "chassis serial number",
    "not specified",
    "not applicable",
    "none",
    "n/a",
    "invalid",
    "oem",
    "0123456789",
    "123456789",
    "1234567890",
];

/// The fix for a placeholder serial.
pub const PLACEHOLDER_FIX: &str = "set a serial in the firmware or VM settings and capture again";

/// True for a serial that firmware fills in when none was set (case-insensitive, trimmed).
pub fn is_placeholder(serial: &str) -> bool {
    let s = serial.trim().to_ascii_lowercase();
    if s.is_empty() || s.starts_with("smbios_string_index_") {
        return true;
    }
    if s.chars().all(|c| c == '0') || s.chars().all(|c| c == 'x') {
        return true;
    }
    PLACEHOLDERS.contains(&s.as_str())
}

/// What kind of virtual machine the hash comes from, if any.
pub fn virtual_machine(h: &HardwareHash) -> Option<&'static str> {
    let hay = [
        h.manufacturer.as_deref(),
        h.model.as_deref(),
        h.firmware_vendor.as_deref(),
        h.processor_model.as_deref(),
        h.serial.as_deref(),
    ]
    .iter()
    .flatten()
    .map(|s| s.to_ascii_lowercase())
    .collect::<Vec<_>>()
    .join("|");
    let known: &[(&str, &'static str)] = &[
        ("vmware", "VMware"),
        ("qemu", "QEMU/KVM"),
        ("ovmf", "QEMU/KVM"),
        ("kvm", "QEMU/KVM"),
        ("proxmox", "Proxmox"),
        ("virtualbox", "VirtualBox"),
        ("innotek", "VirtualBox"),
        ("parallels", "Parallels"),
        ("xen", "Xen"),
        ("bochs", "Bochs"),
        ("virtual machine", "Hyper-V"),
    ];
    known
        .iter()
        .find(|(needle, _)| hay.contains(needle))
        .map(|(_, name)| *name)
}

/// A record after its own checks: the serial to import and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The serial to import (the cell, or the hash's when the cell is empty); `None` when
    /// there is none usable.
    pub serial: Option<String>,
    pub findings: Vec<Finding>,
    /// Index of the first record with this serial and the same hardware: this one is skipped.
    pub duplicate_of: Option<usize>,
}

impl Checked {
    pub fn is_importable(&self) -> bool {
        self.serial.is_some()
            && self.duplicate_of.is_none()
            && !self.findings.iter().any(|f| f.level == Level::Error)
    }
}

/// Checks one record on its own.
pub fn check(rec: &HashRecord) -> Checked {
    let h = &rec.hash;
    let mut out = Vec::new();
    let hash_serial = h.serial.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let cell = rec.serial_cell.trim();
    let serial = match (cell.is_empty(), hash_serial) {
        (false, Some(hs)) if !hs.eq_ignore_ascii_case(cell) => {
            out.push(finding(
                Level::Error,
                "serial-mismatch",
                format!(
                    "the serial column says {cell:?} but the hash was captured on {hs:?}: the row mixes two devices; capture the hash again on the device"
                ),
            ));
            None
        }
        (false, _) => Some(cell.to_string()),
        (true, Some(hs)) => {
            out.push(finding(
                Level::Warning,
                "serial-from-hash",
                format!("the serial column is empty; using the hash's serial {hs:?}"),
            ));
            Some(hs.to_string())
        }
        (true, None) => {
            out.push(finding(
                Level::Error,
                "no-serial",
                "neither the serial column nor the hash has a serial (Intune answers 802 InvalidZtdHardwareHash)",
            ));
            None
        }
    };
    let serial = match serial {
        Some(s) if is_placeholder(&s) => {
            out.push(finding(
                Level::Error,
                "placeholder-serial",
                format!("serial {s:?} is a firmware placeholder, not a serial: {PLACEHOLDER_FIX}"),
            ));
            None
        }
        other => other,
    };
    if h.manufacturer
        .as_deref()
        .is_none_or(|m| m.trim().is_empty())
    {
        out.push(finding(
            Level::Error,
            "no-manufacturer",
            "the hash has no SMBIOS manufacturer (Intune answers 802 InvalidZtdHardwareHash); capture again",
        ));
    } else if h.manufacturer.as_deref().is_some_and(is_placeholder) {
        out.push(finding(
            Level::Warning,
            "placeholder-manufacturer",
            format!(
                "manufacturer {:?} is a firmware placeholder",
                h.manufacturer.as_deref().unwrap_or_default()
            ),
        ));
    }
    match h.tpm_version.as_deref() {
        None => out.push(finding(
            Level::Warning,
            "no-tpm",
            "no TPM in the hash: self-deploying and pre-provisioning need TPM 2.0 (user-driven works)",
        )),
        Some(v) if !v.contains("Version:2.0") => out.push(finding(
            Level::Warning,
            "tpm-not-2",
            format!(
                "TPM is not 2.0 ({}): self-deploying and pre-provisioning need TPM 2.0",
                v.split_whitespace().next().unwrap_or(v)
            ),
        )),
        Some(_) if !h.tpm_ek_public_key => out.push(finding(
            Level::Warning,
            "no-ek",
            "the TPM's endorsement key is missing from the hash: self-deploying and pre-provisioning need it",
        )),
        Some(_) => {}
    }
    if let Some(vm) = virtual_machine(h) {
        out.push(finding(
            Level::Note,
            "virtual-machine",
            format!("a virtual machine ({vm})"),
        ));
    }
    if h.checksum == Checksum::Differs {
        out.push(finding(
            Level::Warning,
            "checksum",
            "the hash's own SHA-256 does not match its content: it was altered after capture; capture again if Intune refuses it",
        ));
    }
    Checked {
        serial,
        findings: out,
        duplicate_of: None,
    }
}

/// Checks across records: the same serial twice is one device (imported once) when the hardware
/// matches, and a conflict to resolve when it does not (a board swap: another SMBIOS UUID or TPM
/// key). Never compares hash text: a hash changes on every capture. Returns findings by index.
pub fn cross_check(records: &[HashRecord], checked: &mut [Checked]) {
    let mut first: std::collections::HashMap<String, usize> = Default::default();
    for i in 0..records.len() {
        let Some(serial) = checked[i].serial.clone() else {
            continue;
        };
        let key = serial.to_ascii_uppercase();
        let Some(&j) = first.get(&key) else {
            first.insert(key, i);
            continue;
        };
        let (a, b) = (&records[j].hash, &records[i].hash);
        let uuid_differs =
            a.uuid_bytes.is_some() && b.uuid_bytes.is_some() && a.uuid_bytes != b.uuid_bytes;
        let ek_differs =
            a.ek_digest.is_some() && b.ek_digest.is_some() && a.ek_digest != b.ek_digest;
        let at = format!("{}:{}", records[j].file.display(), records[j].line);
        let f = if uuid_differs || ek_differs {
            let what = match (uuid_differs, ek_differs) {
                (true, true) => "SMBIOS UUID and TPM key",
                (true, false) => "SMBIOS UUID",
                _ => "TPM key",
            };
            finding(
                Level::Error,
                "board-swap",
                format!(
                    "serial {serial} is also on {at} with a different {what}: a board swap or two machines sharing a serial; keep the file captured after the repair and remove the other"
                ),
            )
        } else {
            finding(
                Level::Note,
                "duplicate",
                format!("serial {serial} is also on {at} (same hardware): imported once"),
            )
        };
        let error = f.level == Level::Error;
        checked[i].findings.push(f);
        if error {
            checked[j].findings.push(finding(
                Level::Error,
                "board-swap",
                format!(
                    "serial {serial} is also on {}:{} with different hardware: resolve before importing",
                    records[i].file.display(),
                    records[i].line
                ),
            ));
        }
        // The repeat is never imported a second time.
        checked[i].duplicate_of = Some(j);
    }
}
