//! End-to-end behaviour of `stagehand prep` in-process: exit codes, file safety, splitting at
//! Intune's limits, and a generated 100,000-row input.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser;
use stagehand::cli::{Cli, Command};
use stagehand::config::Config;
use stagehand::prep::{self, PrepArgs};

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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn exit_codes_clean_rejected_usage() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.csv", "Dell,M,SN1\nDell,M,SN2\n");
    let bad = write(dir.path(), "bad.csv", "Dell,M,SN1\nDell,M,S N#\n");
    let out = dir.path().join("out.csv");
    assert_eq!(prep::run(&args(&[&s(&good), "-o", &s(&out)])), 0);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Dell,M,SN1\r\nDell,M,SN2\r\n"
    );
    // Rejected rows: valid ones still written (replacing the previous output atomically).
    assert_eq!(prep::run(&args(&[&s(&bad), "-o", &s(&out)])), 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Dell,M,SN1\r\n");
    // Usage errors.
    let missing = dir.path().join("nope.csv");
    assert_eq!(prep::run(&args(&[&s(&missing), "-o", &s(&out)])), 2);
    assert_eq!(
        prep::run(&args(&[&s(&good), "-o", &s(&out), "--profile", "Nope"])),
        2
    );
    assert_eq!(
        prep::run(&args(&[&s(&good), "-o", &s(&out), "--model", "A, B"])),
        2
    );
    let nowhere = dir.path().join("no-such-dir/out.csv");
    assert_eq!(prep::run(&args(&[&s(&good), "-o", &s(&nowhere)])), 2);
    let err = |argv: &[&str]| {
        prep::execute(&args(argv), &Config::default(), false)
            .error
            .unwrap()
    };
    assert!(
        err(&[&s(&missing), "-o", &s(&out)])
            .starts_with(&format!("{}: cannot read: ", s(&missing)))
    );
    assert_eq!(
        err(&[&s(&good), "-o", &s(&out), "--profile", "Nope"]),
        "--profile \"Nope\": no such profile (profiles: Executive, Mobile, Standard)"
    );
    assert!(
        err(&[&s(&good), "-o", &s(&out), "--model", "A, B"])
            .starts_with("--model: the model must not contain a comma")
    );
    assert_eq!(files_in(dir.path()), ["bad.csv", "good.csv", "out.csv"]);
}

#[test]
fn refuses_to_write_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", "Dell,M,SN1\n");
    let before = std::fs::read(&input).unwrap();
    assert_eq!(prep::run(&args(&[&s(&input), "-o", &s(&input)])), 2);
    let o = prep::execute(
        &args(&[&s(&input), "-o", &s(&input)]),
        &Config::default(),
        false,
    );
    assert_eq!(
        o.error.unwrap(),
        format!(
            "{}: the output is one of the inputs; refusing to overwrite it",
            s(&input)
        )
    );
    // Same file through another spelling of the path.
    let sneaky = dir.path().join(".").join("in.csv");
    assert_eq!(prep::run(&args(&[&s(&input), "-o", &s(&sneaky)])), 2);
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // A split part that would land on an input is refused too, and nothing is written.
    let mut big = String::new();
    for i in 0..5_001 {
        writeln!(big, "Dell,M,SN{i:05}").unwrap();
    }
    let part = write(dir.path(), "out-2.csv", &big);
    let out = dir.path().join("out.csv");
    let o = prep::execute(
        &args(&[&s(&part), "-o", &s(&out)]),
        &Config::default(),
        false,
    );
    assert_eq!(o.exit_code, 2);
    assert_eq!(
        o.error.unwrap(),
        format!("{}: would overwrite an input; nothing written", s(&part))
    );
    assert_eq!(std::fs::read_to_string(&part).unwrap(), big);
    assert_eq!(files_in(dir.path()), ["in.csv", "out-2.csv"]);
}

