//! What a multi-line paste did: how many lines were queued, duplicates or refused, and every
//! refused line with its reason, for the summary on the feedback line and the F8 list.

/// What one scan or pasted line came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Queued,
    Duplicate,
    /// Refused, with the full reason.
    Refused(String),
    /// Nothing but whitespace.
    Empty,
}

/// A refused line of a paste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLine {
    /// 1-based line number in the pasted text.
    pub line: usize,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasteReport {
    pub queued: usize,
    pub duplicates: usize,
    pub refused: Vec<RefusedLine>,
    /// The header row that was skipped, if there was one.
    pub header: Option<String>,
}

impl PasteReport {
    pub fn record(&mut self, line: usize, text: &str, outcome: Outcome) {
        match outcome {
            Outcome::Queued => self.queued += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Refused(reason) => self.refused.push(RefusedLine {
                line,
                text: text.trim().to_string(),
                reason,
            }),
            Outcome::Empty => {}
        }
    }

    /// Serial lines (the header not counted).
    pub fn lines(&self) -> usize {
        self.queued + self.duplicates + self.refused.len()
    }

    /// "5 lines: 3 queued, 1 duplicate, 1 refused (line 3: '!' not allowed)".
    pub fn summary(&self) -> String {
        let n = self.lines();
        let mut s = format!(
            "{n} line{}: {} queued",
            if n == 1 { "" } else { "s" },
            self.queued
        );
        if self.duplicates > 0 {
            s.push_str(&format!(
                ", {} duplicate{}",
                self.duplicates,
                if self.duplicates == 1 { "" } else { "s" }
            ));
        }
        if let Some(first) = self.refused.first() {
            s.push_str(&format!(
                ", {} refused (line {}: {}",
                self.refused.len(),
                first.line,
                brief(&first.reason)
            ));
            if self.refused.len() > 1 {
                s.push_str("; F8 lists all");
            }
            s.push(')');
        }
        if self.header.is_some() {
            s.push_str("; header row skipped");
        }
        s
    }
}

/// The short form of a refusal for a one-line summary ("'!' not allowed", without the config
/// key); the full reason stays in the F8 list.
pub fn brief(reason: &str) -> String {
    if let Some(at) = reason.find(" at position ")
        && reason.ends_with("is not allowed")
    {
        let what = reason[..at]
            .strip_prefix("character ")
            .unwrap_or(&reason[..at]);
        return format!("{what} not allowed");
    }
    reason
        .split(" (serials.")
        .next()
        .unwrap_or(reason)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_as_the_technician_expects() {
        let mut r = PasteReport::default();
        r.record(2, "PF1", Outcome::Queued);
        r.record(
            3,
            "PF!",
            Outcome::Refused("character '!' at position 3 is not allowed".into()),
        );
        r.record(4, "PF2", Outcome::Queued);
        r.record(5, "PF1", Outcome::Duplicate);
        r.record(6, "PF3", Outcome::Queued);
        assert_eq!(
            r.summary(),
            "5 lines: 3 queued, 1 duplicate, 1 refused (line 3: '!' not allowed)"
        );
        r.header = Some("Serial Number".into());
        r.record(
            7,
            "AB",
            Outcome::Refused("too short: 2 characters, at least 4 (serials.min_length)".into()),
        );
        assert_eq!(
            r.summary(),
            "6 lines: 3 queued, 1 duplicate, 2 refused (line 3: '!' not allowed; F8 lists all); header row skipped"
        );
    }

    #[test]
    fn brief_keeps_the_fact() {
        assert_eq!(
            brief("a tab at position 3 is not allowed"),
            "a tab not allowed"
        );
        assert_eq!(
            brief("too short: 2 characters, at least 4 (serials.min_length)"),
            "too short: 2 characters, at least 4"
        );
        assert_eq!(
            brief("'0' is a placeholder, not a serial (serials.deny)"),
            "'0' is a placeholder, not a serial"
        );
    }
}
