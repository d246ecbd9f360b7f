//! The model: plain data, no IO, no async. `App::update(Msg) -> Vec<Cmd>`.

pub(crate) mod cmd;
pub mod devices;
pub(crate) mod filter;
pub mod intake;
pub(crate) mod keymap;
pub(crate) mod list;
pub(crate) mod msg;
pub mod review;
pub(crate) mod scanner;
pub mod signin;
pub mod status;
pub(crate) mod tabs;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

pub use cmd::Cmd;
pub use msg::{ConnState, Msg, SessionState};

use crate::config::Config;
use keymap::Action;

/// The smallest terminal the console draws in; smaller shows a notice.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Intake,
    Status,
    Review,
}

/// Something drawn over the panes. Only one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// Tenant readiness verdicts (F9).
    Doctor,
    /// Every line of the last paste that was refused, with why (F8).
    PasteReport,
}

/// Where a pane's data stands, drawn in its block title.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LoadState {
    /// No feed runs (not signed in, or no tenant configured).
    #[default]
    Idle,
    Loading,
    Ready {
        at: DateTime<Utc>,
    },
    Failed(String),
}

/// Seconds a pane's one-line notice (review, devices) stays before it clears itself; a notice
/// ending in '…' reports work in flight and stays until its outcome replaces it.
pub const NOTICE_SECS: i64 = 15;

#[derive(Debug, Clone)]
pub struct App {
    pub config: Config,
    pub focus: Pane,
    pub overlay: Option<Overlay>,
    pub width: u16,
    pub height: u16,
    pub now: DateTime<Utc>,
    /// Tenant as shown in the status bar.
    pub tenant: String,
    /// True when running against the embedded simulated tenant.
    pub demo: bool,
    pub session: SessionState,
    pub conn: ConnState,
    pub intake: intake::IntakeState,
    pub status: status::StatusState,
    pub review: review::ReviewState,
    /// Device operations on the status pane (detail, sync, retire/wipe).
    pub devices: devices::DevicesState,
    /// Tenant readiness verdicts; `None` until the checks have run.
    pub doctor: Option<Vec<crate::doctor::CheckResult>>,
    /// First line shown in the doctor overlay.
    pub doctor_scroll: usize,
    /// The sign-in modal (drawn over everything while open).
    pub signin: signin::SignInState,
    /// Printable keys held while it is not yet known whether they are a scanner burst.
    pub burst: scanner::Burst,
    /// Watch for scanner bursts outside text fields. The console turns it on; the model's unit
    /// tests, which press one key at a time on a frozen clock, leave it off.
    pub detect_bursts: bool,
    /// First line shown in the help overlay.
    pub help_scroll: usize,
    /// Background tasks that stopped by a panic, with why (shown in the status bar).
    pub failed_tasks: Vec<String>,
    /// Something changed since the last draw.
    pub dirty: bool,
    pub quit: bool,
}

impl App {
    pub fn new(config: Config, now: DateTime<Utc>) -> Self {
        let tenant = config
            .tenant
            .id
            .clone()
            .unwrap_or_else(|| "no tenant configured".into());
        let mut intake = intake::IntakeState::new(&config);
        intake.now = now;
        Self {
            config,
            focus: Pane::Intake,
            overlay: None,
            width: MIN_WIDTH,
            height: MIN_HEIGHT,
            now,
            tenant,
            demo: false,
            session: SessionState::SignedOut,
            conn: ConnState::Idle,
            intake,
            status: status::StatusState::default(),
            review: review::ReviewState::default(),
            devices: devices::DevicesState::default(),
            doctor: None,
            doctor_scroll: 0,
            signin: signin::SignInState::default(),
            burst: scanner::Burst::default(),
            detect_bursts: false,
            help_scroll: 0,
            failed_tasks: Vec::new(),
            dirty: true,
            quit: false,
        }
    }

