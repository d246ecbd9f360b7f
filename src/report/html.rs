//! The page: plain HTML with inline CSS and inline SVG. No script, no external asset; the
//! Content-Security-Policy forbids loading anything, so a browser can show it offline and a
//! mail filter has nothing to fetch. Every text from outside is escaped.

use std::fmt::Write;

use super::svg::{self, colour};
use super::{DeviceLine, ReportData};
use crate::status::Stage;

/// HTML-escapes text (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted,.tick{color:#616161;fill:#616161;font-size:11px}
table{border-collapse:collapse}td,th{padding:4px 8px;border-bottom:1px solid #e0e0e0;text-align:left;vertical-align:top}
th{font-weight:600;background:#fafafa}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
.stage{font-weight:600}.flag{color:#b71c1c;font-size:12px;margin-left:4px}
.legend span{margin-right:12px;white-space:nowrap}
code{font-size:12px}";

/// The whole page.
pub fn render(d: &ReportData) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>stagehand report {}</title><style>{CSS}</style></head><body>",
        esc(&d.generated.format("%Y-%m-%d %H:%M UTC").to_string())
    );
    let attention = d.devices.iter().filter(|x| x.needs_attention()).count();
    let _ = write!(
        h,
        "<h1>Staging report</h1><p class=\"muted\">Tenant {} &middot; {} &middot; {} device(s), {} needing attention &middot; generated {}</p>",
        esc(if d.tenant.is_empty() {
            "(not configured)"
        } else {
            &d.tenant
        }),
        esc(&d.scope),
        d.devices.len(),
        attention,
        d.generated.format("%Y-%m-%d %H:%M:%S UTC")
    );

    // Counts per stage.
    let counts: Vec<(Stage, usize)> = Stage::ALL
        .iter()
        .map(|&s| (s, d.devices.iter().filter(|x| x.stage == s).count()))
        .collect();
    h.push_str("<h2 id=\"counts\">Devices per stage</h2><table><tr>");
    for (s, _) in &counts {
        let _ = write!(
            h,
            "<th><span class=\"sw\" style=\"background:{}\"></span>{}</th>",
            colour(*s),
            s.label()
        );
    }
    h.push_str("</tr><tr>");
    for (s, n) in &counts {
        let _ = write!(h, "<td data-stage=\"{}\">{n}</td>", s.label());
    }
    h.push_str("</tr></table>");
    h.push_str(&svg::counts_bar(&counts));

    // Failures.
    h.push_str("<h2 id=\"failures\">Failures</h2>");
    let failing: Vec<&DeviceLine> = d.devices.iter().filter(|x| x.needs_attention()).collect();
    if failing.is_empty() {
        h.push_str("<p>None: no device failed, is stuck or is noncompliant.</p>");
    } else {
        h.push_str("<table><tr><th>Serial</th><th>What</th><th>Code</th><th>Explanation</th><th>Evidence</th></tr>");
        for x in failing {
            let mut what = Vec::new();
            if x.stage == Stage::Failed {
                what.push("failed");
            }
            what.extend(x.flags.iter().filter(|f| **f != "stale"));
            let _ = write!(
                h,
                "<tr class=\"failure\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&x.serial),
                esc(&what.join(", ")),
                esc(x.explained.as_deref().or(x.code.as_deref()).unwrap_or("-")),
                esc(&x.message),
                evidence_link(x)
            );
        }
        h.push_str("</table>");
    }

    // Devices with their timelines.
    h.push_str("<h2 id=\"devices\">Devices</h2><p class=\"legend muted\">");
    for s in Stage::ALL {
        let _ = write!(
            h,
            "<span><span class=\"sw\" style=\"background:{}\"></span>{}</span>",
            colour(s),
            s.label()
        );
    }
    h.push_str("</p><table><tr><th>Serial</th><th>Device</th><th>Stage</th><th>Timeline (scan to owner)</th><th>Evidence</th></tr>");
    for x in &d.devices {
        let flags: String = x
            .flags
            .iter()
            .map(|f| format!("<span class=\"flag\">{}</span>", esc(f)))
            .collect();
        let _ = write!(
            h,
            "<tr class=\"device\" data-serial=\"{s}\"><td>{s}</td><td>{name}</td><td><span class=\"stage\" style=\"color:{c}\">{stage}</span>{flags}<br><span class=\"muted\">{msg}</span></td><td>{tl}</td><td>{ev}</td></tr>",
            s = esc(&x.serial),
            name = esc(x.device_name.as_deref().unwrap_or("-")),
            c = colour(x.stage),
            stage = x.stage.label(),
            msg = esc(&x.message),
            tl = svg::timeline(&x.milestones, d.generated),
            ev = evidence_link(x),
        );
    }
    h.push_str("</table><p class=\"muted\">Times are UTC. A timeline runs from the scan at the bench to now; each colour is a stage, hover a segment for its times.</p></body></html>\n");
    h
}

fn evidence_link(x: &DeviceLine) -> String {
    match &x.evidence {
        Some(href) => format!("<a href=\"{}\">bundle</a>", esc(href)),
        None => "<span class=\"muted\">none yet</span>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn outside_text_is_escaped_and_nothing_is_loaded() {
        let d = ReportData {
            tenant: "t".into(),
            generated: t("2026-11-22T10:00:00Z"),
            scope: "the whole queue".into(),
            devices: vec![DeviceLine {
                serial: "<img src=x onerror=alert(1)>".into(),
                device_name: Some("\"><script>x</script>".into()),
                stage: Stage::Failed,
                flags: vec![],
                message: "deployment failed & <b>".into(),
                code: Some("-2147023436".into()),
                explained: Some("-2147023436 (0x800705B4)".into()),
                since: t("2026-11-22T09:30:00Z"),
                milestones: vec![
                    (t("2026-11-22T09:00:00Z"), Stage::Queued),
                    (t("2026-11-22T09:30:00Z"), Stage::Failed),
                ],
                evidence: Some("ev/PF1-x/".into()),
            }],
        };
        let page = render(&d);
        assert!(
            !page.contains("<img") && !page.contains("<script"),
            "{page}"
        );
        assert!(page.contains("&lt;img src=x"));
        assert!(page.contains("0x800705B4"));
        assert!(page.contains("href=\"ev/PF1-x/\""));
        for bad in ["src=\"http", "href=\"http", "url(", "@import"] {
            assert!(!page.contains(bad), "{bad} in the page");
        }
        assert_eq!(page.matches("<tr class=\"failure\">").count(), 1);
    }
}
