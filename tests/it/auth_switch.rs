//! The record names whoever is signed in now. In-process, as the console wires it: a Graph client
//! on a `LiveSession`, the sign-in task driven by the modal's commands, the review and devices feeds
//! started after the first sign-in with the session's actor, and the store thread as the one audit
//! writer. Sign in as A, then as B through the sign-in modal, then reject a row and sync a device:
//! both audit records (and the rejection) name B, and A's refresh token left the keyring.

use std::sync::Arc;
use std::time::Duration;

use keyring_core::mock;
use stagehand::app::Msg;
use stagehand::app::SessionState;
use stagehand::app::devices::{DevicesCmd, DevicesMsg};
use stagehand::app::review::{Reject, ReviewCmd, ReviewMsg};
use stagehand::app::signin::{SignInCmd, SignInMsg};
use stagehand::auth::interactive::{self, Flow};
use stagehand::auth::live::LiveSession;
use stagehand::auth::store::{AccountRecord, SecretKind, key};
use stagehand::auth::{CredentialCache, Role, TokenEndpoint};
use stagehand::devices::DeviceKey;
use stagehand::feeds::review::{FeedTiming, REJECT_ACTION};
use stagehand::graph::{Governor, GraphClient, Timeouts};
use stagehand::review::fetch::Fetcher;
use stagehand::review::{Verdict, fingerprint, rejections};
use stagehand::sim::{SimHandle, SimOptions};
use stagehand::store::{AuditLog, AuditPhase};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(30);

async fn next(rx: &mut mpsc::Receiver<Msg>, what: &str, mut want: impl FnMut(&Msg) -> bool) -> Msg {
    loop {
        match tokio::time::timeout(LIMIT, rx.recv()).await {
            Ok(Some(m)) if want(&m) => return m,
            Ok(Some(_)) => {}
            other => panic!("no {what}: {other:?}"),
        }
    }
}

