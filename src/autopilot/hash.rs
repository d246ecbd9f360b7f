//! The Autopilot hardware hash ("4K hash"): base64 of a binary inventory of the device.
//!
//! Layout (docs/autopilot.md has the table and its sources): the bytes start with `OA` and a
//! little-endian u16 giving where the entry list ends; entries follow, each a 4-byte header
//! (type, a byte nobody interprets, u16 length counting the header) and its payload. Strings are
//! UTF-8 ending in NUL, except the GPU name (UTF-16 LE). After the entries a trailer may follow
//! (`CS$\0` and a SHA-256 of the bytes before it) and zero padding.
//!
//! The decoder never panics and always terminates: every entry moves the cursor forward by at
//! least its 4-byte header, and every read is bounds-checked. Any structural problem is an error
//! naming the byte offset.

use std::fmt;

use base64::DecodeSliceError;
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Longest hash text accepted: the container's end offset is a u16, so a real hash is well
/// under 100,000 base64 characters even with padding.
pub const MAX_TEXT: usize = 128 * 1024;

/// Device-side hashes are unpadded base64; files are padded. Both are read.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Entry types named in the format facts.
pub mod kind {
    pub const VERSION: u8 = 1;
    pub const PROCESSOR: u8 = 2;
    pub const PROCESSOR_MANUFACTURER: u8 = 3;
    pub const PROCESSOR_MODEL: u8 = 4;
    pub const MEMORY: u8 = 5;
    pub const DISK: u8 = 6;
    pub const DISK_SERIAL: u8 = 7;
    pub const NETWORK: u8 = 8;
    pub const DISPLAY: u8 = 9;
    pub const CHASSIS: u8 = 10;
    pub const OFFLINE_DEVICE_ID: u8 = 11;
    pub const SMBIOS_UUID: u8 = 12;
    pub const TPM_VERSION: u8 = 13;
    pub const SMBIOS_SERIAL: u8 = 14;
    pub const FIRMWARE_VENDOR: u8 = 15;
    pub const MANUFACTURER: u8 = 16;
    pub const PRODUCT_NAME: u8 = 17;
    pub const SKU: u8 = 18;
    pub const FAMILY: u8 = 19;
    pub const FIRMWARE_VENDOR2: u8 = 20;
    pub const BOARD_PRODUCT: u8 = 21;
    pub const BOARD_VERSION: u8 = 22;
    pub const SYSTEM_VERSION: u8 = 23;
    pub const PRODUCT_KEY_ID: u8 = 24;
    pub const TPM_EK_PUB: u8 = 25;
    pub const PRODUCT_KEY_PKPN: u8 = 26;
    pub const DISK_SSN_KERNEL: u8 = 28;
    pub const GPU_MEMORY: u8 = 29;
    pub const GPU_NAME: u8 = 30;
}

/// The trailer after the entry list.
pub const TRAILER: &[u8; 4] = b"CS$\0";

/// Why a hash could not be read. Offsets are into the base64 text for [`HashError::Base64`] and
/// into the decoded bytes otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashError {
    Empty,
    TooLong {
        len: usize,
    },
    Base64 {
        offset: usize,
        reason: String,
    },
    TooShort {
        len: usize,
    },
    Magic {
        found: [u8; 2],
    },
    EndOffset {
        end: usize,
        len: usize,
    },
    EntryHeader {
        offset: usize,
        end: usize,
    },
    EntryLength {
        offset: usize,
        length: usize,
    },
    EntryPastEnd {
        offset: usize,
        length: usize,
        end: usize,
    },
}

