//! Teams through a Workflows webhook ("When a Teams webhook request is received"): a message
//! envelope carrying one Adaptive Card. Any 2xx (the service answers 202) is success and is
//! never repeated; 429 waits. The URL is the credential: it is never logged or shown.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use super::servicenow::{SendError, retry_after, transport};
use crate::secret::Secret;

/// Teams' message size limit (28 KB); a longer card is cut down before sending.
pub const MAX_BYTES: usize = 28 * 1024;

/// One fact line of the card.
pub struct Fact<'a>(pub &'a str, pub &'a str);

/// The envelope: `{ type: message, attachments: [ { contentType: adaptive card, content } ] }`.
pub fn card(title: &str, summary: &str, facts: &[Fact<'_>], link: Option<(&str, &str)>) -> Value {
    let facts: Vec<Value> = facts
        .iter()
        .map(|Fact(t, v)| json!({ "title": t, "value": v }))
        .collect();
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [
            { "type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true },
            { "type": "TextBlock", "text": summary, "wrap": true },
            { "type": "FactSet", "facts": facts },
        ],
    });
    if let Some((label, url)) = link {
        content["actions"] = json!([{ "type": "Action.OpenUrl", "title": label, "url": url }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

/// Cuts the summary until the envelope fits Teams' limit.
pub fn fit(mut v: Value) -> Value {
    while serde_json::to_vec(&v).map_or(0, |b| b.len()) > MAX_BYTES {
        let t = &mut v["attachments"][0]["content"]["body"][1]["text"];
        let Some(s) = t.as_str() else { break };
        if s.len() < 64 {
            break;
        }
        let cut: String = s.chars().take(s.chars().count() / 2).collect();
        *t = json!(format!("{cut}…"));
    }
    v
}

pub struct TeamsClient {
    url: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for TeamsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TeamsClient { url: <secret> }")
    }
}

impl TeamsClient {
    /// `url` must be https (http only on loopback, for tests).
    pub fn new(url: Secret) -> anyhow::Result<Self> {
        if crate::config::check_url(url.expose(), "notify.teams webhook", None).is_err() {
            anyhow::bail!("the Teams webhook URL must be an https:// URL");
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("stagehand/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { url, http })
    }

    pub async fn post(&self, envelope: &Value) -> Result<(), SendError> {
        let body = serde_json::to_vec(&fit(envelope.clone())).unwrap_or_default();
        let resp = self
            .http
            .post(self.url.expose())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SendError::Throttled {
                retry_after: retry_after(resp.headers()),
            });
        }
        Err(SendError::Failed {
            message: format!("the Teams workflow answered {}", status.as_u16()),
            unclear: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_the_documented_shape_and_fits() {
        let v = card(
            "PF1 failed",
            &"x".repeat(100_000),
            &[Fact("Serial", "PF1")],
            Some(("Open INC0010002", "https://x.service-now.com/")),
        );
        let v = fit(v);
        assert!(serde_json::to_vec(&v).unwrap().len() <= MAX_BYTES);
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert!(a["contentUrl"].is_null());
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["actions"][0]["type"], "Action.OpenUrl");
    }
}
