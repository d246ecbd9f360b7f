//! The evidence key end to end: `stagehand demo` (the console against the in-process simulated
//! tenant) in tmux; `e` on a failed device's Status row collects its bundle in the background,
//! the pane says where it went, the folder's `manifest.json` is on disk and the real binary's
//! `evidence verify` accepts it.

use std::process::Command;

use crate::common::{self, Sandbox};

/// "evidence SERIAL written to PATH (e)" from the pane's bottom border.
fn written(screen: &str) -> Option<(String, String)> {
    let at = screen.find("evidence ")?;
    let rest = &screen[at + "evidence ".len()..];
    let (serial, rest) = rest.split_once(" written to ")?;
    let path = rest.split(" (e)").next()?.trim();
    Some((serial.to_string(), path.to_string()))
}

#[test]
fn e_on_a_failed_row_writes_a_bundle_that_verifies() {
    let sb = Sandbox::new();
    let env = sb.env();
    let (t, _) = crate::common::demo_on_failed_rows(&sb);
    t.keys(&["e"]);
    let screen = t.wait_until("the bundle's folder in the border", |s| {
        written(s).is_some()
    });
    let (serial, shown) = written(&screen).unwrap();
    assert!(screen.contains(" failed "), "{screen}");

    let root = sb.data().join("demo").join("evidence");
    let folders: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let folder = &folders[0];
    assert_eq!(folder.display().to_string(), shown, "the path shown");
    let name = folder.file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with(&format!("{serial}-")), "{name}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["serial"], serial.as_str());
    assert_eq!(manifest["collector"], "lead@contoso.example");
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for want in [
        "graph/managed-device.json",
        "graph/enrollment-status-page.json",
        "stagehand/timeline.json",
    ] {
        assert!(files.contains(&want), "{want} missing: {files:?}");
    }

    // The console is still there and answering while we check.
    t.keys(&["x"]);
    t.wait_until("filters cleared", |s| !s.contains("filter: failed"));

    let out = Command::new(common::bin())
        .args(["evidence", "verify"])
        .arg(folder)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("OK: every file matches its manifest"),
        "{text}"
    );

    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");
}
