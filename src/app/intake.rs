//! Intake pane state: the scan input line (always ready), the active staging profile, and the
//! scans waiting for the store task to make them durable.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Cmd;
use super::keymap::Action;
use super::list::SelectList;
use crate::config::{Config, Terminator};

#[derive(Debug, Clone)]
pub struct IntakeState {
    /// What has been typed since the last terminator.
    pub input: String,
    /// The scan input has focus (the default); F6 moves focus to the queue list.
    pub input_focused: bool,
    /// Name of the active staging profile.
    pub profile: String,
    /// Scans taken from the input, in order, not yet acknowledged durable by the store.
    pub pending: Vec<String>,
    /// Queue entries, keyed by serial.
    pub list: SelectList<String>,
}

impl IntakeState {
    pub fn new(config: &Config) -> Self {
        Self {
            input: String::new(),
            input_focused: true,
            profile: config.intake.default_profile.clone(),
            pending: Vec::new(),
            list: SelectList::default(),
        }
    }

    pub fn on_tick(&mut self, _now: DateTime<Utc>) {}

    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>, config: &Config) -> Vec<Cmd> {
        if let Some(action) = action {
            match action {
                Action::SwitchFocus => {
                    self.input_focused = !self.input_focused;
                    return Vec::new();
                }
                Action::NextProfile => {
                    self.next_profile(config);
                    return Vec::new();
                }
                Action::Back => {
                    if self.input_focused {
                        self.input.clear();
                    } else {
                        self.input_focused = true;
                    }
                    return Vec::new();
                }
                other if self.list.navigate(other) => return Vec::new(),
                _ => {}
            }
        }
        if !self.input_focused {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter if config.intake.terminators.contains(&Terminator::Enter) => {
                self.submit()
            }
            KeyCode::Tab if config.intake.terminators.contains(&Terminator::Tab) => self.submit(),
            KeyCode::Backspace => {
                self.input.pop();
                Vec::new()
            }
            KeyCode::Char('u') if ctrl => {
                self.input.clear();
                Vec::new()
            }
            KeyCode::Char(c) if !ctrl => {
                self.input.push(c);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A bracketed paste: every line is a scan; a last line without a newline is one too.
    pub fn on_paste(&mut self, text: &str) -> Vec<Cmd> {
        let mut cmds = Vec::new();
        for line in text.split(['\n', '\r']) {
            if line.trim().is_empty() {
                continue;
            }
            self.input.push_str(line);
            cmds.extend(self.submit());
        }
        cmds
    }

    fn submit(&mut self) -> Vec<Cmd> {
        let raw = std::mem::take(&mut self.input);
        if raw.trim().is_empty() {
            return Vec::new();
        }
        self.pending.push(raw);
        Vec::new()
    }

    fn next_profile(&mut self, config: &Config) {
        let names: Vec<&String> = config.profiles.keys().collect();
        if names.is_empty() {
            return;
        }
        let at = names.iter().position(|n| **n == self.profile);
        self.profile = names[at.map_or(0, |i| (i + 1) % names.len())].clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn typed(s: &mut IntakeState, cfg: &Config, text: &str) {
        for c in text.chars() {
            s.on_key(key(KeyCode::Char(c)), None, cfg);
        }
    }

    #[test]
    fn enter_and_tab_end_a_scan_in_order() {
        let cfg = Config::default();
        let mut s = IntakeState::new(&cfg);
        typed(&mut s, &cfg, "PF1ABC");
        s.on_key(key(KeyCode::Enter), None, &cfg);
        typed(&mut s, &cfg, "PF2DEF");
        s.on_key(key(KeyCode::Tab), None, &cfg);
        s.on_key(key(KeyCode::Enter), None, &cfg);
        assert_eq!(s.pending, ["PF1ABC", "PF2DEF"]);
        assert_eq!(s.input, "");
    }

    #[test]
    fn tab_types_nothing_when_not_a_terminator() {
        let mut cfg = Config::default();
        cfg.intake.terminators = vec![Terminator::Enter];
        let mut s = IntakeState::new(&cfg);
        typed(&mut s, &cfg, "AB");
        s.on_key(key(KeyCode::Tab), None, &cfg);
        assert!(s.pending.is_empty());
        assert_eq!(s.input, "AB");
    }

    #[test]
    fn paste_of_a_column_becomes_one_scan_per_line() {
        let cfg = Config::default();
        let mut s = IntakeState::new(&cfg);
        s.on_paste("A1\r\nA2\n\nA3");
        assert_eq!(s.pending, ["A1", "A2", "A3"]);
    }

    #[test]
    fn profiles_cycle_in_name_order() {
        let cfg = Config::default();
        let mut s = IntakeState::new(&cfg);
        assert_eq!(s.profile, "Standard");
        s.on_key(key(KeyCode::F(7)), Some(Action::NextProfile), &cfg);
        assert_eq!(s.profile, "Executive");
        s.on_key(key(KeyCode::F(7)), Some(Action::NextProfile), &cfg);
        assert_eq!(s.profile, "Mobile");
        s.on_key(key(KeyCode::F(7)), Some(Action::NextProfile), &cfg);
        assert_eq!(s.profile, "Standard");
    }
}
