//! Status pane state: one row per tracked device (rows arrive from the status feed).

use crossterm::event::KeyEvent;

use super::filter::FilterInput;
use super::keymap::Action;
use super::list::SelectList;
use super::{Cmd, LoadState};

#[derive(Debug, Clone, Default)]
pub struct StatusState {
    pub load: LoadState,
    /// Keyed by serial.
    pub list: SelectList<String>,
    pub filter: FilterInput,
}

impl StatusState {
    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        if self.filter.editing {
            self.filter.on_key(&key);
            return Vec::new();
        }
        if let Some(action) = action {
            if self.list.navigate(action) {
                return Vec::new();
            }
            match action {
                Action::Filter => self.filter.start(),
                Action::Refresh => return vec![Cmd::RefreshAll],
                _ => {}
            }
        }
        Vec::new()
    }

    pub fn on_paste(&mut self, text: &str) {
        self.filter.paste(text);
    }
}
