//! Status pane state: one row per tracked device, as the status feed last reported it.
//!
//! Rows arrive whole (`StatusMsg::Snapshot`); sorting, filtering and stage counts are computed here
//! in `update`/`settle`, never in `draw`. The selection follows the serial.

pub(crate) mod evidence;
pub(crate) mod notices;
pub(crate) mod sort;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::filter::{FilterEdit, FilterInput};
use super::keymap::Action;
use super::list::SelectList;
use super::{Cmd, LoadState};
use crate::status::{DeviceStatus, SharedRow, Stage};
pub use sort::{Column, Sort};

/// From the status feed to the app. Every result carries the generation of the request it
/// answers; the app drops results older than its current generation.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusMsg {
    /// A poll started.
    Loading { generation: u64 },
    /// Every tracked device, as of `at`. Rows are shared with the feed, not copied.
    Snapshot {
        generation: u64,
        at: DateTime<Utc>,
        rows: Vec<SharedRow>,
    },
    /// The poll failed; the rows shown are now stale.
    Failed { generation: u64, reason: String },
}

/// From the app to the status feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCmd {
    /// Poll now.
    Refresh { generation: u64 },
    /// Watch the local queue only, or every device enrolled by a staging account in the window.
    Scope { all_staged: bool, generation: u64 },
}

#[derive(Debug, Clone, Default)]
pub struct StatusState {
    pub load: LoadState,
    /// Rows in display (sorted) order, shared with the feed that published them.
    pub rows: Vec<SharedRow>,
    /// Keyed by serial, in the order of `rows`.
    pub list: SelectList<String>,
    pub filter: FilterInput,
    /// User, stage and compliance filters (combined with `filter`).
    pub facets: crate::app::devices::DeviceFilters,
    pub sort: Sort,
    /// Every device enrolled by a staging account, not just this queue.
    pub all_staged: bool,
    /// Devices per stage (all rows, before the filter), indexed by `Stage::index`.
    pub counts: [usize; 8],
    /// Rows flagged stuck (all rows).
    pub stuck: usize,
    /// The detail view of the selected row is open.
    pub detail: bool,
    /// Results older than this are dropped.
    pub generation: u64,
    /// When the rows shown last arrived (kept while offline).
    pub last_ready: Option<DateTime<Utc>>,
    /// Evidence bundles collected from the pane (the `e` key).
    pub evidence: evidence::EvidenceJobs,
    /// Notices sent and kept for retry (ServiceNow, Teams), from the notifier task.
    pub notices: notices::Notices,
    /// Sorting or filtering must be recomputed in `settle`.
    resort: bool,
    refilter: bool,
}

impl StatusState {
    pub fn on_key(&mut self, key: KeyEvent, action: Option<Action>) -> Vec<Cmd> {
        if self.filter.editing {
            if self.filter.on_key(&key) == FilterEdit::Changed {
                self.refilter = true;
            }
            return Vec::new();
        }
        let Some(action) = action else {
            return Vec::new();
        };
        if self.list.navigate(action) {
            return Vec::new();
        }
        match action {
            Action::Filter => self.filter.start(),
            Action::Back if self.detail => self.detail = false,
            Action::Back if !self.filter.text.is_empty() => {
                self.filter.text.clear();
                self.refilter = true;
            }
            Action::Open => self.detail = self.list.selected_key().is_some() && !self.detail,
            Action::Sort => {
                self.sort = self.sort.step();
                self.resort = true;
            }
            Action::ToggleScope => {
                self.all_staged = !self.all_staged;
                self.generation += 1;
                self.load = LoadState::Loading;
                return vec![Cmd::Status(StatusCmd::Scope {
                    all_staged: self.all_staged,
                    generation: self.generation,
                })];
            }
            Action::Refresh => {
                return vec![Cmd::Status(StatusCmd::Refresh {
                    generation: self.generation,
                })];
            }
            _ => {}
        }
        Vec::new()
    }

