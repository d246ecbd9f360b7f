//! Auth numbers: cached token hand-out, a 401 storm on one refresh, chunked keyring writes (mock
//! store), RS256 assertion signing, the console's signed-out gate; peak RSS. `cargo bench --bench auth`.

#[path = "../tests/it/auth_support/mod.rs"]
mod auth_support;

use std::time::{Duration, Instant};

use auth_support::{Fake, TEST_CERT, TEST_KEY, USER};
use stagehand::auth::client_credentials::CertificateCredential;
use stagehand::auth::live::LiveSession;
use stagehand::auth::store::{SecretKind, key};
use stagehand::auth::{CredentialCache, Role, Session, TokenProvider, device_code};
use stagehand::secret::Secret;

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn per(d: Duration, n: u32) -> String {
    format!("{:.2} µs/op", d.as_secs_f64() * 1e6 / f64::from(n))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = Fake::start().await;
    let ep = fake.endpoint();
    let prompt = device_code::start(&ep, &Role::Lead.scope_param())
        .await
        .unwrap();
    let no_wait = |_| Box::pin(async {}) as futures::future::BoxFuture<'static, ()>;
    let t = device_code::poll(&ep, &prompt, &no_wait).await.unwrap();
    let rt = t.refresh_token.clone().unwrap();
    let s = Session::delegated(ep, Role::Lead.scope_param(), USER.into(), rt, Some(t), None);

    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(s.access_token(None).await.unwrap());
    }
    println!(
        "cached access_token:            {}",
        per(start.elapsed(), n)
    );

    for callers in [100u32, 1000] {
        let rejected = s.access_token(None).await.unwrap();
        let before = fake.count("refresh_token");
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..callers {
            let (s, r) = (s.clone(), rejected.clone());
            set.spawn(async move { s.access_token(Some(&r)).await.unwrap() });
        }
        while set.join_next().await.is_some() {}
        println!(
            "401 storm, {callers:>4} callers:        {:.2} ms total, {} refresh(es)",
            start.elapsed().as_secs_f64() * 1e3,
            fake.count("refresh_token") - before
        );
    }

    let cache = CredentialCache::with_store(keyring_core::mock::Store::new().unwrap());
    let k = key("t", "c", USER, SecretKind::RefreshToken);
    let big = Secret::new("x".repeat(5000));
    let n = 2_000;
    let start = Instant::now();
    for _ in 0..n {
        cache.save(&k, &big).unwrap();
        std::hint::black_box(cache.load(&k).unwrap());
    }
    println!(
        "mock store save+load 5 KB (5 pieces): {}",
        per(start.elapsed(), n)
    );

    let p = std::path::Path::new("x.pem");
    let cert = CertificateCredential::from_pem(TEST_CERT, p, TEST_KEY, p).unwrap();
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(cert.assertion("client", "https://login/t/oauth2/v2.0/token"));
    }
    println!(
        "RS256 client assertion (2048-bit): {}",
        per(start.elapsed(), n)
    );
    // The console's LiveSession over the same session: the cost of the gate when it is open, and
    // how long a sign-in takes to release requests waiting at it.
    // A budget wide enough that only the gate holds the waiters (the documented 1,000 per 20 s
    // would pace 10,000 of them over 200 s).
    let wide = stagehand::graph::Limits {
        window: Duration::from_secs(20),
        any: 1_000_000,
        writes: 1_000_000,
    };
    let governor = std::sync::Arc::new(stagehand::graph::Governor::new(&[(
        stagehand::graph::Family::Identity,
        wide,
    )]));
    let live = LiveSession::new(governor.clone(), Some(s.clone()));
    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(live.access_token(None).await.unwrap());
    }
    println!(
        "LiveSession access_token (gate open): {}",
        per(start.elapsed(), n)
    );
    for waiters in [100u32, 10_000] {
        governor.sign_out("bench");
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..waiters {
            let g = governor.clone();
            set.spawn(async move {
                g.acquire(stagehand::graph::Family::Identity, false).await;
                Instant::now()
            });
        }
        tokio::task::yield_now().await;
        let start = Instant::now();
        governor.sign_in();
        let mut last = start;
        while let Some(t) = set.join_next().await {
            last = last.max(t.unwrap());
        }
        println!(
            "sign-in releases {waiters:>5} waiters:  {:.2} ms to the last one",
            (last - start).as_secs_f64() * 1e3
        );
    }
    println!(
        "peak RSS (VmHWM): {} KiB",
        vm_hwm_kb().map_or("?".into(), |v| v.to_string())
    );
}
