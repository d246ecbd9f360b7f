//! When to retry, and how long to wait.
//!
//! Graph asks callers to honour `Retry-After` on 429/503/504 and to back off exponentially when it
//! is missing (docs/graph.md §11). Unlike the Kiota handlers we never replay a request that may
//! already have been processed: each operation declares its [`RetrySafety`].

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

/// May this request be sent again after an ambiguous outcome?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySafety {
    /// Repeating it leaves the tenant in the same state (GET, DELETE, `$ref` replace, searches):
    /// retried on 429/503/504, on timeouts and on dropped connections.
    Idempotent,
    /// Repeating it could act twice (wipe, retire, sync, import, export-job create): retried only
    /// when Graph certainly did not process it — a 429, or a connection that was never made.
    NotIdempotent,
}

/// Bounds on retrying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts including the first (≥ 1).
    pub max_attempts: u32,
    /// First backoff when Graph gives no `Retry-After`; doubles per attempt.
    pub base_delay: Duration,
    /// Cap on a single backoff wait (a `Retry-After` is honoured up to `max_retry_after`).
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the error goes to the caller.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(180),
        }
    }
}

/// Statuses that mean "try again later".
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503 | 504)
}

/// Whether an answer with `status` may be retried for a request of this safety.
/// A 429 means the request was refused before processing, so even a wipe may be resent.
/// A 503/504 may arrive after the backend acted, so only idempotent requests repeat.
pub fn may_retry_status(safety: RetrySafety, status: StatusCode) -> bool {
    match safety {
        RetrySafety::Idempotent => is_retryable_status(status),
        RetrySafety::NotIdempotent => status == StatusCode::TOO_MANY_REQUESTS,
    }
}

/// Whether a transport failure may be retried: only idempotent requests, or a connect failure
/// (nothing was sent).
pub fn may_retry_transport(safety: RetrySafety, connect_failed: bool) -> bool {
    safety == RetrySafety::Idempotent || connect_failed
}

/// The longest `Retry-After` believed, in either form.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Parses `Retry-After`: integer seconds, fractional seconds (`2.128`) or an HTTP date.
/// A date in the past means "now". Negative, NaN or unparsable values give `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    // A duplicated header folded as "2, 2" counts once.
    let v = value.split(',').next().unwrap_or("").trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = v.parse().ok()?;
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let at: SystemTime = at.with_timezone(&chrono::Utc).into();
    // A date is held to the same day as a number of seconds.
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Exponential backoff with full jitter for the `attempt`-th retry (1-based): a random wait in
/// `[d/2, d]` where `d = base · 2^(attempt-1)`, capped at `max_delay`.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let d = exp.min(policy.max_delay);
    let half = d / 2;
    half + d.saturating_sub(half).mul_f64(jitter_unit())
}

/// A uniform-ish number in [0, 1) without a `rand` dependency.
fn jitter_unit() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_integer_fraction_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("2, 2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("1.2.3", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
    }

    proptest::proptest! {
        /// Any header value: no panic, and a wait of at most a day.
        #[test]
        fn retry_after_never_panics_and_is_bounded(v in "\\PC{0,40}|[0-9.,]{0,30}|[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,6} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT") {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            if let Some(d) = parse_retry_after(&v, now) {
                proptest::prop_assert!(d <= MAX_RETRY_AFTER);
            }
        }
    }

    #[test]
    fn backoff_grows_stays_within_bounds_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for attempt in 1..=8 {
            let d = (100u64 << (attempt - 1)).min(1000);
            for _ in 0..50 {
                let b = backoff(&p, attempt);
                assert!(
                    b >= Duration::from_millis(d / 2),
                    "attempt {attempt}: {b:?}"
                );
                assert!(b <= Duration::from_millis(d), "attempt {attempt}: {b:?}");
            }
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| backoff(&p, 4)).collect();
        assert!(samples.len() > 1, "jitter must vary the wait");
    }

    #[test]
    fn non_idempotent_requests_only_retry_when_certainly_unprocessed() {
        use RetrySafety::*;
        for s in [429, 503, 504] {
            assert!(may_retry_status(
                Idempotent,
                StatusCode::from_u16(s).unwrap()
            ));
        }
        assert!(!may_retry_status(
            Idempotent,
            StatusCode::INTERNAL_SERVER_ERROR
        ));
        assert!(may_retry_status(
            NotIdempotent,
            StatusCode::TOO_MANY_REQUESTS
        ));
        assert!(!may_retry_status(
            NotIdempotent,
            StatusCode::SERVICE_UNAVAILABLE
        ));
        assert!(!may_retry_status(
            NotIdempotent,
            StatusCode::GATEWAY_TIMEOUT
        ));
        assert!(may_retry_transport(NotIdempotent, true));
        assert!(!may_retry_transport(NotIdempotent, false));
        assert!(may_retry_transport(Idempotent, false));
    }
}
