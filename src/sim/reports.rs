//! Intune report exports (docs/graph.md §4.1): `POST deviceManagement/reports/exportJobs` → 201,
//! polls go notStarted → inProgress → completed (once processed, `READY_AFTER_SECS` of simulated
//! time, or on the third poll), and the `url` serves a ZIP holding one CSV of
//! `AutopilotV2DeploymentStatus` from `/_blob/…` without a bearer token (like a pre-signed blob).

use std::io::Write;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::fleet::{Device, iso};
use super::routes::{body_json, context, error};
use super::server::{Incoming, Reply, ReplyBody, State};

pub const REPORT: &str = "AutopilotV2DeploymentStatus";
pub const COLUMNS: &[&str] = &[
    "DeviceId",
    "DeviceName",
    "SerialNumber",
    "UPN",
    "EnrollmentTimeInUtc",
    "CurrentProvisioningPhase",
    "DeploymentStatus",
    "DeploymentDurationTimeInSeconds",
    "Phase",
    "ResultCode",
];
/// Polls after which a job reports `completed` whatever the clock says (tests at real speed).
const POLLS_TO_COMPLETE: u32 = 3;
/// Simulated time the service takes to produce a small report: a job requested this long ago is
/// `completed` at its next poll, as the real service completes a job when it is processed, not
/// after a number of polls. At the demo's speed this is well before the client's first poll.
const READY_AFTER_SECS: i64 = 5;

#[derive(Debug, Clone)]
pub struct SimExportJob {
    pub id: String,
    pub select: Vec<String>,
    pub filter: Value,
    pub format: String,
    pub requested: DateTime<Utc>,
    pub polls: u32,
    pub sig: String,
    pub zip: Option<Vec<u8>>,
}

impl SimExportJob {
    fn status(&self, now: DateTime<Utc>) -> &'static str {
        let processed = now - self.requested >= chrono::Duration::seconds(READY_AFTER_SECS);
        match self.polls {
            n if n >= POLLS_TO_COMPLETE || processed => "completed",
            0 => "notStarted",
            _ => "inProgress",
        }
    }

    fn to_json(&self, st: &State, inc: &Incoming) -> Value {
        let url = self
            .zip
            .as_ref()
            .map(|_| format!("{}_blob/exports/{}.zip?sig={}", st.base, self.id, self.sig));
        json!({
            "@odata.context": context(st, inc, "deviceManagement/reports/exportJobs/$entity"),
            "@odata.type": "#microsoft.graph.deviceManagementExportJob",
            "id": self.id,
            "reportName": REPORT,
            "filter": self.filter,
            "select": self.select,
            "format": self.format,
            "snapshotId": null,
            "localizationType": "localizedValuesAsAdditionalColumn",
            "status": self.status(st.clock.now()),
            "url": url,
            "requestDateTime": iso(self.requested),
            "expirationDateTime": iso(self.requested + chrono::Duration::hours(1)),
        })
    }
}

