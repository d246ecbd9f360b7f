//! The corpus of ugly procurement inputs in tests/fixtures/prep, each checked against the exact
//! bytes Intune should receive and the exact problems a technician should see.

use std::path::{Path, PathBuf};

use clap::Parser;
use stagehand::cli::{Cli, Command};
use stagehand::config::Config;
use stagehand::prep::{self, Outcome, PrepArgs, Severity};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prep")
        .join(name)
}

fn expected(name: &str) -> Vec<u8> {
    std::fs::read(fixture("expected").join(name)).unwrap()
}

/// Parses a real command line, so the clap wiring is exercised too.
fn args(argv: &[&str]) -> PrepArgs {
    let mut full = vec!["stagehand", "prep"];
    full.extend_from_slice(argv);
    match Cli::try_parse_from(full).unwrap().command {
        Some(Command::Prep(a)) => a,
        other => panic!("not prep: {other:?}"),
    }
}

fn run(inputs: &[&str], out: &Path, extra: &[&str]) -> Outcome {
    let files: Vec<String> = inputs
        .iter()
        .map(|n| fixture(n).display().to_string())
        .collect();
    let mut argv: Vec<&str> = files.iter().map(String::as_str).collect();
    let out = out.display().to_string();
    argv.extend(["-o", out.as_str()]);
    argv.extend_from_slice(extra);
    prep::execute(&args(&argv), &Config::default(), false)
}

/// Problems as `line:column:code` (file name last component) for compact exact assertions.
fn problems(o: &Outcome) -> Vec<String> {
    o.problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}:{}",
                p.file.file_name().unwrap().to_string_lossy(),
                p.line,
                p.column.map_or("-".into(), |c| c.to_string()),
                p.code
            )
        })
        .collect()
}

fn only_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn each_encoding_delimiter_and_header_variant() {
    let cases = [
        ("utf8_header_extra.csv", "UTF-8", "comma", true),
        (
            "utf8_bom_semicolon.csv",
            "UTF-8 with BOM",
            "semicolon",
            true,
        ),
        ("excel_unicode_text.txt", "UTF-16 LE", "tab", true),
        ("utf16be_noheader.csv", "UTF-16 BE", "comma", false),
        // No byte-order mark: recognised from the NUL bytes and a clean decode.
        ("utf16le_nobom.txt", "UTF-16 LE", "tab", true),
        ("utf16be_nobom.csv", "UTF-16 BE", "comma", true),
    ];
    for (name, encoding, delimiter, header) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.csv");
        let o = run(&[name], &out, &[]);
        assert_eq!(o.exit_code, 0, "{name}: {:?}", o.problems);
        let info = &o.summary.inputs[0];
        assert_eq!(
            (info.encoding, info.delimiter.as_str(), info.header),
            (encoding, delimiter, header),
            "{name}"
        );
        let want = name.replace(".txt", ".csv");
        assert_eq!(
            String::from_utf8(std::fs::read(&out).unwrap()).unwrap(),
            String::from_utf8(expected(&want)).unwrap(),
            "{name}"
        );
        assert_eq!(
            only_files(dir.path()),
            ["out.csv"],
            "no temporary file left"
        );
    }
}

#[test]
fn windows_1252_with_quoted_delimiters_and_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = run(&["cp1252_quoted.csv"], &out, &[]);
    assert_eq!(o.summary.inputs[0].encoding, "Windows-1252");
    assert_eq!(std::fs::read(&out).unwrap(), expected("cp1252_quoted.csv"));
    // The quoted note spans lines 2-3, so the next rows are lines 4 and 5.
    assert_eq!(problems(&o), ["cp1252_quoted.csv:5:3:bad-serial"]);
    assert_eq!(
        o.problems[0].reason,
        "serial \"SG#3\": character '#' at position 3 is not allowed"
    );
    assert_eq!(o.exit_code, 1);
}

#[test]
fn plain_list_with_profiles_and_period_notice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("w.csv");
    let o = run(&["plain_list.txt"], &out, &["--profile", "Standard"]);
    assert_eq!(o.exit_code, 0);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        expected("plain_list_standard.csv")
    );
    assert_eq!(o.summary.periods_removed.rows, 1);
    assert_eq!(
        o.summary
            .periods_removed
            .first_lines
            .values()
            .next()
            .unwrap(),
        &vec![4]
    );
    let out = dir.path().join("m.csv");
    let o = run(&["plain_list.txt"], &out, &["--profile", "Mobile"]);
    assert_eq!(o.exit_code, 0);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        expected("plain_list_mobile.csv")
    );
}

#[test]
fn excel_damage_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = run(&["excel_damage.csv"], &out, &["--manufacturer", "Contoso"]);
    assert_eq!(std::fs::read(&out).unwrap(), expected("excel_damage.csv"));
    assert_eq!(
        problems(&o),
        [
            "excel_damage.csv:4:1:scientific-notation",
            "excel_damage.csv:5:1:leading-zeros"
        ]
    );
    assert_eq!(o.problems[1].severity, Severity::Warning);
    assert!(
        o.problems[1]
            .reason
            .contains("has 8 digits where this column's serials have 12")
    );
    assert_eq!(o.exit_code, 1);
    assert_eq!((o.summary.rows_read, o.summary.rows_written), (5, 4));
}

