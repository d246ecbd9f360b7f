//! `devices list`, `show` and `sync` against the simulated tenant.

use stagehand::commands::devices::{DemoRole, demo_session};
use stagehand::config::Config;
use stagehand::devices::{DeviceKey, DevicesError, Lifecycle, ListFilter, list, show, sync};
use stagehand::graph::GraphError;
use stagehand::graph::models::{ComplianceState, ManagementState};

fn config() -> Config {
    let mut c = Config::default();
    c.staging.accounts = stagehand::sim::SimOptions::default().staging_accounts;
    c
}

/// Rows compared by id: `lastSyncDateTime` moves with the simulated clock between two lists.
fn ids(rows: &[stagehand::devices::DeviceListRow]) -> Vec<String> {
    rows.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn list_filters_combine_and_the_user_filter_goes_to_graph() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let c = config();
    let all = list(&s.client, &c.staging, &ListFilter::default())
        .await
        .unwrap();
    assert!(all.len() > 20, "{}", all.len());
    // Every stage the seeded fleet holds shows up, and staging rows name a staging account.
    assert!(all.iter().any(|r| r.stage == Lifecycle::Staging));
    assert!(all.iter().any(|r| r.stage == Lifecycle::Assigned));
    for r in all.iter().filter(|r| r.stage == Lifecycle::Staging) {
        assert!(c.staging.is_staging(&r.user), "{r:?}");
    }

    // A handed-over user: user + stage + compliance together.
    let pick = all.iter().find(|r| r.stage == Lifecycle::Assigned).unwrap();
    let f = ListFilter {
        user: Some(pick.user.to_uppercase()),
        stage: Some(Lifecycle::Assigned),
        compliance: pick.compliance,
    };
    let got = list(&s.client, &c.staging, &f).await.unwrap();
    let want: Vec<_> = all
        .iter()
        .filter(|r| {
            r.user.eq_ignore_ascii_case(&pick.user)
                && r.stage == Lifecycle::Assigned
                && r.compliance == pick.compliance
        })
        .map(|r| r.id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(ids(&got), want);
    let queried = s.sim.as_ref().unwrap().requests().into_iter().any(|r| {
        r.query.as_deref().is_some_and(|q| {
            q.contains("userPrincipalName%20eq%20") || q.contains("userPrincipalName+eq+")
        })
    });
    assert!(queried, "the user filter was not sent to Graph");

    // Stage + compliance without a user.
    let f = ListFilter {
        user: None,
        stage: Some(Lifecycle::Staging),
        compliance: Some(ComplianceState::InGracePeriod),
    };
    let got = list(&s.client, &c.staging, &f).await.unwrap();
    let want: Vec<_> = all
        .iter()
        .filter(|r| {
            r.stage == Lifecycle::Staging && r.compliance == Some(ComplianceState::InGracePeriod)
        })
        .map(|r| r.id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(ids(&got), want);
    assert!(got.len() < all.len());

    // A user with no devices, and an empty user (Intune would return the whole fleet).
    let none = ListFilter {
        user: Some("nobody@contoso.example".into()),
        ..ListFilter::default()
    };
    assert!(list(&s.client, &c.staging, &none).await.unwrap().is_empty());
    let empty = ListFilter {
        user: Some("  ".into()),
        ..ListFilter::default()
    };
    assert!(matches!(
        list(&s.client, &c.staging, &empty).await,
        Err(GraphError::Invalid(_))
    ));
}

#[tokio::test]
async fn show_has_every_detail_by_serial_and_by_id() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let c = config();
    let all = list(&s.client, &c.staging, &ListFilter::default())
        .await
        .unwrap();
    let row = all.iter().find(|r| r.stage == Lifecycle::Assigned).unwrap();

    let d = show(&s.client, &DeviceKey::parse(&row.serial), true)
        .await
        .unwrap();
    assert_eq!(d.id, row.id);
    assert_eq!(d.serial, row.serial);
    assert_eq!(d.operating_system, "Windows");
    assert!(!d.os_version.is_empty());
    assert!(d.last_sync.is_some());
    assert!(d.compliance.is_some());
    // Primary user from /users; enrolled by the staging account.
    assert_eq!(d.primary_user.as_deref(), Some(row.user.as_str()));
    assert!(
        c.staging.is_staging(d.enrolled_by.as_deref().unwrap()),
        "{d:?}"
    );
    assert!(d.enrollment_profile.is_some());
    assert!(d.join_type.is_some());
    assert_eq!(d.management_state, Some(ManagementState::Managed));
    let ident = d
        .corporate_identifier
        .as_ref()
        .expect("seeded devices have identifiers");
    assert!(
        ident.identifier.ends_with(&format!(",{}", d.serial)),
        "{ident:?}"
    );
    assert_eq!(
        ident.enrollment_state.map(|s| s.as_graph()),
        Some("enrolled")
    );
    let dep = d
        .deployment
        .as_ref()
        .expect("an enrolled device has a deployment row");
    assert!(["succeeded", "failed", "in progress"].contains(&dep.status.as_str()));

    let json = serde_json::to_value(&d).unwrap();
    for key in [
        "os_version",
        "last_sync",
        "compliance",
        "primary_user",
        "enrolled_by",
        "enrollment_profile",
        "join_type",
        "management_state",
        "pending_actions",
        "corporate_identifier",
        "deployment",
    ] {
        assert!(json.get(key).is_some(), "json lacks {key}: {json}");
    }
    assert_eq!(json["join_type"], "azureADJoined");

    let by_id = show(&s.client, &DeviceKey::parse(&row.id), false)
        .await
        .unwrap();
    assert_eq!(by_id.serial, d.serial);
    assert!(by_id.deployment.is_none());

    // Two devices with one serial: show names neither.
    s.sim
        .as_ref()
        .unwrap()
        .duplicate_serial(&row.serial)
        .unwrap();
    let err = show(&s.client, &DeviceKey::parse(&row.serial), false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DevicesError::Graph(GraphError::Ambiguous { count: 2, .. })
        ),
        "{err}"
    );
    let err = show(&s.client, &DeviceKey::parse("NOSUCH999"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, DevicesError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn sync_asks_the_device_and_the_action_shows_as_pending() {
    let s = demo_session(7, DemoRole::Admin).await.unwrap();
    let c = config();
    let row = list(&s.client, &c.staging, &ListFilter::default())
        .await
        .unwrap()
        .remove(0);
    let d = sync(&s.client, &DeviceKey::parse(&row.serial))
        .await
        .unwrap();
    assert_eq!(d.id, row.id);
    let posts: Vec<String> = s
        .sim
        .as_ref()
        .unwrap()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        posts,
        vec![format!(
            "/beta/deviceManagement/managedDevices/{}/syncDevice",
            row.id
        )]
    );
    let detail = show(&s.client, &DeviceKey::Id(row.id.clone()), false)
        .await
        .unwrap();
    assert!(
        detail
            .pending_actions
            .iter()
            .any(|a| a.action == "syncDevice"),
        "{:?}",
        detail.pending_actions
    );
    // Sync is not destructive: a technician may ask too.
    let t = demo_session(7, DemoRole::Technician).await.unwrap();
    sync(&t.client, &DeviceKey::Id(row.id.clone()))
        .await
        .unwrap();
}