/// 100,000 generated rows with duplicates, periods and a few bad serials, split at 5,000 rows.
#[test]
fn hundred_thousand_rows_split_into_portal_sized_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Serial Number;Make;Model\r\n");
    let mut want: Vec<String> = Vec::new();
    let mut rejected = 0;
    let mut duplicates = 0;
    for i in 0..100_000u32 {
        let serial = match i % 1000 {
            999 => {
                rejected += 1;
                format!("BAD#{i}")
            }
            998 => {
                duplicates += 1;
                format!("SN{:07}", i - 1)
            }
            500 => format!("SN.{i:07}"),
            _ => format!("SN{i:07}"),
        };
        write!(text, "{serial};Dell;Latitude 5440\r\n").unwrap();
        if i % 1000 < 998 {
            want.push(format!("Dell,Latitude 5440,SN{i:07}\r\n"));
        }
    }
    let input = write(dir.path(), "big.csv", &text);
    let out = dir.path().join("batch.csv");
    let o = prep::execute(
        &args(&[&s(&input), "-o", &s(&out)]),
        &Config::default(),
        false,
    );
    assert_eq!(o.exit_code, 1);
    assert_eq!(o.summary.rows_read, 100_000);
    assert_eq!(o.summary.rejected, rejected);
    assert_eq!(o.summary.duplicates, duplicates);
    assert_eq!(o.summary.periods_removed.rows, 100);
    assert_eq!(o.summary.rows_written as usize, want.len());
    let parts = want.len().div_ceil(5_000);
    assert_eq!(o.summary.outputs.len(), parts);
    for (n, chunk) in want.chunks(5_000).enumerate() {
        let path = dir.path().join(format!("batch-{:02}.csv", n + 1));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            chunk.concat(),
            "part {}",
            n + 1
        );
    }
    // The first rejected row names its place exactly: data row 1000 is line 1001.
    assert_eq!(
        o.problems[0].to_string(),
        format!(
            "{}:1000:1: duplicate: serial SN0000997 already on {} line 999; written once",
            s(&input),
            s(&input)
        )
    );
    assert_eq!(o.problems[1].line, 1001);
}

#[test]
fn five_megabyte_limit_splits_before_five_thousand_rows() {
    let dir = tempfile::tempdir().unwrap();
    let model = "M".repeat(1_000);
    let mut text = String::new();
    for i in 0..6_000 {
        writeln!(text, "Dell,{model},SN{i:05}").unwrap();
    }
    let input = write(dir.path(), "wide.csv", &text);
    let out = dir.path().join("w.csv");
    let o = prep::execute(
        &args(&[&s(&input), "-o", &s(&out)]),
        &Config::default(),
        false,
    );
    assert_eq!(o.exit_code, 0);
    let mut rows = 0;
    for name in &o.summary.outputs {
        let bytes = std::fs::read(name).unwrap();
        assert!(bytes.len() <= 5_000_000, "{name}: {}", bytes.len());
        rows += bytes.iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(rows, 6_000);
    // Each row is 1,015 bytes: 4,926 fit in 5,000,000.
    assert_eq!(o.summary.outputs.len(), 2);
    let first = std::fs::read_to_string(&o.summary.outputs[0]).unwrap();
    assert_eq!(first.lines().count(), 4_926);
}

#[test]
fn autopilot_files_hold_at_most_500_rows_each_with_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Device Serial Number,Windows Product ID,Hardware Hash\n");
    let hash = |i: u64| {
        stagehand::autopilot::encode::HashBuilder::device(&format!("AP{i:05}"), "HP", "M", i)
            .padded(false)
            .base64()
    };
    for i in 0..1_201u64 {
        writeln!(text, "AP{i:05},,{}", hash(i)).unwrap();
    }
    let input = write(dir.path(), "hashes.csv", &text);
    let out = dir.path().join("ap.csv");
    let o = prep::execute(
        &args(&[&s(&input), "-o", &s(&out), "--format", "autopilot"]),
        &Config::default(),
        false,
    );
    assert_eq!(o.exit_code, 0, "{:?}", o.problems);
    assert_eq!(
        files_in(dir.path()),
        ["ap-1.csv", "ap-2.csv", "ap-3.csv", "hashes.csv"]
    );
    let utf16 = |name: &str| {
        let b = std::fs::read(dir.path().join(name)).unwrap();
        assert_eq!(&b[..2], [0xFF, 0xFE], "UTF-16 LE with BOM");
        let units: Vec<u16> = b[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    };
    let want: String = (1_000..1_201u64)
        .map(|i| format!("AP{i:05},,{},,\r\n", hash(i)))
        .collect();
    assert_eq!(
        utf16("ap-3.csv"),
        format!(
            "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n{want}"
        )
    );
    assert_eq!(utf16("ap-1.csv").lines().count(), 501);
}

#[test]
fn read_rows_is_reusable_by_intake_import() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.txt", "SN1\n\nS#2\n");
    let rows: Vec<_> = prep::read_rows(&[a], &prep::ReadOptions::default())
        .unwrap()
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].as_ref().unwrap().serial, "SN1");
    assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
    let missing = dir.path().join("missing.txt");
    assert!(prep::read_rows(&[missing], &prep::ReadOptions::default()).is_err());
}

