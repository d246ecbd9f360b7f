//! The stage changes this console observed for one device.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stage::Stage;

/// Changes kept per device: the first one and the most recent ones (a device walks eight stages,
/// so this holds a normal journey; a device that flaps keeps its latest moves).
pub const MAX_CHANGES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub stage: Stage,
}

/// Shared with the rows that show it (`Arc`): a row re-uses the timeline until the stage changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    changes: Arc<[Change]>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            changes: Arc::new([]),
        }
    }
}

impl Timeline {
    /// The current stage and since when.
    pub fn current(&self) -> Option<(Stage, DateTime<Utc>)> {
        self.changes.last().map(|c| (c.stage, c.at))
    }

    /// Records `stage` entered at `since`; returns true when it is a change. Repeating the current
    /// stage is not a change. When full, the oldest change after the first is dropped.
    pub fn observe(&mut self, stage: Stage, since: DateTime<Utc>) -> bool {
        if self.current().is_some_and(|(s, _)| s == stage) {
            return false;
        }
        let mut changes = self.changes.to_vec();
        if changes.len() == MAX_CHANGES {
            changes.remove(1);
        }
        changes.push(Change { at: since, stage });
        self.changes = changes.into();
        true
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The changes, shared (no copy).
    pub fn shared(&self) -> Arc<[Change]> {
        self.changes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn records_changes_only() {
        let mut tl = Timeline::default();
        assert_eq!(tl.current(), None);
        assert!(tl.observe(Stage::Queued, t0()));
        assert!(!tl.observe(Stage::Queued, t0() + Duration::minutes(1)));
        assert!(tl.observe(Stage::Registered, t0() + Duration::minutes(2)));
        assert_eq!(
            tl.current(),
            Some((Stage::Registered, t0() + Duration::minutes(2)))
        );
        let stages: Vec<_> = tl.changes().iter().map(|c| c.stage).collect();
        assert_eq!(stages, vec![Stage::Queued, Stage::Registered]);
    }

    #[test]
    fn keeps_the_first_and_the_latest_when_full() {
        let mut tl = Timeline::default();
        for i in 0..100 {
            let stage = if i % 2 == 0 {
                Stage::Enrolled
            } else {
                Stage::Provisioning
            };
            tl.observe(stage, t0() + Duration::minutes(i));
        }
        assert_eq!(tl.changes().len(), MAX_CHANGES);
        assert_eq!(tl.changes()[0].at, t0());
        assert_eq!(tl.current().unwrap().1, t0() + Duration::minutes(99));
        assert_eq!(
            tl.changes()[1].at,
            t0() + Duration::minutes(100 - (MAX_CHANGES as i64 - 1))
        );
    }
}
