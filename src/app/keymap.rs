//! Keys map to actions through one table; the help overlay reads the same table.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::Pane;

/// Everything a key can ask for. One line of help text per binding lives in [`BINDINGS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave stagehand.
    Quit,
    /// Show a pane.
    Focus(Pane),
    /// Open or close the help overlay.
    Help,
    /// Close the topmost overlay or cancel the current input.
    Back,
    /// Move the selection.
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Start typing a filter for the focused list.
    Filter,
    /// Ask the pane's feed to refresh now.
    Refresh,
    /// Cycle the sort column of the focused table (same key again reverses).
    Sort,
    /// Open the detail view of the selected row.
    Open,
    /// Toggle the selection mark on the current row.
    Mark,
    /// Approve the marked rows (review).
    Approve,
    /// Reject the marked rows (review).
    Reject,
    /// Pick another user for the row (review).
    Edit,
    /// Cycle the active staging profile (intake).
    NextProfile,
    /// Toggle "every device enrolled by a staging account" (status).
    ToggleScope,
    /// Delete the selected queue entry before upload (intake).
    Delete,
    /// Retry failed entries (intake).
    Retry,
    /// Mark the selected entry failed with a reason: a local note, never sent to Intune (intake).
    MarkFailed,
    /// Move focus between the scan input and the queue list (intake).
    SwitchFocus,
    /// Give the marked entries the active profile's manufacturer, model and name (intake).
    ApplyProfile,
    /// Remove the selected registered identity from Intune, after asking (intake).
    RemoveFromIntune,
    /// Open or close the tenant readiness (doctor) overlay.
    Doctor,
    /// Show every refused line of the last paste (intake).
    PasteReport,
    /// Open the sign-in modal (device code, or the browser from there).
    SignIn,
    /// Type a primary-user filter (status).
    FilterUser,
    /// Cycle the stage filter (status).
    FilterStage,
    /// Cycle the compliance filter (status).
    FilterCompliance,
    /// Show only stuck devices, or all again (status).
    FilterStuck,
    /// Clear every filter of the pane (status).
    ClearFilters,
    /// Ask the selected device to check in now (status).
    SyncDevice,
    /// Undo this session's last rejection; in the rejected view, lift the selected one (review).
    Undo,
    /// Switch between the rows in review and the remembered rejections (review).
    ToggleRejected,
    /// Mark every visible `propose` row (review).
    MarkProposals,
    /// Write the current filtered view to the data dir's `exports/` as CSV and JSON.
    Export,
    /// Retire the selected device, after the confirmation modal (status; role holders only).
    Retire,
    /// Wipe the selected device, after the confirmation modal (status; role holders only).
    Wipe,
    /// Collect the selected device's evidence bundle in the background (status).
    CollectEvidence,
    /// Open or close the list of notices sent and kept for retry (status).
    Notices,
}

impl Action {
    /// Offered (and listed in help) only to identities holding the destructive role.
    pub fn privileged(self) -> bool {
        matches!(self, Action::Retire | Action::Wipe)
    }
}

/// When a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere, even while typing.
    Global,
    /// Only in this pane, and not while a text input has focus.
    Pane(Pane),
    /// In this pane even while its text input has focus (function keys, control chords).
    PaneTyping(Pane),
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub scope: Scope,
    pub code: KeyCode,
    pub mods: KeyModifiers,
    pub action: Action,
    pub help: &'static str,
}

const fn b(
    scope: Scope,
    code: KeyCode,
    mods: KeyModifiers,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        scope,
        code,
        mods,
        action,
        help,
    }
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

use Action as A;
use KeyCode as K;
use Scope::{Global as G, Pane as P, PaneTyping as T};

/// One help line for the four filter keys (the overlay lists the keys together).
const FILTERS_HELP: &str = "filter: user (UPN part), stage, compliance, stuck; x clears";
/// One help line for the two review marking keys.
const MARK_HELP: &str = "mark the row (Space) / every propose row in view (A)";
/// One help line for retire and wipe.
const DESTROY_HELP: &str = "retire (R) or wipe (W) the selected device";

