//! `stagehand prep` on hardware hash files and on layouts it must not guess: hash files to
//! corporate identifiers (exact output), many single-device files merged into Autopilot import
//! files (≤ 500 rows, UTF-16 LE with BOM, exact header), a German header, an Intune
//! `DeviceName,Id,UserId` export, `--serial-column`, object ids as serials, exit codes.

use std::path::{Path, PathBuf};

use clap::Parser;
use stagehand::autopilot::encode::HashBuilder;
use stagehand::cli::{Cli, Command};
use stagehand::config::Config;
use stagehand::prep::{self, PrepArgs};

const HEADER: &str = "Device Serial Number,Windows Product ID,Hardware Hash";

fn args(argv: &[&str]) -> PrepArgs {
    let mut full = vec!["stagehand", "prep"];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full).unwrap().command {
        Some(Command::Prep(a)) => a,
        other => panic!("not prep: {other:?}"),
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/autopilot")
        .join(name)
}

/// A file as Get-WindowsAutopilotInfo writes it: UTF-16 LE with BOM, CRLF.
fn hash_file(dir: &Path, name: &str, rows: &[(&str, String)], extra: &str) -> PathBuf {
    let mut text = format!("{HEADER}{extra}\r\n");
    for (serial, hash) in rows {
        text.push_str(&format!("{serial},,{hash}\r\n"));
    }
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn utf16_text(p: &Path) -> String {
    let b = std::fs::read(p).unwrap();
    assert_eq!(
        &b[..2],
        &[0xFF, 0xFE],
        "{} starts with a UTF-16 LE BOM",
        p.display()
    );
    let units: Vec<u16> = b[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

fn run(a: &PrepArgs) -> prep::Outcome {
    prep::execute(a, &Config::default(), false)
}

fn codes(o: &prep::Outcome) -> Vec<String> {
    o.problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}",
                p.file.file_name().unwrap().to_string_lossy(),
                p.line,
                p.code
            )
        })
        .collect()
}

#[test]
fn hash_files_become_corporate_identifiers_from_the_decoded_hash() {
    let dir = tempfile::tempdir().unwrap();
    let a = hash_file(
        dir.path(),
        "a.csv",
        &[(
            "PF3ABC12",
            HashBuilder::device("PF3ABC12", "LENOVO", "20XWCTO1WW", 1).base64(),
        )],
        "",
    );
    // An empty serial column takes the hash's serial (a warning).
    let b = hash_file(
        dir.path(),
        "b.csv",
        &[(
            "",
            HashBuilder::device("CN0X7Y8Z", "Dell Inc.", "Latitude 5440", 2).base64(),
        )],
        "",
    );
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[
        &s(&a),
        &s(&b),
        &s(&fixture("real-hp-elitebook.csv")),
        "-o",
        &s(&out),
    ]));
    assert_eq!(o.exit_code, 0, "{:?} {:?}", o.error, o.problems);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "LENOVO,20XWCTO1WW,PF3ABC12\r\nDell Inc.,Latitude 5440,CN0X7Y8Z\r\nHP,HP EliteBook 840 G8 Notebook PC,5CG1457YL8\r\n"
    );
    assert_eq!(codes(&o), ["b.csv:2:serial-from-hash"]);
    assert_eq!(o.summary.inputs[0].encoding, "UTF-16 LE");
}

#[test]
fn placeholder_mismatch_and_broken_hashes_are_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = HashBuilder::device("GOOD1", "HP", "EliteBook", 1).base64();
    let other = HashBuilder::device("OTHER9", "HP", "EliteBook", 2).base64();
    let placeholder = HashBuilder::device("Default string", "HP", "EliteBook", 3).base64();
    let f = hash_file(
        dir.path(),
        "mixed.csv",
        &[
            ("GOOD1", good),
            ("WRONG1", other),
            ("", placeholder),
            ("X1", "T0EAAA".to_string()),
        ],
        "",
    );
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[&s(&f), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 1);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "HP,EliteBook,GOOD1\r\n"
    );
    assert_eq!(
        codes(&o),
        [
            "mixed.csv:3:serial-mismatch",
            "mixed.csv:4:serial-from-hash",
            "mixed.csv:4:placeholder-serial",
            "mixed.csv:5:bad-hash",
        ]
    );
    let bad = o.problems.iter().find(|p| p.code == "bad-hash").unwrap();
    assert_eq!(bad.column, Some(3));
    assert!(bad.reason.contains("byte offset 2"), "{}", bad.reason);
    let ph = o
        .problems
        .iter()
        .find(|p| p.code == "placeholder-serial")
        .unwrap();
    assert!(
        ph.reason
            .ends_with("set a serial in the firmware or VM settings and capture again")
    );
}

