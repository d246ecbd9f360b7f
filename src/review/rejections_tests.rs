use super::*;
use crate::store::Store;
use chrono::{DateTime, TimeZone, Utc};

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

fn save(store: &mut Store, lines: &[RejectionLine]) {
    store
        .write("save the rejections", |tx| apply_lines(tx, lines))
        .unwrap();
}

#[test]
fn rejections_survive_a_reopen_and_the_last_change_per_device_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _, _) = Store::open(dir.path()).unwrap();
    assert!(load_from(store.conn(), store.path()).unwrap().is_empty());
    save(
        &mut store,
        &[rejected("d1", "fp-a", 1), rejected("d2", "fp-b", 2)],
    );
    save(&mut store, &[rejected("d1", "fp-c", 3)]);
    drop(store);
    let (store, _, _) = Store::open(dir.path()).unwrap();
    let r = load_from(store.conn(), store.path()).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.matching("d1", "fp-a").is_none());
    assert_eq!(r.matching("d1", "fp-c").unwrap().at, at(3));
    // The headless reader sees the same, beside the lock holder.
    assert_eq!(load(dir.path()).unwrap(), r);
}

#[test]
fn a_cleared_change_forgets_only_the_fingerprint_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _, _) = Store::open(dir.path()).unwrap();
    save(&mut store, &[rejected("d1", "fp-new", 1)]);
    save(&mut store, &[cleared("d1", "fp-old")]);
    assert!(load(dir.path()).unwrap().matching("d1", "fp-new").is_some());
    save(&mut store, &[cleared("d1", "fp-new")]);
    assert!(load(dir.path()).unwrap().is_empty());
}

#[test]
fn a_data_dir_without_a_database_holds_no_rejections_and_load_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(dir.path()).unwrap().is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn before_the_first_start_the_old_file_is_read_and_then_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for l in [
        rejected("d1", "fp-a", 1),
        rejected("d2", "fp-b", 2),
        cleared("d2", "fp-b"),
    ] {
        text.push_str(&serde_json::to_string(&l).unwrap());
        text.push('\n');
    }
    // A torn last line: never acknowledged, ignored.
    text.push_str(r#"{"kind":"rejected","device_id":"d3","ser"#);
    std::fs::write(dir.path().join(LEGACY_FILE), &text).unwrap();
    let before = load(dir.path()).unwrap();
    assert_eq!(before.len(), 1);
    assert!(before.matching("d1", "fp-a").is_some());

    let (store, _, report) = Store::open(dir.path()).unwrap();
    assert_eq!(report.imported, [LEGACY_FILE]);
    assert_eq!(load_from(store.conn(), store.path()).unwrap(), before);
    assert!(!dir.path().join(LEGACY_FILE).exists());
    let kept = dir.path().join(format!("{LEGACY_FILE}.migrated"));
    assert_eq!(std::fs::read_to_string(kept).unwrap(), text);
    drop(store);
    let (_store, _, report) = Store::open(dir.path()).unwrap();
    assert!(report.imported.is_empty());
    assert_eq!(load(dir.path()).unwrap(), before);
}

#[test]
fn a_damaged_line_in_the_middle_of_the_old_file_names_the_file_and_line_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&rejected("d1", "fp-a", 1)).unwrap();
    let path = dir.path().join(LEGACY_FILE);
    std::fs::write(&path, format!("{good}\n{{not json\n{good}\n")).unwrap();
    let e = Store::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&format!("{}:2:", path.display())), "{e}");
    assert!(path.exists(), "the file is left where it was");
    assert!(load(dir.path()).is_err());
}
