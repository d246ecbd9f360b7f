//! `deviceManagementExportJob` (docs/graph.md §4.1).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{graph_enum, null_default};
use crate::secret::Secret;

graph_enum!(ReportStatus {
    Unknown,
    NotStarted,
    InProgress,
    Completed,
    Failed
});
graph_enum!(ReportFormat { Csv, Json, Pdf });

/// An export job as Graph returns it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportJob {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub report_name: Option<String>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub select: Vec<String>,
    #[serde(default)]
    pub format: Option<ReportFormat>,
    #[serde(default)]
    pub status: Option<ReportStatus>,
    /// Pre-signed download URL: its signature is a credential, so it is a redacted [`Secret`];
    /// fetched without the bearer token, never logged.
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub request_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expiration_date_time: Option<DateTime<Utc>>,
}

/// Body of `POST reports/exportJobs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportJobRequest {
    pub report_name: String,
    pub select: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    pub format: ReportFormat,
}
