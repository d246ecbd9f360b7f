//! Intune report export jobs (docs/graph.md §4.1): create, poll with backoff, download the ZIP
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
pub type ExportRow = BTreeMap<String, String>;

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
            // A small report is ready within a second or two; starting at 250 ms and
            // doubling costs two more polls than starting at 1 s, and answers ~5 s sooner.
            first_wait: Duration::from_millis(250),
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
    ) -> Result<Vec<ExportRow>, GraphError> {
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
    ) -> Result<Vec<ExportRow>, GraphError> {
        let mut rows = Vec::new();
        self.export_report_each(name, select, filter, polling, |r| rows.push(r.to_row()))
            .await?;
        Ok(rows)
    }

    /// Exports report `name` and hands each CSV row to `each` as it is parsed, without building
    /// the whole table (a 10,000-row report would otherwise sit in memory as ~200,000 strings).
    /// Returns the number of rows. On an error part of the rows may have been handed over.
    pub async fn export_report_each(
        &self,
        name: &str,
        select: &[&str],
        filter: Option<&str>,
        polling: ExportPolling,
        each: impl FnMut(ReportRecord<'_>),
    ) -> Result<usize, GraphError> {
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
        parse_report_zip_each(name, &zip, each)
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

/// One CSV row of a report, read by column name, borrowed from the parser's buffer.
#[derive(Debug, Clone, Copy)]
pub struct ReportRecord<'a> {
    headers: &'a csv::StringRecord,
    fields: &'a csv::StringRecord,
}

impl<'a> ReportRecord<'a> {
    /// The value of `column` (exact header name), if the report has that column.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let i = self.headers.iter().position(|h| h == column)?;
        self.fields.get(i)
    }

    /// The row as an owned map.
    pub fn to_row(&self) -> ExportRow {
        self.headers
            .iter()
            .map(str::to_string)
            .zip(self.fields.iter().map(str::to_string))
            .collect()
    }
}

/// Unzips the export and parses its CSV into rows. Errors name the report, entry and line.
pub fn parse_report_zip(name: &str, zip: &[u8]) -> Result<Vec<ExportRow>, GraphError> {
    let mut rows = Vec::new();
    parse_report_zip_each(name, zip, |r| rows.push(r.to_row()))?;
    Ok(rows)
}

/// Unzips the export and hands each CSV row to `each` as it is parsed (one record buffer, reused).
/// Returns the number of rows. Errors name the report, entry and line.
pub fn parse_report_zip_each(
    name: &str,
    zip: &[u8],
    each: impl FnMut(ReportRecord<'_>),
) -> Result<usize, GraphError> {
    parse_report_zip_limited(name, zip, super::limits::MAX_EXPORT_CSV_BYTES, each)
}

/// [`parse_report_zip_each`] reading at most `limit` uncompressed bytes of the CSV entry, whatever
/// the ZIP declares: a zip bomb ends in an error, not in memory.
pub fn parse_report_zip_limited(
    name: &str,
    zip: &[u8],
    limit: u64,
    mut each: impl FnMut(ReportRecord<'_>),
) -> Result<usize, GraphError> {
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
    let file = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
    let entry = file.name().to_string();
    let too_large = || {
        bad(format!(
            "{entry}: the CSV is larger than {} MiB uncompressed",
            limit >> 20
        ))
    };
    if file.size() > limit {
        return Err(too_large());
    }
    let mut text = String::new();
    // The declared size can lie: read one byte past the limit to know it was passed.
    let mut bounded = file.take(limit + 1);
    bounded
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("{entry}: not UTF-8 text: {e}")))?;
    if text.len() as u64 > limit {
        return Err(too_large());
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("{entry}: header line: {e}")))?
        .clone();
    let mut fields = csv::StringRecord::new();
    let mut n = 0;
    loop {
        match reader.read_record(&mut fields) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(bad(format!("{entry}: line {}: {e}", n + 2))),
        }
        n += 1;
        each(ReportRecord {
            headers: &headers,
            fields: &fields,
        });
    }
    Ok(n)
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
    fn rows_stream_one_at_a_time_by_column_name() {
        let z = zip_with(
            "r.csv",
            "SerialNumber,DeploymentStatus\r\nSN1,2\r\n\"S,N2\",3\r\n",
        );
        let mut seen = Vec::new();
        let n = parse_report_zip_each("R", &z, |r| {
            assert_eq!(r.get("NoSuchColumn"), None);
            seen.push(format!(
                "{}={}",
                r.get("SerialNumber").unwrap(),
                r.get("DeploymentStatus").unwrap()
            ));
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen, ["SN1=2", "S,N2=3"]);
        // A row that breaks the CSV stops the parse with its line; rows before it were handed over.
        let mut before = 0;
        let e = parse_report_zip_each("R", &zip_with("r.csv", "A,B\n1,2\n3\n"), |_| before += 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.csv: line 3"), "{e}");
        assert_eq!(before, 1);
    }

    #[test]
    fn a_zip_bomb_is_an_error_not_memory() {
        // 4 MiB of zeros deflate to a few kilobytes.
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file(
            "r.csv",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        w.write_all(b"A\n").unwrap();
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..4 {
            w.write_all(&zeros).unwrap();
        }
        let z = w.finish().unwrap().into_inner();
        assert!(z.len() < 64 << 10, "{}", z.len());
        let e = parse_report_zip_limited("R", &z, 1 << 20, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("r.csv") && e.contains("larger than 1 MiB"),
            "{e}"
        );
        // Within the limit the same entry parses (one header, one long field).
        assert_eq!(
            parse_report_zip_limited("R", &z, 8 << 20, |_| {}).unwrap(),
            1
        );
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