#[test]
fn delimiter_and_encoding_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    // Detection picks the semicolon despite the decimal commas; forcing comma is obeyed (and then
    // the serial cells hold ';', which is refused).
    let input = write(dir.path(), "eu.csv", "Serial;Price\nSN1;1,2,3\nSN2;4,5,6\n");
    let out = dir.path().join("out.csv");
    let detected = prep::execute(
        &args(&[&s(&input), "-o", &s(&out), "--profile", "Standard"]),
        &Config::default(),
        false,
    );
    assert_eq!(detected.summary.inputs[0].delimiter, "semicolon");
    assert_eq!(detected.exit_code, 0, "{:?}", detected.problems);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Contoso,Laptop 7,SN1\r\nContoso,Laptop 7,SN2\r\n"
    );
    let forced = prep::execute(
        &args(&[
            &s(&input),
            "-o",
            &s(&out),
            "--profile",
            "Mobile",
            "--delimiter",
            "comma",
        ]),
        &Config::default(),
        false,
    );
    assert_eq!(forced.summary.inputs[0].delimiter, "comma");
    assert_eq!(forced.summary.rejected, 3, "{:?}", forced.problems);
    assert!(
        forced.problems[0]
            .reason
            .ends_with("character ';' at position 7 is not allowed")
    );
    // Bytes that are valid UTF-8 but really Windows-1252 ("Ã©" vs "é") are read as asked.
    let latin = dir.path().join("latin.csv");
    std::fs::write(&latin, b"Make,Model,Serial\nSoci\xc3\xa9t\xc3\xa9,M,SN9\n").unwrap();
    let o = prep::execute(
        &args(&[&s(&latin), "-o", &s(&out), "--encoding", "windows-1252"]),
        &Config::default(),
        false,
    );
    assert_eq!(o.summary.inputs[0].encoding, "Windows-1252");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "SociÃ©tÃ©,M,SN9\r\n"
    );
}

#[test]
fn a_failed_run_leaves_the_previous_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = write(dir.path(), "out.csv", "Dell,M,OLD1\r\n");
    let bad = write(dir.path(), "bad.csv", "Dell,M,NEW1\nDell,M,N#W2\n");
    assert_eq!(prep::run(&args(&[&s(&bad), "-o", &s(&out), "--strict"])), 1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Dell,M,OLD1\r\n");
    assert_eq!(
        files_in(dir.path()),
        ["bad.csv", "out.csv"],
        "no temporary file left"
    );
}

#[test]
fn json_report_of_an_empty_input_is_valid_json() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.csv", "");
    let out = dir.path().join("r.json");
    assert_eq!(
        prep::run(&args(&[&s(&empty), "-o", &s(&out), "--format", "json"])),
        0
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["rows"], serde_json::json!([]));
    assert_eq!(v["summary"]["rows_read"], 0);
}
