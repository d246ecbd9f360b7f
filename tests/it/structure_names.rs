//! Type names are unique across the crate's modules (issue 18, "types instead of strings"): a
//! scan of `src/` for public `struct`/`enum`/`type` declarations. The names still declared twice
//! are listed here with where; a new duplicate fails, and so does a listed one that is gone (so the
//! list only shrinks).

use std::collections::BTreeMap;
use std::path::Path;

/// Public type names declared in more than one module today. Rename the less central one to a
/// name that says what it is, then take it off this list.
const KNOWN: &[&str] = &[
    "Change",     // notify::episodes, status::timeline
    "ImportArgs", // commands::intake, commands::autopilot
    "ListArgs",   // commands::intake, commands::devices
    "Notice",     // notify::sent, app::devices
    "Outcome",    // prep, notify::deliver, app::intake::paste, autopilot::import
    "Progress",   // prep::report, autopilot::import
    "ShowArgs",   // commands::devices, commands::autopilot
];

fn declarations(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<String>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            declarations(&p, root, out);
            continue;
        }
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            let line = line.trim_start();
            let Some(rest) = ["pub struct ", "pub enum ", "pub type "]
                .iter()
                .find_map(|k| line.strip_prefix(k))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // One file may declare a name per platform (`#[cfg(unix)]` / `#[cfg(windows)]`).
            let files: &mut Vec<String> = out.entry(name).or_default();
            if !files.contains(&rel) {
                files.push(rel.clone());
            }
        }
    }
}

#[test]
fn public_type_names_are_declared_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = BTreeMap::new();
    declarations(&root.join("src"), root, &mut all);
    assert!(all.len() > 200, "found only {} type names", all.len());
    let twice: BTreeMap<&String, &Vec<String>> =
        all.iter().filter(|(_, files)| files.len() > 1).collect();
    let new: Vec<String> = twice
        .iter()
        .filter(|(n, _)| !KNOWN.contains(&n.as_str()))
        .map(|(n, f)| format!("{n}: {}", f.join(", ")))
        .collect();
    assert!(
        new.is_empty(),
        "type names declared in more than one module (rename the less central one):\n{}",
        new.join("\n")
    );
    let gone: Vec<&&str> = KNOWN
        .iter()
        .filter(|n| !twice.contains_key(&n.to_string()))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer declared twice, take them off KNOWN: {gone:?}"
    );
    for renamed in [
        "Stage",
        "DeviceRow",
        "ReportRow",
        "Candidate",
        "Deployment",
        "Refusal",
        "EnrollmentState",
    ] {
        // `graph_enum!` types are declared by the macro, so may not be seen here: at most one.
        let files = all.get(renamed).cloned().unwrap_or_default();
        assert!(files.len() <= 1, "{renamed}: {files:?}");
    }
}
