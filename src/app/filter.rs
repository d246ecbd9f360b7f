//! A filter typed into a list pane (`/`): every key edits it, Enter keeps it, Esc clears it.
//! `/` on a kept filter opens it for editing with its text selected: typing replaces it (a new
//! filter, not one appended to the old), Backspace edits it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterInput {
    pub text: String,
    pub editing: bool,
    /// The kept text is selected: the next character replaces it.
    pub selected: bool,
}

/// What a key did to the filter.
#[derive(Debug, PartialEq, Eq)]
pub enum FilterEdit {
    /// The text changed: recompute the visible rows.
    Changed,
    /// Editing ended; the text is kept.
    Done,
    /// Not a filter key.
    Ignored,
}

impl FilterInput {
    pub fn start(&mut self) {
        self.editing = true;
        self.selected = !self.text.is_empty();
    }

    pub fn on_key(&mut self, key: &KeyEvent) -> FilterEdit {
        if !self.editing {
            return FilterEdit::Ignored;
        }
        let selected = std::mem::take(&mut self.selected);
        match key.code {
            KeyCode::Esc => {
                self.editing = false;
                self.text.clear();
                FilterEdit::Changed
            }
            KeyCode::Enter => {
                self.editing = false;
                FilterEdit::Done
            }
            KeyCode::Char(c) if selected && !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.clear();
                self.text.push(c);
                FilterEdit::Changed
            }
            KeyCode::Backspace => {
                self.text.pop();
                FilterEdit::Changed
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.clear();
                FilterEdit::Changed
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.push(c);
                FilterEdit::Changed
            }
            _ => FilterEdit::Ignored,
        }
    }

    pub fn paste(&mut self, text: &str) -> bool {
        if !self.editing {
            return false;
        }
        if std::mem::take(&mut self.selected) {
            self.text.clear();
        }
        self.text.extend(text.chars().filter(|c| !c.is_control()));
        true
    }

    /// Case-insensitive match of every whitespace-separated word against any of `fields`.
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str> + Clone) -> bool {
        self.text.split_whitespace().all(|word| {
            let word = word.to_lowercase();
            fields
                .clone()
                .into_iter()
                .any(|f| f.to_lowercase().contains(&word))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_clearing() {
        let mut f = FilterInput::default();
        assert_eq!(f.on_key(&k(KeyCode::Char('a'))), FilterEdit::Ignored);
        f.start();
        for c in "fail x".chars() {
            assert_eq!(f.on_key(&k(KeyCode::Char(c))), FilterEdit::Changed);
        }
        assert_eq!(f.on_key(&k(KeyCode::Backspace)), FilterEdit::Changed);
        assert_eq!(f.text, "fail ");
        assert_eq!(f.on_key(&k(KeyCode::Enter)), FilterEdit::Done);
        assert!(!f.editing);
        assert_eq!(f.text, "fail ");
        f.start();
        f.on_key(&k(KeyCode::Esc));
        assert_eq!(f.text, "");
    }

    #[test]
    fn slash_again_edits_the_kept_filter_instead_of_appending() {
        let mut f = FilterInput::default();
        f.start();
        for c in "bench".chars() {
            f.on_key(&k(KeyCode::Char(c)));
        }
        f.on_key(&k(KeyCode::Enter));
        // Backspace after `/` edits the kept one.
        f.start();
        assert!(f.selected);
        f.on_key(&k(KeyCode::Backspace));
        f.on_key(&k(KeyCode::Char('h')));
        assert_eq!(f.text, "bench");
        f.on_key(&k(KeyCode::Enter));
        // Typing after `/` starts a new filter.
        f.start();
        f.on_key(&k(KeyCode::Char('x')));
        assert_eq!(f.text, "x");
    }

    #[test]
    fn every_word_must_match_some_field() {
        let f = FilterInput {
            text: "FAILED pf1".into(),
            ..FilterInput::default()
        };
        assert!(f.matches(["PF1ABC", "failed"]));
        assert!(!f.matches(["PF1ABC", "queued"]));
        assert!(FilterInput::default().matches(["anything"]));
    }
}
