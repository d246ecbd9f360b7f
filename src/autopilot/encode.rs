//! Builds hardware hashes from the format facts (docs/autopilot.md): for tests, and for the
//! simulator's demo devices. Not a capture tool: the values are whatever the caller says.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::hash::{TRAILER, kind};

/// Bytes the generator in the format facts allocates: 4,000 base64 characters.
pub const PADDED_LEN: usize = 3000;

/// A hash under construction: entries in order, then the trailer and padding.
#[derive(Debug, Clone, Default)]
pub struct HashBuilder {
    entries: Vec<(u8, Vec<u8>)>,
    trailer: bool,
    pad: bool,
}

impl HashBuilder {
    /// No entries, no trailer, no padding.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A plausible laptop: every entry type the decoder names, a trailer with its SHA-256 and
    /// padding to 3,000 bytes. `seed` varies the UUID, EK key, disk serial and MAC.
    pub fn device(serial: &str, manufacturer: &str, model: &str, seed: u64) -> Self {
        let s = seed.to_le_bytes();
        let mut uuid = [0u8; 16];
        for (i, b) in uuid.iter_mut().enumerate() {
            *b = s[i % 8] ^ (i as u8).wrapping_mul(37) ^ 0x5A;
        }
        let ek: Vec<u8> = (0..64u8).map(|i| i ^ s[usize::from(i) % 8]).collect();
        let mac = [0x00, 0x1B, 0x77, s[0], s[1], s[2]];
        let mut version = Vec::new();
        for v in [0u16, 10, 248, 16299, 0, 10, 1, 22631] {
            version.extend_from_slice(&v.to_le_bytes());
        }
        version.extend_from_slice(&[0, 0, 0, 0, 0, 2, 9, 1]);
        let mut processor = Vec::new();
        for v in [9u16, 1, 4, 8] {
            processor.extend_from_slice(&v.to_le_bytes());
        }
        processor.extend_from_slice(&[1, 0, 0, 0]);
        Self::empty()
            .raw(kind::VERSION, &version)
            .raw(kind::PROCESSOR, &processor)
            .string(kind::PROCESSOR_MANUFACTURER, "GenuineIntel")
            .string(
                kind::PROCESSOR_MODEL,
                "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz",
            )
            .raw(
                kind::MEMORY,
                &[
                    0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0,
                ],
            )
            .disk(256, 17, 0)
            .string(kind::DISK_SERIAL, &format!("S4EWNX0{:08X}", seed as u32))
            .nic(mac, 14)
            .raw(kind::DISPLAY, &[0x22, 0, 0x13, 0, 0x80, 0x07, 0x38, 0x04])
            .raw(kind::CHASSIS, &[10, 2, 0, 0])
            .raw(
                kind::OFFLINE_DEVICE_ID,
                &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD],
            )
            .uuid(uuid)
            .string(
                kind::TPM_VERSION,
                "TPM-Version:2.0 -Level:0-Revision:1.16-VendorID:'IFX '-Firmware:7.63.3353.0",
            )
            .string(kind::SMBIOS_SERIAL, serial)
            .string(kind::FIRMWARE_VENDOR, "LENOVO")
            .string(kind::MANUFACTURER, manufacturer)
            .string(kind::PRODUCT_NAME, model)
            .string(kind::SKU, "LENOVO_MT_20XW_BU_Think_FM_ThinkPad T14")
            .string(kind::FAMILY, "ThinkPad T14 Gen 2i")
            .string(kind::BOARD_PRODUCT, "20XWCTO1WW")
            .string(kind::BOARD_VERSION, "SDK0J40697 WIN")
            .string(kind::SYSTEM_VERSION, "ThinkPad T14 Gen 2i")
            .string(kind::PRODUCT_KEY_ID, "00330-80000-00000-AA123")
            .raw(kind::TPM_EK_PUB, &ek)
            .string(kind::PRODUCT_KEY_PKPN, "[4.0] X21-99378")
            .gpu_name("Intel(R) Iris(R) Xe Graphics")
            .trailer(true)
            .padded(true)
    }

    /// A string entry: UTF-8 and a trailing NUL.
    pub fn string(self, kind: u8, s: &str) -> Self {
        let mut p = s.as_bytes().to_vec();
        p.push(0);
        self.raw(kind, &p)
    }

    /// A UTF-16 LE string entry (the GPU name).
    pub fn gpu_name(self, s: &str) -> Self {
        let mut p: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        p.extend_from_slice(&[0, 0]);
        self.raw(kind::GPU_NAME, &p)
    }

    pub fn raw(mut self, kind: u8, payload: &[u8]) -> Self {
        self.entries.push((kind, payload.to_vec()));
        self
    }

    pub fn uuid(self, b: [u8; 16]) -> Self {
        self.raw(kind::SMBIOS_UUID, &b)
    }

    /// A network adapter: physical medium (14 Ethernet, 1 wireless LAN, …) and MAC.
    pub fn nic(self, mac: [u8; 6], medium: u32) -> Self {
        let mut p = medium.to_le_bytes().to_vec();
        p.extend_from_slice(&mac);
        self.raw(kind::NETWORK, &p)
    }

    /// A disk: capacity, bus (17 NVMe, 11 SATA, …), media (0 SSD, 255 HDD).
    pub fn disk(self, capacity: u32, bus: u8, media: u8) -> Self {
        let mut p = capacity.to_le_bytes().to_vec();
        p.extend_from_slice(&[0, 0, 0, 0, bus, 0, media, 0]);
        self.raw(kind::DISK, &p)
    }

    /// Replaces the payload of every entry of `kind` (adding one when there is none).
    pub fn set_string(mut self, kind: u8, s: &str) -> Self {
        let mut p = s.as_bytes().to_vec();
        p.push(0);
        let mut found = false;
        for e in self.entries.iter_mut().filter(|e| e.0 == kind) {
            e.1 = p.clone();
            found = true;
        }
        if !found {
            self.entries.push((kind, p));
        }
        self
    }

    /// Drops every entry of `kind`.
    pub fn without(mut self, kind: u8) -> Self {
        self.entries.retain(|e| e.0 != kind);
        self
    }

    pub fn trailer(mut self, on: bool) -> Self {
        self.trailer = on;
        self
    }

    pub fn padded(mut self, on: bool) -> Self {
        self.pad = on;
        self
    }

    /// The binary hash.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = vec![b'O', b'A', 0, 0];
        for (kind, p) in &self.entries {
            let len = u16::try_from(p.len() + 4).unwrap_or(u16::MAX);
            b.extend_from_slice(&[*kind, 0]);
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(p);
        }
        let end = u16::try_from(b.len()).unwrap_or(u16::MAX);
        b[2..4].copy_from_slice(&end.to_le_bytes());
        if self.trailer {
            let digest = Sha256::digest(&b);
            b.extend_from_slice(TRAILER);
            b.extend_from_slice(&digest);
        }
        if self.pad && b.len() < PADDED_LEN {
            b.resize(PADDED_LEN, 0);
        }
        b
    }

    /// The hash as a CSV holds it: padded base64.
    pub fn base64(&self) -> String {
        STANDARD.encode(self.bytes())
    }
}