    pub fn too_small(&self) -> bool {
        self.width < MIN_WIDTH || self.height < MIN_HEIGHT
    }

    /// Rows of the focused pane's list viewport for this terminal size: total minus tab bar,
    /// status bar, pane border and table header, and the intake input block.
    pub fn list_height(&self, pane: Pane) -> usize {
        // Tab bar, footer and status bar are three rows.
        let chrome = match pane {
            Pane::Intake => 3 + 2 + 3 + 1 + 1,
            Pane::Status => 3 + 2 + 1 + 1,
            Pane::Review => 3 + 2 + 1 + 1 + review::DETAIL_HEIGHT,
        };
        usize::from(self.height).saturating_sub(chrome)
    }

    /// Whether the focused pane has a text input taking printable keys.
    pub fn typing(&self) -> bool {
        match self.focus {
            Pane::Intake => self.intake.input_focused,
            Pane::Status => {
                self.status.filter.editing
                    || self.status.facets.user.editing
                    || self.devices.captures_keys()
            }
            Pane::Review => self.review.captures_keys(),
        }
    }

    /// Whether printable keys are watched for scanner bursts: everywhere but a text field
    /// (the scan input, a filter, a reason prompt). Overlays and the sign-in modal have none.
    pub fn watches_bursts(&self) -> bool {
        self.detect_bursts && (self.signin.open || self.overlay.is_some() || !self.typing())
    }

    /// How long until held keys turn out to be a person's (the runtime wakes then).
    pub fn burst_wait(&self, now: DateTime<Utc>) -> Option<std::time::Duration> {
        self.burst.wait(now, &self.config.intake)
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        self.dirty = true;
        match msg {
            Msg::Key(key) => self.on_key_event(key),
            Msg::FlushKeys => self.flush_keys(),
            Msg::Paste(text) => match self.focus {
                Pane::Intake => self.intake.on_paste(&text, &self.config),
                Pane::Status => {
                    match &mut self.devices.modal {
                        Some(m) => m.paste(&text),
                        None => self.status.on_paste(&text),
                    }
                    Vec::new()
                }
                Pane::Review => {
                    self.review.on_paste(&text);
                    Vec::new()
                }
            },
            Msg::Click { column, row } => {
                if row == 0
                    && self.overlay.is_none()
                    && let Some(pane) = tabs::tab_at(column)
                {
                    return self.focus_pane(pane);
                }
                Vec::new()
            }
            Msg::Resize { width, height } => {
                self.width = width;
                self.height = height;
                self.intake.list.set_height(self.list_height(Pane::Intake));
                self.status.list.set_height(self.list_height(Pane::Status));
                self.review.list.set_height(self.list_height(Pane::Review));
                self.review
                    .rejected_list
                    .set_height(self.list_height(Pane::Review));
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                self.review.on_tick(now);
                self.devices.on_tick(now);
                let mut cmds = self.flush_keys();
                cmds.extend(self.intake.on_tick(now, &self.config));
                cmds
            }
            Msg::Conn(c) => {
                self.conn = c;
                self.uploads_allowed()
            }
            Msg::Session(s) => {
                if let SessionState::SignedIn { account } = &s {
                    self.intake.actor = account.clone();
                }
                let lost = match &s {
                    SessionState::Expired { reason } if self.session != s => Some(reason.clone()),
                    _ => None,
                };
                self.session = s;
                let mut cmds = self.uploads_allowed();
                if let Some(why) = lost {
                    cmds.extend(self.signin.session_lost(why));
                }
                cmds
            }
            Msg::SignIn(m) => self.signin.on_msg(m),
            Msg::Stored(ack) => self.intake.on_ack(ack, &self.config),
            Msg::Uploaded(outcomes) => self.intake.on_uploaded(outcomes),
            Msg::Review(m) => self.review.on_msg(m),
            Msg::IdentityRemoved { serial, result } => {
                self.intake.on_identity_removed(&serial, result)
            }
            Msg::Doctor(results) => {
                self.doctor = Some(results);
                Vec::new()
            }
            Msg::Status(m) => self.status.on_msg(m),
            Msg::Devices(m) => {
                self.devices.on_msg(m, self.now);
                Vec::new()
            }
            Msg::TaskFailed { task, reason } => {
                self.failed_tasks.push(format!("{task} stopped: {reason}"));
                Vec::new()
            }
            Msg::Exported { table, result } => {
                let text = match result {
                    Ok(w) => format!(
                        "exported {} row(s): {} and {}",
                        w.rows,
                        w.csv.display(),
                        w.json.display()
                    ),
                    Err(e) => format!("export failed: {e}"),
                };
                if table == "status" {
                    self.devices.notice = Some(devices::Notice {
                        bad: text.starts_with("export failed"),
                        text,
                        at: self.now,
                    });
                } else {
                    self.review.notice = Some(text);
                }
                Vec::new()
            }
            Msg::Quit => {
                self.quit = true;
                Vec::new()
            }
            Msg::Evidence(m) => {
                self.status.evidence.on_msg(m, self.now);
                Vec::new()
            }
            Msg::Notify(m) => {
                self.status.notices.on_msg(m, self.now);
                Vec::new()
            }
        }
    }

