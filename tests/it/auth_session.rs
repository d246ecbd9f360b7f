//! The live session: in-memory access token, refresh ahead of expiry, single flight, rotation
//! persisted at once (keyring mock store), 401 handling, revocation and claims challenges.

use crate::auth_support;

use std::sync::Arc;
use std::time::Duration;

use crate::auth_support::{APP_SECRET, Fake, USER};
use keyring_core::mock;
use stagehand::app::SessionState;
use stagehand::auth::client_credentials::AppCredential;
use stagehand::auth::store::{SecretKind, key};
use stagehand::auth::{AuthError, CredentialCache, Role, Session, TokenProvider, device_code};
use stagehand::secret::Secret;

/// Signs in with device code against the fake and returns a delegated session that persists to
/// a mock credential store.
async fn signed_in(fake: &Fake) -> (Session, CredentialCache, String) {
    let ep = fake.endpoint();
    let prompt = device_code::start(&ep, &Role::Technician.scope_param())
        .await
        .unwrap();
    let no_wait = |_| Box::pin(async {}) as futures::future::BoxFuture<'static, ()>;
    let t = device_code::poll(&ep, &prompt, &no_wait).await.unwrap();
    let cache = CredentialCache::with_store(mock::Store::new().unwrap());
    let k = key(ep.tenant(), ep.client_id(), USER, SecretKind::RefreshToken);
    let rt = t.refresh_token.clone().unwrap();
    cache.save(&k, &rt).unwrap();
    let s = Session::delegated(
        ep,
        Role::Technician.scope_param(),
        USER.into(),
        rt,
        Some(t),
        Some((cache.clone(), k.clone())),
    );
    (s, cache, k)
}

#[tokio::test]
async fn cached_token_is_reused_until_the_margin_then_refreshed_and_rotation_persisted() {
    let fake = Fake::start().await;
    let (s, cache, k) = signed_in(&fake).await;
    let first = s.access_token(None).await.unwrap();
    assert_eq!(s.access_token(None).await.unwrap(), first);
    assert_eq!(fake.count("refresh_token"), 0);

    // A margin longer than the lifetime means "about to expire": refresh now.
    let stored_before = cache.load(&k).unwrap().unwrap();
    let s = s.with_margin(Duration::from_secs(4000));
    let second = s.access_token(None).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(fake.count("refresh_token"), 1);
    let stored_after = cache.load(&k).unwrap().unwrap();
    assert_ne!(
        stored_after, stored_before,
        "the rotated refresh token is persisted at once"
    );
    assert_eq!(
        fake.issued()
            .iter()
            .rfind(|v| v.starts_with("RT-"))
            .unwrap(),
        stored_after.expose()
    );
    assert_eq!(
        *s.watch().borrow(),
        SessionState::SignedIn {
            account: USER.into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_refresh() {
    let fake = Fake::start().await;
    let (s, _, _) = signed_in(&fake).await;
    let rejected = s.access_token(None).await.unwrap();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let s = s.clone();
        let r = rejected.clone();
        set.spawn(async move { s.access_token(Some(&r)).await.unwrap() });
    }
    let mut tokens = Vec::new();
    while let Some(r) = set.join_next().await {
        tokens.push(r.unwrap());
    }
    assert_eq!(
        fake.count("refresh_token"),
        1,
        "one refresh for 16 callers that saw a 401"
    );
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != rejected));
}

#[tokio::test]
async fn a_rejected_token_is_never_handed_out_again() {
    let fake = Fake::start().await;
    let (s, _, _) = signed_in(&fake).await;
    let t1 = s.access_token(None).await.unwrap();
    let t2 = s.access_token(Some(&t1)).await.unwrap();
    assert_ne!(t1, t2);
    assert_eq!(fake.count("refresh_token"), 1);
    // Rejecting an older token does not force another refresh.
    assert_eq!(s.access_token(Some(&t1)).await.unwrap(), t2);
    assert_eq!(fake.count("refresh_token"), 1);
}