impl HashError {
    /// Where the problem is: `(offset, in_text)`.
    #[cfg(test)]
    pub fn offset(&self) -> Option<(usize, bool)> {
        match self {
            HashError::Base64 { offset, .. } => Some((*offset, true)),
            HashError::Magic { .. } => Some((0, false)),
            HashError::EndOffset { .. } => Some((2, false)),
            HashError::EntryHeader { offset, .. }
            | HashError::EntryLength { offset, .. }
            | HashError::EntryPastEnd { offset, .. } => Some((*offset, false)),
            _ => None,
        }
    }
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::Empty => f.write_str("the hardware hash is empty"),
            HashError::TooLong { len } => write!(
                f,
                "the hardware hash is {len} characters long; no hardware hash is longer than {MAX_TEXT}"
            ),
            HashError::Base64 { offset, reason } => {
                write!(f, "not base64 at character {offset} of the hash: {reason}")
            }
            HashError::TooShort { len } => write!(
                f,
                "the hash decodes to {len} bytes; at least 4 (the \"OA\" header) are needed"
            ),
            HashError::Magic { found } => write!(
                f,
                "byte offset 0: the hash does not start with \"OA\" (found 0x{:02X} 0x{:02X}): not an Autopilot hardware hash",
                found[0], found[1]
            ),
            HashError::EndOffset { end, len } => write!(
                f,
                "byte offset 2: the entry list claims to end at byte {end}, but the hash has {len} bytes"
            ),
            HashError::EntryHeader { offset, end } => write!(
                f,
                "byte offset {offset}: an entry header (4 bytes) does not fit before the end of the entry list at {end}"
            ),
            HashError::EntryLength { offset, length } => write!(
                f,
                "byte offset {offset}: entry length {length} is shorter than its own 4-byte header"
            ),
            HashError::EntryPastEnd {
                offset,
                length,
                end,
            } => write!(
                f,
                "byte offset {offset}: entry of {length} bytes runs past the end of the entry list at {end}"
            ),
        }
    }
}

impl std::error::Error for HashError {}

/// One entry: its type and where its payload lies in the decoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub kind: u8,
    /// Offset of the entry's header.
    pub offset: usize,
    /// Entry length including the 4-byte header.
    pub length: usize,
}

/// A network adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nic {
    pub mac: String,
    pub medium: &'static str,
}

/// A disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disk {
    pub capacity: u32,
    pub bus: &'static str,
    pub media: &'static str,
}

/// Whether the trailer's SHA-256 matches the bytes it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checksum {
    #[default]
    Absent,
    Matches,
    Differs,
}

/// Everything decoded from one hash. Strings are as the firmware wrote them (NULs cut off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HardwareHash {
    pub serial: Option<String>,
    pub manufacturer: Option<String>,
    /// SMBIOS product name: what Intune shows as the model.
    pub model: Option<String>,
    pub sku: Option<String>,
    pub family: Option<String>,
    pub system_version: Option<String>,
    pub board_product: Option<String>,
    pub board_version: Option<String>,
    pub firmware_vendor: Option<String>,
    pub tpm_version: Option<String>,
    pub tpm_ek_public_key: bool,
    /// SMBIOS UUID in the .NET layout Windows tools print (first three fields little-endian).
    pub smbios_uuid: Option<String>,
    pub product_key_id: Option<String>,
    pub product_key_pkpn: Option<String>,
    pub offline_device_id_type: Option<&'static str>,
    pub disk_serials: Vec<String>,
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    pub processor_manufacturer: Option<String>,
    pub processor_model: Option<String>,
    pub processor_cores: Option<u16>,
    pub processor_threads: Option<u16>,
    pub os_build: Option<String>,
    pub tool_build: Option<String>,
    pub os_architecture: Option<&'static str>,
    pub chassis_type: Option<u8>,
    pub power_platform_role: Option<&'static str>,
    pub gpu_names: Vec<String>,
    /// Bytes of the entry list, and entries read.
    pub length: usize,
    pub entries: usize,
    /// Entry types not in the format facts, skipped by length.
    pub unknown_types: Vec<u8>,
    pub checksum: Checksum,
    /// Raw SMBIOS UUID and a digest of the EK public key: what a board swap changes.
    #[serde(skip)]
    pub uuid_bytes: Option<[u8; 16]>,
    #[serde(skip)]
    pub ek_digest: Option<[u8; 32]>,
}

