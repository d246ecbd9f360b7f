//! One rate governor for the whole process, so every background task together stays inside the
//! tenant's per-app budget (docs/graph.md §11) and all of them pause together after a 429.
//!
//! Sliding windows per resource family count requests (a write counts against both the "any" and
//! the "writes" budget). A 429 anywhere pauses that family for everyone until its `Retry-After`.
//! The connection state is published on a `watch` channel for the console's status bar.
//! Time is `tokio::time`, so tests run with a paused clock and count grants instead of timing.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Graph throttling families that have separate budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `deviceManagement/managedDevices/**`: 2,000 any / 200 writes per 20 s per app.
    Devices,
    /// Other `deviceManagement/**` (identities, policies, reports, RBAC): 1,000 / 100 per 20 s
    /// (the family of `importedDeviceIdentity` is undocumented; the common Intune table is used).
    Enrollment,
    /// Users, groups, service principals: a resource-unit bucket upstream; a conservative
    /// 1,000 / 100 per 20 s here.
    Identity,
    /// `identity/conditionalAccess/**`: 1 request per second per tenant, and no `Retry-After`.
    ConditionalAccess,
}

impl Family {
    /// The family of a Graph path without its version prefix (`/deviceManagement/...`).
    pub fn of_path(path: &str) -> Family {
        let p = path.trim_start_matches('/').to_ascii_lowercase();
        if p.starts_with("devicemanagement/manageddevices") {
            Family::Devices
        } else if p.starts_with("devicemanagement") {
            Family::Enrollment
        } else if p.starts_with("identity/conditionalaccess") {
            Family::ConditionalAccess
        } else {
            Family::Identity
        }
    }
}

/// Request or write budget of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub window: Duration,
    /// Any request (reads and writes).
    pub any: usize,
    pub writes: usize,
}

impl Limits {
    /// The documented per-app budgets of each family.
    pub fn documented(family: Family) -> Limits {
        let w = Duration::from_secs(20);
        match family {
            Family::Devices => Limits {
                window: w,
                any: 2000,
                writes: 200,
            },
            Family::Enrollment | Family::Identity => Limits {
                window: w,
                any: 1000,
                writes: 100,
            },
            Family::ConditionalAccess => Limits {
                window: Duration::from_secs(1),
                any: 1,
                writes: 1,
            },
        }
    }
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphConn {
    Online,
    /// Throttled; requests resume at `until`.
    Throttled {
        until: Instant,
    },
    Offline(String),
    /// The sign-in was lost (revoked, expired, a claims challenge that needs the user): every
    /// request waits until a new session is installed.
    SignedOut(String),
}

#[derive(Debug, Default)]
struct FamilyState {
    any: VecDeque<Instant>,
    writes: VecDeque<Instant>,
    paused_until: Option<Instant>,
    granted: u64,
}

/// The process-wide governor. Cheap to share as `Arc<Governor>`.
#[derive(Debug)]
pub struct Governor {
    limits: HashMap<Family, Limits>,
    state: Mutex<HashMap<Family, FamilyState>>,
    conn: watch::Sender<GraphConn>,
    /// The signed-out gate: `Some(reason)` while no usable session exists.
    gate: watch::Sender<Option<String>>,
    /// Requests waiting at the gate right now (a positive signal for tests and the log).
    at_gate: AtomicUsize,
}

impl Governor {
    /// A governor with the given limits (families not listed get their documented ones).
    pub fn new(overrides: &[(Family, Limits)]) -> Governor {
        let mut limits: HashMap<Family, Limits> = [
            Family::Devices,
            Family::Enrollment,
            Family::Identity,
            Family::ConditionalAccess,
        ]
        .into_iter()
        .map(|f| (f, Limits::documented(f)))
        .collect();
        limits.extend(overrides.iter().copied());
        Governor {
            limits,
            state: Mutex::new(HashMap::new()),
            conn: watch::channel(GraphConn::Online).0,
            gate: watch::channel(None).0,
            at_gate: AtomicUsize::new(0),
        }
    }

    /// The one governor of this process, with the documented limits.
    pub fn global() -> Arc<Governor> {
        static GLOBAL: OnceLock<Arc<Governor>> = OnceLock::new();
        GLOBAL.get_or_init(|| Arc::new(Governor::new(&[]))).clone()
    }

    /// The connection state, for the status bar.
    pub fn subscribe(&self) -> watch::Receiver<GraphConn> {
        self.conn.subscribe()
    }

    /// Requests granted so far in `family` (for tests and the bench).
    pub fn granted(&self, family: Family) -> u64 {
        self.lock().get(&family).map_or(0, |s| s.granted)
    }

