//! Shared by the review tests: the simulated tenant on 127.0.0.1:0, a Graph client pointed at it,
//! and direct reads to check the review against (not through the code under test).

#![allow(dead_code)]

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};
use stagehand::app::{App, Cmd, Msg};
use stagehand::auth::StaticToken;
use stagehand::config::Config;
use stagehand::graph::{Governor, GraphClient, RetryPolicy, Timeouts};
use stagehand::review::Person;
use stagehand::sim::{self, ALL_DELEGATED, Faults, SimHandle, SimOptions};
use tokio::sync::mpsc;

/// Feeds messages to the app until `done` holds, or fails after a timeout. Returns the `Cmd`s the
/// app answered with meanwhile.
pub async fn until(
    app: &mut App,
    rx: &mut mpsc::Receiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) -> Vec<Cmd> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut cmds = Vec::new();
    while !done(app) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(m)) => cmds.extend(app.update(m)),
            _ => panic!("timed out waiting for {what}"),
        }
    }
    cmds
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Cmd> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub const INTUNE_A: &str = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5";

pub struct Tenant {
    pub sim: SimHandle,
    pub client: GraphClient,
    http: reqwest::Client,
    token: String,
}

impl Tenant {
    pub async fn start(devices: usize) -> Self {
        Self::start_seeded(7, devices).await
    }

    pub async fn start_seeded(seed: u64, devices: usize) -> Self {
        Self::start_with(SimOptions {
            seed,
            devices,
            ..SimOptions::default()
        })
        .await
    }

    pub async fn start_with(opts: SimOptions) -> Self {
        let sim = sim::start(opts).await.expect("the simulator starts");
        let secret = sim.issue_token(ALL_DELEGATED, Duration::from_secs(3600));
        let token = secret.expose().to_string();
        let client = GraphClient::new(
            sim.base_url.clone(),
            Timeouts::default(),
            Arc::new(StaticToken(secret)),
            Arc::new(Governor::new(&[])),
        )
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        });
        Self {
            sim,
            client,
            http: reqwest::Client::new(),
            token,
        }
    }

    /// The simulator's staging accounts, as a config would list them.
    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.staging.accounts = SimOptions::default().staging_accounts;
        c
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.sim.base_url.join(path).unwrap())
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The device's primary user UPN from `/users`, read directly.
    pub async fn primary_upn(&self, device: &str) -> Option<String> {
        let (_, v) = self
            .get(&format!(
                "beta/deviceManagement/managedDevices/{device}/users"
            ))
            .await;
        v["value"][0]["userPrincipalName"]
            .as_str()
            .map(String::from)
    }

    /// A user with the properties the rules read; `None` on 404.
    pub async fn user(&self, id: &str) -> Option<Value> {
        let (status, v) = self
            .get(&format!(
                "v1.0/users/{id}?$select=id,userPrincipalName,displayName,accountEnabled,assignedPlans"
            ))
            .await;
        (status == 200).then_some(v)
    }

    /// Devices whose list row shows a staging UPN while `/users` names someone else.
    pub async fn stale_list_rows(&self, cfg: &Config) -> Vec<String> {
        let (_, list) = self
            .get("beta/deviceManagement/managedDevices?$select=id,userPrincipalName")
            .await;
        let mut out = Vec::new();
        for d in list["value"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap();
            let listed = d["userPrincipalName"].as_str().unwrap_or("");
            if cfg.staging.is_staging(listed)
                && let Some(now) = self.primary_upn(id).await
                && !cfg.staging.is_staging(&now)
            {
                out.push(id.to_string());
            }
        }
        out
    }

    async fn people(&self, keep: impl Fn(&Value) -> bool) -> Vec<Person> {
        let (users, _) = self.sim.users();
        let mut out = Vec::new();
        for (id, upn) in users {
            if upn.contains("staging") {
                continue;
            }
            if let Some(u) = self.user(&id).await
                && keep(&u)
            {
                out.push(Person {
                    id,
                    upn,
                    display_name: u["displayName"].as_str().unwrap_or("").into(),
                });
            }
        }
        out
    }

    pub async fn disabled_user(&self) -> Person {
        self.people(|u| u["accountEnabled"] == false)
            .await
            .remove(0)
    }

    /// An enabled, licensed employee.
    pub async fn some_employee(&self) -> Person {
        self.people(|u| {
            u["accountEnabled"] == true
                && u["assignedPlans"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["servicePlanId"] == INTUNE_A))
                && u["userPrincipalName"] != "lead@contoso.example"
        })
        .await
        .remove(0)
    }

    /// Changes a primary user directly (as an admin in the portal would) and lets it propagate.
    pub async fn set_primary_now(&self, device: &str, user: &str) {
        let r = self
            .http
            .post(
                self.sim
                    .base_url
                    .join(&format!(
                        "beta/deviceManagement/managedDevices/{device}/users/$ref"
                    ))
                    .unwrap(),
            )
            .bearer_auth(&self.token)
            .json(&json!({"@odata.id": format!("{}beta/users/{user}", self.sim.base_url)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
        self.sim.advance(Duration::from_secs(200));
    }

    fn ref_post_paths(&self) -> Vec<String> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/users/$ref"))
            .map(|r| r.path)
            .collect()
    }

    pub fn ref_posts(&self) -> usize {
        self.ref_post_paths().len()
    }

    /// Device ids of every `POST …/users/$ref` the simulator received.
    pub fn ref_post_devices(&self) -> Vec<String> {
        self.ref_post_paths()
            .iter()
            .filter_map(|p| {
                let rest = p.split("/managedDevices/").nth(1)?;
                Some(rest.split('/').next()?.to_string())
            })
            .collect()
    }
}

/// Answers "y" to the confirmation question and, at that moment, makes Graph fail every request
/// with 503: the plan was read while healthy, the writes meet a failing service.
pub struct FaultOnRead<'a> {
    pub sim: &'a SimHandle,
    pub answered: bool,
}

impl Read for FaultOnRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.answered {
            return Ok(0);
        }
        self.answered = true;
        self.sim.set_faults(Faults {
            error_5xx_rate: 1.0,
            ..Faults::default()
        });
        buf[..2].copy_from_slice(b"y\n");
        Ok(2)
    }
}

impl std::io::BufRead for FaultOnRead<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.answered {
            return Ok(&[]);
        }
        self.answered = true;
        self.sim.set_faults(Faults {
            error_5xx_rate: 1.0,
            ..Faults::default()
        });
        Ok(b"y\n")
    }

    fn consume(&mut self, _amt: usize) {}
}