    pub fn on_paste(&mut self, text: &str) {
        if self.filter.paste(text) {
            self.refilter = true;
        }
    }

    pub fn on_msg(&mut self, msg: StatusMsg) -> Vec<Cmd> {
        match msg {
            // Keep "updated N s ago" while a later poll runs.
            StatusMsg::Loading { generation }
                if generation >= self.generation
                    && !matches!(self.load, LoadState::Ready { .. }) =>
            {
                self.load = LoadState::Loading;
            }
            StatusMsg::Snapshot {
                generation,
                at,
                rows,
            } if generation >= self.generation => {
                self.generation = generation;
                self.rows = rows;
                self.load = LoadState::Ready { at };
                self.last_ready = Some(at);
                self.counts = [0; 8];
                self.stuck = 0;
                for r in &self.rows {
                    self.counts[r.stage.index()] += 1;
                    self.stuck += usize::from(r.flags.stuck);
                }
                self.resort = true;
            }
            StatusMsg::Failed { generation, reason } if generation >= self.generation => {
                for r in &mut self.rows {
                    if !r.flags.stale {
                        SharedRow::make_mut(r).flags.stale = true;
                    }
                }
                self.load = LoadState::Failed(reason);
            }
            // A result for a scope or refresh the user has since replaced.
            _ => {}
        }
        Vec::new()
    }

    /// Recomputes sort order and the visible rows once per drained batch.
    pub fn settle(&mut self) {
        if self.resort {
            let sort = self.sort;
            self.rows.sort_by(|a, b| sort.compare(a, b));
        }
        if self.resort || self.refilter {
            let keys = self.rows.iter().map(|r| r.serial.to_string()).collect();
            let rows = &self.rows;
            let filter = &self.filter;
            let facets = &self.facets;
            self.list.set_rows(keys, |i| {
                row_matches(filter, &rows[i]) && facets.matches(&rows[i])
            });
            if self.list.is_empty() {
                self.detail = false;
            }
        }
        self.resort = false;
        self.refilter = false;
    }

    /// The visible rows must be recomputed (a filter changed).
    pub fn refilter(&mut self) {
        self.refilter = true;
    }

    pub fn selected(&self) -> Option<&DeviceStatus> {
        self.list
            .selected_index()
            .and_then(|i| self.rows.get(i))
            .map(|r| &**r)
    }

    /// The stage the status feed last reported for a serial (any scope).
    pub fn stage_of(&self, serial: &str) -> Option<Stage> {
        self.rows
            .iter()
            .find(|r| r.serial.eq_ignore_ascii_case(serial))
            .map(|r| r.stage)
    }

    /// Where the Autopilot registration of a device queued from a hash file stands, as its status
    /// row says until the device enrolls ("importing to Autopilot", "waiting for profile
    /// assignment: 6 min", "Autopilot profile assigned (…)").
    pub fn autopilot_line(&self, serial: &str) -> Option<&str> {
        self.rows
            .iter()
            .find(|r| r.serial.eq_ignore_ascii_case(serial))
            .filter(|r| r.raw.autopilot().is_some() && r.managed_device_id.is_none())
            .map(|r| &*r.message)
    }

    pub fn count(&self, stage: Stage) -> usize {
        self.counts[stage.index()]
    }
}

fn row_matches(filter: &FilterInput, r: &DeviceStatus) -> bool {
    if filter.text.is_empty() {
        return true;
    }
    let flags = r.flags.names().join(" ");
    filter.matches([
        &r.serial,
        r.device_name.as_deref().unwrap_or(""),
        r.stage.label(),
        r.enrolled_by.as_deref().unwrap_or(""),
        r.primary_user.as_deref().unwrap_or(""),
        r.compliance.map(|c| c.as_graph()).unwrap_or(""),
        &r.message,
        flags.as_str(),
    ])
}

#[cfg(test)]
pub(crate) mod tests;