/// The default keymap. Order matters only for the help overlay.
pub const BINDINGS: &[Binding] = &[
    b(G, K::Char('c'), CTRL, A::Quit, "quit"),
    b(G, K::F(1), NONE, A::Help, "help for this pane"),
    b(G, K::F(2), NONE, A::Focus(Pane::Intake), "intake pane"),
    b(G, K::F(3), NONE, A::Focus(Pane::Status), "status pane"),
    b(G, K::F(4), NONE, A::Focus(Pane::Review), "review pane"),
    b(G, K::Esc, NONE, A::Back, "close overlay / clear input"),
    b(G, K::F(9), NONE, A::Doctor, "tenant readiness (doctor)"),
    b(G, K::Char('l'), CTRL, A::SignIn, "sign in (again)"),
    // Intake: the scan input keeps focus; list keys work with control chords or after F6.
    b(
        T(Pane::Intake),
        K::F(5),
        NONE,
        A::Refresh,
        "upload queued scans now",
    ),
    b(
        T(Pane::Intake),
        K::F(6),
        NONE,
        A::SwitchFocus,
        "switch between scan input and queue list",
    ),
    b(
        T(Pane::Intake),
        K::F(7),
        NONE,
        A::NextProfile,
        "next staging profile",
    ),
    b(
        T(Pane::Intake),
        K::F(8),
        NONE,
        A::PasteReport,
        "every refused line of the last paste",
    ),
    b(T(Pane::Intake), K::Up, NONE, A::Up, "select previous entry"),
    b(
        P(Pane::Intake),
        K::Char('k'),
        NONE,
        A::Up,
        "select previous entry",
    ),
    b(T(Pane::Intake), K::Down, NONE, A::Down, "select next entry"),
    b(
        P(Pane::Intake),
        K::Char('j'),
        NONE,
        A::Down,
        "select next entry",
    ),
    b(
        T(Pane::Intake),
        K::PageUp,
        NONE,
        A::PageUp,
        "page up / down",
    ),
    b(
        T(Pane::Intake),
        K::PageDown,
        NONE,
        A::PageDown,
        "page up / down",
    ),
    b(
        P(Pane::Intake),
        K::Char(' '),
        NONE,
        A::Mark,
        "mark entry (queue list focused)",
    ),
    b(
        P(Pane::Intake),
        K::Char('d'),
        NONE,
        A::Delete,
        "take back an entry before upload (queue list focused)",
    ),
    b(
        P(Pane::Intake),
        K::Char('X'),
        NONE,
        A::RemoveFromIntune,
        "remove a registered identity from Intune (asks)",
    ),
    b(
        P(Pane::Intake),
        K::Char('p'),
        NONE,
        A::ApplyProfile,
        "give marked entries the active profile",
    ),
    b(
        P(Pane::Intake),
        K::Char('f'),
        NONE,
        A::MarkFailed,
        "mark entry failed with a local reason",
    ),
    b(
        P(Pane::Intake),
        K::Char('R'),
        NONE,
        A::Retry,
        "retry failed entries (queue list focused)",
    ),
    b(
        P(Pane::Intake),
        K::Char('?'),
        NONE,
        A::Help,
        "help for this pane",
    ),
    // Status
    b(
        P(Pane::Status),
        K::Char('?'),
        NONE,
        A::Help,
        "help for this pane",
    ),
    b(P(Pane::Status), K::Char('q'), NONE, A::Quit, "quit"),
    b(
        P(Pane::Status),
        K::Up,
        NONE,
        A::Up,
        "select previous / next device",
    ),
    b(
        P(Pane::Status),
        K::Char('k'),
        NONE,
        A::Up,
        "select previous / next device",
    ),
    b(
        P(Pane::Status),
        K::Down,
        NONE,
        A::Down,
        "select previous / next device",
    ),
    b(
        P(Pane::Status),
        K::Char('j'),
        NONE,
        A::Down,
        "select previous / next device",
    ),
    // One help line per pair, so the status help (with retire/wipe) fits 80x24.
    b(
        P(Pane::Status),
        K::PageUp,
        NONE,
        A::PageUp,
        "page up / down",
    ),
    b(
        P(Pane::Status),
        K::PageDown,
        NONE,
        A::PageDown,
        "page up / down",
    ),
    b(
        P(Pane::Status),
        K::Home,
        NONE,
        A::Home,
        "first / last device",
    ),
    b(P(Pane::Status), K::End, NONE, A::End, "first / last device"),
    b(
        P(Pane::Status),
        K::Char('/'),
        NONE,
        A::Filter,
        "filter as you type",
    ),
    b(
        P(Pane::Status),
        K::Char('s'),
        NONE,
        A::Sort,
        "sort by next column (again: reverse)",
    ),
    b(
        P(Pane::Status),
        K::Char('a'),
        NONE,
        A::ToggleScope,
        "toggle all staged devices / this queue",
    ),
    b(
        P(Pane::Status),
        K::Char('r'),
        NONE,
        A::Refresh,
        "refresh now",
    ),
    b(T(Pane::Status), K::F(5), NONE, A::Refresh, "refresh now"),
    b(
        P(Pane::Status),
        K::Enter,
        NONE,
        A::Open,
        "device detail and timeline",
    ),
    b(
        P(Pane::Status),
        K::Char('u'),
        NONE,
        A::FilterUser,
        FILTERS_HELP,
    ),
    b(
        P(Pane::Status),
        K::Char('g'),
        NONE,
        A::FilterStage,
        FILTERS_HELP,
    ),
    b(
        P(Pane::Status),
        K::Char('c'),
        NONE,
        A::FilterCompliance,
        FILTERS_HELP,
    ),
    b(
        P(Pane::Status),
        K::Char('x'),
        NONE,
        A::ClearFilters,
        FILTERS_HELP,
    ),
    b(
        P(Pane::Status),
        K::Char('t'),
        NONE,
        A::FilterStuck,
        FILTERS_HELP,
    ),
    b(
        P(Pane::Status),
        K::Char('y'),
        NONE,
        A::SyncDevice,
        "sync the selected device now",
    ),
    b(
        P(Pane::Status),
        K::Char('E'),
        NONE,
        A::Export,
        "export this view to CSV and JSON (data dir exports/)",
    ),
    b(P(Pane::Status), K::Char('R'), NONE, A::Retire, DESTROY_HELP),
    b(P(Pane::Status), K::Char('W'), NONE, A::Wipe, DESTROY_HELP),
    b(
        P(Pane::Status),
        K::Char('e'),
        NONE,
        A::CollectEvidence,
        "collect the device's evidence bundle",
    ),
    b(
        P(Pane::Status),
        K::Char('n'),
        NONE,
        A::Notices,
        "notices sent and kept for retry (ServiceNow, Teams)",
    ),
    // Review
    b(
        P(Pane::Review),
        K::Char('?'),
        NONE,
        A::Help,
        "help for this pane",
    ),
    b(P(Pane::Review), K::Char('q'), NONE, A::Quit, "quit"),
    b(
        P(Pane::Review),
        K::Up,
        NONE,
        A::Up,
        "select previous / next row",
    ),
    b(
        P(Pane::Review),
        K::Char('k'),
        NONE,
        A::Up,
        "select previous / next row",
    ),
    b(
        P(Pane::Review),
        K::Down,
        NONE,
        A::Down,
        "select previous / next row",
    ),
    b(
        P(Pane::Review),
        K::Char('j'),
        NONE,
        A::Down,
        "select previous / next row",
    ),
    // One help line per pair, so the review help fits 80x24.
    b(
        P(Pane::Review),
        K::PageUp,
        NONE,
        A::PageUp,
        "page up / down",
    ),
    b(
        P(Pane::Review),
        K::PageDown,
        NONE,
        A::PageDown,
        "page up / down",
    ),
    b(
        P(Pane::Review),
        K::Char('/'),
        NONE,
        A::Filter,
        "filter as you type",
    ),
    b(P(Pane::Review), K::Char(' '), NONE, A::Mark, MARK_HELP),
    b(
        P(Pane::Review),
        K::Char('A'),
        NONE,
        A::MarkProposals,
        MARK_HELP,
    ),
    b(
        P(Pane::Review),
        K::Char('a'),
        NONE,
        A::Approve,
        "approve the marked rows in view, else this row",
    ),
    b(
        P(Pane::Review),
        K::Char('r'),
        NONE,
        A::Reject,
        "reject the marked rows in view (asks), else this row",
    ),
    b(
        P(Pane::Review),
        K::Char('u'),
        NONE,
        A::Undo,
        "undo the last rejection (rejected view: lift one)",
    ),
    b(
        P(Pane::Review),
        K::Char('v'),
        NONE,
        A::ToggleRejected,
        "rejected view: who rejected what, when",
    ),
    b(
        P(Pane::Review),
        K::Char('E'),
        NONE,
        A::Export,
        "export this view to CSV and JSON (data dir exports/)",
    ),
    b(
        P(Pane::Review),
        K::Char('e'),
        NONE,
        A::Edit,
        "pick another user from sign-in history",
    ),
    b(T(Pane::Review), K::F(5), NONE, A::Refresh, "refresh now"),
    b(
        P(Pane::Review),
        K::Enter,
        NONE,
        A::Open,
        "whole sign-in history",
    ),
];

