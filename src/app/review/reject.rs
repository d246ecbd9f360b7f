//! Rejections in the pane: `r` hides the rows at once and asks the feed to remember them
//! (`ReviewCmd::Reject`); the feed answers whether they are durable (`RejectSaved`, a failure brings
//! the rows back) and hands over the remembered ones at start (`Remembered`). A rejection holds for
//! one fingerprint of the device's data: when new rows show other data it is dropped here and
//! forgotten on disk (`ReviewCmd::Forget`).

use std::collections::BTreeMap;

use super::{Reject, ReviewCmd, ReviewRow, ReviewState};
use crate::app::Cmd;
use crate::review::Rejection;

impl ReviewState {
    pub(super) fn reject(&mut self) -> Vec<Cmd> {
        let targets: Vec<String> = self
            .targets()
            .into_iter()
            .filter(|id| self.row(id).is_some_and(|r| !r.in_flight()))
            .collect();
        let mut rejects = Vec::new();
        for id in &targets {
            if let Some(r) = self.row(id) {
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
            self.rejected
                .insert(r.device_id.clone(), r.fingerprint.clone());
        }
        self.settle();
        if rejects.is_empty() {
            return Vec::new();
        }
        self.notice = Some(format!("rejecting {} row(s)…", rejects.len()));
        vec![Cmd::Review(ReviewCmd::Reject(rejects))]
    }

    pub(super) fn remember(&mut self, rejections: Vec<Rejection>) {
        for r in rejections {
            self.rejected.entry(r.device_id).or_insert(r.fingerprint);
        }
        self.settle();
    }

    pub(super) fn reject_saved(
        &mut self,
        device_ids: &[String],
        result: Result<(), String>,
        audit_error: Option<String>,
    ) {
        self.notice = Some(match (result, audit_error) {
            (Ok(()), None) => format!(
                "{} row(s) rejected: hidden until the device's data changes",
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
                let fp = self.rejected.get(id)?;
                (*fp != r.fingerprint).then(|| (id.clone(), fp.clone()))
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
}

pub(super) fn is_rejected(rejected: &BTreeMap<String, String>, row: &ReviewRow) -> bool {
    rejected
        .get(&row.candidate.device.id)
        .is_some_and(|fp| *fp == row.fingerprint)
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
        }));
        assert_eq!(visible_ids(&a), ["dev-1", "dev-2", "dev-3", "dev-4"]);
        let notice = a.review.notice.clone().unwrap();
        assert!(
            notice.contains("not saved") && notice.contains("fsync"),
            "{notice}"
        );
    }
}