#[tokio::test]
async fn revoked_refresh_token_expires_the_session_and_says_why() {
    let fake = Fake::start().await;
    let (s, _, _) = signed_in(&fake).await;
    let mut watch = s.watch();
    let t = s.access_token(None).await.unwrap();
    fake.with(|st| st.revoke_all = true);
    let e = s.access_token(Some(&t)).await.unwrap_err();
    assert_eq!(
        e,
        AuthError::Expired {
            code: "invalid_grant".into()
        }
    );
    tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .unwrap()
        .unwrap();
    match &*watch.borrow() {
        SessionState::Expired { reason } => assert!(reason.contains("invalid_grant"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn claims_challenge_is_its_own_error() {
    let fake = Fake::start().await;
    let (s, _, _) = signed_in(&fake).await;
    let t = s.access_token(None).await.unwrap();
    fake.with(|st| st.claims_challenge = true);
    assert!(matches!(
        s.access_token(Some(&t)).await.unwrap_err(),
        AuthError::ClaimsChallenge { claims } if claims.contains("capolids")
    ));
    assert!(
        matches!(&*s.watch().borrow(), SessionState::Expired { reason } if reason.contains("Conditional Access"))
    );
}

#[tokio::test]
async fn app_session_fetches_on_first_use_and_after_a_401() {
    let fake = Fake::start().await;
    let s = Session::app(
        fake.endpoint(),
        AppCredential::Secret(Secret::new(APP_SECRET)),
    );
    assert!(s.expiry().await.is_none());
    let t1 = s.access_token(None).await.unwrap();
    assert_eq!(s.access_token(None).await.unwrap(), t1);
    let t2 = s.access_token(Some(&t1)).await.unwrap();
    assert_ne!(t1, t2);
    assert_eq!(fake.count("client_credentials"), 2);
    assert_eq!(s.account(), format!("app:{}", auth_support::CLIENT));
    let (_, lifetime) = s.expiry().await.unwrap();
    assert_eq!(lifetime, Duration::from_secs(3599));
}

#[tokio::test]
async fn debug_of_every_auth_type_hides_the_secrets() {
    let fake = Fake::start().await;
    let (s, cache, _) = signed_in(&fake).await;
    let _ = s.access_token(None).await.unwrap();
    let ep = fake.endpoint();
    let prompt = device_code::start(&ep, "openid").await.unwrap();
    let app = AppCredential::Secret(Secret::new(APP_SECRET));
    let p = std::path::Path::new("x.pem");
    let cert = stagehand::auth::client_credentials::CertificateCredential::from_pem(
        auth_support::TEST_CERT,
        p,
        auth_support::TEST_KEY,
        p,
    )
    .unwrap();
    let printed = format!(
        "{s:?} {cache:?} {prompt:?} {app:?} {cert:?} {:?} {:?}",
        stagehand::auth::pkce::Pkce::new(),
        Arc::new(ep)
    );
    let mut secrets = fake.issued();
    secrets.push(APP_SECRET.into());
    for v in &secrets {
        assert!(
            !printed.contains(v.as_str()),
            "{v} leaked in Debug: {printed}"
        );
    }
    assert!(!printed.contains("PRIVATE"));
}

#[tokio::test]
async fn the_console_hears_sign_in_state_changes() {
    let fake = Fake::start().await;
    let (s, _, _) = signed_in(&fake).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(stagehand::feeds::session::forward_state(
        s.watch(),
        tx,
        cancel.clone(),
    ));
    assert_eq!(
        recv(&mut rx).await,
        stagehand::app::Msg::Session(SessionState::SignedIn {
            account: USER.into()
        })
    );
    let t = s.access_token(None).await.unwrap();
    fake.with(|st| st.revoke_all = true);
    let _ = s.access_token(Some(&t)).await;
    match recv(&mut rx).await {
        stagehand::app::Msg::Session(SessionState::Expired { reason }) => {
            assert!(reason.contains("sign in again"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

async fn recv(rx: &mut tokio::sync::mpsc::Receiver<stagehand::app::Msg>) -> stagehand::app::Msg {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap()
}
