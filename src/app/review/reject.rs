//! Rejections in the pane: `r` hides the rows at once and asks the feed to remember them
//! (`ReviewCmd::Reject`); the feed answers whether they are durable (`RejectSaved`, a failure brings
//! the rows back) and hands over the remembered ones at start (`Remembered`). A rejection holds for
//! one fingerprint of the device's data: when new rows show other data it is dropped here and
//! forgotten on disk (`ReviewCmd::Forget`). `u` undoes this session's rejections, newest batch
//! first; the rejected view lifts any rejection in force. Both send `ReviewCmd::Lift`, which the
//! feed makes durable and audits (`LiftSaved`; a failure hides the rows again).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Lift, Reject, Rejected, ReviewCmd, ReviewModal, ReviewRow, ReviewState, ReviewView};
use crate::app::Cmd;
use crate::review::Rejection;

impl ReviewState {
    /// `r`: the cursor row at once (undo with `u`), or the visible marked rows after asking.
    pub(super) fn reject(&mut self) -> Vec<Cmd> {
        let t = self.targets();
        let ids: Vec<String> = t
            .ids
            .iter()
            .filter(|id| self.row(id).is_some_and(|r| !r.in_flight()))
            .cloned()
            .collect();
        if ids.is_empty() {
            self.notice = Some(if t.ids.is_empty() {
                self.nothing_to("reject", &t)
            } else {
                "nothing to reject: the change is being written".into()
            });
            return Vec::new();
        }
        if t.marked {
            self.modal = Some(ReviewModal::Reject {
                device_ids: ids,
                hidden: t.hidden,
                scroll: 0,
            });
            return Vec::new();
        }
        self.reject_rows(&ids)
    }

    /// Hides these rows and asks the feed to remember their rejection.
    pub(super) fn reject_rows(&mut self, ids: &[String]) -> Vec<Cmd> {
        let mut rejects = Vec::new();
        for id in ids {
            if let Some(r) = self.row(id).filter(|r| !r.in_flight()) {
                rejects.push(Reject {
                    device_id: id.clone(),
                    serial: r.candidate.device.serial.clone(),
                    fingerprint: r.fingerprint.clone(),
                    from_upn: r.candidate.assessment.current.upn.clone(),
                    proposed_upn: r.target().0.map(|p| p.upn.clone()),
                    verdict: r.verdict_word().into(),
                });
            }
            self.marks.remove(id);
        }
        for r in &rejects {
            self.rejected.insert(
                r.device_id.clone(),
                Rejected {
                    fingerprint: r.fingerprint.clone(),
                    serial: r.serial.clone(),
                    proposed_upn: r.proposed_upn.clone(),
                    by: None,
                    at: None,
                },
            );
        }
        self.settle();
        if rejects.is_empty() {
            return Vec::new();
        }
        self.undo
            .push(rejects.iter().map(|r| r.device_id.clone()).collect());
        self.notice = Some(format!("rejecting {} row(s)…", rejects.len()));
        vec![Cmd::Review(ReviewCmd::Reject(rejects))]
    }

    /// `u`: lifts this session's last batch of rejections still in force.
    pub(super) fn undo(&mut self) -> Vec<Cmd> {
        while let Some(batch) = self.undo.pop() {
            let ids: Vec<String> = batch
                .into_iter()
                .filter(|id| self.rejected.contains_key(id))
                .collect();
            if !ids.is_empty() {
                return self.lift(&ids, true);
            }
        }
        self.notice = Some("nothing to undo: no rejection made this session is in force".into());
        Vec::new()
    }

    /// `u` in the rejected view: asks before lifting the cursor row's rejection.
    pub(super) fn ask_lift(&mut self) {
        match self.rejected_list.selected_key() {
            Some(id) => {
                self.modal = Some(ReviewModal::Lift {
                    device_ids: vec![id.clone()],
                });
            }
            None => self.notice = Some("no rejection in view".into()),
        }
    }

    /// Shows these rows again and asks the feed to forget their rejections (audited).
    pub(super) fn lift(&mut self, ids: &[String], undo: bool) -> Vec<Cmd> {
        let mut lifts = Vec::new();
        for id in ids {
            let Some(rj) = self.rejected.remove(id) else {
                continue;
            };
            lifts.push(Lift {
                device_id: id.clone(),
                serial: rj.serial.clone(),
                fingerprint: rj.fingerprint.clone(),
                from_upn: self
                    .row(id)
                    .map(|r| r.candidate.assessment.current.upn.clone()),
                proposed_upn: rj.proposed_upn.clone(),
                rejected_by: rj.by.clone(),
            });
            self.lifting.insert(id.clone(), rj);
        }
        self.settle();
        if lifts.is_empty() {
            return Vec::new();
        }
        let what = if undo { "undoing" } else { "lifting" };
        self.notice = Some(format!("{what} {} rejection(s)…", lifts.len()));
        vec![Cmd::Review(ReviewCmd::Lift(lifts))]
    }

