//! Rate limits per resource family (docs/graph.md §11): a fixed window per family, 429 past the limit,
//! with a `Retry-After` that is sometimes whole seconds, sometimes fractional, sometimes missing.
//! Conditional Access allows 1 request/s and never sends `Retry-After`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleFamily {
    Devices,
    Enrollment,
    Reports,
    Identity,
    ConditionalAccess,
}

impl ThrottleFamily {
    /// (window, any requests per window, writes per window): the per-app numbers.
    fn limits(self) -> (Duration, u32, u32) {
        let w = Duration::from_secs(20);
        match self {
            ThrottleFamily::Devices => (w, 2000, 200),
            ThrottleFamily::Enrollment | ThrottleFamily::Reports => (w, 1000, 100),
            ThrottleFamily::Identity => (w, 3500, 3500),
            ThrottleFamily::ConditionalAccess => (Duration::from_secs(1), 1, 1),
        }
    }
}

#[derive(Debug)]
struct Window {
    start: Instant,
    any: u32,
    writes: u32,
    blocked_until: Option<Instant>,
    retry_after_given: bool,
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum ThrottleVerdict {
    Allow {
        violation: bool,
    },
    /// Answer 429; `retry_after` is the header value, if any.
    Throttle {
        retry_after: Option<String>,
        violation: bool,
    },
}

#[derive(Debug)]
pub struct Throttles {
    windows: HashMap<ThrottleFamily, Window>,
    /// Which Retry-After flavour the next 429 carries: the three take turns from a seeded
    /// start, so a client meets each within three throttles (a random pick took ~12).
    turn: u64,
}

impl Throttles {
    pub fn new(seed: u64) -> Self {
        Self {
            windows: HashMap::new(),
            turn: Rng::new(seed ^ 0x1111).range(0, 3),
        }
    }

    pub fn check(
        &mut self,
        fam: ThrottleFamily,
        write: bool,
        now: Instant,
        burst: Option<u32>,
    ) -> ThrottleVerdict {
        let (len, mut any_max, mut write_max) = fam.limits();
        if let (Some(b), false) = (burst, fam == ThrottleFamily::ConditionalAccess) {
            any_max = b;
            write_max = write_max.min(b);
        }
        let w = self.windows.entry(fam).or_insert(Window {
            start: now,
            any: 0,
            writes: 0,
            blocked_until: None,
            retry_after_given: false,
        });
        let mut violation = false;
        if let Some(until) = w.blocked_until {
            if now < until {
                violation = w.retry_after_given;
            } else {
                w.blocked_until = None;
                w.start = now;
                w.any = 0;
                w.writes = 0;
            }
        }
        if now.duration_since(w.start) >= len {
            w.start = now;
            w.any = 0;
            w.writes = 0;
        }
        let over =
            w.blocked_until.is_some() || w.any >= any_max || (write && w.writes >= write_max);
        if !over {
            w.any += 1;
            if write {
                w.writes += 1;
            }
            return ThrottleVerdict::Allow { violation };
        }
        let (retry_after, block) = if fam == ThrottleFamily::ConditionalAccess {
            (None, len.saturating_sub(now.duration_since(w.start)))
        } else {
            self.turn = (self.turn + 1) % 3;
            match self.turn {
                0 => (Some("1".to_string()), Duration::from_secs(1)),
                1 => (Some("1.5".to_string()), Duration::from_millis(1500)),
                _ => (None, Duration::from_secs(1)),
            }
        };
        w.blocked_until = Some(now + block);
        w.retry_after_given = retry_after.is_some();
        ThrottleVerdict::Throttle {
            retry_after,
            violation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_throttles_then_recovers_after_the_block() {
        let mut l = Throttles::new(1);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(
                l.check(ThrottleFamily::Devices, false, t0, Some(3)),
                ThrottleVerdict::Allow { violation: false }
            );
        }
        let ThrottleVerdict::Throttle {
            retry_after,
            violation,
        } = l.check(ThrottleFamily::Devices, false, t0, Some(3))
        else {
            panic!("expected 429")
        };
        assert!(!violation);
        // Another family is independent.
        assert!(matches!(
            l.check(ThrottleFamily::Identity, false, t0, Some(3)),
            ThrottleVerdict::Allow { .. }
        ));
        // Coming back too early is a violation only if a Retry-After was given.
        let early = l.check(
            ThrottleFamily::Devices,
            false,
            t0 + Duration::from_millis(100),
            Some(3),
        );
        assert_eq!(
            early,
            ThrottleVerdict::Throttle {
                retry_after: early_ra(&early),
                violation: retry_after.is_some()
            }
        );
        // After the block the family serves again.
        assert!(matches!(
            l.check(
                ThrottleFamily::Devices,
                false,
                t0 + Duration::from_secs(5),
                Some(3)
            ),
            ThrottleVerdict::Allow { violation: false }
        ));
    }

    fn early_ra(v: &ThrottleVerdict) -> Option<String> {
        match v {
            ThrottleVerdict::Throttle { retry_after, .. } => retry_after.clone(),
            ThrottleVerdict::Allow { .. } => None,
        }
    }

    #[test]
    fn all_three_retry_after_flavours_appear_and_ca_never_sends_one() {
        let mut l = Throttles::new(9);
        let mut seen = std::collections::HashSet::new();
        let mut t = Instant::now();
        for _ in 0..60 {
            l.check(ThrottleFamily::Enrollment, false, t, Some(1));
            if let ThrottleVerdict::Throttle { retry_after, .. } =
                l.check(ThrottleFamily::Enrollment, false, t, Some(1))
            {
                seen.insert(retry_after);
            }
            t += Duration::from_secs(3);
        }
        assert!(
            seen.contains(&Some("1".into()))
                && seen.contains(&Some("1.5".into()))
                && seen.contains(&None),
            "{seen:?}"
        );
        let t = Instant::now();
        assert!(matches!(
            l.check(ThrottleFamily::ConditionalAccess, false, t, None),
            ThrottleVerdict::Allow { .. }
        ));
        assert_eq!(
            l.check(ThrottleFamily::ConditionalAccess, false, t, None),
            ThrottleVerdict::Throttle {
                retry_after: None,
                violation: false
            }
        );
        assert!(matches!(
            l.check(
                ThrottleFamily::ConditionalAccess,
                false,
                t + Duration::from_millis(1100),
                None
            ),
            ThrottleVerdict::Allow { .. }
        ));
    }

    #[test]
    fn writes_have_their_own_lower_limit() {
        let mut l = Throttles::new(2);
        let t = Instant::now();
        for _ in 0..100 {
            assert!(matches!(
                l.check(ThrottleFamily::Enrollment, true, t, None),
                ThrottleVerdict::Allow { .. }
            ));
        }
        assert!(matches!(
            l.check(ThrottleFamily::Enrollment, true, t, None),
            ThrottleVerdict::Throttle { .. }
        ));
    }
}
