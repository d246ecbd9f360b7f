//! Shared harness for end-to-end tests: the real `stagehand` binary in a private tmux server,
//! driven with `send-keys` and read with `capture-pane`. Waits poll for text with a timeout
//! (`STAGEHAND_E2E_TIMEOUT` seconds, default 30) instead of sleeping.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stagehand"))
}

pub fn timeout() -> Duration {
    let secs = std::env::var("STAGEHAND_E2E_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// A tmux server of our own (its own socket) running one session.
pub struct Tmux {
    socket: String,
    pub session: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Tmux {
    /// Starts `stagehand ARGS` with `env` in a `width`x`height` window. After the program exits the
    /// shell prints `EXITED:<code>` and the terminal modes (`stty -a`), then idles for a while so
    /// the screen can be read; the server is killed on drop.
    pub fn start(args: &[&str], env: &[(&str, &str)], width: u16, height: u16) -> Tmux {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let socket = format!("stagehand-e2e-{}-{n}", std::process::id());
        let session = "e2e".to_string();
        let mut cmdline = String::new();
        for (k, v) in env {
            cmdline.push_str(&format!("{k}={} ", shell_quote(v)));
        }
        cmdline.push_str(&shell_quote(bin().to_str().unwrap()));
        for a in args {
            cmdline.push(' ');
            cmdline.push_str(&shell_quote(a));
        }
        let script = format!("{cmdline}; echo EXITED:$?; stty -a; sleep 300");
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &session,
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["sh", "-c", &script])
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux runs (install it: apt-get install tmux)");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket, session }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Sends tmux key names (`Enter`, `F3`, `C-c`, …).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(
            out.status.success(),
            "send-keys: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Types text literally, as a scanner would.
    pub fn type_text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", &self.session, "-l", text]);
        assert!(
            out.status.success(),
            "send-keys -l: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Pastes text as a bracketed paste.
    pub fn paste(&self, text: &str) {
        let buf = format!("b{}", SEQ.fetch_add(1, Ordering::SeqCst));
        let out = self.tmux(&["set-buffer", "-b", &buf, text]);
        assert!(out.status.success());
        let out = self.tmux(&["paste-buffer", "-p", "-d", "-b", &buf, "-t", &self.session]);
        assert!(
            out.status.success(),
            "paste-buffer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn capture(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn resize(&self, width: u16, height: u16) {
        let out = self.tmux(&[
            "resize-window",
            "-t",
            &self.session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        assert!(
            out.status.success(),
            "resize-window: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Pid of the program the pane's shell runs (the shell's child).
    pub fn program_pid(&self) -> Option<u32> {
        let out = self.tmux(&["display-message", "-p", "-t", &self.session, "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = Command::new("pgrep").args(["-P", &shell]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether the pane is in the alternate screen.
    pub fn alternate_on(&self) -> bool {
        let out = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{alternate_on}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Polls the screen until `pred` holds; panics with the last screen after the timeout.
    pub fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A temp dir with an empty config file and a data dir, for hermetic runs.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stagehand.toml"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        Sandbox { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("stagehand.toml")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Env for a hermetic run: this sandbox's config and data dir, a fixed HOME.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STAGEHAND_CONFIG", self.config().display().to_string()),
            ("STAGEHAND_DATA_DIR", self.data().display().to_string()),
            ("HOME", self.path().display().to_string()),
        ]
    }
}

pub fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A test that needs a program this machine lacks: skipped with a loud line on a developer's
/// machine, a failure in CI (`.ci/run` sets `STAGEHAND_TESTS_REQUIRE_ALL=1` after installing
/// everything), so a missing package can never turn a real test into a silent pass there.
pub fn missing(test: &str, what: &str, install: &str) {
    if std::env::var_os("STAGEHAND_TESTS_REQUIRE_ALL").is_some() {
        panic!("{test}: {what} is missing ({install}), and this run requires every test");
    }
    eprintln!("\n!!!! SKIPPED {test}: {what} is missing ({install}) !!!!\n");
}

/// `stagehand demo` at 160x48 on the Status pane, every staged device in scope, filtered to the
/// failed ones (the simulated fleet always has some). Returns the terminal and the screen.
pub fn demo_on_failed_rows(sb: &Sandbox) -> (Tmux, String) {
    let env = sb.env();
    let t = Tmux::start(&["demo"], &env_refs(&env), 160, 48);
    t.wait_until("signed in and online", |s| {
        s.contains("lead@contoso.example") && s.contains("online")
    });
    // The demo opens on every staged device of the simulated fleet.
    t.keys(&["F3"]);
    t.wait_for("scope: all staged");
    t.wait_until("failed devices in the fleet", |s| {
        s.lines().nth(2).is_some_and(|l| l.contains(" failed"))
    });
    // g cycles: queued, registered, enrolled, provisioning, provisioned, failed.
    for _ in 0..6 {
        t.keys(&["g"]);
    }
    let screen = t.wait_for("filter: failed");
    (t, screen)
}