    /// Waits until `family` may send one more request (a write if `write`), then counts it.
    /// Also waits while the process is signed out (see [`Governor::sign_out`]).
    pub async fn acquire(&self, family: Family, write: bool) {
        loop {
            self.wait_signed_in().await;
            let wait_until = {
                let mut all = self.lock();
                let st = all.entry(family).or_default();
                let lim = self.limits[&family];
                let now = Instant::now();
                prune(&mut st.any, now, lim.window);
                prune(&mut st.writes, now, lim.window);
                if let Some(p) = st.paused_until.filter(|p| *p > now) {
                    p
                } else if st.any.len() >= lim.any {
                    st.any[0] + lim.window
                } else if write && st.writes.len() >= lim.writes {
                    st.writes[0] + lim.window
                } else {
                    st.any.push_back(now);
                    if write {
                        st.writes.push_back(now);
                    }
                    st.granted += 1;
                    return;
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Graph said 429 (or 503 with `Retry-After`): pause the whole family until `now + wait`.
    pub fn throttled(&self, family: Family, wait: Duration) {
        let now = Instant::now();
        let until = now.checked_add(wait).unwrap_or(now);
        let latest = {
            let mut all = self.lock();
            let st = all.entry(family).or_default();
            st.paused_until = Some(st.paused_until.map_or(until, |p| p.max(until)));
            all.values().filter_map(|s| s.paused_until).max()
        };
        tracing::warn!(
            ?family,
            wait_ms = wait.as_millis() as u64,
            "throttled: family paused"
        );
        if let Some(until) = latest
            && self.signed_out().is_none()
        {
            self.conn.send_replace(GraphConn::Throttled { until });
        }
    }

    /// A request got an answer: clear a lapsed throttle / offline state.
    pub fn answered(&self) {
        let now = Instant::now();
        let still_paused = self
            .lock()
            .values()
            .filter_map(|s| s.paused_until)
            .any(|p| p > now);
        if !still_paused && self.signed_out().is_none() {
            self.conn.send_if_modified(|c| {
                let changed = *c != GraphConn::Online;
                *c = GraphConn::Online;
                changed
            });
        }
    }

    /// Graph could not be reached at all.
    pub fn offline(&self, reason: &str) {
        if self.signed_out().is_none() {
            self.conn
                .send_replace(GraphConn::Offline(reason.to_string()));
        }
    }

    /// Closes the signed-out gate: from now on every [`Governor::acquire`] (every feed, every
    /// task of this process) waits until [`Governor::sign_in`]. Published as
    /// [`GraphConn::SignedOut`]. `reason` must not contain a secret (it is shown and logged).
    pub fn sign_out(&self, reason: &str) {
        self.gate.send_replace(Some(reason.to_string()));
        self.conn
            .send_replace(GraphConn::SignedOut(reason.to_string()));
        tracing::warn!(
            reason,
            "signed out: every Graph request waits for a new sign-in"
        );
    }

    /// Opens the gate after a new session was installed; waiting requests go out.
    pub fn sign_in(&self) {
        let was_closed = self.gate.send_replace(None).is_some();
        if was_closed {
            self.conn.send_replace(GraphConn::Online);
            tracing::info!("signed in: Graph requests resume");
        }
    }

    /// Why the process is signed out, if it is.
    pub fn signed_out(&self) -> Option<String> {
        self.gate.borrow().clone()
    }

    /// Returns once the gate is open (at once when it is).
    pub async fn wait_signed_in(&self) {
        let mut rx = self.gate.subscribe();
        if rx.borrow_and_update().is_none() {
            return;
        }
        // Counted while it waits, also when the waiting future is dropped.
        struct AtGate<'a>(&'a AtomicUsize);
        impl Drop for AtGate<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let waiting = self.at_gate.fetch_add(1, Ordering::SeqCst) + 1;
        let _counted = AtGate(&self.at_gate);
        tracing::info!(waiting, "a Graph request waits at the sign-in gate");
        // The sender lives in `self`, so `wait_for` cannot fail while we are borrowed.
        let _ = rx.wait_for(Option::is_none).await;
    }

    /// How many requests wait at the signed-out gate now.
    pub fn waiting_at_gate(&self) -> usize {
        self.at_gate.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Family, FamilyState>> {
        // A panic while holding this lock cannot leave the counters inconsistent in a way that
        // matters (worst case one request is miscounted), so recover from poisoning.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| *t + window <= now) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_families() {
        assert_eq!(
            Family::of_path("/deviceManagement/managedDevices/1/users/$ref"),
            Family::Devices
        );
        assert_eq!(
            Family::of_path("/deviceManagement/importedDeviceIdentities"),
            Family::Enrollment
        );
        assert_eq!(
            Family::of_path("/identity/conditionalAccess/policies"),
            Family::ConditionalAccess
        );
        assert_eq!(Family::of_path("/users/abc"), Family::Identity);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_beyond_the_window_budget_wait_for_the_window() {
        let g = Governor::new(&[(
            Family::Enrollment,
            Limits {
                window: Duration::from_secs(20),
                any: 1000,
                writes: 100,
            },
        )]);
        let start = Instant::now();
        for _ in 0..1000 {
            g.acquire(Family::Enrollment, false).await;
        }
        assert_eq!(Instant::now(), start, "the first 1,000 reads are free");
        g.acquire(Family::Enrollment, false).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
        assert_eq!(g.granted(Family::Enrollment), 1001);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_have_their_own_smaller_budget() {
        let g = Governor::new(&[]);
        let start = Instant::now();
        for _ in 0..200 {
            g.acquire(Family::Devices, true).await;
        }
        // Reads still flow while writes are exhausted.
        g.acquire(Family::Devices, false).await;
        assert_eq!(Instant::now(), start);
        g.acquire(Family::Devices, true).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn conditional_access_is_paced_one_per_second() {
        let g = Governor::new(&[]);
        let start = Instant::now();
        for _ in 0..4 {
            g.acquire(Family::ConditionalAccess, false).await;
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_the_family_for_every_task_and_is_published() {
        let g = Arc::new(Governor::new(&[]));
        let mut rx = g.subscribe();
        let start = Instant::now();
        g.throttled(Family::Devices, Duration::from_secs(3));
        assert_eq!(
            *rx.borrow_and_update(),
            GraphConn::Throttled {
                until: start + Duration::from_secs(3)
            }
        );
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move {
                    g.acquire(Family::Devices, false).await;
                    Instant::now()
                })
            })
            .collect();
        // Another family is unaffected.
        g.acquire(Family::Identity, false).await;
        assert_eq!(Instant::now(), start);
        for t in tasks {
            assert!(t.await.unwrap() >= start + Duration::from_secs(3));
        }
        g.answered();
        assert_eq!(*rx.borrow_and_update(), GraphConn::Online);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_dropped_at_the_gate_is_no_longer_counted() {
        let g = Arc::new(Governor::new(&[]));
        assert_eq!(g.waiting_at_gate(), 0);
        g.wait_signed_in().await;
        assert_eq!(g.waiting_at_gate(), 0, "an open gate counts nobody");
        g.sign_out("expired");
        let g2 = g.clone();
        let waiter = tokio::spawn(async move { g2.acquire(Family::Devices, false).await });
        while g.waiting_at_gate() == 0 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(g.waiting_at_gate(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn signed_out_gate_holds_every_family_until_sign_in() {
        let g = Arc::new(Governor::new(&[]));
        let mut rx = g.subscribe();
        g.sign_out("refresh token revoked");
        assert_eq!(
            *rx.borrow_and_update(),
            GraphConn::SignedOut("refresh token revoked".into())
        );
        assert_eq!(g.signed_out().as_deref(), Some("refresh token revoked"));
        let tasks: Vec<_> = [Family::Devices, Family::Enrollment, Family::Identity]
            .into_iter()
            .map(|f| {
                let g = g.clone();
                tokio::spawn(async move { g.acquire(f, false).await })
            })
            .collect();
        // However long we wait, nothing is granted while signed out; all three wait at the gate.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(tasks.iter().all(|t| !t.is_finished()));
        assert_eq!(g.waiting_at_gate(), 3);
        assert_eq!(g.granted(Family::Devices) + g.granted(Family::Identity), 0);
        // A late answer or throttle from a request already in flight does not hide the state.
        g.answered();
        g.throttled(Family::Devices, Duration::from_secs(1));
        g.offline("connection refused");
        assert!(matches!(*rx.borrow_and_update(), GraphConn::SignedOut(_)));
        g.sign_in();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(g.waiting_at_gate(), 0);
        assert_eq!(g.granted(Family::Devices), 1);
        assert_eq!(g.granted(Family::Enrollment), 1);
        assert_eq!(*rx.borrow_and_update(), GraphConn::Online);
        assert_eq!(g.signed_out(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_gate_costs_nothing_and_sign_in_without_sign_out_changes_nothing() {
        let g = Governor::new(&[]);
        let mut rx = g.subscribe();
        g.throttled(Family::Devices, Duration::from_secs(5));
        rx.borrow_and_update();
        g.sign_in();
        assert!(!rx.has_changed().unwrap(), "the throttle state is kept");
        let start = Instant::now();
        g.acquire(Family::Identity, false).await;
        assert_eq!(Instant::now(), start);
    }
}