/// Finds the action for a key. `typing` is true while a text input of the pane has focus: then
/// only global and `PaneTyping` bindings apply, so every printable key reaches the input.
pub fn lookup(pane: Pane, typing: bool, key: &KeyEvent) -> Option<Action> {
    // Shift is part of an uppercase char already; ignore it for char keys.
    let mods = match key.code {
        KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    BINDINGS
        .iter()
        .find(|bd| {
            let in_scope = match bd.scope {
                Scope::Global => true,
                Scope::PaneTyping(p) => p == pane,
                Scope::Pane(p) => p == pane && !typing,
            };
            in_scope && bd.code == key.code && bd.mods == mods
        })
        .map(|bd| bd.action)
}

/// The bindings shown in the help overlay for a pane: global ones first, then the pane's own.
/// Privileged actions are left out: see [`help_for_role`].
#[cfg(test)]
pub fn help_for(pane: Pane) -> Vec<(String, &'static str)> {
    help_for_role(pane, false)
}

/// [`help_for`], with the privileged actions (retire, wipe) listed when `privileged`.
pub fn help_for_role(pane: Pane, privileged: bool) -> Vec<(String, &'static str)> {
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    for bd in BINDINGS {
        let applies = match bd.scope {
            Scope::Global => true,
            Scope::Pane(p) | Scope::PaneTyping(p) => p == pane,
        } && (privileged || !bd.action.privileged());
        if applies {
            let key = key_label(bd.code, bd.mods);
            if let Some(existing) = seen.iter_mut().find(|(_, h)| *h == bd.help) {
                existing.0 = format!("{} {}", existing.0, key);
            } else {
                seen.push((key, bd.help));
            }
        }
    }
    seen
}

/// The README's key table, generated from [`BINDINGS`] (a test holds README.md to it, so the
/// README, the help overlay and the bindings cannot drift apart).
#[cfg(test)]
pub fn readme_table() -> String {
    let mut out = String::from("| key | where | does |\n|---|---|---|\n");
    let mut rows = |scope_of: &dyn Fn(Scope) -> bool, place: &str| {
        let mut seen: Vec<(String, &'static str, bool)> = Vec::new();
        for bd in BINDINGS.iter().filter(|bd| scope_of(bd.scope)) {
            let key = key_label(bd.code, bd.mods);
            match seen.iter_mut().find(|(_, h, _)| *h == bd.help) {
                Some(e) if !e.0.split(' ').any(|k| k == key) => e.0 = format!("{} {key}", e.0),
                Some(_) => {}
                None => seen.push((key, bd.help, bd.action.privileged())),
            }
        }
        for (keys, help, privileged) in seen {
            let keys = keys
                .split(' ')
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" ");
            let note = if privileged {
                " (role holders only)"
            } else {
                ""
            };
            out.push_str(&format!("| {keys} | {place} | {help}{note} |\n"));
        }
    };
    rows(&|s| s == Scope::Global, "everywhere");
    for (pane, place) in [
        (Pane::Intake, "Intake"),
        (Pane::Status, "Status"),
        (Pane::Review, "Review"),
    ] {
        rows(
            &|s| matches!(s, Scope::Pane(p) | Scope::PaneTyping(p) if p == pane),
            place,
        );
    }
    out
}

pub fn key_label(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Tab => "Tab".into(),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{}", base.to_uppercase())
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn ctrl_c_quits_everywhere_even_while_typing() {
        for pane in [Pane::Intake, Pane::Status, Pane::Review] {
            for typing in [true, false] {
                assert_eq!(
                    lookup(pane, typing, &key(K::Char('c'), CTRL)),
                    Some(A::Quit)
                );
            }
        }
    }

    #[test]
    fn printable_keys_reach_the_scan_input() {
        for c in ['q', '?', 'a', 'r', '/', ' ', 'j'] {
            assert_eq!(
                lookup(Pane::Intake, true, &key(K::Char(c), NONE)),
                None,
                "{c}"
            );
        }
        assert_eq!(
            lookup(Pane::Status, false, &key(K::Char('?'), NONE)),
            Some(A::Help)
        );
    }

    #[test]
    fn function_keys_switch_panes_while_typing() {
        assert_eq!(
            lookup(Pane::Intake, true, &key(K::F(3), NONE)),
            Some(A::Focus(Pane::Status))
        );
        assert_eq!(
            lookup(Pane::Review, false, &key(K::F(2), NONE)),
            Some(A::Focus(Pane::Intake))
        );
    }

    #[test]
    fn shifted_chars_match_without_the_shift_modifier() {
        assert_eq!(
            lookup(Pane::Intake, false, &key(K::Char('R'), KeyModifiers::SHIFT)),
            Some(A::Retry)
        );
    }

    #[test]
    fn retire_and_wipe_are_listed_only_for_the_role() {
        let lists = |help: Vec<(String, &str)>| {
            help.iter()
                .filter(|(_, h)| h.contains("retire") || h.contains("wipe"))
                .count()
        };
        assert_eq!(lists(help_for(Pane::Status)), 0);
        assert_eq!(lists(help_for_role(Pane::Status, false)), 0);
        assert_eq!(lists(help_for_role(Pane::Status, true)), 1);
        assert_eq!(
            lookup(Pane::Status, false, &key(K::Char('W'), KeyModifiers::SHIFT)),
            Some(A::Wipe)
        );
        assert_eq!(lookup(Pane::Status, true, &key(K::Char('W'), NONE)), None);
    }

    #[test]
    fn every_binding_has_help_and_help_lists_each_once() {
        for pane in [Pane::Intake, Pane::Status, Pane::Review] {
            let help = help_for(pane);
            assert!(
                help.iter()
                    .any(|(k, h)| k.contains("F1") && h.contains("help"))
            );
            let mut texts: Vec<_> = help.iter().map(|(_, h)| *h).collect();
            texts.sort();
            texts.dedup();
            assert_eq!(texts.len(), help.len());
        }
        assert!(BINDINGS.iter().all(|b| !b.help.is_empty()));
        let status = help_for(Pane::Status);
        assert!(
            status
                .iter()
                .any(|(k, h)| k == "↑ k ↓ j" && *h == "select previous / next device"),
            "{status:?}"
        );
    }

    /// README.md's key table is exactly the one generated from the bindings.
    #[test]
    fn readme_key_table_is_the_key_table() {
        let readme = include_str!("../../README.md");
        let start = readme.find("<!-- keys:start -->").expect("start marker") + 19;
        let end = readme.find("<!-- keys:end -->").expect("end marker");
        let want = readme_table();
        assert_eq!(
            readme[start..end].trim(),
            want.trim(),
            "README.md's key table differs from the bindings; put this between the markers:\n{want}"
        );
    }

    /// Every key the README lists for a pane does something there, and help lists it.
    #[test]
    fn readme_help_and_bindings_agree() {
        for pane in [Pane::Intake, Pane::Status, Pane::Review] {
            let help = help_for_role(pane, true);
            for bd in BINDINGS.iter().filter(|bd| match bd.scope {
                Scope::Global => true,
                Scope::Pane(p) | Scope::PaneTyping(p) => p == pane,
            }) {
                let typing = matches!(bd.scope, Scope::PaneTyping(_));
                let found = lookup(pane, typing, &KeyEvent::new(bd.code, bd.mods));
                assert_eq!(found, Some(bd.action), "{pane:?} {:?}", bd.code);
                assert!(help.iter().any(|(_, h)| *h == bd.help), "{}", bd.help);
                assert!(readme_table().contains(bd.help), "{}", bd.help);
            }
        }
    }
}