/// Decodes base64 hash text (surrounding whitespace ignored; padded or not).
pub fn decode_text(text: &str) -> Result<Vec<u8>, HashError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(HashError::Empty);
    }
    if t.len() > MAX_TEXT {
        return Err(HashError::TooLong { len: t.len() });
    }
    // Offsets from the trimmed text are shifted back into the given text.
    let lead = text.len() - text.trim_start().len();
    let mut buf = vec![0u8; t.len().div_ceil(4) * 3];
    match B64.decode_slice(t.as_bytes(), &mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Ok(buf)
        }
        Err(DecodeSliceError::DecodeError(e)) => {
            let (offset, reason) = match e {
                base64::DecodeError::InvalidByte(at, b) => {
                    (at, format!("character {:?} is not base64", char::from(b)))
                }
                base64::DecodeError::InvalidLength(n) => {
                    (n, "the text has a length no base64 can have".into())
                }
                base64::DecodeError::InvalidLastSymbol(at, b) => (
                    at,
                    format!("last character {:?} leaves stray bits", char::from(b)),
                ),
                base64::DecodeError::InvalidPadding => (t.len(), "bad padding".into()),
            };
            Err(HashError::Base64 {
                offset: offset + lead,
                reason,
            })
        }
        Err(DecodeSliceError::OutputSliceTooSmall) => Err(HashError::Base64 {
            offset: lead,
            reason: "the text does not decode".into(),
        }),
    }
}

/// Splits decoded bytes into entries (the container check).
pub fn entries(bytes: &[u8]) -> Result<(Vec<Entry>, usize), HashError> {
    if bytes.len() < 4 {
        return Err(HashError::TooShort { len: bytes.len() });
    }
    if &bytes[0..2] != b"OA" {
        return Err(HashError::Magic {
            found: [bytes[0], bytes[1]],
        });
    }
    let end = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
    if end < 4 || end > bytes.len() {
        return Err(HashError::EndOffset {
            end,
            len: bytes.len(),
        });
    }
    let mut out = Vec::new();
    let mut offset = 4;
    while offset < end {
        if end - offset < 4 {
            return Err(HashError::EntryHeader { offset, end });
        }
        let length = usize::from(u16::from_le_bytes([bytes[offset + 2], bytes[offset + 3]]));
        if length < 4 {
            return Err(HashError::EntryLength { offset, length });
        }
        if length > end - offset {
            return Err(HashError::EntryPastEnd {
                offset,
                length,
                end,
            });
        }
        out.push(Entry {
            kind: bytes[offset],
            offset,
            length,
        });
        offset += length;
    }
    Ok((out, end))
}

/// Reads a hash from its base64 text.
pub fn parse(text: &str) -> Result<HardwareHash, HashError> {
    decode(&decode_text(text)?)
}

