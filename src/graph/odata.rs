//! OData query building. Every string literal goes through [`literal`] (single quote doubled) and
//! every query value through [`encode`] (percent-encoded, once, in [`Query::to_query_string`]), so
//! a scanned serial such as `O'BRIEN' or 1 eq 1` stays one literal (docs/graph.md §14).
//!
//! Intune ignores filters it does not support and returns the whole fleet, so each filter here
//! also knows how to re-check a row client-side ([`DeviceFilter::matches`]).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use chrono::{DateTime, Utc};

use super::models::{ManagedDevice, ManagedDeviceSummary};

/// Everything but RFC 3986 unreserved characters is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An OData string literal: `'` + value with every `'` doubled + `'`. Not yet percent-encoded.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Inverse of [`literal`]; `None` if `s` is not exactly one well-formed literal.
pub fn parse_literal(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Inside a literal a quote only ever appears doubled.
            if chars.next()? != '\'' {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

/// Percent-encodes a query value (the one place query values are encoded).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// `$filter`, `$select`, `$top` and friends, serialised once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: Vec<(&'static str, String)>,
}

impl Query {
    pub fn new() -> Self {
        Self::default()
    }

    /// `$filter`; build `expr` with [`literal`] for every string value.
    pub fn filter(mut self, expr: impl Into<String>) -> Self {
        self.params.push(("$filter", expr.into()));
        self
    }

    /// `$select` (omitted when `fields` is empty).
    pub fn select(mut self, fields: &[&str]) -> Self {
        if !fields.is_empty() {
            self.params.push(("$select", fields.join(",")));
        }
        self
    }

    pub fn top(mut self, n: u32) -> Self {
        self.params.push(("$top", n.to_string()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// `$filter=...&$top=...` with every value percent-encoded; keys are fixed ASCII.
    pub fn to_query_string(&self) -> String {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The managed-device filters the panes use. Each renders to OData and re-checks rows locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceFilter {
    /// `serialNumber eq '<sn>'`; re-checked as an exact, ASCII-case-insensitive match.
    SerialNumber(String),
    /// `userPrincipalName eq '<upn>'`; re-checked case-insensitively. An empty UPN is refused
    /// upstream because Intune answers `eq ''` with the whole fleet.
    UserPrincipalName(String),
    /// `startswith(deviceName,'<p>')`; Intune treats it as `contains`, the re-check enforces prefix.
    DeviceNamePrefix(String),
    /// `lastSyncDateTime gt <ts>` (documented `gt`/`lt` support).
    LastSyncAfter(chrono::DateTime<chrono::Utc>),
    /// `enrolledDateTime gt <ts>` (documented `gt`/`lt` support).
    EnrolledAfter(chrono::DateTime<chrono::Utc>),
}

/// The properties a filter's re-check reads, borrowed from a list row of any shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterFields<'a> {
    pub serial_number: Option<&'a str>,
    pub user_principal_name: Option<&'a str>,
    pub device_name: Option<&'a str>,
    pub last_sync: Option<DateTime<Utc>>,
    pub enrolled: Option<DateTime<Utc>>,
}

/// A `managedDevice` list row a [`DeviceFilter`] can re-check.
pub trait Filterable {
    fn filter_fields(&self) -> FilterFields<'_>;
}

impl Filterable for ManagedDevice {
    fn filter_fields(&self) -> FilterFields<'_> {
        FilterFields {
            serial_number: self.serial_number.as_deref(),
            user_principal_name: self.user_principal_name.as_deref(),
            device_name: self.device_name.as_deref(),
            last_sync: self.last_sync_date_time,
            enrolled: self.enrolled_date_time,
        }
    }
}

impl Filterable for ManagedDeviceSummary {
    fn filter_fields(&self) -> FilterFields<'_> {
        FilterFields {
            serial_number: self.serial_number.as_deref(),
            user_principal_name: self.user_principal_name.as_deref(),
            device_name: self.device_name.as_deref(),
            last_sync: self.last_sync_date_time,
            enrolled: self.enrolled_date_time,
        }
    }
}

impl DeviceFilter {
    /// The `$filter` expression (not yet percent-encoded).
    pub fn to_odata(&self) -> String {
        match self {
            Self::SerialNumber(s) => format!("serialNumber eq {}", literal(s)),
            Self::UserPrincipalName(u) => format!("userPrincipalName eq {}", literal(u)),
            Self::DeviceNamePrefix(p) => format!("startswith(deviceName,{})", literal(p)),
            Self::LastSyncAfter(t) => format!(
                "lastSyncDateTime gt {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Self::EnrolledAfter(t) => format!(
                "enrolledDateTime gt {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }

    /// The property the re-check reads (it must be in a `$select`).
    pub fn field(&self) -> &'static str {
        match self {
            Self::SerialNumber(_) => "serialNumber",
            Self::UserPrincipalName(_) => "userPrincipalName",
            Self::DeviceNamePrefix(_) => "deviceName",
            Self::LastSyncAfter(_) => "lastSyncDateTime",
            Self::EnrolledAfter(_) => "enrolledDateTime",
        }
    }

    /// Does `device` really satisfy the filter? Rows that do not are dropped.
    pub fn matches(&self, device: &impl Filterable) -> bool {
        fn eq_ci(a: Option<&str>, b: &str) -> bool {
            a.is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
        }
        let d = device.filter_fields();
        match self {
            Self::SerialNumber(s) => eq_ci(d.serial_number, s),
            Self::UserPrincipalName(u) => eq_ci(d.user_principal_name, u),
            Self::DeviceNamePrefix(p) => d.device_name.is_some_and(|n| {
                n.len() >= p.len()
                    && n.is_char_boundary(p.len())
                    && n[..p.len()].eq_ignore_ascii_case(p)
            }),
            Self::LastSyncAfter(t) => d.last_sync.is_some_and(|d| d > *t),
            // A row without an enrollment time is kept: the filter cannot speak for it.
            Self::EnrolledAfter(t) => d.enrolled.is_none_or(|d| d > *t),
        }
    }

    /// Refuses values Intune is known to mis-handle.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::SerialNumber(s) | Self::UserPrincipalName(s) | Self::DeviceNamePrefix(s)
                if s.trim().is_empty() =>
            {
                Err("an empty value would match the whole fleet".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quote_is_doubled_then_encoded() {
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        let q = Query::new().filter(DeviceFilter::SerialNumber("A'1 #&".into()).to_odata());
        assert_eq!(
            q.to_query_string(),
            "$filter=serialNumber%20eq%20%27A%27%271%20%23%26%27"
        );
    }

    #[test]
    fn malformed_literals_are_rejected() {
        assert_eq!(parse_literal("'a'b'"), None);
        assert_eq!(parse_literal("'a"), None);
        assert_eq!(parse_literal("''''"), Some("'".into()));
    }

    proptest! {
        #[test]
        fn any_string_round_trips_through_a_filter(s in any::<String>()) {
            let expr = DeviceFilter::SerialNumber(s.clone()).to_odata();
            let qs = Query::new().filter(expr).top(5).to_query_string();
            // Decode exactly as a server would.
            let url = url::Url::parse(&format!("http://h/p?{qs}")).unwrap();
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(pairs.len(), 2);
            prop_assert_eq!(&pairs[0].0, "$filter");
            let lit = pairs[0].1.strip_prefix("serialNumber eq ").unwrap();
            prop_assert_eq!(parse_literal(lit), Some(s));
            prop_assert_eq!(&pairs[1], &("$top".to_string(), "5".to_string()));
        }
    }
}
