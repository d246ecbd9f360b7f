//! The console's sign-in machinery against the simulator, in-process: a Graph client built on a
//! `LiveSession` that starts signed out, the sign-in task driven by the same commands the modal
//! sends, and a poller standing in for a feed. Signed out, the poller issues no request; signed in
//! (device code approved through the simulator) requests flow; after the refresh token is revoked
//! the session is lost, the gate closes, requests stop (the count stays flat) and the state says
//! why; signing in again resumes them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyring_core::mock;
use reqwest::Method;
use stagehand::app::Msg;
use stagehand::app::SessionState;
use stagehand::app::signin::{SignInCmd, SignInMsg};
use stagehand::auth::interactive::{self, Flow};
use stagehand::auth::live::LiveSession;
use stagehand::auth::store::{AccountRecord, SecretKind, key};
use stagehand::auth::{CredentialCache, Role, TokenEndpoint};
use stagehand::graph::client::Request;
use stagehand::graph::odata::Query;
use stagehand::graph::{Governor, GraphClient, GraphConn, RetrySafety, Timeouts};
use stagehand::sim::{SimHandle, SimOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(30);

fn graph_requests(sim: &SimHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.starts_with("/beta/"))
        .count()
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_signin(rx: &mut mpsc::Receiver<Msg>) -> SignInMsg {
    loop {
        match tokio::time::timeout(LIMIT, rx.recv()).await {
            Ok(Some(Msg::SignIn(m))) => return m,
            Ok(Some(_)) => {}
            other => panic!("no sign-in message: {other:?}"),
        }
    }
}

/// Starts an attempt, approves its code in the simulator and returns the signed-in account.
async fn sign_in(
    sim: &SimHandle,
    cmds: &mpsc::UnboundedSender<SignInCmd>,
    rx: &mut mpsc::Receiver<Msg>,
    generation: u64,
) -> String {
    cmds.send(SignInCmd::Start {
        generation,
        browser: false,
    })
    .unwrap();
    let code = match next_signin(rx).await {
        SignInMsg::Code {
            generation: g,
            user_code,
            verification_uri,
            ..
        } => {
            assert_eq!(g, generation);
            assert!(
                verification_uri.ends_with("/devicelogin"),
                "{verification_uri}"
            );
            user_code
        }
        other => panic!("expected a code, got {other:?}"),
    };
    assert!(sim.approve_device_code(&code), "the simulator knows {code}");
    match next_signin(rx).await {
        SignInMsg::Done {
            generation: g,
            account,
            note,
        } => {
            assert_eq!(g, generation);
            assert_eq!(note, None, "kept in the (mock) credential store");
            account
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_loss_pauses_every_request_and_a_new_sign_in_resumes_them() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 3,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let governor = Arc::new(Governor::new(&[]));
    let live = LiveSession::new(governor.clone(), None);
    let mut session_state = live.watch();
    let mut conn = governor.subscribe();
    assert!(matches!(*conn.borrow_and_update(), GraphConn::SignedOut(_)));
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        live.clone(),
        governor.clone(),
    )
    .unwrap();
    let store = CredentialCache::with_store(mock::Store::new().unwrap());
    let flow = Flow {
        endpoint: TokenEndpoint::new(&sim.base_url, &sim.tenant_id(), &sim.client_id()).unwrap(),
        role: Role::Lead,
        data_dir: data.path().to_path_buf(),
        live: live.clone(),
        open_browser: false,
        store: Some(store.clone()),
        graph_url: sim.base_url.clone(),
    };
    let (cmds, cmd_rx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = interactive::spawn(flow, cmd_rx, tx, cancel.clone());

    // A feed: one request at a time, as fast as it is allowed to.
    let poller = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let url = client.beta("/deviceManagement/managedDevices", &Query::new().top(1));
                let _ = client
                    .execute(Request {
                        method: Method::GET,
                        url,
                        body: None,
                        safety: RetrySafety::Idempotent,
                    })
                    .await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    // Signed out from the start: the poller's first request waits at the gate; nothing went out.
    until("the poller at the gate", || governor.waiting_at_gate() == 1).await;
    assert_eq!(graph_requests(&sim), 0, "no request while signed out");

    let account = sign_in(&sim, &cmds, &mut rx, 1).await;
    assert_eq!(account, sim.signed_in_user().1);
    assert_eq!(
        *session_state.borrow_and_update(),
        SessionState::SignedIn {
            account: account.clone()
        }
    );
    until("requests after sign-in", || graph_requests(&sim) > 5).await;
    // The refresh token went to the credential store and the account record to the data dir.
    let record = AccountRecord::read(data.path()).unwrap().expect("a record");
    assert_eq!(record.account, account);
    assert_eq!(record.role.as_deref(), Some("lead"));
    let k = key(
        &record.tenant,
        &record.client_id,
        &account,
        SecretKind::RefreshToken,
    );
    assert!(store.load(&k).unwrap().is_some(), "refresh token stored");

    // The session is lost: refresh tokens revoked, access tokens expired.
    sim.revoke_refresh_tokens();
    sim.expire_access_tokens();
    until("the gate to close", || governor.signed_out().is_some()).await;
    let reason = governor.signed_out().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert!(
        matches!(&*session_state.borrow_and_update(), SessionState::Expired { reason } if reason.contains("invalid_grant"))
    );
    assert!(matches!(*conn.borrow_and_update(), GraphConn::SignedOut(_)));
    // The poller's next request reaches the gate and waits there: nothing more went out.
    until("the poller at the gate", || governor.waiting_at_gate() == 1).await;
    let flat = graph_requests(&sim);
    assert!(!poller.is_finished());

    // Sign in again: the same client and poller resume.
    sign_in(&sim, &cmds, &mut rx, 2).await;
    assert_eq!(governor.signed_out(), None);
    until("requests to resume", || graph_requests(&sim) > flat + 5).await;
    let last = sim.requests();
    assert_eq!(last.last().map(|r| r.status), Some(200));

    poller.abort();
    cancel.cancel();
    task.await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_code_is_reported_and_a_cancelled_attempt_stays_silent() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 0,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let governor = Arc::new(Governor::new(&[]));
    let live = LiveSession::new(governor.clone(), None);
    let flow = Flow {
        endpoint: TokenEndpoint::new(&sim.base_url, &sim.tenant_id(), &sim.client_id()).unwrap(),
        role: Role::Technician,
        data_dir: data.path().to_path_buf(),
        live: live.clone(),
        open_browser: false,
        store: Some(CredentialCache::with_store(mock::Store::new().unwrap())),
        graph_url: sim.base_url.clone(),
    };
    let (cmds, cmd_rx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = interactive::spawn(flow, cmd_rx, tx, cancel.clone());

    cmds.send(SignInCmd::Start {
        generation: 1,
        browser: false,
    })
    .unwrap();
    let SignInMsg::Code { user_code, .. } = next_signin(&mut rx).await else {
        panic!("expected a code")
    };
    assert!(sim.decline_device_code(&user_code));
    assert_eq!(
        next_signin(&mut rx).await,
        SignInMsg::Failed {
            generation: 1,
            failure: stagehand::app::signin::Failure::Declined
        }
    );

    // A cancelled attempt: its code is approved afterwards, but nothing signs in.
    cmds.send(SignInCmd::Start {
        generation: 2,
        browser: false,
    })
    .unwrap();
    let SignInMsg::Code { user_code, .. } = next_signin(&mut rx).await else {
        panic!("expected a code")
    };
    cmds.send(SignInCmd::Cancel).unwrap();
    sim.approve_device_code(&user_code);
    let approved = Instant::now();
    // A third attempt keeps polling the token endpoint once a second. Once it has polled twice
    // since the approval, a poller of the cancelled attempt would have polled too and got the
    // approved code's token: a positive signal that the cancelled one had its chance to report.
    cmds.send(SignInCmd::Start {
        generation: 3,
        browser: false,
    })
    .unwrap();
    assert!(matches!(
        next_signin(&mut rx).await,
        SignInMsg::Code { generation: 3, .. }
    ));
    until("two token polls after the approval", || {
        sim.requests()
            .iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token") && r.arrived_at > approved)
            .count()
            >= 2
    })
    .await;
    assert!(
        rx.try_recv().is_err(),
        "a cancelled attempt reports nothing"
    );
    assert!(live.current().is_none());
    assert!(governor.signed_out().is_some());

    cancel.cancel();
    task.await.unwrap();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_access_claims_challenge_pauses_until_an_interactive_sign_in() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 2,
        device_code_interval: Duration::from_secs(1),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let governor = Arc::new(Governor::new(&[]));
    let live = LiveSession::new(governor.clone(), None);
    let client = GraphClient::new(
        sim.base_url.clone(),
        Timeouts::default(),
        live.clone(),
        governor.clone(),
    )
    .unwrap();
    let flow = Flow {
        endpoint: TokenEndpoint::new(&sim.base_url, &sim.tenant_id(), &sim.client_id())
            .unwrap()
            .with_capabilities(vec!["cp1".into()]),
        role: Role::Lead,
        data_dir: data.path().to_path_buf(),
        live: live.clone(),
        open_browser: false,
        store: Some(CredentialCache::with_store(mock::Store::new().unwrap())),
        graph_url: sim.base_url.clone(),
    };
    let (cmds, cmd_rx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = interactive::spawn(flow, cmd_rx, tx, cancel.clone());
    sign_in(&sim, &cmds, &mut rx, 1).await;
    let get = || {
        let client = client.clone();
        async move {
            let url = client.beta("/deviceManagement/managedDevices", &Query::new().top(1));
            client
                .execute(Request {
                    method: Method::GET,
                    url,
                    body: None,
                    safety: RetrySafety::Idempotent,
                })
                .await
        }
    };
    get().await.unwrap();

    // Conditional Access now wants more: the refresh is answered with claims.
    sim.set_faults(stagehand::sim::Faults {
        claims_challenge: true,
        ..Default::default()
    });
    sim.expire_access_tokens();
    let e = get().await.unwrap_err().to_string();
    assert!(e.contains("Conditional Access"), "{e}");
    assert!(
        governor
            .signed_out()
            .is_some_and(|r| r.contains("Conditional Access"))
    );
    let wanted = live.pending_claims().expect("claims kept for the sign-in");
    assert!(wanted.contains("sim-ca-policy"), "{wanted}");
    // Requests wait at the gate instead of failing again and again.
    let before = graph_requests(&sim);
    let waiting = tokio::spawn(get());
    until("the request at the gate", || {
        governor.waiting_at_gate() == 1
    })
    .await;
    assert!(!waiting.is_finished());
    assert_eq!(graph_requests(&sim), before);

    // The user signs in (the policy is satisfied): the waiting request goes out and succeeds.
    sim.set_faults(stagehand::sim::Faults::default());
    sign_in(&sim, &cmds, &mut rx, 2).await;
    tokio::time::timeout(LIMIT, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.pending_claims(), None);
    assert_eq!(graph_requests(&sim), before + 1);
    cancel.cancel();
    task.await.unwrap();
    sim.shutdown().await;
}
