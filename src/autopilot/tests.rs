//! Decoder and check tests on hashes built by [`super::encode`] from the format facts, and on
//! two real published hash files (tests/fixtures/autopilot/README.md says where from).

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::check::{self, Level};
use super::encode::HashBuilder;
use super::file::{self, HashRecord};
use super::hash::{self, Checksum, HashError, kind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/autopilot")
        .join(name)
}

fn record(serial_cell: &str, b: &HashBuilder) -> HashRecord {
    HashRecord {
        file: PathBuf::from("t.csv"),
        line: 2,
        serial_cell: serial_cell.into(),
        product_id: String::new(),
        hash_text: b.base64(),
        group_tag: None,
        assigned_user: None,
        hash: hash::parse(&b.base64()).unwrap(),
    }
}

fn codes(c: &check::Checked) -> Vec<(&'static str, Level)> {
    c.findings.iter().map(|f| (f.code, f.level)).collect()
}

#[test]
fn every_entry_type_decodes() {
    let b = HashBuilder::device("PF3ABC12", "LENOVO", "20XWCTO1WW", 7);
    let text = b.base64();
    assert_eq!(text.len(), 4000, "3,000 bytes: a 4K hash");
    let h = hash::parse(&text).unwrap();
    assert_eq!(h.serial.as_deref(), Some("PF3ABC12"));
    assert_eq!(h.manufacturer.as_deref(), Some("LENOVO"));
    assert_eq!(h.model.as_deref(), Some("20XWCTO1WW"));
    assert_eq!(
        h.sku.as_deref(),
        Some("LENOVO_MT_20XW_BU_Think_FM_ThinkPad T14")
    );
    assert_eq!(h.family.as_deref(), Some("ThinkPad T14 Gen 2i"));
    assert_eq!(h.system_version.as_deref(), Some("ThinkPad T14 Gen 2i"));
    assert_eq!(h.board_product.as_deref(), Some("20XWCTO1WW"));
    assert_eq!(h.board_version.as_deref(), Some("SDK0J40697 WIN"));
    assert_eq!(h.firmware_vendor.as_deref(), Some("LENOVO"));
    assert!(
        h.tpm_version
            .as_deref()
            .unwrap()
            .starts_with("TPM-Version:2.0")
    );
    assert!(h.tpm_ek_public_key);
    assert_eq!(h.product_key_id.as_deref(), Some("00330-80000-00000-AA123"));
    assert_eq!(h.product_key_pkpn.as_deref(), Some("[4.0] X21-99378"));
    assert_eq!(h.disk_serials, vec!["S4EWNX000000007".to_string()]);
    assert_eq!(h.disks.len(), 1);
    assert_eq!(
        (h.disks[0].capacity, h.disks[0].bus, h.disks[0].media),
        (256, "NVMe", "SSD")
    );
    assert_eq!(h.nics.len(), 1);
    assert_eq!(h.nics[0].mac, "00:1B:77:07:00:00");
    assert_eq!(h.nics[0].medium, "Ethernet");
    assert_eq!(h.processor_manufacturer.as_deref(), Some("GenuineIntel"));
    assert_eq!((h.processor_cores, h.processor_threads), (Some(4), Some(8)));
    assert_eq!(h.tool_build.as_deref(), Some("10.0.16299.248"));
    assert_eq!(h.os_build.as_deref(), Some("10.0.22631.1"));
    assert_eq!(h.os_architecture, Some("x64"));
    assert_eq!(h.chassis_type, Some(10));
    assert_eq!(h.power_platform_role, Some("Mobile"));
    assert_eq!(h.offline_device_id_type, Some("TPM_EK"));
    assert_eq!(
        h.gpu_names,
        vec!["Intel(R) Iris(R) Xe Graphics".to_string()]
    );
    assert!(h.smbios_uuid.is_some());
    assert_eq!(h.checksum, Checksum::Matches);
    assert!(h.unknown_types.is_empty());
    // Unpadded (device-side) text reads the same.
    let unpadded = text.trim_end_matches('=');
    assert_eq!(hash::parse(unpadded).unwrap(), h);
    // A clean device passes every check.
    let c = check::check(&record("PF3ABC12", &b));
    assert!(c.is_importable(), "{:?}", c.findings);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn uuid_is_printed_in_the_windows_layout() {
    let b = HashBuilder::empty().uuid([
        0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0xFF,
    ]);
    let h = hash::decode(&b.bytes()).unwrap();
    assert_eq!(
        h.smbios_uuid.as_deref(),
        Some("00112233-4455-6677-8899-AABBCCDDEEFF")
    );
}

#[test]
fn unknown_types_are_skipped_by_length() {
    let b = HashBuilder::empty()
        .raw(99, &[1, 2, 3])
        .string(kind::SMBIOS_SERIAL, "S1");
    let h = hash::decode(&b.bytes()).unwrap();
    assert_eq!(h.unknown_types, vec![99]);
    assert_eq!(h.serial.as_deref(), Some("S1"));
    assert_eq!(h.checksum, Checksum::Absent);
}

#[test]
fn malformed_hashes_name_the_byte_offset() {
    let good = HashBuilder::device("S1", "Dell Inc.", "Latitude 5440", 1).trailer(false);
    let bytes = good.bytes();
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    // Wrong magic.
    let mut m = bytes.clone();
    m[0] = b'X';
    let e = hash::decode(&m).unwrap_err();
    assert!(matches!(e, HashError::Magic { .. }));
    assert!(e.to_string().starts_with("byte offset 0:"), "{e}");
    // Truncated: the entry list claims more than is there.
    let e = hash::parse(&b64(&bytes[..100])).unwrap_err();
    assert!(matches!(e, HashError::EndOffset { .. }), "{e}");
    assert!(e.to_string().starts_with("byte offset 2:"), "{e}");
    // An entry of length 0 would loop forever.
    let mut z = bytes.clone();
    z[6] = 0;
    z[7] = 0;
    let e = hash::decode(&z).unwrap_err();
    assert_eq!(
        e,
        HashError::EntryLength {
            offset: 4,
            length: 0
        }
    );
    assert_eq!(
        e.to_string(),
        "byte offset 4: entry length 0 is shorter than its own 4-byte header"
    );
    // An entry past the end of the list.
    let mut p = bytes.clone();
    p[6] = 0xFF;
    p[7] = 0x7F;
    let e = hash::decode(&p).unwrap_err();
    assert!(
        matches!(e, HashError::EntryPastEnd { offset: 4, .. }),
        "{e}"
    );
    // A list ending inside an entry header.
    let short = [b'O', b'A', 6, 0, 1, 0];
    assert_eq!(
        hash::decode(&short).unwrap_err(),
        HashError::EntryHeader { offset: 4, end: 6 }
    );
    // Bad base64, with the character offset.
    let mut t = good.base64();
    t.replace_range(10..11, "!");
    let e = hash::parse(&t).unwrap_err();
    assert_eq!(e.offset(), Some((10, true)));
    assert!(e.to_string().contains("character 10"), "{e}");
    assert_eq!(hash::parse("  ").unwrap_err(), HashError::Empty);
    assert!(matches!(
        hash::parse("T0E").unwrap_err(),
        HashError::TooShort { len: 2 }
    ));
}

#[test]
fn an_altered_hash_fails_its_checksum() {
    let mut bytes = HashBuilder::device("S1", "HP", "EliteBook", 3).bytes();
    let at = bytes
        .windows(2)
        .position(|w| w == b"S1")
        .expect("serial in the bytes");
    bytes[at] = b'T';
    let h = hash::decode(&bytes).unwrap();
    assert_eq!(h.serial.as_deref(), Some("T1"));
    assert_eq!(h.checksum, Checksum::Differs);
}

#[test]
fn placeholders_are_refused_with_the_fix() {
    for s in [
        "SMBIOS_STRING_INDEX_0",
        "Default string",
        "To be filled by O.E.M.",
        "System Serial Number",
        "0",
        "00000000",
        " none ",
        "123456789",
    ] {
        assert!(check::is_placeholder(s), "{s}");
    }
    for s in ["PF3ABC12", "5CG1457YL8", "0A1"] {
        assert!(!check::is_placeholder(s), "{s}");
    }
    let b = HashBuilder::device("Default string", "Default string", "Default string", 2);
    let c = check::check(&record("", &b));
    assert!(!c.is_importable());
    let f = c
        .findings
        .iter()
        .find(|f| f.code == "placeholder-serial")
        .unwrap();
    assert!(
        f.message
            .ends_with("set a serial in the firmware or VM settings and capture again"),
        "{}",
        f.message
    );
}

#[test]
fn serial_column_against_the_hash() {
    let b = HashBuilder::device("PF3ABC12", "LENOVO", "20XW", 1);
    let c = check::check(&record("PF9ZZZ99", &b));
    assert_eq!(codes(&c), vec![("serial-mismatch", Level::Error)]);
    assert!(!c.is_importable());
    let c = check::check(&record("pf3abc12", &b));
    assert!(c.is_importable(), "case does not matter");
    let c = check::check(&record("", &b));
    assert_eq!(codes(&c), vec![("serial-from-hash", Level::Warning)]);
    assert_eq!(c.serial.as_deref(), Some("PF3ABC12"));
    let none = HashBuilder::device("x", "LENOVO", "20XW", 1).without(kind::SMBIOS_SERIAL);
    let c = check::check(&record("", &none));
    assert_eq!(codes(&c), vec![("no-serial", Level::Error)]);
    let no_make = b.clone().without(kind::MANUFACTURER);
    let c = check::check(&record("PF3ABC12", &no_make));
    assert_eq!(codes(&c), vec![("no-manufacturer", Level::Error)]);
}

#[test]
fn missing_tpm_is_a_warning_and_a_vm_a_note() {
    let b = HashBuilder::device("VM-1", "QEMU", "Standard PC (Q35 + ICH9, 2009)", 4)
        .without(kind::TPM_VERSION)
        .without(kind::TPM_EK_PUB);
    let c = check::check(&record("VM-1", &b));
    assert_eq!(
        codes(&c),
        vec![("no-tpm", Level::Warning), ("virtual-machine", Level::Note)]
    );
    assert!(c.is_importable());
    let h = HashBuilder::device("VM-2", "Microsoft Corporation", "Virtual Machine", 4);
    assert_eq!(
        check::virtual_machine(&hash::decode(&h.bytes()).unwrap()),
        Some("Hyper-V")
    );
    let tpm12 = HashBuilder::device("S", "HP", "M", 1)
        .set_string(kind::TPM_VERSION, "TPM-Version:1.2 -Level:2");
    let c = check::check(&record("S", &tpm12));
    assert_eq!(codes(&c), vec![("tpm-not-2", Level::Warning)]);
}

#[test]
fn duplicates_by_serial_and_board_swaps() {
    // Two captures of one device: different hash text, same hardware.
    let a = HashBuilder::device("PF1", "LENOVO", "20XW", 1);
    let a2 = HashBuilder::device("PF1", "LENOVO", "20XW", 1).set_string(kind::PRODUCT_KEY_ID, "x");
    assert_ne!(a.base64(), a2.base64());
    // Same serial, another board (UUID and TPM key).
    let swap = HashBuilder::device("PF1", "LENOVO", "20XW", 2);
    let recs = vec![record("PF1", &a), record("pf1", &a2), record("PF1", &swap)];
    let mut checked: Vec<_> = recs.iter().map(check::check).collect();
    check::cross_check(&recs, &mut checked);
    assert_eq!(checked[1].duplicate_of, Some(0));
    assert_eq!(codes(&checked[1]), vec![("duplicate", Level::Note)]);
    assert!(!checked[1].is_importable(), "imported once");
    assert!(codes(&checked[2]).contains(&("board-swap", Level::Error)));
    assert!(codes(&checked[0]).contains(&("board-swap", Level::Error)));
    let msg = &checked[2].findings[0].message;
    assert!(msg.contains("SMBIOS UUID and TPM key"), "{msg}");
}

#[test]
fn real_hp_file_decodes() {
    let (recs, errs) = file::read(&fixture("real-hp-elitebook.csv")).unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!((r.line, r.serial_cell.as_str()), (2, "5CG1457YL8"));
    let h = &r.hash;
    assert_eq!(h.serial.as_deref(), Some("5CG1457YL8"));
    assert_eq!(h.manufacturer.as_deref(), Some("HP"));
    assert_eq!(h.model.as_deref(), Some("HP EliteBook 840 G8 Notebook PC"));
    assert_eq!(h.sku.as_deref(), Some("479G1UC#ABA"));
    assert_eq!(h.family.as_deref(), Some("103C_5336AN HP EliteBook"));
    assert!(
        h.tpm_version
            .as_deref()
            .unwrap()
            .starts_with("TPM-Version:2.0")
    );
    assert!(h.tpm_ek_public_key);
    assert_eq!(h.offline_device_id_type, Some("TPM_EK"));
    assert_eq!(h.product_key_id.as_deref(), Some("3305404496774"));
    assert_eq!(h.nics.len(), 2);
    assert_eq!(h.nics[0].medium, "Bluetooth");
    assert_eq!(h.nics[1].medium, "802.11");
    assert_eq!(h.disk_serials.len(), 1);
    assert_eq!((h.processor_cores, h.processor_threads), (Some(4), Some(8)));
    assert_eq!(
        h.checksum,
        Checksum::Matches,
        "real hashes carry a SHA-256 trailer"
    );
    assert_eq!(h.length, 1159);
    let c = check::check(r);
    assert!(c.is_importable(), "{:?}", c.findings);
}

#[test]
fn real_qemu_file_is_refused_for_its_placeholder_serial() {
    let (recs, errs) = file::read(&fixture("real-qemu-vm.csv")).unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    let r = &recs[0];
    assert_eq!(r.serial_cell, "");
    assert_eq!(r.hash.serial.as_deref(), Some("SMBIOS_STRING_INDEX_0"));
    assert_eq!(r.hash.manufacturer.as_deref(), Some("QEMU"));
    assert_eq!(r.hash.tpm_version, None);
    assert_eq!(r.hash.checksum, Checksum::Matches);
    let c = check::check(r);
    assert_eq!(
        codes(&c),
        vec![
            ("serial-from-hash", Level::Warning),
            ("placeholder-serial", Level::Error),
            ("no-tpm", Level::Warning),
            ("virtual-machine", Level::Note),
        ]
    );
}

#[test]
fn a_bad_hash_in_a_file_names_file_line_column_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.csv");
    let good = HashBuilder::device("S1", "HP", "M", 1).base64();
    std::fs::write(
        &p,
        format!("Device Serial Number,Windows Product ID,Hardware Hash\r\nS1,,{good}\r\nS2,,T0EAAA!!\r\n"),
    )
    .unwrap();
    let (recs, errs) = file::read(&p).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(errs.len(), 1);
    let e = errs[0].to_string();
    assert!(
        e.contains("h.csv:3:3: hardware hash: not base64 at character 6"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_bytes_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = hash::decode(&bytes);
    }

    #[test]
    fn no_container_panics(end in 0u16..700, body in proptest::collection::vec(any::<u8>(), 0..700)) {
        let mut b = vec![b'O', b'A'];
        b.extend_from_slice(&end.to_le_bytes());
        b.extend_from_slice(&body);
        let _ = hash::decode(&b);
    }

    #[test]
    fn no_text_panics(s in "\\PC{0,300}") {
        let _ = hash::parse(&s);
    }

    #[test]
    fn mutated_hashes_never_panic(flips in proptest::collection::vec((0usize..1200, any::<u8>()), 1..8), cut in 4usize..1300) {
        let mut b = HashBuilder::device("S1", "HP", "M", 9).bytes();
        for (at, v) in flips {
            if at < b.len() { b[at] = v; }
        }
        b.truncate(cut);
        let _ = hash::decode(&b);
    }
}

#[test]
fn show_prints_the_fields_and_escapes_outside_text() {
    let path = fixture("real-hp-elitebook.csv").display().to_string();
    let shown = super::show::load(std::slice::from_ref(&path)).unwrap();
    assert_eq!(shown.exit_code(), 0);
    let text = shown.text();
    for want in [
        "real-hp-elitebook.csv:2\n",
        "  serial            5CG1457YL8\n",
        "  manufacturer      HP\n",
        "  model             HP EliteBook 840 G8 Notebook PC\n",
        "  SKU               479G1UC#ABA\n",
        "  EK public key     present\n",
        "  product key id    3305404496774\n",
        "checksum matches",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    // Hash text as an argument; a hostile serial reaches the terminal escaped.
    let evil = HashBuilder::device("AB\u{1b}[2JCD", "HP", "M", 1).base64();
    let shown = super::show::load(&[evil]).unwrap();
    let text = shown.text();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("AB\\u{1b}[2JCD"), "{text}");
    let json = shown.json();
    assert_eq!(json["devices"][0]["hash"]["manufacturer"], "HP");
    // Not a hash: exit 1 with the reason; a file that is not a hash file: an error (exit 2).
    let bad = super::show::load(&["T0E=".to_string()]).unwrap();
    assert_eq!(bad.exit_code(), 1);
    assert!(bad.text().contains("at least 4"), "{}", bad.text());
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, "Serial\nPF1\n").unwrap();
    let e = super::show::load(&[plain.display().to_string()])
        .err()
        .unwrap();
    assert!(e.to_string().contains("no \"Hardware Hash\" column"), "{e}");
}
