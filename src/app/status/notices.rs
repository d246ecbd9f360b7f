//! Notices (ServiceNow incidents, work notes, Teams cards) as the console shows them: the
//! outcomes of the notifier's rounds (newest last) and the notices kept for retry. The notifier
//! runs in its own task and reports a [`NotifyMsg`] after each round; nothing here waits on it.

use chrono::{DateTime, Utc};

use crate::notify::deliver::{Outcome, Pending, Round};
use crate::notify::sent::Step;

/// How many outcomes the list keeps.
const KEPT: usize = 50;

/// One thing the notifier did, in words for the screen (raw: the view escapes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub text: String,
    /// Not delivered (kept for retry).
    pub bad: bool,
}

/// One notice kept for retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub serial: String,
    /// "failed: incident, evidence, Teams card" / "failed, recovered: work note".
    pub what: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// From the notifier task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyMsg {
    pub said: Vec<Said>,
    pub undelivered: Vec<Undelivered>,
}

fn serial_of(episode: &str) -> &str {
    episode.split(':').next().unwrap_or(episode)
}

fn step_name(s: Step) -> &'static str {
    match s {
        Step::Incident => "incident",
        Step::Attach => "evidence",
        Step::WorkNote => "work note",
        Step::Teams => "Teams card",
    }
}

impl From<Round> for NotifyMsg {
    fn from(r: Round) -> Self {
        let said = r
            .outcomes
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Sent { episode, what } => Some(Said {
                    text: format!("{}: {}", serial_of(&episode), sent_words(&what)),
                    bad: false,
                }),
                Outcome::Retry { episode, error, at } => Some(Said {
                    text: format!(
                        "{}: not delivered: {error}; next try {}",
                        serial_of(&episode),
                        at.format("%H:%M:%S")
                    ),
                    bad: true,
                }),
                Outcome::DryRun { .. } => None,
            })
            .collect();
        let undelivered = r
            .pending
            .into_iter()
            .map(|p: Pending| Undelivered {
                what: format!(
                    "{}{}: {}",
                    p.condition,
                    if p.recovered { ", recovered" } else { "" },
                    p.steps
                        .iter()
                        .map(|s| step_name(*s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                serial: p.serial,
                attempts: p.attempts,
                next_at: p.next_at,
                last_error: p.last_error,
            })
            .collect();
        NotifyMsg { said, undelivered }
    }
}

/// "incident INC0010001" → "incident INC0010001 opened"; the others read well as they are.
fn sent_words(what: &str) -> String {
    if what.starts_with("incident ") && !what.contains("found") {
        format!("{what} opened")
    } else if what.starts_with("Teams card") {
        "Teams card posted".into()
    } else if what.starts_with("work note") {
        format!("{what} added")
    } else if what.starts_with("evidence ") {
        format!("{what} attached")
    } else {
        what.to_string()
    }
}

/// The notices the Status pane shows.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    /// Newest last, at most [`KEPT`].
    pub said: Vec<(DateTime<Utc>, Said)>,
    pub undelivered: Vec<Undelivered>,
    /// The list is open over the table (the `n` key).
    pub open: bool,
    /// Whether the notifier reported at all (it runs only when `[notify]` names a destination).
    pub active: bool,
    /// How many of `said` the newest round that said anything added (the status bar shows them).
    last_round: usize,
}

impl Notices {
    pub fn on_msg(&mut self, m: NotifyMsg, now: DateTime<Utc>) {
        self.active = true;
        if !m.said.is_empty() {
            self.last_round = m.said.len();
        }
        self.said.extend(m.said.into_iter().map(|s| (now, s)));
        if self.said.len() > KEPT {
            let drop = self.said.len() - KEPT;
            self.said.drain(..drop);
        }
        self.undelivered = m.undelivered;
    }

    /// The status bar's part: the undelivered count, else the last thing sent.
    pub fn summary(&self) -> Option<(String, bool)> {
        if !self.undelivered.is_empty() {
            return Some((format!("{} undelivered (n)", self.undelivered.len()), true));
        }
        let n = self.last_round.min(self.said.len());
        let round = &self.said[self.said.len() - n..];
        if round.is_empty() {
            return None;
        }
        let text = round
            .iter()
            .map(|(_, s)| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" · ");
        Some((format!("{text} (n)"), round.iter().any(|(_, s)| s.bad)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_refused_then_accepted_incident_reads_as_undelivered_then_opened() {
        let mut n = Notices::default();
        assert_eq!(n.summary(), None);
        let pending = Pending {
            serial: "PF1".into(),
            condition: "failed",
            recovered: false,
            steps: vec![Step::Incident, Step::Attach, Step::Teams],
            attempts: 1,
            next_at: t("2026-11-22T09:00:30Z"),
            last_error: Some("ServiceNow answered 429".into()),
        };
        n.on_msg(
            Round {
                outcomes: vec![Outcome::Retry {
                    episode: "PF1:failed:2026-11-22T09:00:00Z".into(),
                    error: "ServiceNow answered 429".into(),
                    at: t("2026-11-22T09:00:30Z"),
                }],
                pending: vec![pending],
            }
            .into(),
            t("2026-11-22T09:00:00Z"),
        );
        assert_eq!(n.summary(), Some(("1 undelivered (n)".into(), true)));
        assert_eq!(
            n.undelivered[0].what,
            "failed: incident, evidence, Teams card"
        );
        assert!(
            n.said[0]
                .1
                .text
                .contains("not delivered: ServiceNow answered 429")
        );
        n.on_msg(
            Round {
                outcomes: vec![
                    Outcome::Sent {
                        episode: "PF1:failed:2026-11-22T09:00:00Z".into(),
                        what: "incident INC0010001".into(),
                    },
                    Outcome::Sent {
                        episode: "PF1:failed:2026-11-22T09:00:00Z".into(),
                        what: "Teams card".into(),
                    },
                ],
                pending: vec![],
            }
            .into(),
            t("2026-11-22T09:00:31Z"),
        );
        assert_eq!(
            n.said[1].1.text, "PF1: incident INC0010001 opened",
            "{:?}",
            n.said
        );
        assert_eq!(
            n.summary(),
            Some((
                "PF1: incident INC0010001 opened · PF1: Teams card posted (n)".into(),
                false
            ))
        );
        for i in 0..60 {
            n.on_msg(
                NotifyMsg {
                    said: vec![Said {
                        text: format!("{i}"),
                        bad: false,
                    }],
                    undelivered: vec![],
                },
                t("2026-11-22T09:01:00Z"),
            );
        }
        assert_eq!(n.said.len(), KEPT);
        assert_eq!(n.said.last().unwrap().1.text, "59");
    }
}
