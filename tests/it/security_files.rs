//! The data dir and its files are private whatever the umask, and a data dir that belongs to
//! another user is refused: the real binary, run under `umask 000`.

#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{self, Sandbox};

/// `stagehand ARGS` under `umask 000` with this data dir.
fn run_wide_open(sb: &Sandbox, data: &Path, args: &[&str]) -> Output {
    let mut script = String::from("umask 000; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(common::bin())
        .args(args)
        .env("STAGEHAND_CONFIG", sb.config())
        .env("STAGEHAND_DATA_DIR", data)
        .env("HOME", sb.path())
        .output()
        .unwrap()
}

/// Every entry under `dir` (itself included) with its mode.
fn modes(dir: &Path) -> Vec<(String, bool, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((
            p.display().to_string(),
            m.is_dir(),
            m.permissions().mode() & 0o777,
        ));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out
}

#[test]
fn files_are_0600_and_dirs_0700_whatever_the_umask() {
    let sb = Sandbox::new();
    let data = sb.path().join("fresh").join("data");
    let out = run_wide_open(
        &sb,
        &data,
        &[
            "intake",
            "add",
            "SN0001",
            "--manufacturer",
            "Contoso",
            "--model",
            "Laptop 7",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = modes(&data);
    assert!(all.len() > 1, "the command wrote files: {all:?}");
    for (path, is_dir, mode) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path}: {mode:o}");
    }
}

#[test]
fn a_data_dir_of_another_user_is_refused() {
    let sb = Sandbox::new();
    let (data, owner) = if unsafe_uid() == 0 {
        let d = sb.path().join("theirs");
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(4242), Some(4242)).unwrap();
        (d, 4242)
    } else {
        (Path::new("/").to_path_buf(), 0)
    };
    let out = run_wide_open(&sb, &data, &["intake", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("belongs to user id {owner}")),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&data).unwrap().uid(), owner);
}

fn unsafe_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(1, |m| m.uid())
}
