use super::*;
use chrono::TimeZone;

fn at(min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, min, 0).unwrap()
}

fn rejected(device: &str, fp: &str, min: u32) -> RejectionLine {
    RejectionLine::Rejected(Rejection {
        device_id: device.into(),
        serial: format!("SN-{device}"),
        fingerprint: fp.into(),
        proposed_upn: Some("ana@contoso.com".into()),
        by: "lead@contoso.com".into(),
        at: at(min),
    })
}

fn cleared(device: &str, fp: &str) -> RejectionLine {
    RejectionLine::Cleared {
        device_id: device.into(),
        fingerprint: fp.into(),
        at: at(30),
    }
}

#[test]
fn rejections_survive_a_reopen_and_the_last_line_per_device_wins() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RejectionLog::open(dir.path()).unwrap();
    assert!(log.loaded().is_empty());
    log.append(&[rejected("d1", "fp-a", 1), rejected("d2", "fp-b", 2)])
        .unwrap();
    log.append(&[rejected("d1", "fp-c", 3)]).unwrap();
    assert_eq!(log.loaded().len(), 2);
    drop(log);
    let again = RejectionLog::open(dir.path()).unwrap();
    let r = again.loaded();
    assert!(r.matching("d1", "fp-a").is_none(), "superseded");
    assert_eq!(r.matching("d1", "fp-c").unwrap().at, at(3));
    assert_eq!(r.matching("d2", "fp-b").unwrap().by, "lead@contoso.com");
    assert_eq!(load(dir.path()).unwrap(), *r);
}

#[test]
fn a_cleared_line_forgets_only_the_fingerprint_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RejectionLog::open(dir.path()).unwrap();
    log.append(&[rejected("d1", "fp-a", 1), rejected("d2", "fp-b", 2)])
        .unwrap();
    log.append(&[cleared("d1", "fp-a"), cleared("d2", "fp-old")])
        .unwrap();
    let r = load(dir.path()).unwrap();
    assert!(r.matching("d1", "fp-a").is_none());
    assert!(r.matching("d2", "fp-b").is_some(), "another fingerprint");
    assert_eq!(r.len(), 1);
}

#[test]
fn a_missing_file_holds_no_rejections() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(dir.path()).unwrap().is_empty());
    assert!(
        !dir.path().join(REJECTIONS_FILE).exists(),
        "load creates nothing"
    );
}

#[test]
fn a_torn_last_line_is_ignored_cut_off_and_the_next_append_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RejectionLog::open(dir.path()).unwrap();
    log.append(&[rejected("d1", "fp-a", 1)]).unwrap();
    drop(log);
    let path = dir.path().join(REJECTIONS_FILE);
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(br#"{"kind":"rejected","device_id":"d2","ser"#);
    std::fs::write(&path, &torn).unwrap();
    let read = load(dir.path()).unwrap();
    assert_eq!(read.torn_line, Some(2));
    assert_eq!(read.len(), 1);
    let mut log = RejectionLog::open(dir.path()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), whole, "the torn tail is cut");
    log.append(&[rejected("d3", "fp-c", 4)]).unwrap();
    drop(log);
    let read = load(dir.path()).unwrap();
    assert_eq!(read.torn_line, None);
    assert!(read.matching("d1", "fp-a").is_some());
    assert!(read.matching("d3", "fp-c").is_some());
}

#[test]
fn a_whole_record_without_its_newline_counts_and_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(REJECTIONS_FILE);
    let line = serde_json::to_string(&rejected("d1", "fp-a", 1)).unwrap();
    std::fs::write(&path, &line).unwrap();
    let mut log = RejectionLog::open(dir.path()).unwrap();
    assert!(log.loaded().matching("d1", "fp-a").is_some());
    log.append(&[rejected("d2", "fp-b", 2)]).unwrap();
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(load(dir.path()).unwrap().len(), 2);
}

#[test]
fn a_damaged_line_in_the_middle_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(REJECTIONS_FILE);
    let good = serde_json::to_string(&rejected("d1", "fp-a", 1)).unwrap();
    std::fs::write(&path, format!("{good}\n{{\"kind\":\"maybe\"}}\n{good}\n")).unwrap();
    let e = RejectionLog::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&format!("{}:2:", path.display())), "{e}");
    assert!(e.contains("maybe"), "{e}");
    assert!(load(dir.path()).is_err());
}
