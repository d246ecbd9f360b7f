//! Waiting out propagation after a headless write: read back `GET managedDevices/{id}/users` with
//! backoff until every written change agrees or a bound passes (Intune/Entra can take minutes). A
//! change still not agreed at the bound stays "applied, not yet confirmed": it was written, so it
//! is never called failed here.

use std::time::Duration;

use tokio::time::Instant;

use super::apply::{ApplyJob, ApplyState};
use super::write::Writer;

/// The longest pause between two read-backs.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// The pauses between read-backs: a twentieth of the bound (within 200 ms..2 s), doubling up to
/// [`MAX_PAUSE`], never past the bound.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    deadline: Instant,
}

impl Backoff {
    pub fn new(start: Instant, bound: Duration) -> Self {
        Self {
            next: (bound / 20).clamp(Duration::from_millis(200), Duration::from_secs(2)),
            deadline: start + bound,
        }
    }

    /// The pause before the next read-back at `now`, or `None` once the bound has passed.
    pub fn pause(&mut self, now: Instant) -> Option<Duration> {
        let left = self.deadline.checked_duration_since(now)?;
        if left.is_zero() {
            return None;
        }
        let pause = self.next.min(left);
        self.next = (self.next * 2).min(MAX_PAUSE);
        Some(pause)
    }
}

/// Reads back until every `Confirming` job agrees or `bound` passes; one read-back pass at least
/// (`bound` zero = `--no-wait`). Jobs that agree become `Confirmed`; the rest stay `Confirming`.
/// Returns the read-back errors met on the way (they are retried until the bound).
pub async fn wait_confirmed(
    writer: &Writer,
    jobs: &mut [ApplyJob],
    bound: Duration,
) -> Vec<String> {
    let mut backoff = Backoff::new(Instant::now(), bound);
    let mut errors = Vec::new();
    loop {
        // The bound is ours, not the console's 10-minute give-up: no read-back fails a job here.
        if let Err(e) = writer.confirm(jobs, chrono::Utc::now(), None).await {
            tracing::warn!(error = %e, "read-back failed; trying again");
            errors.push(e.to_string());
        }
        let waiting = jobs
            .iter()
            .any(|j| matches!(j.state, ApplyState::Confirming { .. }));
        if !waiting {
            break;
        }
        match backoff.pause(Instant::now()) {
            Some(p) => tokio::time::sleep(p).await,
            None => break,
        }
    }
    errors
}

/// A duration as the command line writes it: `250ms`, `90s`, `10m`, `1h`, or bare seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let v = text.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 10m or 1h"))?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(n * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// The shortest exact form: `10m`, `90s`, `1h`, `1500ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".into(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_stops_at_the_bound() {
        let t0 = Instant::now();
        let mut b = Backoff::new(t0, Duration::from_secs(600));
        let pauses: Vec<u64> = (0..7).map(|_| b.pause(t0).unwrap().as_secs()).collect();
        assert_eq!(pauses, [2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            b.pause(t0 + Duration::from_secs(590)),
            Some(Duration::from_secs(10)),
            "never past the bound"
        );
        assert_eq!(b.pause(t0 + Duration::from_secs(600)), None);
        assert_eq!(b.pause(t0 + Duration::from_secs(601)), None);
    }

    #[test]
    fn short_bounds_start_with_short_pauses_and_zero_means_one_pass() {
        let t0 = Instant::now();
        let mut b = Backoff::new(t0, Duration::from_secs(1));
        assert_eq!(b.pause(t0), Some(Duration::from_millis(200)));
        assert_eq!(b.pause(t0), Some(Duration::from_millis(400)));
        let mut none = Backoff::new(t0, Duration::ZERO);
        assert_eq!(none.pause(t0), None);
    }

    #[test]
    fn durations_parse_and_print_back() {
        for (text, secs, back) in [
            ("10m", 600.0, "10m"),
            ("90s", 90.0, "90s"),
            ("1h", 3600.0, "1h"),
            ("45", 45.0, "45s"),
            ("1500ms", 1.5, "1500ms"),
            (" 0.5m ", 30.0, "30s"),
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.as_secs_f64(), secs, "{text}");
            assert_eq!(human(d), back, "{text}");
        }
        assert!(parse_duration("ten").unwrap_err().contains("\"ten\""));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit \"d\"")
        );
        assert!(
            parse_duration("99999999999999999999999h").is_err(),
            "no panic on overflow"
        );
    }
}
