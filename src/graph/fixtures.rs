//! The Microsoft doc samples the unit tests parse: `tests/fixtures/graph/`, listed with their
//! sources in that folder's README.md. Test-only.

use std::path::PathBuf;

/// `tests/fixtures/graph` in this checkout.
pub(crate) fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph")
}

/// The bytes of one fixture; panics with the path when it is missing.
pub(crate) fn read(name: &str) -> Vec<u8> {
    let p = dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every `.json` file name in the folder, sorted.
pub(crate) fn names() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("{}: {e}", dir().display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_fixture_is_parsed_by_a_test_and_listed_in_the_readme() {
    // The modules whose tests read fixtures; a file none of them names is dead weight, and a
    // file the README does not list has no stated source.
    let readers = [
        include_str!("models/tests.rs"),
        include_str!("error.rs"),
        include_str!("../auth/endpoint.rs"),
    ];
    let readme = std::fs::read_to_string(dir().join("README.md")).unwrap();
    let names = names();
    assert!(names.len() >= 30, "{names:?}");
    for name in names {
        let quoted = format!("\"{name}\"");
        assert!(
            readers.iter().any(|src| src.contains(&quoted)),
            "{name} is not parsed by a test"
        );
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not in README.md"
        );
    }
}
