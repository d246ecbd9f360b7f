//! The status pane's device filters (issue 9, as `devices list --user --stage --compliance`): a
//! primary-user substring, a stage and a compliance state, combined with each other and with the
//! `/` text filter. The user and compliance predicates are `devices::list`'s, not a copy.

use crossterm::event::KeyEvent;

use crate::app::filter::{FilterEdit, FilterInput};
use crate::devices::list::{UserMatch, compliance_matches, user_matches};
use crate::graph::models::ComplianceState;
use crate::status::{DeviceStatus, Stage};

/// The compliance states the filter key cycles through, in Graph's spelling order of interest.
pub const COMPLIANCE_CYCLE: [ComplianceState; 6] = [
    ComplianceState::Compliant,
    ComplianceState::Noncompliant,
    ComplianceState::InGracePeriod,
    ComplianceState::Conflict,
    ComplianceState::Error,
    ComplianceState::Unknown,
];

/// `None` = any; every filter set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilters {
    /// Primary user's UPN, any part of it (typed after `u`).
    pub user: FilterInput,
    /// The stage the pane shows.
    pub stage: Option<Stage>,
    pub compliance: Option<ComplianceState>,
    /// Only devices stuck beyond their profile's threshold.
    pub stuck: bool,
}

impl DeviceFilters {
    pub fn is_empty(&self) -> bool {
        self.user.text.trim().is_empty()
            && self.stage.is_none()
            && self.compliance.is_none()
            && !self.stuck
    }

    pub fn matches(&self, r: &DeviceStatus) -> bool {
        let user = self.user.text.trim();
        let user_ok =
            user.is_empty() || user_matches(user, r.primary_user.as_deref(), UserMatch::Substring);
        let stage_ok = self.stage.is_none_or(|s| r.stage == s);
        // A state this build cannot name (`Other`) never passes a set filter.
        user_ok
            && stage_ok
            && (!self.stuck || r.flags.stuck)
            && compliance_matches(self.compliance, r.compliance)
    }

    /// Next stage: none, then each stage in pipeline order, then none again.
    pub fn cycle_stage(&mut self) {
        self.stage = next(&Stage::ALL, self.stage);
    }

    pub fn cycle_compliance(&mut self) {
        self.compliance = next(&COMPLIANCE_CYCLE, self.compliance);
    }

    /// Starts typing the user filter.
    pub fn edit_user(&mut self) {
        self.user.start();
    }

    /// A key while the user filter is being typed; true when the text changed.
    pub fn on_user_key(&mut self, key: &KeyEvent) -> bool {
        self.user.on_key(key) == FilterEdit::Changed
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The header text: "~adele · failed · noncompliant".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.user.editing || !self.user.text.trim().is_empty() {
            parts.push(format!("~{}", self.user.text));
        }
        if let Some(s) = self.stage {
            parts.push(s.words().to_string());
        }
        if self.stuck {
            parts.push("stuck".to_string());
        }
        if let Some(c) = self.compliance {
            parts.push(compliance_name(c));
        }
        parts.join(" · ")
    }
}

/// Graph's spelling (`inGracePeriod`).
pub fn compliance_name(c: ComplianceState) -> String {
    c.as_graph().to_string()
}

fn next<T: Copy + PartialEq>(all: &[T], current: Option<T>) -> Option<T> {
    match current.and_then(|c| all.iter().position(|x| *x == c)) {
        None => all.first().copied(),
        Some(i) => all.get(i + 1).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::devices::tests::row;

    #[test]
    fn stage_and_compliance_cycle_through_every_value_back_to_any() {
        let mut f = DeviceFilters::default();
        let mut seen = Vec::new();
        for _ in 0..=Stage::ALL.len() {
            f.cycle_stage();
            seen.push(f.stage);
        }
        assert_eq!(seen.first(), Some(&Some(Stage::Queued)));
        assert_eq!(seen[Stage::ALL.len() - 1], Some(Stage::Assigned));
        assert_eq!(seen.last(), Some(&None));
        for _ in 0..COMPLIANCE_CYCLE.len() {
            f.cycle_compliance();
        }
        assert_eq!(f.compliance, Some(ComplianceState::Unknown));
        f.cycle_compliance();
        assert_eq!(f.compliance, None);
    }

    #[test]
    fn filters_combine_and_unknown_compliance_spellings_never_pass() {
        let mut r = row("A1", Stage::Provisioning, 3);
        r.primary_user = Some("Adele.Vance@contoso.example".into());
        r.compliance = Some(ComplianceState::Noncompliant);
        let mut f = DeviceFilters {
            stage: Some(Stage::Provisioning),
            compliance: Some(ComplianceState::Noncompliant),
            ..DeviceFilters::default()
        };
        f.user.text = "adele".into();
        assert!(f.matches(&r));
        assert_eq!(f.describe(), "~adele · provisioning · noncompliant");
        let mut other = f.clone();
        other.stage = Some(Stage::Failed);
        assert!(!other.matches(&r));
        let mut other = f.clone();
        other.user.text = "lee".into();
        assert!(!other.matches(&r));
        r.compliance = Some(ComplianceState::Other);
        assert!(!f.matches(&r));
        f.compliance = None;
        assert!(f.matches(&r));
        f.clear();
        assert!(f.is_empty() && f.matches(&r));
    }
}
