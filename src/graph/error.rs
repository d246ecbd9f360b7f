//! Typed Graph errors and the one function that maps an HTTP response to them.
//!
//! `Display` is the single line the user sees; the log gets the detail (status, code, request-id,
//! Intune's activity id). No variant ever carries a token.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::auth::AuthError;

/// Everything that can go wrong talking to Graph.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("throttled by Graph{}", wait_hint(*retry_after))]
    Throttled {
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    #[error("Graph refused the sign-in (401){}", rid(request_id))]
    Unauthorized { request_id: Option<String> },
    #[error("not allowed: {message} ({code}, 403){}", rid(request_id))]
    Forbidden {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("not found: {message} ({code}, 404){}", rid(request_id))]
    NotFound {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("Graph error {status}: {message} ({code}){}", rid(request_id))]
    Server {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("unexpected answer from {what}: {detail}{}", rid(request_id))]
    Decode {
        what: String,
        detail: String,
        request_id: Option<String>,
    },
    #[error("Graph could not be reached: {0}")]
    Transport(String),
    #[error("Graph did not answer in time ({0})")]
    Timeout(String),
    #[error("refused to follow a link to {origin}: not the configured Graph origin")]
    ForeignOrigin { origin: String },
    #[error("sign-in: {0}")]
    Auth(#[from] AuthError),
    #[error("expected at most one {what}, Graph returned {count}: acting on none")]
    Ambiguous { what: String, count: usize },
    #[error("report export {report} {state}")]
    Export { report: String, state: String },
    #[error("invalid request: {0}")]
    Invalid(String),
}

fn rid(id: &Option<String>) -> String {
    id.as_deref()
        .map(|r| format!(" [request-id {r}]"))
        .unwrap_or_default()
}

fn wait_hint(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!(", retry in {} s", d.as_secs_f64().ceil() as u64),
        None => String::new(),
    }
}

impl GraphError {
    /// The request-id Graph gave this failure, when it gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Throttled { request_id, .. }
            | Self::Unauthorized { request_id }
            | Self::Forbidden { request_id, .. }
            | Self::NotFound { request_id, .. }
            | Self::Server { request_id, .. }
            | Self::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether this means "try again later" rather than "Graph refused this": throttling, a
    /// server-side failure (5xx, 408), no answer at all, or a sign-in that may recover.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Server { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Throttled { .. } | Self::Transport(_) | Self::Timeout(_) => true,
            Self::Unauthorized { .. } | Self::Auth(_) => true,
            _ => false,
        }
    }

    /// Graph does not know the operation at all (an action or function absent from its metadata):
    /// 400 `BadRequest` "Resource not found for the segment '…'" (docs/graph.md §4.3). Means "not
    /// available here", never a fact about the tenant.
    pub fn is_unknown_operation(&self) -> bool {
        match self {
            Self::Server {
                status: 400,
                message,
                ..
            }
            | Self::NotFound { message, .. } => {
                message.starts_with("Resource not found for the segment")
            }
            _ => false,
        }
    }

    /// HTTP status, when the failure came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Throttled { .. } => Some(429),
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `{"error": {"code", "message", "innerError": {...}}}`: Graph's error envelope.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, alias = "innererror", rename = "innerError")]
    pub inner_error: Option<Box<InnerError>>,
}

/// What stagehand reads of Graph's `innerError` (it also carries `message`, `date` and
/// `client-request-id`, which nothing here uses).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct InnerError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, rename = "request-id")]
    pub request_id: Option<String>,
    #[serde(default, alias = "innererror", rename = "innerError")]
    pub inner_error: Option<Box<InnerError>>,
}

/// Intune's envelope that arrives as a JSON *string* inside `error.message`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct IntuneMessage {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    custom_api_error_phrase: Option<String>,
}

/// The parts of an error body worth showing: most specific code, readable message, request id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Reads an error body; tolerates non-JSON bodies and Intune's JSON-inside-`message`.
pub fn parse_error_body(body: &[u8]) -> ErrorDetail {
    let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) else {
        let text = String::from_utf8_lossy(body);
        return ErrorDetail {
            code: "unknown".into(),
            message: text
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string(),
            request_id: None,
        };
    };
    let mut code = env.error.code.clone().unwrap_or_else(|| "unknown".into());
    let mut request_id = None;
    let mut inner = env.error.inner_error.as_deref();
    while let Some(i) = inner {
        // The most specific code wins, but purely numeric echoes of the status do not.
        if let Some(c) = i
            .code
            .as_deref()
            .filter(|c| !c.chars().all(|ch| ch.is_ascii_digit()))
        {
            code = c.to_string();
        }
        request_id = request_id.or_else(|| i.request_id.clone());
        inner = i.inner_error.as_deref();
    }
    let raw = env.error.message.unwrap_or_default();
    let message = match serde_json::from_str::<IntuneMessage>(raw.trim()) {
        Ok(m) if m.message.is_some() => {
            let mut s = m.message.unwrap_or_default();
            if let Some(p) = m.custom_api_error_phrase.filter(|p| !p.is_empty()) {
                s = format!("{p}: {s}");
            }
            s
        }
        _ => raw,
    };
    ErrorDetail {
        code,
        message,
        request_id,
    }
}