    /// Shows a pane; the review pane refreshes when its data is older than its refresh interval.
    fn focus_pane(&mut self, pane: Pane) -> Vec<Cmd> {
        let opened = self.focus != pane;
        self.focus = pane;
        if opened && pane == Pane::Review {
            return self.review.on_focus(self.now, review::REFRESH_EVERY);
        }
        Vec::new()
    }

    /// Sets the clock without marking anything changed (the runtime stamps each wake-up, so a
    /// scan's time is when it arrived, not the last tick).
    pub fn set_clock(&mut self, now: DateTime<Utc>) {
        self.now = now;
        self.intake.now = now;
    }

    /// The evidence key: the selected row's bundle, collected in the background.
    fn collect_evidence(&mut self) -> Vec<Cmd> {
        let row = self
            .status
            .list
            .selected_index()
            .and_then(|i| self.status.rows.get(i));
        let queue = row.and_then(|r| {
            let k = crate::serial::SerialKey::new(&r.serial);
            self.intake
                .queue
                .entries()
                .iter()
                .find(|e| crate::serial::SerialKey::new(&e.serial) == k)
                .cloned()
        });
        self.status
            .evidence
            .start(row, queue, self.now)
            .map(Cmd::Evidence)
            .into_iter()
            .collect()
    }

    /// Recomputes derived state after a batch of messages, before drawing.
    pub fn settle(&mut self) {
        self.intake.settle();
        self.status.settle();
    }

    /// Uploads run while signed in and not offline or throttled.
    fn uploads_allowed(&mut self) -> Vec<Cmd> {
        let ok = matches!(self.session, SessionState::SignedIn { .. })
            && matches!(self.conn, ConnState::Idle | ConnState::Online);
        self.intake.can_upload = ok;
        if ok {
            self.intake.on_tick(self.now, &self.config)
        } else {
            Vec::new()
        }
    }

    /// A key from the terminal: first past the burst detector, then to whatever has focus.
    fn on_key_event(&mut self, key: KeyEvent) -> Vec<Cmd> {
        if self.burst.is_empty() && !self.watches_bursts() {
            return self.on_key(key);
        }
        match self.burst.push(key, self.now, &self.config.intake) {
            scanner::ScanStep::Held => Vec::new(),
            scanner::ScanStep::Scan(text) => self.intake.scan_burst(&text, &self.config),
            scanner::ScanStep::Replay(keys) => self.replay(keys),
        }
    }