    pub(super) fn lift_saved(
        &mut self,
        device_ids: &[String],
        result: Result<(), String>,
        audit_error: Option<String>,
    ) {
        let back: Vec<(String, Rejected)> = device_ids
            .iter()
            .filter_map(|id| self.lifting.remove(id).map(|r| (id.clone(), r)))
            .collect();
        self.notice = Some(match (result, audit_error) {
            (Ok(()), None) => format!(
                "{} rejection(s) lifted: the row(s) are in review again",
                device_ids.len()
            ),
            (Ok(()), Some(e)) => format!("lifted, but the audit record was not written: {e}"),
            (Err(e), _) => {
                for (id, r) in back {
                    self.rejected.entry(id).or_insert(r);
                }
                self.settle();
                format!("the rejection(s) still hold: lifting was not saved: {e}")
            }
        });
    }

    pub(super) fn remember(&mut self, rejections: Vec<Rejection>) {
        for r in rejections {
            self.rejected.entry(r.device_id).or_insert(Rejected {
                fingerprint: r.fingerprint,
                serial: r.serial,
                proposed_upn: r.proposed_upn,
                by: Some(r.by),
                at: Some(r.at),
            });
        }
        self.settle();
    }

    pub(super) fn reject_saved(
        &mut self,
        device_ids: &[String],
        result: Result<(), String>,
        audit_error: Option<String>,
        by: String,
        at: DateTime<Utc>,
    ) {
        if result.is_ok() {
            for id in device_ids {
                if let Some(r) = self.rejected.get_mut(id) {
                    r.by = Some(by.clone());
                    r.at = Some(at);
                }
            }
            self.settle_rejected();
        }
        self.notice = Some(match (result, audit_error) {
            (Ok(()), None) => format!(
                "{} row(s) rejected: hidden until the device's data changes · u undoes",
                device_ids.len()
            ),
            (Ok(()), Some(e)) => format!("rejected, but the audit record was not written: {e}"),
            (Err(e), _) => {
                for id in device_ids {
                    self.rejected.remove(id);
                }
                self.settle();
                format!("rejection not saved, the row(s) are back: {e}")
            }
        });
    }

    /// Drops the rejections of rows whose data changed; returns them (device id, fingerprint).
    pub(super) fn drop_stale_rejections(&mut self) -> Vec<(String, String)> {
        let stale: Vec<(String, String)> = self
            .rows
            .iter()
            .filter_map(|r| {
                let id = &r.candidate.device.id;
                let rj = self.rejected.get(id)?;
                (rj.fingerprint != r.fingerprint).then(|| (id.clone(), rj.fingerprint.clone()))
            })
            .collect();
        for (id, _) in &stale {
            self.rejected.remove(id);
        }
        stale
    }

    /// Asks the feed to forget these rejections on disk, and says the rows are back.
    pub(super) fn forget(&mut self, stale: Vec<(String, String)>) -> Vec<Cmd> {
        if stale.is_empty() {
            return Vec::new();
        }
        self.notice = Some(format!(
            "{} rejected row(s) back: the device's data changed",
            stale.len()
        ));
        vec![Cmd::Review(ReviewCmd::Forget(stale))]
    }

    /// The rejected view's rows: newest rejection first, the filter applied.
    pub(super) fn settle_rejected(&mut self) {
        let mut keys: Vec<(&String, &Rejected)> = self.rejected.iter().collect();
        keys.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| a.0.cmp(b.0)));
        let names: BTreeMap<&str, &str> = self
            .rows
            .iter()
            .map(|r| {
                (
                    r.candidate.device.id.as_str(),
                    r.candidate.device.name.as_str(),
                )
            })
            .collect();
        let filter = &self.filter;
        let keep: Vec<bool> = keys
            .iter()
            .map(|(id, r)| {
                filter.matches([
                    names.get(id.as_str()).copied().unwrap_or(""),
                    r.serial.as_str(),
                    r.proposed_upn.as_deref().unwrap_or(""),
                    r.by.as_deref().unwrap_or(""),
                ])
            })
            .collect();
        let keys: Vec<String> = keys.into_iter().map(|(id, _)| id.clone()).collect();
        self.rejected_list.set_rows(keys, |i| keep[i]);
        if self.view == ReviewView::Rejected && self.rejected.is_empty() {
            self.view = ReviewView::Candidates;
        }
    }
}