pub fn create(st: &mut State, inc: &Incoming) -> Reply {
    let body = match body_json(inc) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if body["reportName"] != REPORT {
        return error(
            400,
            "BadRequest",
            &format!(
                "reportName {} is not supported by the simulator (only {REPORT}).",
                body["reportName"]
            ),
            inc,
        );
    }
    let select: Vec<String> = body["select"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = select.iter().find(|s| !COLUMNS.contains(&s.as_str())) {
        return error(
            400,
            "BadRequest",
            &format!("select: unknown column '{bad}' for {REPORT}."),
            inc,
        );
    }
    let job = SimExportJob {
        id: format!("{REPORT}_{}", st.fleet.rng.guid()),
        select,
        filter: body.get("filter").cloned().unwrap_or(Value::Null),
        format: body["format"].as_str().unwrap_or("csv").to_string(),
        requested: st.clock.now(),
        polls: 0,
        sig: uuid::Uuid::new_v4().simple().to_string(),
        zip: None,
    };
    let v = job.to_json(st, inc);
    st.exports.insert(job.id.clone(), job);
    Reply::json(201, v)
}

pub fn poll(st: &mut State, inc: &Incoming, id: &str) -> Reply {
    let now = st.clock.now();
    let Some(job) = st.exports.get(id).cloned() else {
        return error(
            404,
            "ResourceNotFound",
            &format!("exportJob '{id}' was not found."),
            inc,
        );
    };
    let mut job = job;
    job.polls += 1;
    if job.status(now) == "completed" && job.zip.is_none() {
        let devices: Vec<&Device> = st.fleet.enrolled(now).collect();
        match build_zip(&job, &devices, now) {
            Ok(z) => job.zip = Some(z),
            Err(e) => return error(500, "InternalError", &format!("export failed: {e}"), inc),
        }
    }
    let v = job.to_json(st, inc);
    st.exports.insert(job.id.clone(), job);
    Reply::json(200, v)
}

/// One CSV row per enrolled device; DeploymentStatus codes come from `fleet::SimDeployment`.
pub fn csv_rows(devices: &[&Device], now: DateTime<Utc>) -> Vec<Vec<String>> {
    devices
        .iter()
        .filter_map(|d| {
            let dep = d.deployment(now)?;
            let end = if dep.status_code() == 1 {
                now
            } else {
                d.finished_at()
            };
            let (phase, result) = dep.phase_and_result();
            Some(vec![
                d.id.clone(),
                d.name.clone(),
                d.serial.clone(),
                d.staging_upn.clone(),
                iso(d.enroll_at),
                dep.current_phase().to_string(),
                dep.status_code().to_string(),
                (end - d.enroll_at).num_seconds().max(0).to_string(),
                phase.to_string(),
                result.to_string(),
            ])
        })
        .collect()
}

fn build_zip(
    job: &SimExportJob,
    devices: &[&Device],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<u8>> {
    let cols: Vec<usize> = if job.select.is_empty() {
        (0..COLUMNS.len()).collect()
    } else {
        job.select
            .iter()
            .filter_map(|s| COLUMNS.iter().position(|c| c == s))
            .collect()
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cols.iter().map(|&i| COLUMNS[i]))?;
    for row in csv_rows(devices, now) {
        w.write_record(cols.iter().map(|&i| row[i].as_str()))?;
    }
    let csv_bytes = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        format!("{}.csv", job.id),
        zip::write::SimpleFileOptions::default(),
    )?;
    zip.write_all(&csv_bytes)?;
    Ok(zip.finish()?.into_inner())
}

/// `GET /_blob/exports/{id}.zip?sig=…`: no auth needed; a wrong `sig` is a 403.
pub fn serve_blob(st: &mut State, inc: &Incoming) -> Reply {
    let name = inc
        .path
        .trim_start_matches("/_blob/exports/")
        .trim_end_matches(".zip");
    let Some(job) = st.exports.get(name) else {
        return Reply {
            status: 404,
            headers: vec![],
            body: ReplyBody::Bytes {
                content_type: "application/xml",
                data: b"<Error><Code>BlobNotFound</Code></Error>".to_vec(),
            },
            drop: false,
        };
    };
    match (&job.zip, inc.query.get("sig")) {
        (Some(z), Some(sig)) if *sig == job.sig => Reply {
            status: 200,
            headers: vec![],
            body: ReplyBody::Bytes {
                content_type: "application/zip",
                data: z.clone(),
            },
            drop: false,
        },
        _ => Reply {
            status: 403,
            headers: vec![],
            body: ReplyBody::Bytes {
                content_type: "application/xml",
                data: b"<Error><Code>AuthenticationFailed</Code></Error>".to_vec(),
            },
            drop: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(polls: u32) -> (SimExportJob, DateTime<Utc>) {
        let at = DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
            .unwrap()
            .to_utc();
        let job = SimExportJob {
            id: "j".into(),
            select: Vec::new(),
            filter: Value::Null,
            format: "csv".into(),
            requested: at,
            polls,
            sig: "s".into(),
            zip: None,
        };
        (job, at)
    }

    #[test]
    fn a_job_completes_when_processed_or_on_its_third_poll() {
        let secs = chrono::Duration::seconds;
        let (fresh, at) = job(0);
        assert_eq!(fresh.status(at), "notStarted");
        // Polled at once (real speed): the third poll completes it.
        assert_eq!(job(1).0.status(at + secs(1)), "inProgress");
        assert_eq!(job(2).0.status(at + secs(1)), "inProgress");
        assert_eq!(job(3).0.status(at + secs(1)), "completed");
        // Polled once the service had the time to process it (the demo's speed): completed.
        assert_eq!(job(1).0.status(at + secs(READY_AFTER_SECS)), "completed");
    }
}