    /// Held keys that waited longer than a scanner would: a person's keys, acted on in order.
    fn flush_keys(&mut self) -> Vec<Cmd> {
        if self.burst.expired(self.now, &self.config.intake) {
            let keys = self.burst.take();
            self.replay(keys)
        } else {
            Vec::new()
        }
    }

    fn replay(&mut self, keys: Vec<KeyEvent>) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for k in keys {
            if self.quit {
                break;
            }
            cmds.extend(self.on_key(k));
        }
        cmds
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Cmd> {
        let action = keymap::lookup(self.focus, self.typing(), &key);
        if self.signin.open {
            // The modal takes every key but quit.
            if action == Some(Action::Quit) {
                self.quit = true;
                return Vec::new();
            }
            return self.signin.on_key(key);
        }
        if action == Some(Action::SignIn) {
            self.overlay = None;
            return self.signin.open();
        }
        if let Some(overlay) = &self.overlay {
            // Overlays scroll with the arrows (and j/k); quit still quits, F2–F4 switch panes,
            // any other key closes the overlay.
            use crossterm::event::KeyCode;
            let scroll = match overlay {
                Overlay::Doctor => &mut self.doctor_scroll,
                Overlay::Help | Overlay::PasteReport => &mut self.help_scroll,
            };
            match key.code {
                KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
                KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                KeyCode::PageDown => *scroll += 10,
                KeyCode::Home => *scroll = 0,
                _ => match action {
                    Some(Action::Quit) => self.quit = true,
                    Some(Action::Focus(p)) => {
                        self.overlay = None;
                        return self.focus_pane(p);
                    }
                    _ => self.overlay = None,
                },
            }
            return Vec::new();
        }
        match action {
            Some(Action::Quit) => {
                self.quit = true;
                Vec::new()
            }
            Some(Action::Help) => {
                self.overlay = Some(Overlay::Help);
                self.help_scroll = 0;
                Vec::new()
            }
            Some(Action::PasteReport) => {
                if self.intake.paste_report.is_some() {
                    self.overlay = Some(Overlay::PasteReport);
                    self.help_scroll = 0;
                } else {
                    self.intake
                        .say("no paste yet: F8 lists the refused lines of a paste");
                }
                Vec::new()
            }
            Some(Action::Doctor) => {
                self.overlay = Some(Overlay::Doctor);
                self.doctor_scroll = 0;
                Vec::new()
            }
            Some(Action::Focus(p)) => self.focus_pane(p),
            other => match self.focus {
                Pane::Intake => self.intake.on_key(key, other, &self.config),
                Pane::Status if other == Some(Action::CollectEvidence) => self.collect_evidence(),
                Pane::Status
                    if other == Some(Action::Notices)
                        || (self.status.notices.open && other == Some(Action::Back)) =>
                {
                    self.status.notices.open = !self.status.notices.open;
                    Vec::new()
                }
                Pane::Status => self.on_status_key(key, other),
                Pane::Review => self.review.on_key(key, other),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    pub(crate) fn app() -> App {
        let now = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        App::new(Config::default(), now)
    }

    fn key(code: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn starts_on_intake_with_input_ready() {
        let a = app();
        assert_eq!(a.focus, Pane::Intake);
        assert!(a.typing());
    }

    #[test]
    fn function_keys_and_clicks_switch_panes() {
        let mut a = app();
        a.update(key(KeyCode::F(3)));
        assert_eq!(a.focus, Pane::Status);
        a.update(key(KeyCode::F(4)));
        assert_eq!(a.focus, Pane::Review);
        a.update(Msg::Click { column: 2, row: 0 });
        assert_eq!(a.focus, Pane::Intake);
        a.update(Msg::Click { column: 13, row: 5 });
        assert_eq!(
            a.focus,
            Pane::Intake,
            "clicks below the tab row do not switch"
        );
    }

    #[test]
    fn question_mark_types_on_intake_but_opens_help_elsewhere() {
        let mut a = app();
        a.update(key(KeyCode::Char('?')));
        assert_eq!(a.overlay, None);
        assert_eq!(a.intake.input, "?");
        a.update(key(KeyCode::F(3)));
        a.update(key(KeyCode::Char('?')));
        assert_eq!(a.overlay, Some(Overlay::Help));
        a.update(key(KeyCode::Esc));
        assert_eq!(a.overlay, None);
        a.update(key(KeyCode::F(1)));
        assert_eq!(a.overlay, Some(Overlay::Help));
    }

    #[test]
    fn ctrl_c_quits_from_help_and_from_typing() {
        for setup in [true, false] {
            let mut a = app();
            if setup {
                a.update(key(KeyCode::F(1)));
            }
            a.update(Msg::Key(KeyEvent::new(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
            )));
            assert!(a.quit);
        }
    }

    #[test]
    fn resize_records_size_and_list_heights() {
        let mut a = app();
        a.update(Msg::Resize {
            width: 60,
            height: 20,
        });
        assert!(a.too_small());
        a.update(Msg::Resize {
            width: 160,
            height: 48,
        });
        assert!(!a.too_small());
        assert_eq!(a.status.list.height, 48 - 7);
    }

    #[test]
    fn signals_quit_through_the_normal_path() {
        let mut a = app();
        a.update(Msg::Quit);
        assert!(a.quit);
    }

    fn type_burst(a: &mut App, text: &str) {
        for c in text.chars() {
            a.update(key(KeyCode::Char(c)));
        }
        a.update(key(KeyCode::Enter));
    }

    /// A scanner burst is a scan on every pane and under every overlay but a text field; a
    /// person's key (held past the gap) still does what it always did.
    #[test]
    fn a_burst_is_a_scan_wherever_focus_is() {
        let mut a = app();
        a.detect_bursts = true;
        // Queue list focused.
        a.update(key(KeyCode::F(6)));
        type_burst(&mut a, "PF3LIST1");
        // Status pane.
        a.update(key(KeyCode::F(3)));
        type_burst(&mut a, "PF3STAT2");
        // Help overlay over the review pane: it stays open.
        a.update(key(KeyCode::F(4)));
        a.update(key(KeyCode::F(1)));
        type_burst(&mut a, "PF3HELP3");
        assert_eq!(a.overlay, Some(Overlay::Help));
        // The sign-in modal: a scan is not "any key".
        a.update(key(KeyCode::Esc));
        a.signin.open = true;
        type_burst(&mut a, "PF3MODAL4");
        assert!(a.signin.open);
        a.signin.open = false;
        let queued: Vec<&str> = a.intake.pending.iter().map(|e| e.serial.as_str()).collect();
        assert_eq!(queued, ["PF3LIST1", "PF3STAT2", "PF3HELP3", "PF3MODAL4"]);
        assert!(!a.quit);
    }

    #[test]
    fn a_persons_key_is_acted_on_once_the_gap_has_passed() {
        let mut a = app();
        a.detect_bursts = true;
        // `?` cannot start a serial: it acts at once.
        a.update(key(KeyCode::F(3)));
        a.update(key(KeyCode::Char('?')));
        assert_eq!(a.overlay, Some(Overlay::Help));
        a.update(key(KeyCode::Esc));
        // `s` could start one: held for a moment, then it sorts.
        let before = a.status.sort;
        a.update(key(KeyCode::Char('s')));
        assert_eq!(a.status.sort, before, "held for a moment");
        assert!(a.burst_wait(a.now).is_some());
        a.set_clock(a.now + chrono::Duration::milliseconds(100));
        a.update(Msg::FlushKeys);
        assert_ne!(a.status.sort, before);
        assert!(a.intake.pending.is_empty());
        // Typing in a text field is never held.
        a.update(key(KeyCode::F(2)));
        a.update(key(KeyCode::Char('q')));
        assert_eq!(a.intake.input, "q");
        assert!(!a.quit);
    }
}
