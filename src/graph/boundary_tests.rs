//! Only `graph/` builds Graph URLs (docs/ARCHITECTURE.md): a scan of the crate's sources that
//! fails when a Graph path literal, a hand-made URL (`.beta(`, `.v1(`) or a hand-made `$batch`
//! item appears outside `src/graph/` and `src/sim/` (the simulated tenant serves those paths).

use std::path::{Path, PathBuf};

/// The first segments of the Graph resources stagehand (or a future change) might address.
const ROOTS: &[&str] = &[
    "deviceManagement",
    "deviceAppManagement",
    "users",
    "me",
    "groups",
    "devices",
    "directoryObjects",
    "directoryRoles",
    "roleManagement",
    "servicePrincipals",
    "applications",
    "identity",
    "policies",
    "reports",
    "organization",
    "subscribedSkus",
    "$batch",
    "beta",
    "v1.0",
];

/// Code (outside literals and comments) that builds a URL or a batch item by hand.
const CALLS: &[&str] = &[
    ".beta(",
    ".v1(",
    "BatchRequest::get(",
    "BatchRequest::with_body(",
];

/// Files still waiting for their move, each with why. Empty is the goal.
const PENDING: &[(&str, &str)] = &[];

/// Whether a string literal's text is a Graph path: `/root`, `/root/…`, `/root?…`, `/root(…`,
/// with `root` one of [`ROOTS`] (a leading `/beta` or `/v1.0` counts as a root too).
fn is_graph_path(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('/') else {
        return false;
    };
    let end = rest.find(['/', '?', '(', '{']).unwrap_or(rest.len());
    ROOTS.contains(&&rest[..end])
}

/// The code of `src` split into string literals (their raw text) and the rest (comments dropped).
fn split(src: &str) -> (Vec<String>, String) {
    let b = src.as_bytes();
    let (mut lits, mut code) = (Vec::new(), String::new());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    code.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let start = j + 1;
                let end = src[start..].find(&close).map_or(b.len(), |e| start + e);
                lits.push(src[start..end].to_string());
                i = end + close.len();
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                lits.push(src[start..j.min(b.len())].to_string());
                i = j + 1;
            }
            b'\'' => {
                // A char literal ('"', '\'', 'x') or a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    let close = src[i + 3..].find('\'').map_or(b.len(), |e| i + 3 + e);
                    i = close + 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    code.push('\'');
                    i += 1;
                }
            }
            c => {
                // Multi-byte characters only ever appear in literals and comments here; keep
                // the code text ASCII.
                if c.is_ascii() {
                    code.push(c as char);
                }
                i += 1;
            }
        }
    }
    (lits, code)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn graph_paths_are_built_only_in_graph() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("src/graph/")
            || rel.starts_with("src/sim/")
            || PENDING.iter().any(|(p, _)| *p == rel)
        {
            continue;
        }
        let (lits, code) = split(&std::fs::read_to_string(&f).unwrap());
        for l in lits.iter().filter(|l| is_graph_path(l)) {
            found.push(format!("{rel}: literal \"{l}\""));
        }
        for c in CALLS.iter().filter(|c| code.contains(*c)) {
            found.push(format!("{rel}: {c}"));
        }
    }
    assert!(
        found.is_empty(),
        "Graph URLs are built in src/graph/ only (add a typed operation there):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_paths_and_skips_comments_and_prose() {
    let (lits, code) = split(
        r##"
        // c.beta("/users/x")
        /* "/me" */
        let a = format!("{DEVICES}/{}/users", id); let q = '"'; let l: &'a str = "GET /beta/x";
        const D: &str = "/deviceManagement/managedDevices";
        let r = r#"/users/{id}"#; client.v1("x");
        "##,
    );
    let paths: Vec<&String> = lits.iter().filter(|l| is_graph_path(l)).collect();
    assert_eq!(paths, ["/deviceManagement/managedDevices", "/users/{id}"]);
    assert!(code.contains(".v1(") && !code.contains(".beta("), "{code}");
    for yes in [
        "/me",
        "/me/transitiveMemberOf",
        "/users?$filter=x",
        "/beta/users",
        "/$batch",
    ] {
        assert!(is_graph_path(yes), "{yes}");
    }
    for no in [
        "/etc/s.toml",
        "GET /beta/x",
        "users/x",
        "/mean",
        "/{MANIFEST}",
    ] {
        assert!(!is_graph_path(no), "{no}");
    }
}
