//! Scanner bursts. A barcode scanner is a keyboard that types a whole serial and its terminator in
//! a few milliseconds; a person never types that fast. Wherever focus is — a list, an overlay, the
//! sign-in modal — as long as it is not a text field, printable keys are held for a moment
//! instead of being acted on: when the terminator follows quickly they were a scan (it goes to the
//! queue), otherwise they are replayed as ordinary keys, in order, once the gap has passed.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::{IntakeConfig, Terminator};

/// Keys held while it is not yet known whether they are a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Burst {
    keys: Vec<KeyEvent>,
    text: String,
    last: Option<DateTime<Utc>>,
}

/// What to do with a key after the burst detector saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStep {
    /// Held; nothing to do yet.
    Held,
    /// A complete scan: the text before the terminator.
    Scan(String),
    /// Act on these keys, in order (the held ones first, then the new one).
    Replay(Vec<KeyEvent>),
}

/// A key that may be part of a serial: a character without Ctrl or Alt.
pub fn printable(key: &KeyEvent) -> bool {
    matches!(key.code, KeyCode::Char(_))
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
}

pub fn terminator(key: &KeyEvent, cfg: &IntakeConfig) -> bool {
    key.modifiers.difference(KeyModifiers::SHIFT).is_empty()
        && match key.code {
            KeyCode::Enter => cfg.terminators.contains(&Terminator::Enter),
            KeyCode::Tab => cfg.terminators.contains(&Terminator::Tab),
            _ => false,
        }
}

impl Burst {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn gap(cfg: &IntakeConfig) -> chrono::Duration {
        chrono::Duration::milliseconds(i64::try_from(cfg.burst_gap_ms).unwrap_or(30))
    }

    /// Whether held keys have waited longer than the gap at `now` (then they are a person's keys).
    pub fn expired(&self, now: DateTime<Utc>, cfg: &IntakeConfig) -> bool {
        self.last.is_some_and(|t| now - t > Self::gap(cfg))
    }

    /// How long until the held keys expire, if any are held.
    pub fn wait(&self, now: DateTime<Utc>, cfg: &IntakeConfig) -> Option<std::time::Duration> {
        let last = self.last?;
        let left = (last + Self::gap(cfg) - now).max(chrono::Duration::zero());
        Some(left.to_std().unwrap_or_default() + std::time::Duration::from_millis(1))
    }

    /// Gives back every held key and forgets them.
    pub fn take(&mut self) -> Vec<KeyEvent> {
        self.text.clear();
        self.last = None;
        std::mem::take(&mut self.keys)
    }

    /// Feeds one key that arrived at `now`.
    pub fn push(&mut self, key: KeyEvent, now: DateTime<Utc>, cfg: &IntakeConfig) -> ScanStep {
        let fresh = !self.expired(now, cfg);
        // A serial starts with a letter or digit; `/`, `?` and the like at the start are a
        // person's keys (open the filter, help) and act at once, so what they type next is not
        // taken for a scan.
        let starts_scan = matches!(key.code, KeyCode::Char(c) if c.is_ascii_alphanumeric());
        if self.keys.is_empty() && printable(&key) && !starts_scan {
            return ScanStep::Replay(vec![key]);
        }
        if printable(&key) {
            let mut replay = Vec::new();
            if !fresh {
                replay = self.take();
            }
            if !replay.is_empty() {
                // The earlier keys were a person's; this one may start a scan.
                self.hold(key, now);
                return ScanStep::Replay(replay);
            }
            self.hold(key, now);
            return ScanStep::Held;
        }
        if !self.keys.is_empty() && fresh && terminator(&key, cfg) {
            let text = std::mem::take(&mut self.text);
            self.take();
            return ScanStep::Scan(text);
        }
        let mut keys = self.take();
        keys.push(key);
        ScanStep::Replay(keys)
    }

    fn hold(&mut self, key: KeyEvent, now: DateTime<Utc>) {
        if let KeyCode::Char(c) = key.code {
            self.text.push(c);
        }
        self.keys.push(key);
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::milliseconds(ms)
    }

    fn ch(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn enter() -> KeyEvent {
        KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
    }

    #[test]
    fn fast_keys_ended_by_the_terminator_are_a_scan() {
        let cfg = IntakeConfig::default();
        let mut b = Burst::default();
        for (i, c) in "PF3X1".chars().enumerate() {
            assert_eq!(b.push(ch(c), at(i as i64 * 5), &cfg), ScanStep::Held);
        }
        assert_eq!(
            b.push(enter(), at(26), &cfg),
            ScanStep::Scan("PF3X1".into())
        );
        assert!(b.is_empty());
        let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
        b.push(ch('A'), at(100), &cfg);
        assert_eq!(b.push(tab, at(101), &cfg), ScanStep::Scan("A".into()));
    }

    #[test]
    fn a_person_typing_gets_the_keys_back_in_order() {
        let cfg = IntakeConfig::default();
        let mut b = Burst::default();
        assert_eq!(b.push(ch('j'), at(0), &cfg), ScanStep::Held);
        assert!(b.expired(at(200), &cfg));
        assert_eq!(
            b.push(ch('k'), at(200), &cfg),
            ScanStep::Replay(vec![ch('j')])
        );
        // A slow Enter after a held key: both are ordinary keys.
        assert_eq!(
            b.push(enter(), at(400), &cfg),
            ScanStep::Replay(vec![ch('k'), enter()])
        );
        // Keys that are never printable pass straight through.
        let up = KeyEvent::new(KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(b.push(up, at(500), &cfg), ScanStep::Replay(vec![up]));
        let ctrl = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(b.push(ctrl, at(600), &cfg), ScanStep::Replay(vec![ctrl]));
    }

    #[test]
    fn a_key_that_cannot_start_a_serial_acts_at_once() {
        let cfg = IntakeConfig::default();
        let mut b = Burst::default();
        assert_eq!(
            b.push(ch('/'), at(0), &cfg),
            ScanStep::Replay(vec![ch('/')])
        );
        assert_eq!(
            b.push(ch('?'), at(1), &cfg),
            ScanStep::Replay(vec![ch('?')])
        );
        // Inside a serial the same characters are part of it.
        b.push(ch('A'), at(2), &cfg);
        assert_eq!(b.push(ch('/'), at(3), &cfg), ScanStep::Held);
        assert_eq!(b.push(enter(), at(4), &cfg), ScanStep::Scan("A/".into()));
    }

    #[test]
    fn wait_counts_down_to_the_gap() {
        let cfg = IntakeConfig::default();
        let mut b = Burst::default();
        assert_eq!(b.wait(at(0), &cfg), None);
        b.push(ch('x'), at(0), &cfg);
        let w = b.wait(at(10), &cfg).unwrap();
        assert!(
            w >= std::time::Duration::from_millis(20) && w <= std::time::Duration::from_millis(22)
        );
    }
}
