//! A selectable, filterable list: rows by key, selection that follows the item, scroll math as a
//! pure function. The visible index is computed here, in `update`, never in `draw`.

/// Scroll offset that keeps `selected` inside a viewport of `height` rows, moving as little as
/// possible from `offset`.
pub fn scroll_offset(selected: usize, offset: usize, height: usize, len: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let max_offset = len.saturating_sub(height);
    let offset = offset.min(max_offset);
    if selected < offset {
        selected
    } else if selected >= offset + height {
        selected + 1 - height
    } else {
        offset
    }
}

/// Selection state over a list whose rows are owned elsewhere (the pane keeps the rows; this keeps
/// which of them are visible and which is selected).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectList<K> {
    /// Keys of all rows, in display order.
    keys: Vec<K>,
    /// Indices into `keys` that pass the filter.
    visible: Vec<usize>,
    /// The selected row's key; follows the item when rows change.
    selected: Option<K>,
    /// Position of the selection within `visible`.
    cursor: usize,
    /// First visible row drawn.
    pub offset: usize,
    /// Rows the view can show; recorded from the last resize.
    pub height: usize,
}

impl<K: Clone + PartialEq> SelectList<K> {
    /// Replaces the rows. `keep` tells which rows pass the current filter. The selection stays on
    /// the same key if it is still visible, else clamps to the same position.
    pub fn set_rows(&mut self, keys: Vec<K>, keep: impl Fn(usize) -> bool) {
        self.keys = keys;
        self.visible = (0..self.keys.len()).filter(|&i| keep(i)).collect();
        let found = self
            .selected
            .as_ref()
            .and_then(|k| self.visible.iter().position(|&i| self.keys[i] == *k));
        self.cursor = match found {
            Some(pos) => pos,
            None => self.cursor.min(self.visible.len().saturating_sub(1)),
        };
        self.sync();
    }

    fn sync(&mut self) {
        self.selected = self.visible.get(self.cursor).map(|&i| self.keys[i].clone());
        self.offset = scroll_offset(self.cursor, self.offset, self.height, self.visible.len());
    }

    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    pub fn len(&self) -> usize {
        self.visible.len()
    }

    pub fn is_empty(&self) -> bool {
        self.visible.is_empty()
    }

    pub fn total(&self) -> usize {
        self.keys.len()
    }

    /// The key of row `i` (an index as returned by `visible` or `window`).
    pub fn key_at(&self, i: usize) -> Option<&K> {
        self.keys.get(i)
    }

    pub fn selected_key(&self) -> Option<&K> {
        self.selected.as_ref()
    }

    /// Index into the pane's rows of the selected row.
    pub fn selected_index(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    /// Position of the selection among the visible rows.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.visible.is_empty() {
            return;
        }
        let last = self.visible.len() - 1;
        self.cursor = self.cursor.saturating_add_signed(delta).min(last);
        self.sync();
    }

    pub fn page(&mut self, down: bool) {
        let step = self.height.max(1) as isize;
        self.move_by(if down { step } else { -step });
    }

    pub fn home(&mut self) {
        self.cursor = 0;
        self.sync();
    }

    pub fn end(&mut self) {
        self.cursor = self.visible.len().saturating_sub(1);
        self.sync();
    }

    /// Applies a navigation action; false when `action` is not one.
    pub fn navigate(&mut self, action: super::keymap::Action) -> bool {
        use super::keymap::Action as A;
        match action {
            A::Up => self.move_by(-1),
            A::Down => self.move_by(1),
            A::PageUp => self.page(false),
            A::PageDown => self.page(true),
            A::Home => self.home(),
            A::End => self.end(),
            _ => return false,
        }
        true
    }

    pub fn set_height(&mut self, height: usize) {
        self.height = height;
        self.sync();
    }

    /// The visible rows that fit the viewport, as indices into the pane's rows.
    pub fn window(&self) -> &[usize] {
        let end = (self.offset + self.height.max(1)).min(self.visible.len());
        &self.visible[self.offset.min(end)..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scroll_offset_table() {
        // (selected, offset, height, len) -> offset
        let cases = [
            ((0, 0, 10, 0), 0),
            ((0, 0, 0, 5), 0),
            ((5, 0, 10, 20), 0),
            ((10, 0, 10, 20), 1),
            ((19, 0, 10, 20), 10),
            ((3, 8, 10, 20), 3),
            ((12, 8, 10, 20), 8),
            ((4, 15, 10, 12), 2),
        ];
        for ((sel, off, h, len), want) in cases {
            assert_eq!(
                scroll_offset(sel, off, h, len),
                want,
                "{sel} {off} {h} {len}"
            );
        }
    }

    fn list(keys: &[&'static str]) -> SelectList<&'static str> {
        let mut l = SelectList {
            height: 3,
            ..Default::default()
        };
        l.set_rows(keys.to_vec(), |_| true);
        l
    }

    #[test]
    fn selection_follows_the_item_when_rows_move() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.move_by(2);
        assert_eq!(l.selected_key(), Some(&"c"));
        l.set_rows(vec!["z", "c", "a"], |_| true);
        assert_eq!(l.selected_key(), Some(&"c"));
        assert_eq!(l.cursor(), 1);
    }

    #[test]
    fn selection_clamps_when_the_item_goes_away() {
        let mut l = list(&["a", "b", "c", "d"]);
        l.end();
        l.set_rows(vec!["a", "b"], |_| true);
        assert_eq!(l.selected_key(), Some(&"b"));
        l.set_rows(vec![], |_| true);
        assert_eq!(l.selected_key(), None);
        l.move_by(1);
        assert_eq!(l.selected_key(), None);
    }

    #[test]
    fn filter_hides_rows_and_window_scrolls() {
        let mut l = list(&["a1", "b1", "a2", "b2", "a3", "a4"]);
        let keys = ["a1", "b1", "a2", "b2", "a3", "a4"];
        l.set_rows(keys.to_vec(), |i| keys[i].starts_with('a'));
        assert_eq!(l.len(), 4);
        assert_eq!(l.total(), 6);
        l.end();
        assert_eq!(l.selected_key(), Some(&"a4"));
        assert_eq!(l.window(), &[2, 4, 5]);
        l.page(false);
        assert_eq!(l.selected_key(), Some(&"a1"));
        assert_eq!(l.window(), &[0, 2, 4]);
    }
}