/// Reads a hash from its decoded bytes.
pub fn decode(bytes: &[u8]) -> Result<HardwareHash, HashError> {
    let (list, end) = entries(bytes)?;
    let mut h = HardwareHash {
        length: end,
        entries: list.len(),
        ..HardwareHash::default()
    };
    for e in &list {
        let p = &bytes[e.offset + 4..e.offset + e.length];
        let text = || utf8(p);
        let set = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = Some(utf8(p));
            }
        };
        match e.kind {
            kind::VERSION => {
                h.tool_build = version(p, 0);
                h.os_build = version(p, 8);
                if p.len() >= 3 {
                    h.os_architecture = Some(arch(u16::from(p[p.len() - 2])));
                }
            }
            kind::PROCESSOR => {
                h.processor_cores = u16_at(p, 4);
                h.processor_threads = u16_at(p, 6);
            }
            kind::PROCESSOR_MANUFACTURER => set(&mut h.processor_manufacturer),
            kind::PROCESSOR_MODEL => set(&mut h.processor_model),
            kind::DISK => h.disks.push(Disk {
                capacity: u32_at(p, 0).unwrap_or(0),
                bus: bus(p.get(8).copied()),
                media: match p.get(10) {
                    Some(0) => "SSD",
                    Some(255) => "HDD",
                    _ => "unknown",
                },
            }),
            kind::DISK_SERIAL => h.disk_serials.push(text()),
            kind::NETWORK => {
                if let Some(mac) = p.get(4..10) {
                    h.nics.push(Nic {
                        mac: mac
                            .iter()
                            .map(|b| format!("{b:02X}"))
                            .collect::<Vec<_>>()
                            .join(":"),
                        medium: medium(u32_at(p, 0).unwrap_or(u32::MAX)),
                    });
                }
            }
            kind::CHASSIS => {
                h.chassis_type = p.first().copied();
                h.power_platform_role = p.get(1).map(|&r| power_role(r));
            }
            kind::OFFLINE_DEVICE_ID => {
                h.offline_device_id_type = p.get(4).map(|t| match t {
                    1 => "TPM_EK",
                    2 => "UEFI_VARIABLE_TPM",
                    _ => "other",
                });
            }
            kind::SMBIOS_UUID => {
                if let Some(u) = p.get(0..16) {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(u);
                    h.uuid_bytes = Some(b);
                    h.smbios_uuid = Some(dotnet_guid(&b));
                }
            }
            kind::TPM_VERSION => set(&mut h.tpm_version),
            kind::SMBIOS_SERIAL => set(&mut h.serial),
            kind::FIRMWARE_VENDOR => set(&mut h.firmware_vendor),
            kind::MANUFACTURER => set(&mut h.manufacturer),
            kind::PRODUCT_NAME => set(&mut h.model),
            kind::SKU => set(&mut h.sku),
            kind::FAMILY => set(&mut h.family),
            kind::BOARD_PRODUCT => set(&mut h.board_product),
            kind::BOARD_VERSION => set(&mut h.board_version),
            kind::SYSTEM_VERSION => set(&mut h.system_version),
            kind::PRODUCT_KEY_ID => set(&mut h.product_key_id),
            kind::PRODUCT_KEY_PKPN => set(&mut h.product_key_pkpn),
            kind::TPM_EK_PUB => {
                if !p.is_empty() {
                    h.tpm_ek_public_key = true;
                    h.ek_digest = Some(Sha256::digest(p).into());
                }
            }
            kind::GPU_NAME => h.gpu_names.push(utf16(p)),
            kind::MEMORY
            | kind::DISPLAY
            | kind::FIRMWARE_VENDOR2
            | kind::DISK_SSN_KERNEL
            | kind::GPU_MEMORY
            | 27 => {}
            other => {
                if !h.unknown_types.contains(&other) {
                    h.unknown_types.push(other);
                }
            }
        }
    }
    h.checksum = match bytes.get(end..end + 36) {
        Some(t) if &t[..4] == TRAILER => {
            if Sha256::digest(&bytes[..end]).as_slice() == &t[4..] {
                Checksum::Matches
            } else {
                Checksum::Differs
            }
        }
        _ => Checksum::Absent,
    };
    Ok(h)
}

/// UTF-8 text up to the first NUL, invalid bytes replaced, surrounding spaces trimmed.
fn utf8(p: &[u8]) -> String {
    let cut = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..cut]).trim().to_string()
}

/// UTF-16 LE text up to the first NUL.
fn utf16(p: &[u8]) -> String {
    let units: Vec<u16> = p
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units).trim().to_string()
}

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    let b = p.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    let b = p.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A version stored as u16 minor, major, revision, build; shown major.minor.build.revision.
fn version(p: &[u8], at: usize) -> Option<String> {
    let minor = u16_at(p, at)?;
    let major = u16_at(p, at + 2)?;
    let rev = u16_at(p, at + 4)?;
    let build = u16_at(p, at + 6)?;
    Some(format!("{major}.{minor}.{build}.{rev}"))
}

fn arch(a: u16) -> &'static str {
    match a {
        0 => "x86",
        9 => "x64",
        12 => "ARM64",
        _ => "other",
    }
}

fn bus(b: Option<u8>) -> &'static str {
    match b {
        Some(1) => "SCSI",
        Some(2) => "ATAPI",
        Some(3) => "ATA",
        Some(8) => "RAID",
        Some(10) => "SAS",
        Some(11) => "SATA",
        Some(17) => "NVMe",
        _ => "other",
    }
}

fn medium(m: u32) -> &'static str {
    match m {
        1 => "wireless LAN",
        9 => "802.11",
        10 => "Bluetooth",
        14 => "Ethernet",
        _ => "other",
    }
}

fn power_role(r: u8) -> &'static str {
    match r {
        1 => "Desktop",
        2 => "Mobile",
        3 => "Workstation",
        4 => "EnterpriseServer",
        5 => "SOHOServer",
        6 => "AppliancePC",
        7 => "PerformanceServer",
        8 => "Slate",
        _ => "Unspecified",
    }
}

/// The 16 bytes as Windows prints a GUID: the first three fields little-endian.
pub fn dotnet_guid(b: &[u8; 16]) -> String {
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}