pub(super) fn is_rejected(rejected: &BTreeMap<String, Rejected>, row: &ReviewRow) -> bool {
    rejected
        .get(&row.candidate.device.id)
        .is_some_and(|r| r.fingerprint == row.fingerprint)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{candidate, ch, loaded, review_app, t, visible_ids};
    use super::*;
    use crate::app::review::ReviewMsg;
    use crate::app::{App, Msg, Pane};
    use crate::config::Config;

    #[test]
    fn rejection_hides_the_row_until_the_devices_data_changes() {
        let mut a = review_app();
        let fp = a.review.row("dev-1").unwrap().fingerprint.clone();
        let cmds = ch(&mut a, 'r');
        assert_eq!(
            cmds,
            vec![Cmd::Review(ReviewCmd::Reject(vec![Reject {
                device_id: "dev-1".into(),
                serial: "5CG0001XYZ".into(),
                fingerprint: fp.clone(),
                from_upn: "stage@contoso.com".into(),
                proposed_upn: Some("ana.diaz@contoso.com".into()),
                verdict: "propose".into(),
            }]))]
        );
        assert_eq!(visible_ids(&a), ["dev-2", "dev-3", "dev-4"]);
        assert_eq!(a.review.hidden_count(), 1);
        a.update(Msg::Review(ReviewMsg::RejectSaved {
            device_ids: vec!["dev-1".into()],
            result: Ok(()),
            audit_error: None,
            by: "lead@contoso.com".into(),
            at: t(48),
        }));
        assert!(
            a.review
                .notice
                .as_deref()
                .unwrap()
                .contains("1 row(s) rejected")
        );
        // Same data again: still hidden, nothing to forget.
        assert!(a.update(Msg::Review(loaded(2))).is_empty());
        assert_eq!(visible_ids(&a), ["dev-2", "dev-3", "dev-4"]);
        // A new sign-in on dev-1 changes its fingerprint: proposed again, and forgotten on disk.
        let mut msg = loaded(3);
        if let ReviewMsg::Loaded { candidates, .. } = &mut msg {
            candidates[0] = candidate(1, &[("ana", 30), ("s1", 40), ("ana", 45)]);
        }
        let cmds = a.update(Msg::Review(msg));
        assert_eq!(
            cmds,
            vec![Cmd::Review(ReviewCmd::Forget(vec![("dev-1".into(), fp)]))]
        );
        assert_eq!(visible_ids(&a), ["dev-1", "dev-2", "dev-3", "dev-4"]);
        assert!(a.review.rejected.is_empty());
    }

    #[test]
    fn remembered_rejections_hide_rows_from_the_first_load() {
        let mut fresh = review_app();
        let fp = fresh.review.row("dev-2").unwrap().fingerprint.clone();
        let remembered = |fingerprint: String| crate::review::Rejection {
            device_id: "dev-2".into(),
            serial: "5CG0002XYZ".into(),
            fingerprint,
            proposed_upn: None,
            by: "lead@contoso.com".into(),
            at: t(40),
        };
        let mut a = App::new(Config::default(), t(48));
        a.focus = Pane::Review;
        a.update(Msg::Review(ReviewMsg::Remembered(vec![remembered(fp)])));
        assert!(a.update(Msg::Review(loaded(1))).is_empty());
        assert_eq!(visible_ids(&a), ["dev-1", "dev-3", "dev-4"]);
        // A rejection of other data is forgotten when the rows arrive.
        fresh.update(Msg::Review(ReviewMsg::Remembered(vec![remembered(
            "older".into(),
        )])));
        let cmds = fresh.update(Msg::Review(loaded(2)));
        assert_eq!(
            cmds,
            vec![Cmd::Review(ReviewCmd::Forget(vec![(
                "dev-2".into(),
                "older".into()
            )]))]
        );
        assert_eq!(visible_ids(&fresh), ["dev-1", "dev-2", "dev-3", "dev-4"]);
    }

    #[test]
    fn a_rejection_that_was_not_saved_brings_the_row_back() {
        let mut a = review_app();
        ch(&mut a, 'r');
        assert_eq!(visible_ids(&a), ["dev-2", "dev-3", "dev-4"]);
        a.update(Msg::Review(ReviewMsg::RejectSaved {
            device_ids: vec!["dev-1".into()],
            result: Err("review-rejections.jsonl: fsync: I/O error".into()),
            audit_error: None,
            by: "lead@contoso.com".into(),
            at: t(48),
        }));
        assert_eq!(visible_ids(&a), ["dev-1", "dev-2", "dev-3", "dev-4"]);
        let notice = a.review.notice.clone().unwrap();
        assert!(
            notice.contains("not saved") && notice.contains("fsync"),
            "{notice}"
        );
    }
}