#[test]
fn many_single_device_files_merge_into_autopilot_files_of_500() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    let mut hashes = Vec::new();
    for i in 0..501u64 {
        let serial = format!("SN{i:05}");
        let mut b = HashBuilder::device(&serial, "LENOVO", "20XW", i);
        if i == 7 {
            // Device-side hashes come unpadded: the output is padded.
            b = b.padded(false);
            if b.bytes().len().is_multiple_of(3) {
                b = b.raw(99, &[0]);
            }
        }
        let padded = b.base64();
        let h = padded.trim_end_matches('=').to_string();
        if i == 7 {
            assert_ne!(h, padded);
        }
        let p = if i == 3 {
            let text = format!("\u{feff}{HEADER},Group Tag\r\n{serial},,{h},Kiosk\r\n");
            let p = dir.path().join(format!("d{i}.csv"));
            std::fs::write(&p, text).unwrap();
            p
        } else {
            hash_file(dir.path(), &format!("d{i}.csv"), &[(&serial, h)], "")
        };
        inputs.push(s(&p));
        hashes.push(padded);
    }
    // One device captured twice (another capture, same hardware) is imported once.
    let again = hash_file(
        dir.path(),
        "again.csv",
        &[(
            "SN00001",
            HashBuilder::device("SN00001", "LENOVO", "20XW", 1)
                .set_string(24, "another capture")
                .base64(),
        )],
        "",
    );
    inputs.push(s(&again));
    let out = dir.path().join("ap.csv");
    let mut argv: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let o_s = s(&out);
    argv.extend([
        "-o",
        &o_s,
        "--format",
        "autopilot",
        "--assigned-user",
        "amy@contoso.com",
    ]);
    let o = run(&args(&argv));
    assert_eq!(o.exit_code, 0, "{:?} {:?}", o.error, o.problems);
    assert_eq!(codes(&o), ["again.csv:2:duplicate"]);
    assert_eq!(o.summary.outputs.len(), 2);
    let first = utf16_text(&dir.path().join("ap-1.csv"));
    let lines: Vec<&str> = first.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User"
    );
    assert_eq!(lines.len(), 502, "header, 500 rows, empty tail");
    assert_eq!(lines[1], format!("SN00000,,{},,amy@contoso.com", hashes[0]));
    assert_eq!(
        lines[4],
        format!("SN00003,,{},Kiosk,amy@contoso.com", hashes[3])
    );
    assert_eq!(
        lines[8],
        format!("SN00007,,{},,amy@contoso.com", hashes[7]),
        "padded"
    );
    let second = utf16_text(&dir.path().join("ap-2.csv"));
    assert_eq!(
        second,
        format!(
            "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\nSN00500,,{},,amy@contoso.com\r\n",
            hashes[500]
        )
    );
    // --group-tag replaces the files' own tags.
    let out2 = dir.path().join("tagged.csv");
    let o = run(&args(&[
        &inputs[3],
        "-o",
        &s(&out2),
        "--format",
        "autopilot",
        "--group-tag",
        "Sales",
    ]));
    assert_eq!(o.exit_code, 0);
    assert!(utf16_text(&out2).contains(",Sales,\r\n"));
}

#[test]
fn a_german_header_is_read_by_its_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("de.csv");
    std::fs::write(
        &p,
        "Seriennummer;Hersteller;Modell\r\nPF3ABC12;Lenovo;T14\r\nPF3ABC13;Lenovo;T14\r\n",
    )
    .unwrap();
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[&s(&p), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 0, "{:?} {:?}", o.error, o.problems);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Lenovo,T14,PF3ABC12\r\nLenovo,T14,PF3ABC13\r\n",
        "never \"Modell\" or \"T14\" as serials"
    );
    for (cell, role) in [
        ("Numéro de série", "serial"),
        ("Número de serie", "serial"),
        ("Numero di serie", "serial"),
        ("Serienummer", "serial"),
        ("S/N", "serial"),
        ("SN", "serial"),
        ("Serial No.", "serial"),
        ("Service Tag", "serial"),
        ("IMEI", "serial"),
        ("N° de série", "serial"),
    ] {
        let got = prep::sniff::header_role(cell).map(|r| format!("{r:?}").to_lowercase());
        assert_eq!(got.as_deref(), Some(role), "{cell}");
    }
}

#[test]
fn a_german_header_without_a_serial_column_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("de.csv");
    std::fs::write(&p, "Gerät;Hersteller;Modell\r\nPF3ABC12;Lenovo;T14\r\n").unwrap();
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[&s(&p), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 2);
    let e = o.error.unwrap();
    assert!(
        e.contains("de.csv:1: the header row has no serial column (columns: 1 \"Gerät\", 2 \"Hersteller\", 3 \"Modell\")"),
        "{e}"
    );
    assert!(
        e.contains("--serial-column NAME or --serial-column N"),
        "{e}"
    );
    assert!(!out.exists());
    // Named or numbered, it works.
    let o = run(&args(&[&s(&p), "-o", &s(&out), "--serial-column", "Gerät"]));
    assert_eq!(o.exit_code, 0, "{:?} {:?}", o.error, o.problems);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Lenovo,T14,PF3ABC12\r\n"
    );
    let o = run(&args(&[&s(&p), "-o", &s(&out), "--serial-column", "1"]));
    assert_eq!(o.exit_code, 0, "{:?}", o.error);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Lenovo,T14,PF3ABC12\r\n"
    );
    let o = run(&args(&[
        &s(&p),
        "-o",
        &s(&out),
        "--serial-column",
        "Seriennummer",
    ]));
    assert_eq!(o.exit_code, 2);
    assert!(o.error.unwrap().contains("no such column"));
}

