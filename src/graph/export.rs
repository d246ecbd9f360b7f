//! Intune report export jobs (REFERENCE.md §4.1): create, poll with backoff, download the ZIP
//! from the pre-signed `url` without the Authorization header, parse the CSV inside.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::time::Duration;

use reqwest::Method;

use super::client::GraphClient;
use super::error::GraphError;
use super::models::{ExportJob, ExportJobRequest, ReportFormat, ReportStatus};
use super::odata::{Query, encode};
use super::retry::RetrySafety;
use crate::secret::Secret;

/// One CSV row: column name → value.
pub type ReportRow = BTreeMap<String, String>;

/// How patiently to wait for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportPolling {
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// Give up after this long in total.
    pub deadline: Duration,
}

impl Default for ExportPolling {
    fn default() -> Self {
        Self {
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(30),
            deadline: Duration::from_secs(600),
        }
    }
}

impl GraphClient {
    /// Exports report `name` as CSV and returns its rows.
    pub async fn export_report(
        &self,
        name: &str,
        select: &[&str],
        filter: Option<&str>,
    ) -> Result<Vec<ReportRow>, GraphError> {
        self.export_report_with(name, select, filter, ExportPolling::default())
            .await
    }

    /// [`Self::export_report`] with explicit polling bounds.
    pub async fn export_report_with(
        &self,
        name: &str,
        select: &[&str],
        filter: Option<&str>,
        polling: ExportPolling,
    ) -> Result<Vec<ReportRow>, GraphError> {
        let body = ExportJobRequest {
            report_name: name.to_string(),
            select: select.iter().map(|s| s.to_string()).collect(),
            filter: filter.map(str::to_string),
            format: ReportFormat::Csv,
        };
        // Not idempotent: a repeated create makes a second job, which counts against the
        // tenant's export budget. Only a 429 (certainly not processed) is retried.
        let job: ExportJob = self
            .send_json(
                Method::POST,
                self.beta("/deviceManagement/reports/exportJobs", &Query::new()),
                Some(&body),
                RetrySafety::NotIdempotent,
            )
            .await?;
        let id = job.id.clone().ok_or_else(|| GraphError::Decode {
            what: format!("export job {name}"),
            detail: "the created job has no id".into(),
            request_id: None,
        })?;
        let url = self.wait_for_export(name, &id, job, polling).await?;
        let zip = self.download_blob(url.expose()).await?;
        parse_report_zip(name, &zip)
    }

    async fn wait_for_export(
        &self,
        name: &str,
        id: &str,
        mut job: ExportJob,
        polling: ExportPolling,
    ) -> Result<Secret, GraphError> {
        let started = tokio::time::Instant::now();
        let mut wait = polling.first_wait;
        loop {
            match job.status {
                Some(ReportStatus::Completed) => {
                    return job.url.ok_or_else(|| GraphError::Export {
                        report: name.into(),
                        state: "completed without a download URL".into(),
                    });
                }
                Some(ReportStatus::Failed) => {
                    return Err(GraphError::Export {
                        report: name.into(),
                        state: "failed".into(),
                    });
                }
                _ => {}
            }
            if started.elapsed() + wait > polling.deadline {
                return Err(GraphError::Export {
                    report: name.into(),
                    state: format!("not ready after {} s", polling.deadline.as_secs()),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(polling.max_wait);
            // Polling is a GET: idempotent, retried on 429/503/504.
            job = self
                .get_entity(self.beta(
                    &format!("/deviceManagement/reports/exportJobs/{}", encode(id)),
                    &Query::new(),
                ))
                .await?;
        }
    }
}

/// Unzips the export and parses its CSV into rows. Errors name the report, entry and line.
pub fn parse_report_zip(name: &str, zip: &[u8]) -> Result<Vec<ReportRow>, GraphError> {
    let bad = |detail: String| GraphError::Decode {
        what: format!("report {name}"),
        detail,
        request_id: None,
    };
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| bad(format!("not a ZIP file: {e}")))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .by_index(i)
                .is_ok_and(|f| f.name().to_ascii_lowercase().ends_with(".csv"))
        })
        .ok_or_else(|| bad("the ZIP holds no .csv file".into()))?;
    let mut file = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
    let entry = file.name().to_string();
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| bad(format!("{entry}: not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("{entry}: header line: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("{entry}: line {}: {e}", i + 2)))?;
        rows.push(
            headers
                .iter()
                .map(str::to_string)
                .zip(rec.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn zip_with(name: &str, content: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(content.as_bytes()).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn csv_inside_zip_becomes_rows() {
        let z = zip_with(
            "r.csv",
            "\u{feff}SerialNumber,DeploymentStatus\r\nSN1,2\r\n\"S,N2\",3\r\n",
        );
        let rows = parse_report_zip("AutopilotV2DeploymentStatus", &z).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["SerialNumber"], "SN1");
        assert_eq!(rows[1]["SerialNumber"], "S,N2");
        assert_eq!(rows[1]["DeploymentStatus"], "3");
    }

    #[test]
    fn broken_inputs_name_what_and_where() {
        let e = parse_report_zip("R", b"not a zip").unwrap_err().to_string();
        assert!(e.contains("report R") && e.contains("not a ZIP"), "{e}");
        let e = parse_report_zip("R", &zip_with("a.txt", "x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no .csv"), "{e}");
        let e = parse_report_zip("R", &zip_with("r.csv", "A,B\n1,2\n3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.csv: line 3"), "{e}");
    }
}
