//! Exports of what a pane shows: the current filtered view of Status or Review as one CSV file and
//! one JSON file in `<data dir>/exports/`, columns as the pane names them, values exact (UPNs and
//! serials as Graph gave them, times as RFC 3339 UTC).
//!
//! The pane builds the [`Table`] (pure, in `update`); the runtime writes it (this module) and
//! answers with the paths. `stagehand status|review --csv` build the same table headless.
//! Each file is written to a temporary name, fsync'd and renamed, so an export is never seen half
//! written; on Unix it is readable by its owner only (it lists people).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::SerializeMap;

/// The folder of the data dir exports go to.
pub const EXPORTS_DIR: &str = "exports";

/// A view as rows of text under named columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The file name's stem: `review`, `status`.
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// Where an export went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub csv: PathBuf,
    pub json: PathBuf,
    pub rows: usize,
}

/// An export that could not be written, naming the file and the step.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action}: {source}", path.display())]
pub struct ExportError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// One row as a JSON object whose keys keep the column order.
struct JsonRow<'a> {
    columns: &'a [&'static str],
    cells: &'a [String],
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.columns.len()))?;
        for (c, v) in self.columns.iter().zip(self.cells) {
            m.serialize_entry(c, v)?;
        }
        m.end()
    }
}

impl Table {
    /// The CSV text: a header line, then one record per row (RFC 4180 quoting).
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to a Vec cannot fail, and every record has the header's length.
        let _ = w.write_record(&self.columns);
        for r in &self.rows {
            let _ = w.write_record(r);
        }
        w.into_inner().unwrap_or_default()
    }

    /// The JSON text: an array of objects, one per row, keyed by column name.
    pub fn to_json(&self) -> Vec<u8> {
        let rows: Vec<JsonRow> = self
            .rows
            .iter()
            .map(|cells| JsonRow {
                columns: &self.columns,
                cells,
            })
            .collect();
        let mut out = serde_json::to_vec_pretty(&rows).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Writes `table` as `<data_dir>/exports/<name>-<UTC time>.csv` and `.json` (a `-2`, `-3`, …
/// suffix when an export of the same second exists).
pub fn write(data_dir: &Path, table: &Table, now: DateTime<Utc>) -> Result<Written, ExportError> {
    let dir = data_dir.join(EXPORTS_DIR);
    crate::private::data_dir(&dir).map_err(|source| ExportError {
        path: dir.clone(),
        action: "create the exports folder",
        source,
    })?;
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let mut n = 1;
    let (csv, json) = loop {
        let stem = if n == 1 {
            format!("{}-{stamp}", table.name)
        } else {
            format!("{}-{stamp}-{n}", table.name)
        };
        let (c, j) = (
            dir.join(format!("{stem}.csv")),
            dir.join(format!("{stem}.json")),
        );
        if !c.exists() && !j.exists() {
            break (c, j);
        }
        n += 1;
    };
    write_file(&csv, &table.to_csv())?;
    write_file(&json, &table.to_json())?;
    Ok(Written {
        csv,
        json,
        rows: table.rows.len(),
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let err = |action| {
        move |source| ExportError {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let tmp = path.with_extension("part");
    // 0600, `create_new` after removing a stale one: a planted symlink is never followed.
    let mut f = crate::private::create_temp(&tmp).map_err(err("create"))?;
    f.write_all(bytes).map_err(err("write"))?;
    f.sync_all().map_err(err("fsync"))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err("rename into place"))?;
    if let Some(dir) = path.parent() {
        // Best effort: the file is complete either way.
        let _ = crate::store::sync_dir(dir);
    }
    Ok(())
}

/// The Status pane's visible rows (filters applied), in screen order.
pub fn status_view(s: &crate::app::status::StatusState) -> Table {
    status_table(
        s.list
            .visible()
            .iter()
            .filter_map(|&i| s.rows.get(i))
            .map(|r| &**r),
    )
}

/// The Status pane's columns (every one, whatever the terminal width) for these rows, in order.
pub fn status_table<'a>(rows: impl IntoIterator<Item = &'a crate::status::DeviceStatus>) -> Table {
    use crate::app::status::Column;
    let text = |v: &Option<std::sync::Arc<str>>| v.as_deref().unwrap_or("").to_string();
    let rows = rows
        .into_iter()
        .map(|r| {
            Column::ALL
                .iter()
                .map(|c| match c {
                    Column::Serial => r.serial.to_string(),
                    Column::Device => text(&r.device_name),
                    Column::Stage => {
                        let mut s = r.stage.label().to_string();
                        for f in r.flags.names() {
                            s.push(' ');
                            s.push_str(f);
                        }
                        s
                    }
                    Column::InStage => time(Some(r.since)),
                    Column::EnrolledBy => text(&r.enrolled_by),
                    Column::PrimaryUser => text(&r.primary_user),
                    Column::LastSync => time(r.last_sync),
                    Column::Compliance => r
                        .compliance
                        .map_or("", crate::graph::models::ComplianceState::as_graph)
                        .to_string(),
                    Column::Message => r.message.to_string(),
                })
                .collect()
        })
        .collect();
    Table {
        name: "status",
        columns: Column::ALL
            .iter()
            .map(|c| match c {
                // Exact times rather than the pane's relative ones.
                Column::InStage => "In stage since",
                other => other.title(),
            })
            .collect(),
        rows,
    }
}

/// An optional time as RFC 3339 UTC (seconds), empty when absent.
pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            name: "review",
            columns: vec!["Serial", "Proposed UPN", "Reason"],
            rows: vec![
                vec![
                    "5CG0001XYZ".into(),
                    "o'neil.joanna-featherstonehaugh@contoso.example".into(),
                    "also signed in: a, b".into(),
                ],
                vec!["0042".into(), String::new(), "say \"hi\"\nthere".into()],
            ],
        }
    }

    #[test]
    fn csv_and_json_round_trip_exactly_in_column_order() {
        let dir = tempfile::tempdir().unwrap();
        let t = table();
        let now = DateTime::parse_from_rfc3339("2026-12-07T04:05:06Z")
            .unwrap()
            .to_utc();
        let w = write(dir.path(), &t, now).unwrap();
        assert_eq!(
            w.csv,
            dir.path()
                .join("exports")
                .join("review-20261207T040506Z.csv")
        );
        let mut r = csv::Reader::from_path(&w.csv).unwrap();
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), t.columns);
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(rows, t.rows, "leading zeros, quotes and newlines kept");
        let text = std::fs::read_to_string(&w.json).unwrap();
        let v: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(&text).unwrap();
        assert_eq!(v[0]["Proposed UPN"], t.rows[0][1].as_str());
        assert!(text.find("\"Serial\"").unwrap() < text.find("\"Proposed UPN\"").unwrap());
        // A second export in the same second does not overwrite the first.
        let again = write(dir.path(), &t, now).unwrap();
        assert!(again.csv.to_string_lossy().ends_with("-2.csv"), "{again:?}");
        assert!(w.csv.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&w.csv).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
        }
    }

    #[test]
    fn an_unwritable_exports_folder_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(EXPORTS_DIR), "not a folder").unwrap();
        let e = write(dir.path(), &table(), Utc::now()).unwrap_err();
        assert!(e.to_string().contains("exports"), "{e}");
    }

    #[test]
    fn status_e_exports_the_pane_and_the_pane_says_where() {
        use crate::app::{App, Cmd, Msg, Pane};
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut a = App::new(crate::config::Config::default(), Utc::now());
        a.focus = Pane::Status;
        let cmds = a.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('E'),
            KeyModifiers::SHIFT,
        )));
        let [Cmd::Export(t)] = cmds.as_slice() else {
            panic!("{cmds:?}")
        };
        assert_eq!(t.name, "status");
        assert_eq!(t.columns[0], "Serial");
        assert!(t.rows.is_empty());
        a.update(Msg::Exported {
            table: "status",
            result: Ok(Written {
                csv: "/data/exports/status-1.csv".into(),
                json: "/data/exports/status-1.json".into(),
                rows: 0,
            }),
        });
        let n = a.devices.notice.clone().unwrap();
        assert!(
            n.text.contains("/data/exports/status-1.csv") && !n.bad,
            "{n:?}"
        );
    }
}
