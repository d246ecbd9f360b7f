//! How a review row reads as text: the same words on screen, in the confirmation and in an export.

use chrono::{DateTime, Utc};

use super::{ReviewRow, ReviewState};
use crate::export::{Table, time};
use crate::review::{ApplyState, Person, Verdict};

/// "Name <upn>", or the UPN alone when the directory has no name.
pub fn person_label(p: &Person) -> String {
    if p.display_name.is_empty() {
        p.upn.clone()
    } else {
        format!("{} <{}>", p.display_name, p.upn)
    }
}

pub fn short_time(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

/// The reason column: the apply state when there is one, else the verdict's reason and, for an
/// ambiguous row, its alternatives; a drifted approval says so first.
pub fn reason(row: &ReviewRow) -> String {
    if let Some(s) = &row.apply {
        return s.label();
    }
    if row.drifted {
        return super::DRIFTED.into();
    }
    let a = &row.candidate.assessment;
    match (&row.pick, row.target().1) {
        (Some(_), Verdict::Propose) => "picked by the lead".into(),
        (None, Verdict::Ambiguous) => {
            let alts: Vec<String> = a
                .alternatives
                .iter()
                .map(|(p, at)| format!("{} at {}", p.upn, short_time(*at)))
                .collect();
            format!("also signed in: {}", alts.join(", "))
        }
        (_, v) => v.reason(),
    }
}

/// Sort rank: what the lead can act on first (proposals), then what needs a decision, then what
/// waits, then what cannot be written; changes already confirmed last.
pub fn rank(row: &ReviewRow) -> u8 {
    if matches!(row.apply, Some(ApplyState::Confirmed { .. })) {
        return 4;
    }
    match row.target().1 {
        Verdict::Propose => 0,
        Verdict::Ambiguous => 1,
        Verdict::Waiting => 2,
        Verdict::Blocked(_) => 3,
    }
}

/// The export's columns: the pane's, with the change split into exact fields.
pub const COLUMNS: [&str; 10] = [
    "Device",
    "Serial",
    "Managed device id",
    "Primary user",
    "Proposed UPN",
    "Proposed name",
    "Signed in",
    "Verdict",
    "Reason",
    "Marked",
];

/// One export row.
pub fn export_row(row: &ReviewRow, marked: bool) -> Vec<String> {
    let d = &row.candidate.device;
    let a = &row.candidate.assessment;
    let who = row.target().0;
    vec![
        d.name.clone(),
        d.serial.clone(),
        d.id.clone(),
        a.current.upn.clone(),
        who.map(|p| p.upn.clone()).unwrap_or_default(),
        who.map(|p| p.display_name.clone()).unwrap_or_default(),
        time(a.last_logon),
        row.verdict_word().into(),
        reason(row),
        if marked { "yes" } else { "" }.into(),
    ]
}

impl ReviewState {
    /// The rows the lead sees now (the view shown, filter applied), in screen order.
    pub fn export(&self) -> Table {
        if self.view == super::ReviewView::Rejected {
            return self.export_rejected();
        }
        let rows = self
            .list
            .visible()
            .iter()
            .filter_map(|&i| self.rows.get(i))
            .map(|r| export_row(r, self.marks.contains(&r.candidate.device.id)))
            .collect();
        Table {
            name: "review",
            columns: COLUMNS.to_vec(),
            rows,
        }
    }

    fn export_rejected(&self) -> Table {
        let rows = self
            .rejected_list
            .visible()
            .iter()
            .filter_map(|&i| self.rejected_list.key_at(i))
            .filter_map(|id| Some((id, self.rejected.get(id)?)))
            .map(|(id, r)| {
                vec![
                    self.row(id)
                        .map(|x| x.candidate.device.name.clone())
                        .unwrap_or_default(),
                    r.serial.clone(),
                    id.clone(),
                    r.proposed_upn.clone().unwrap_or_default(),
                    r.by.clone().unwrap_or_default(),
                    time(r.at),
                ]
            })
            .collect();
        Table {
            name: "review-rejected",
            columns: vec![
                "Device",
                "Serial",
                "Managed device id",
                "Rejected proposal",
                "Rejected by",
                "Rejected at",
            ],
            rows,
        }
    }
}
