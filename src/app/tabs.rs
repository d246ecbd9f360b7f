//! The tab bar's labels and their hit test, shared by the view (draws them) and the model
//! (clicks on them), so the two cannot disagree.

use super::Pane;

pub const TABS: [(Pane, &str); 3] = [
    (Pane::Intake, " F2 Intake "),
    (Pane::Status, " F3 Status "),
    (Pane::Review, " F4 Review "),
];

/// Columns between tabs.
pub const DIVIDER: &str = "│";

/// Which tab, if any, is at `column` of the tab row.
pub fn tab_at(column: u16) -> Option<Pane> {
    let mut start = 0u16;
    for (pane, label) in TABS {
        let width = label.chars().count() as u16;
        if column >= start && column < start + width {
            return Some(pane);
        }
        start += width + DIVIDER.chars().count() as u16;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_test_matches_label_widths() {
        assert_eq!(tab_at(0), Some(Pane::Intake));
        assert_eq!(tab_at(10), Some(Pane::Intake));
        assert_eq!(tab_at(11), None); // divider
        assert_eq!(tab_at(12), Some(Pane::Status));
        assert_eq!(tab_at(24), Some(Pane::Review));
        assert_eq!(tab_at(35), None);
    }
}