/// One attempt through the modal's commands, approved in the simulator as `user`.
async fn sign_in_as(
    sim: &SimHandle,
    cmds: &mpsc::UnboundedSender<SignInCmd>,
    rx: &mut mpsc::Receiver<Msg>,
    generation: u64,
    user: &str,
) -> String {
    cmds.send(SignInCmd::Start {
        generation,
        browser: false,
    })
    .unwrap();
    let code = match next(rx, "device code", |m| {
        matches!(m, Msg::SignIn(SignInMsg::Code { .. }))
    })
    .await
    {
        Msg::SignIn(SignInMsg::Code { user_code, .. }) => user_code,
        _ => unreachable!(),
    };
    assert!(sim.approve_device_code_as(&code, user), "{code} as {user}");
    match next(rx, "sign-in result", |m| {
        matches!(
            m,
            Msg::SignIn(SignInMsg::Done { .. } | SignInMsg::Failed { .. })
        )
    })
    .await
    {
        Msg::SignIn(SignInMsg::Done { account, .. }) => account,
        other => panic!("sign-in failed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_switching_account_every_audit_record_names_the_new_account() {
    let sim = stagehand::sim::start(SimOptions {
        devices: 24,
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
    let keyring = CredentialCache::with_store(mock::Store::new().unwrap());
    let flow = Flow {
        endpoint: TokenEndpoint::new(&sim.base_url, &sim.tenant_id(), &sim.client_id()).unwrap(),
        graph_url: sim.base_url.clone(),
        role: Role::Lead,
        data_dir: data.path().to_path_buf(),
        live: live.clone(),
        open_browser: false,
        store: Some(keyring.clone()),
    };
    let (signin, signin_rx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::channel(256);
    let cancel = CancellationToken::new();
    let task = interactive::spawn(flow, signin_rx, tx.clone(), cancel.clone());

    // A signs in; the feeds start now, as the console starts them at the first sign-in.
    let (_, a_upn) = sim.signed_in_user();
    let a = sign_in_as(&sim, &signin, &mut rx, 1, &a_upn).await;
    assert_eq!(a, a_upn);
    let a_record = AccountRecord::read(data.path()).unwrap().unwrap();
    let a_key = key(
        &a_record.tenant,
        &a_record.client_id,
        &a,
        SecretKind::RefreshToken,
    );
    assert!(keyring.load(&a_key).unwrap().is_some());

    let store = stagehand::store::open_headless(data.path()).unwrap();
    let actor = stagehand::feeds::session_actor(live.watch());
    let mut cfg = stagehand::config::Config::default();
    cfg.staging.accounts = SimOptions::default().staging_accounts;
    let reviews = stagehand::feeds::review::spawn_with(
        client.clone(),
        cfg.clone(),
        store.client().unwrap(),
        actor.clone(),
        tx.clone(),
        cancel.clone(),
        FeedTiming {
            poll: Duration::from_secs(3600),
            confirm_every: Duration::from_secs(3600),
        },
    );
    let devices = stagehand::feeds::devices::spawn(
        client.clone(),
        cfg.clone(),
        store.client().unwrap(),
        actor,
        tx.clone(),
        cancel.clone(),
    );

    // B signs in through the modal on the same console.
    let (users, _) = sim.users();
    let b_upn = users
        .iter()
        .map(|(_, upn)| upn.clone())
        .find(|upn| {
            *upn != a
                && !cfg
                    .staging
                    .accounts
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(upn))
        })
        .expect("another directory user");
    let b = sign_in_as(&sim, &signin, &mut rx, 2, &b_upn).await;
    assert_eq!(b, b_upn);
    assert_eq!(
        *live.watch().borrow(),
        SessionState::SignedIn { account: b.clone() }
    );
    assert!(
        keyring.load(&a_key).unwrap().is_none(),
        "A's refresh token left the keyring when B signed in"
    );

    // Reject a proposal and sync a device: both as B.
    let candidates = Fetcher::new(&client, &cfg).candidates().await.unwrap();
    let c = candidates
        .iter()
        .find(|c| c.assessment.verdict == Verdict::Propose)
        .expect("a propose row");
    let reject = Reject {
        device_id: c.device.id.clone(),
        serial: c.device.serial.clone(),
        fingerprint: fingerprint(&c.device.id, &c.assessment),
        from_upn: c.assessment.current.upn.clone(),
        proposed_upn: c.assessment.proposed.as_ref().map(|p| p.upn.clone()),
        verdict: "propose".into(),
    };
    reviews.send(ReviewCmd::Reject(vec![reject])).unwrap();
    match next(&mut rx, "the rejection saved", |m| {
        matches!(m, Msg::Review(ReviewMsg::RejectSaved { .. }))
    })
    .await
    {
        Msg::Review(ReviewMsg::RejectSaved {
            result,
            audit_error,
            ..
        }) => {
            assert_eq!(result, Ok(()));
            assert_eq!(audit_error, None);
        }
        _ => unreachable!(),
    }
    let synced = candidates[1].device.serial.clone();
    devices
        .send(DevicesCmd::Sync {
            serial: synced.clone(),
            key: DeviceKey::Serial(synced.clone()),
        })
        .unwrap();
    match next(&mut rx, "the sync", |m| {
        matches!(m, Msg::Devices(DevicesMsg::Synced { .. }))
    })
    .await
    {
        // B is a plain user here: the simulated tenant refuses B's sync (403), as Intune would.
        // Sent or refused, the attempt is audited as B.
        Msg::Devices(DevicesMsg::Synced { result, .. }) => {
            if let Err(e) = &result {
                assert!(e.contains("403"), "{e}");
            }
        }
        _ => unreachable!(),
    }

    let records = AuditLog::open(data.path())
        .unwrap()
        .read_all()
        .unwrap()
        .records;
    let rejected: Vec<_> = records
        .iter()
        .filter(|r| r.action == REJECT_ACTION)
        .collect();
    let syncs: Vec<_> = records.iter().filter(|r| r.action == "sync").collect();
    assert_eq!(rejected.len(), 1, "{records:?}");
    assert_eq!(syncs.len(), 2, "before and after: {records:?}");
    assert_eq!(syncs[0].phase, AuditPhase::Before);
    for r in rejected.iter().chain(&syncs) {
        assert_eq!(r.actor, b, "{r:?}");
    }
    let saved = rejections::load(data.path()).unwrap();
    assert_eq!(saved.iter().next().unwrap().by, b);
    let sync_posts = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/syncDevice"))
        .count();
    assert_eq!(sync_posts, 1, "one sync, asked once");

    cancel.cancel();
    task.await.unwrap();
    tokio::task::spawn_blocking(move || store.shutdown().unwrap())
        .await
        .unwrap();
    sim.shutdown().await;
}