#[test]
fn duplicates_within_and_across_files_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("queue.jsonl");
    let o = run(
        &["dupes_a.csv", "dupes_b.csv"],
        &out,
        &["--profile", "Standard", "--format", "queue"],
    );
    assert_eq!(o.exit_code, 0, "duplicates are not rejections");
    assert_eq!(std::fs::read(&out).unwrap(), expected("dupes.jsonl"));
    assert_eq!(
        problems(&o),
        ["dupes_a.csv:4:1:duplicate", "dupes_b.csv:2:1:duplicate"]
    );
    let a = fixture("dupes_a.csv");
    assert_eq!(
        o.problems[1].reason,
        format!(
            "serial DUP002 already on {} line 3; written once",
            a.display()
        )
    );
    assert_eq!(o.summary.duplicates, 2);
}

#[test]
fn autopilot_hash_csv_round_trips_with_exact_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ap.csv");
    let o = run(&["autopilot_hashes.csv"], &out, &["--format", "autopilot"]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        expected("autopilot_hashes.csv")
    );
    // The row without a hash is refused with its column (UTF-16 LE output, as the script writes).
    assert_eq!(problems(&o), ["autopilot_hashes.csv:4:3:bad-hash"]);
    assert_eq!(o.exit_code, 1);
}

#[test]
fn bad_rows_each_name_line_column_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = run(&["bad_rows.csv"], &out, &[]);
    assert_eq!(std::fs::read(&out).unwrap(), expected("bad_rows.csv"));
    assert_eq!(
        problems(&o),
        [
            "bad_rows.csv:3:3:bad-serial",
            "bad_rows.csv:4:1:bad-label",
            "bad_rows.csv:5:3:bad-serial",
            "bad_rows.csv:6:3:empty-serial",
            "bad_rows.csv:7:3:bad-serial",
        ]
    );
    let reasons: Vec<&str> = o.problems.iter().map(|p| p.reason.as_str()).collect();
    assert!(reasons[0].ends_with("character '#' at position 4 is not allowed"));
    assert!(reasons[2].ends_with("is 65 characters long; at most 64 are allowed"));
    assert!(reasons[4].ends_with("character 'Ä' at position 1 is not allowed"));
    assert_eq!(o.summary.rejected_by_reason["bad-serial"], 3);
    assert_eq!(o.exit_code, 1);
    // --strict: the same rejections, nothing written.
    let strict = dir.path().join("strict.csv");
    let o = run(&["bad_rows.csv"], &strict, &["--strict"]);
    assert_eq!(o.exit_code, 1);
    assert!(!strict.exists());
    assert_eq!(only_files(dir.path()), ["out.csv"]);
}

#[test]
fn empty_and_binary_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = run(&["empty.csv"], &out, &["--profile", "Standard"]);
    assert_eq!((o.exit_code, o.summary.rows_read), (0, 0));
    assert!(!out.exists(), "nothing to write, no file");
    let o = run(&["utf8_header_extra.csv", "binary.bin"], &out, &[]);
    assert_eq!(o.exit_code, 2);
    assert_eq!(
        o.error.unwrap(),
        format!(
            "{}: looks like a binary file, not text (byte 0x1A at offset 6)",
            fixture("binary.bin").display()
        )
    );
    assert!(
        !out.exists(),
        "an unreadable input stops the run before writing"
    );
    assert!(only_files(dir.path()).is_empty());
}

#[test]
fn json_report_lists_rows_problems_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let o = run(
        &["bad_rows.csv", "dupes_a.csv"],
        &out,
        &["--format", "json", "--profile", "Standard"],
    );
    assert_eq!(o.exit_code, 1);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let serials: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials, ["GOOD01", "DUP001", "dup002"]);
    assert_eq!(v["rows"][0]["manufacturer"], "Dell");
    assert_eq!(v["rows"][1]["model"], "Laptop 7");
    assert_eq!(v["problems"].as_array().unwrap().len(), 6);
    assert_eq!(v["problems"][0]["line"], 3);
    assert_eq!(v["problems"][0]["severity"], "rejected");
    assert_eq!(v["summary"]["rows_read"], 9);
    assert_eq!(v["summary"]["rows_written"], 3);
    assert_eq!(v["summary"]["duplicates"], 1);
}

#[test]
fn utf16_without_bom_keeps_line_numbers_and_a_lookalike_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = run(&["utf16le_nobom.txt"], &out, &[]);
    assert_eq!((o.exit_code, o.summary.rows_read), (0, 4));
    // Line 4 is blank, so the dotted serial is on line 6.
    assert_eq!(
        o.summary
            .periods_removed
            .first_lines
            .values()
            .collect::<Vec<_>>(),
        [&vec![6]]
    );
    // Zero high bytes like UTF-16 LE, but a NUL character inside: binary, exit 2, nothing written.
    let fake = dir.path().join("fake.csv");
    let mut bytes: Vec<u8> = "SN1\r\nSN2\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    bytes.extend_from_slice(&[0, 0, b'A', 0]);
    std::fs::write(&fake, &bytes).unwrap();
    let out2 = dir.path().join("out2.csv");
    let argv = [fake.to_str().unwrap(), "-o", out2.to_str().unwrap()];
    let o = prep::execute(&args(&argv), &Config::default(), false);
    assert_eq!(o.exit_code, 2);
    assert_eq!(
        o.error.unwrap(),
        format!(
            "{}: looks like a binary file, not text (byte 0x00 at offset 1)",
            fake.display()
        )
    );
    assert!(!out2.exists());
}