#[test]
fn an_intune_device_export_is_not_3278_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("DeviceName,Id,UserId\r\n");
    for i in 0..3278u32 {
        text.push_str(&format!(
            "DESKTOP-{i:05},{:08x}-1111-4222-8333-{i:012x},{:08x}-aaaa-4bbb-8ccc-{i:012x}\r\n",
            i, i
        ));
    }
    let p = dir.path().join("devices.csv");
    std::fs::write(&p, &text).unwrap();
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[
        &s(&p),
        "-o",
        &s(&out),
        "--manufacturer",
        "Dell",
        "--model",
        "X",
    ]));
    assert_eq!(o.exit_code, 2);
    let e = o.error.unwrap();
    assert!(
        e.contains("the header row has no serial column (columns: 1 \"DeviceName\", 2 \"Id\", 3 \"UserId\")"),
        "{e}"
    );
    assert!(!out.exists());
    // The same rows without their header: column 3 holds object ids.
    let headerless: String = text.lines().skip(1).map(|l| format!("{l}\r\n")).collect();
    let q = dir.path().join("noheader.csv");
    std::fs::write(&q, headerless).unwrap();
    let o = run(&args(&[&s(&q), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 2);
    assert!(
        o.error
            .unwrap()
            .contains("this looks like an object id, not a serial"),
    );
    // Pointing at the object-id column by name: every row refused, nothing written.
    let o = run(&args(&[
        &s(&p),
        "-o",
        &s(&out),
        "--serial-column",
        "Id",
        "--manufacturer",
        "Dell",
        "--model",
        "X",
    ]));
    assert_eq!(o.exit_code, 1);
    assert_eq!(o.summary.rejected_by_reason["object-id"], 3278);
    assert!(
        o.problems[0]
            .reason
            .ends_with("this looks like an object id, not a serial")
    );
    assert!(!out.exists());
}

#[test]
fn headerless_files_are_read_only_in_intunes_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("wide.csv");
    std::fs::write(&p, "PF1,Dell,M,2024-01-01\r\n").unwrap();
    let out = dir.path().join("ids.csv");
    let o = run(&args(&[&s(&p), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 2);
    assert!(o.error.unwrap().contains("has 4 columns"));
    let o = run(&args(&[
        &s(&p),
        "-o",
        &s(&out),
        "--serial-column",
        "1",
        "--manufacturer",
        "Dell",
        "--model",
        "M",
    ]));
    assert_eq!(o.exit_code, 0, "{:?} {:?}", o.error, o.problems);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Dell,M,PF1\r\n");
}

#[test]
fn hash_files_and_other_csvs_are_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.csv");
    std::fs::write(&plain, "Dell,M,SN1\r\n").unwrap();
    let out = dir.path().join("o.csv");
    let o = run(&args(&[
        &s(&fixture("real-hp-elitebook.csv")),
        &s(&plain),
        "-o",
        &s(&out),
    ]));
    assert_eq!(o.exit_code, 2);
    // The real QEMU capture: placeholder serial, refused.
    let o = run(&args(&[&s(&fixture("real-qemu-vm.csv")), "-o", &s(&out)]));
    assert_eq!(o.exit_code, 1);
    assert!(codes(&o).contains(&"real-qemu-vm.csv:2:placeholder-serial".to_string()));
    assert!(!out.exists());
}

/// `intake import` of hash files queues the serials with the hash's manufacturer and model (the
/// corporate identifier Device Preparation needs) and refuses what the checks refuse.
#[test]
fn intake_import_takes_manufacturer_and_model_from_the_hash() {
    let sb = crate::common::Sandbox::new();
    let run = |args: &[&str]| {
        std::process::Command::new(crate::common::bin())
            .args(args)
            .env("STAGEHAND_CONFIG", sb.config())
            .env("STAGEHAND_DATA_DIR", sb.data())
            .output()
            .unwrap()
    };
    let hp = fixture("real-hp-elitebook.csv").display().to_string();
    let vm = fixture("real-qemu-vm.csv").display().to_string();
    let out = run(&["intake", "import", &hp, &vm]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "real-qemu-vm.csv:2: serial \"SMBIOS_STRING_INDEX_0\" is a firmware placeholder"
        ),
        "{stderr}"
    );
    let list = run(&["intake", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["serial"], "5CG1457YL8");
    assert_eq!(rows[0]["manufacturer"], "HP");
    assert_eq!(rows[0]["model"], "HP EliteBook 840 G8 Notebook PC");
}
