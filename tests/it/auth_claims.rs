//! Claims challenges against the fake token service: the client declares `cp1` on every claims
//! parameter; a Graph challenge (the documented `WWW-Authenticate` value) is first answered
//! silently with a refresh carrying the claims; when the token endpoint insists on the user, the
//! session is lost, the gate closes, and the console's sign-in asks for a device code with those
//! claims, after which the gate opens again.

use std::sync::Arc;
use std::time::Duration;

use crate::auth_support::{Fake, USER};
use base64::Engine as _;
use stagehand::app::Msg;
use stagehand::app::signin::{SignInCmd, SignInMsg};
use stagehand::auth::interactive::{self, Flow};
use stagehand::auth::live::LiveSession;
use stagehand::auth::{AuthError, Role, Session, TokenProvider, claims, device_code};
use stagehand::graph::Governor;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WANTED: &str = r#"{"access_token":{"capolids":{"essential":true,"values":["1"]}}}"#;

fn graph_challenge() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(WANTED);
    let header = format!(
        r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="{b64}""#
    );
    claims::from_www_authenticate(&header).expect("a claims challenge")
}

fn has_cp1(param: &Option<String>) -> bool {
    let Some(p) = param else { return false };
    let v: serde_json::Value = serde_json::from_str(p).unwrap();
    v["access_token"]["xms_cc"]["values"][0] == "cp1"
}

async fn signed_in(fake: &Fake) -> (Session, stagehand::secret::Secret) {
    let ep = fake.endpoint().with_capabilities(vec!["cp1".into()]);
    let scope = Role::Technician.scope_param();
    let prompt = device_code::start(&ep, &scope).await.unwrap();
    assert!(
        has_cp1(&fake.with(|s| s.devicecode_claims.clone())),
        "cp1 declared"
    );
    let no_wait = |_| Box::pin(async {}) as futures::future::BoxFuture<'static, ()>;
    let t = device_code::poll(&ep, &prompt, &no_wait).await.unwrap();
    let access = t.access_token.clone();
    let rt = t.refresh_token.clone().unwrap();
    (
        Session::delegated(ep, scope, USER.into(), rt, Some(t), None),
        access,
    )
}

#[tokio::test]
async fn a_graph_challenge_is_answered_silently_with_its_claims_and_cp1() {
    let fake = Fake::start().await;
    let (session, t1) = signed_in(&fake).await;
    fake.with(|s| {
        s.claims_challenge = true;
        s.claims_silent = true;
    });
    let t2 = session
        .claims_challenge(&t1, &graph_challenge())
        .await
        .unwrap();
    assert_ne!(t1, t2, "a new token");
    let sent = fake.with(|s| s.refresh_claims.clone());
    assert!(has_cp1(&sent), "{sent:?}");
    assert!(sent.unwrap().contains("capolids"));
    // A plain refresh (no claims) is refused by the same tenant: the claims made the difference.
    let e = session.access_token(Some(&t2)).await.unwrap_err();
    assert!(matches!(e, AuthError::ClaimsChallenge { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_only_the_user_can_answer_goes_through_the_modal_with_its_claims() {
    let fake = Fake::start().await;
    let (session, t1) = signed_in(&fake).await;
    let ep = session.endpoint().clone();
    let governor = Arc::new(Governor::new(&[]));
    let live = LiveSession::new(governor.clone(), Some(session));
    assert_eq!(governor.signed_out(), None);
    fake.with(|s| s.claims_challenge = true);

    let e = live
        .claims_challenge(&t1, &graph_challenge())
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::ClaimsChallenge { .. }), "{e:?}");
    let why = governor.signed_out().expect("the gate closed");
    assert!(why.contains("Conditional Access"), "{why}");
    assert!(live.pending_claims().unwrap().contains("capolids"));

    // The modal's attempt: a device code asked for with the claims (and cp1).
    fake.with(|s| s.claims_challenge = false);
    let data = tempfile::tempdir().unwrap();
    let flow = Flow {
        endpoint: ep,
        role: Role::Technician,
        data_dir: data.path().to_path_buf(),
        live: live.clone(),
        open_browser: false,
        store: Some(stagehand::auth::CredentialCache::with_store(
            keyring_core::mock::Store::new().unwrap(),
        )),
        // The answer carries an id token: Graph is never asked who signed in.
        graph_url: fake.login_url(),
    };
    let (cmds, cmd_rx) = mpsc::unbounded_channel();
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = interactive::spawn(flow, cmd_rx, tx, cancel.clone());
    cmds.send(SignInCmd::Start {
        generation: 7,
        browser: false,
    })
    .unwrap();
    let mut done = None;
    while done.is_none() {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Msg::SignIn(SignInMsg::Done { account, .. }))) => done = Some(account),
            Ok(Some(Msg::SignIn(SignInMsg::Failed { failure, .. }))) => panic!("{failure:?}"),
            Ok(Some(_)) => {}
            other => panic!("no answer: {other:?}"),
        }
    }
    assert_eq!(done.as_deref(), Some(USER));
    let sent = fake.with(|s| s.devicecode_claims.clone());
    assert!(has_cp1(&sent), "{sent:?}");
    assert!(sent.unwrap().contains("capolids"));
    assert_eq!(live.pending_claims(), None);
    assert_eq!(governor.signed_out(), None, "the gate opened again");
    assert!(live.access_token(None).await.is_ok());
    cancel.cancel();
    task.await.unwrap();
}