/// Maps a non-success HTTP answer to a [`GraphError`]. `request_id` is the response's
/// `request-id` header (preferred over the body's copy); `retry_after` the parsed header.
pub fn map_status(
    status: StatusCode,
    body: &[u8],
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> GraphError {
    let d = parse_error_body(body);
    let request_id = request_id.or(d.request_id);
    match status.as_u16() {
        429 => GraphError::Throttled {
            retry_after,
            request_id,
        },
        401 => GraphError::Unauthorized { request_id },
        403 => GraphError::Forbidden {
            code: d.code,
            message: d.message,
            request_id,
        },
        404 => GraphError::NotFound {
            code: d.code,
            message: d.message,
            request_id,
        },
        s => GraphError::Server {
            status: s,
            code: d.code,
            message: d.message,
            request_id,
        },
    }
}

/// Maps a reqwest transport failure; never includes the URL (a pre-signed URL holds a signature).
pub fn map_transport(e: reqwest::Error) -> GraphError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    if timeout {
        GraphError::Timeout(msg)
    } else {
        GraphError::Transport(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::graph::fixtures::read as sample;

    #[test]
    fn transient_failures_are_the_ones_worth_retrying() {
        let server = |status| GraphError::Server {
            status,
            code: "x".into(),
            message: "m".into(),
            request_id: None,
        };
        for e in [
            server(500),
            server(503),
            server(429),
            server(408),
            GraphError::Throttled {
                retry_after: None,
                request_id: None,
            },
            GraphError::Transport("reset".into()),
            GraphError::Timeout("60 s".into()),
            GraphError::Unauthorized { request_id: None },
        ] {
            assert!(e.is_transient(), "{e:?}");
        }
        for e in [
            server(400),
            server(409),
            GraphError::Forbidden {
                code: "x".into(),
                message: "m".into(),
                request_id: None,
            },
            GraphError::Invalid("bad".into()),
            GraphError::ForeignOrigin {
                origin: "https://evil.example".into(),
            },
        ] {
            assert!(!e.is_transient(), "{e:?}");
        }
    }

    #[test]
    fn generic_error_sample_parses() {
        let d = parse_error_body(&sample("error-generic.json"));
        assert_eq!(d.code, "invalidRange");
        assert_eq!(d.message, "Uploaded fragment overlaps with existing data.");
        assert_eq!(d.request_id.as_deref(), Some("request-id"));
    }

    #[test]
    fn throttle_sample_keeps_textual_code_and_request_id() {
        let e = map_status(
            StatusCode::TOO_MANY_REQUESTS,
            &sample("error-429.json"),
            None,
            Some(Duration::from_millis(2128)),
        );
        assert_eq!(
            e,
            GraphError::Throttled {
                retry_after: Some(Duration::from_millis(2128)),
                request_id: Some("94fb3b52-452a-4535-a601-69e0a90e3aa2".into())
            }
        );
        assert_eq!(e.to_string(), "throttled by Graph, retry in 3 s");
    }

    #[test]
    fn intune_json_inside_message_is_unwrapped() {
        let body = br#"{"error":{"code":"BadRequest","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"An error has occurred - Operation ID (for customer support): 00000000 - Activity ID: abc\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null\r\n}"}}"#;
        let e = map_status(StatusCode::BAD_REQUEST, body, Some("rid-1".into()), None);
        let GraphError::Server {
            status,
            code,
            message,
            request_id,
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(status, 400);
        assert_eq!(code, "BadRequest");
        assert!(message.starts_with("An error has occurred"), "{message}");
        assert!(message.contains("Activity ID: abc"));
        assert_eq!(request_id.as_deref(), Some("rid-1"));
    }

    #[test]
    fn an_unknown_operation_is_told_apart_from_other_bad_requests() {
        let unknown = br#"{"error":{"code":"BadRequest","message":"Resource not found for the segment 'retrieveJustInTimeConfiguration'.","innerError":{"request-id":"r"}}}"#;
        assert!(map_status(StatusCode::BAD_REQUEST, unknown, None, None).is_unknown_operation());
        let other = br#"{"error":{"code":"BadRequest","message":"Invalid filter clause"}}"#;
        assert!(!map_status(StatusCode::BAD_REQUEST, other, None, None).is_unknown_operation());
        let missing = br#"{"error":{"code":"ResourceNotFound","message":"configurationPolicy 'x' was not found."}}"#;
        assert!(!map_status(StatusCode::NOT_FOUND, missing, None, None).is_unknown_operation());
    }

    #[test]
    fn non_json_body_becomes_a_short_message() {
        let d = parse_error_body(b"<html>Bad gateway</html>");
        assert_eq!(d.code, "unknown");
        assert_eq!(d.message, "<html>Bad gateway</html>");
    }
}
