//! Writing verdicts: plain text for people, `--json` for scripts; exit 1 when any check fails.

use std::io::Write;
use std::process::ExitCode;

use super::{CheckResult, Status, any_failed};

/// One block per check: `FAIL  check-id (subject)  title`, evidence, then the fix.
pub fn render_text(results: &[CheckResult]) -> String {
    let mut s = String::new();
    for r in results {
        let subject = r
            .subject
            .as_deref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default();
        s.push_str(&format!(
            "{}  {}{subject}  {}\n",
            r.status.label(),
            r.check,
            r.title
        ));
        for e in &r.evidence {
            s.push_str(&format!("      read: {e}\n"));
        }
        if let Some(f) = &r.fix {
            s.push_str(&format!("      fix:  {f}\n"));
        }
    }
    let count = |st: Status| results.iter().filter(|r| r.status == st).count();
    let na = count(Status::NotApplicable);
    s.push_str(&format!(
        "\n{} passed, {} warnings, {} failed{}\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        if na > 0 {
            format!(", {na} not applicable")
        } else {
            String::new()
        }
    ));
    s
}

/// A JSON array of `{check, subject?, title, status, evidence, fix}`.
pub fn render_json(results: &[CheckResult]) -> String {
    serde_json::to_string_pretty(results).expect("check results always serialize")
}

/// 1 when any check failed, else 0.
pub fn exit_code(results: &[CheckResult]) -> ExitCode {
    if any_failed(results) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints to stdout and returns the exit code.
pub fn print(results: &[CheckResult], json: bool) -> ExitCode {
    let text = if json {
        let mut j = render_json(results);
        j.push('\n');
        j
    } else {
        render_text(results)
    };
    let mut out = crate::text::TermWriter(std::io::stdout().lock());
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    exit_code(results)
}

#[cfg(test)]
mod tests {
    use super::super::{CheckResult, ids};
    use super::*;

    #[test]
    fn a_check_that_does_not_apply_is_shown_and_counted_but_fails_nothing() {
        let results = [
            CheckResult::new(ids::PERMISSIONS, "Permissions")
                .saw("ok")
                .pass(),
            CheckResult::new(ids::INTUNE_ROLE, "Intune role of the signed-in user")
                .not_applicable("not applicable to an app"),
        ];
        let text = render_text(&results);
        assert!(
            text.contains("N/A   intune-role  Intune role of the signed-in user"),
            "{text}"
        );
        assert!(text.contains("read: not applicable to an app"), "{text}");
        assert!(
            text.ends_with("1 passed, 0 warnings, 0 failed, 1 not applicable\n"),
            "{text}"
        );
        assert!(!any_failed(&results));
        let json: Vec<serde_json::Value> = serde_json::from_str(&render_json(&results)).unwrap();
        assert_eq!(json[1]["status"], "not_applicable");
        assert!(json[1]["fix"].is_null());
    }
}
