//! The drawn parts of the report: a timeline per device and the stage-count bar, as inline SVG.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::html::esc;
use crate::status::Stage;

/// Fill colour of each stage (also the legend's).
pub fn colour(s: Stage) -> &'static str {
    match s {
        Stage::Queued => "#9e9e9e",
        Stage::Registered => "#78909c",
        Stage::Enrolled => "#1e88e5",
        Stage::Provisioning => "#fb8c00",
        Stage::Provisioned => "#00897b",
        Stage::Failed => "#d32f2f",
        Stage::InUse => "#8e24aa",
        Stage::Assigned => "#43a047",
    }
}

pub const WIDTH: f64 = 560.0;
const BAR_Y: f64 = 6.0;
const BAR_H: f64 = 16.0;
const HEIGHT: f64 = 40.0;
/// The narrowest a stage is drawn.
const MIN_SEGMENT: f64 = 10.0;

/// One device: a bar from its first milestone to `now`, one coloured segment per stage, each
/// with a tooltip, and the start and end times under it.
pub fn timeline(milestones: &[(DateTime<Utc>, Stage)], now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\">"
    );
    let Some(&(start, _)) = milestones.first() else {
        s.push_str("<text x=\"0\" y=\"18\" class=\"muted\">no times known yet</text></svg>");
        return s;
    };
    let end = milestones.last().map_or(now, |m| m.0).max(now);
    let span = (end - start).num_milliseconds().max(1) as f64;
    let x =
        |t: DateTime<Utc>| ((t - start).num_milliseconds().max(0) as f64 / span * WIDTH).min(WIDTH);
    let _ = write!(
        s,
        "<rect x=\"0\" y=\"{BAR_Y}\" width=\"{WIDTH}\" height=\"{BAR_H}\" fill=\"#eceff1\"/>"
    );
    for (i, &(t, stage)) in milestones.iter().enumerate() {
        let next = milestones.get(i + 1).map_or(end, |m| m.0);
        let (mut x0, x1) = (x(t), x(next));
        if i + 1 == milestones.len() {
            x0 = x0.min(WIDTH - MIN_SEGMENT);
        }
        // Every stage stays visible, however short (the current one may have begun just now).
        let w = (x1 - x0).max(MIN_SEGMENT).min(WIDTH - x0).max(0.0);
        let _ = write!(
            s,
            "<rect class=\"seg\" data-stage=\"{stage}\" x=\"{x0:.1}\" y=\"{BAR_Y}\" width=\"{w:.1}\" height=\"{BAR_H}\" fill=\"{fill}\"><title>{label}: {from} to {to} ({dur})</title></rect>",
            stage = stage.label(),
            fill = colour(stage),
            label = esc(stage.label()),
            from = t.format("%H:%M:%S"),
            to = next.format("%H:%M:%S"),
            dur = short(next - t),
        );
    }
    let _ = write!(
        s,
        "<text x=\"0\" y=\"36\" class=\"tick\">{}</text><text x=\"{WIDTH}\" y=\"36\" text-anchor=\"end\" class=\"tick\">{} ({} in all)</text></svg>",
        start.format("%Y-%m-%d %H:%M UTC"),
        end.format("%H:%M UTC"),
        short(end - start)
    );
    s
}

/// The batch as one stacked bar, a segment per stage with devices in it.
pub fn counts_bar(counts: &[(Stage, usize)]) -> String {
    let total: usize = counts.iter().map(|c| c.1).sum();
    let mut s = format!(
        "<svg class=\"counts\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"22\" viewBox=\"0 0 {WIDTH} 22\" role=\"img\">"
    );
    let mut x0 = 0.0;
    for &(stage, n) in counts.iter().filter(|c| c.1 > 0) {
        let w = n as f64 / total.max(1) as f64 * WIDTH;
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"2\" width=\"{w:.1}\" height=\"18\" fill=\"{}\"><title>{}: {n}</title></rect>",
            colour(stage),
            stage.label()
        );
        x0 += w;
    }
    s.push_str("</svg>");
    s
}

/// `4h 05m`, `12m 30s`, `45s`.
pub fn short(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m {sec:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_per_stage_in_order_and_within_the_bar() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        let m = [
            (t0, Stage::Queued),
            (t0 + chrono::Duration::minutes(5), Stage::Enrolled),
            (t0 + chrono::Duration::minutes(20), Stage::Failed),
        ];
        let svg = timeline(&m, t0 + chrono::Duration::minutes(40));
        assert_eq!(svg.matches("class=\"seg\"").count(), 3);
        let q = svg.find("data-stage=\"queued\"").unwrap();
        let f = svg.find("data-stage=\"failed\"").unwrap();
        assert!(q < f);
        assert!(svg.contains("x=\"280.0\""), "failed starts halfway: {svg}");
        assert!(svg.contains("40m 00s in all"), "{svg}");
        assert!(timeline(&[], t0).contains("no times known"));
    }
}
