//! The review's result for one device: what the rules say (the [`Assessment`]) and every user a
//! lead may pick instead. The review pane (`app::review`) maps proposals into its rows; the
//! headless `stagehand review` prints them as plan rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::verdict::{
    Assessment, DeviceFacts, Person, Rules, SignIn, UserLookup, Verdict, assess, assess_pick,
};

/// A user the lead may pick for a device (a non-staging user from its sign-in history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub person: Person,
    pub at: DateTime<Utc>,
    /// What the user rules say about this user on this device (`propose` or `blocked`).
    pub verdict: Verdict,
}

/// One device whose primary user is a staging account, assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub device: DeviceFacts,
    pub assessment: Assessment,
    /// Every resolved non-staging user of the history, newest first, one entry per user.
    pub choices: Vec<Choice>,
}

/// Assesses one device from facts already read (`users` must hold its sign-ins); `None` when the
/// device is not a candidate (its primary user is not a staging account).
pub fn propose(
    device: DeviceFacts,
    primary: &Person,
    signins: &[SignIn],
    users: &BTreeMap<String, UserLookup>,
    rules: &Rules,
) -> Option<Proposal> {
    let assessment = assess(&device, Some(primary), signins, users, rules)?;
    let mut choices: Vec<Choice> = Vec::new();
    for h in assessment.history.iter().filter(|h| !h.staging) {
        if let Some(p) = &h.person
            && !choices.iter().any(|c| c.person.id == p.id)
        {
            choices.push(Choice {
                person: p.clone(),
                at: h.at,
                verdict: assess_pick(&device, &p.id, users, rules),
            });
        }
    }
    Some(Proposal {
        device,
        assessment,
        choices,
    })
}

#[cfg(test)]
mod tests {
    /// The domain does not know the pane: `review/` never imports the app layer (the pane maps a
    /// [`super::Proposal`] into its row).
    #[test]
    fn review_does_not_import_the_app() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/review");
        let mut seen = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            seen += 1;
            assert!(
                !text.contains(&["crate", "::app"].concat()),
                "{} names the app layer",
                p.display()
            );
        }
        assert!(seen > 5, "read {seen} files of {}", dir.display());
    }
}
