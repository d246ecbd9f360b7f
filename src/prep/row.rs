//! One input row: validated from a CSV record into a view that borrows the record (what the
//! prep loop uses, so a row costs no allocation), or owned (what `read_rows` yields).

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use super::damage;
use super::records::Fields;
use super::report::{RowError, Severity};
use super::sniff::Columns;
use crate::serial;

/// One valid row. Text fields are trimmed; empty cells are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepRow {
    pub file: Arc<Path>,
    /// 1-based line where the row starts.
    pub line: u64,
    /// The cleaned serial.
    pub serial: String,
    /// 1-based column of the serial.
    pub serial_column: usize,
    pub periods_removed: usize,
    /// Shared with neighbouring rows that have the same value (rows repeat them).
    pub manufacturer: Option<Arc<str>>,
    pub model: Option<Arc<str>>,
    pub user: Option<String>,
    pub group_tag: Option<String>,
    pub hardware_hash: Option<String>,
    pub product_id: Option<String>,
    pub details: Option<String>,
}

/// One valid row borrowed from the reader's record (or from a [`PrepRow`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRef<'a> {
    pub file: &'a Arc<Path>,
    pub line: u64,
    /// The cleaned serial; owned only when periods were removed.
    pub serial: Cow<'a, str>,
    pub serial_column: usize,
    pub periods_removed: usize,
    pub manufacturer: Option<&'a str>,
    pub model: Option<&'a str>,
    pub user: Option<&'a str>,
    pub group_tag: Option<&'a str>,
    pub hardware_hash: Option<&'a str>,
    pub product_id: Option<&'a str>,
    pub details: Option<&'a str>,
}

impl PrepRow {
    pub fn view(&self) -> RowRef<'_> {
        RowRef {
            file: &self.file,
            line: self.line,
            serial: Cow::Borrowed(&self.serial),
            serial_column: self.serial_column,
            periods_removed: self.periods_removed,
            manufacturer: self.manufacturer.as_deref(),
            model: self.model.as_deref(),
            user: self.user.as_deref(),
            group_tag: self.group_tag.as_deref(),
            hardware_hash: self.hardware_hash.as_deref(),
            product_id: self.product_id.as_deref(),
            details: self.details.as_deref(),
        }
    }
}

/// The last manufacturer and model that passed validation in a file: rows repeat them, so a
/// repeat is neither checked again nor, in owned rows, stored again.
#[derive(Debug, Default)]
pub(super) struct Labels {
    manufacturer: Option<Arc<str>>,
    model: Option<Arc<str>>,
}

impl Labels {
    /// The owned row for a view that [`convert`] just produced with these labels.
    pub(super) fn to_owned(&self, r: &RowRef<'_>) -> PrepRow {
        let share = |v: Option<&str>, last: &Option<Arc<str>>| {
            v.map(|v| match last {
                Some(l) if **l == *v => l.clone(),
                _ => Arc::from(v),
            })
        };
        let own = |v: Option<&str>| v.map(str::to_string);
        PrepRow {
            file: r.file.clone(),
            line: r.line,
            serial: r.serial.clone().into_owned(),
            serial_column: r.serial_column,
            periods_removed: r.periods_removed,
            manufacturer: share(r.manufacturer, &self.manufacturer),
            model: share(r.model, &self.model),
            user: own(r.user),
            group_tag: own(r.group_tag),
            hardware_hash: own(r.hardware_hash),
            product_id: own(r.product_id),
            details: own(r.details),
        }
    }
}

/// Validates one record into a row view. A free function so the reader's record buffer can be
/// borrowed alongside its other fields.
pub(super) fn convert<'a>(
    path: &'a Arc<Path>,
    c: &Columns,
    labels: &mut Labels,
    rec: Fields<'a>,
    line: u64,
) -> Result<RowRef<'a>, RowError> {
    let reject = |column: usize, code: &'static str, reason: String| RowError {
        file: path.clone(),
        line,
        column: Some(column + 1),
        severity: Severity::Rejected,
        code,
        reason,
    };
    // The record is checked as UTF-8 once and its cells are cut from that text. Only when the
    // record is not valid text, or a cell does not start and end on a character boundary, is
    // the cell checked on its own: the same answer per cell as checking each cell.
    let text = std::str::from_utf8(rec.bytes()).ok();
    let cell = |i: usize| -> Result<Option<&'a str>, RowError> {
        let Some(r) = rec.range(i) else {
            return Ok(None);
        };
        if let Some(s) = text.and_then(|t| t.get(r.clone())) {
            return Ok(Some(serial::trim(s)));
        }
        std::str::from_utf8(&rec.bytes()[r])
            .map(|s| Some(serial::trim(s)))
            .map_err(|_| {
                reject(
                    i,
                    "bad-text",
                    "the cell is not valid text in the detected encoding".into(),
                )
            })
    };
    let raw = match cell(c.serial)? {
        Some(s) if !s.is_empty() => s,
        _ => {
            return Err(reject(
                c.serial,
                "empty-serial",
                "the serial is empty".into(),
            ));
        }
    };
    if damage::is_scientific(raw) {
        return Err(reject(
            c.serial,
            "scientific-notation",
            format!(
                "{raw:?} is a number in scientific notation: a spreadsheet replaced the serial and its digits are lost; export the column as text"
            ),
        ));
    }
    if super::sniff::looks_like_guid(raw) {
        return Err(reject(
            c.serial,
            "object-id",
            format!("{raw:?}: this looks like an object id, not a serial"),
        ));
    }
    let clean = serial::clean(raw)
        .map_err(|e| reject(c.serial, "bad-serial", format!("serial {raw:?}: {e}")))?;
    let opt = |col: Option<usize>| -> Result<Option<&'a str>, RowError> {
        Ok(match col {
            Some(i) => cell(i)?.filter(|s| !s.is_empty()),
            None => None,
        })
    };
    let label = |col: Option<usize>,
                 field: &'static str,
                 last: &mut Option<Arc<str>>|
     -> Result<Option<&'a str>, RowError> {
        let Some(i) = col else { return Ok(None) };
        let Some(v) = cell(i)?.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if last.as_deref() != Some(v) {
            serial::check_label(field, v).map_err(|e| reject(i, "bad-label", e.to_string()))?;
            *last = Some(Arc::from(v));
        }
        Ok(Some(v))
    };
    let manufacturer = label(c.manufacturer, "manufacturer", &mut labels.manufacturer)?;
    let model = label(c.model, "model", &mut labels.model)?;
    Ok(RowRef {
        file: path,
        line,
        serial: clean.value,
        serial_column: c.serial + 1,
        periods_removed: clean.periods_removed,
        manufacturer,
        model,
        user: opt(c.user)?,
        group_tag: opt(c.group_tag)?,
        hardware_hash: opt(c.hardware_hash)?,
        product_id: opt(c.product_id)?,
        details: opt(c.details)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cells stored back to back with their ends, as csv-core gives them.
    fn record(cells: &[&str]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for c in cells {
            bytes.extend_from_slice(c.as_bytes());
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    fn fields(r: &(Vec<u8>, Vec<usize>)) -> Fields<'_> {
        Fields::packed(&r.0, &r.1)
    }

    #[test]
    fn views_borrow_and_owned_rows_share_repeated_labels() {
        let path: Arc<Path> = Arc::from(Path::new("in.csv"));
        let cols = super::super::sniff::columns_without_header(3);
        let mut labels = Labels::default();
        let a = record(&["Dell", " Latitude 5440 ", "AB12"]);
        let b = record(&["Dell", "Latitude 5440", "C.D34"]);
        let ra = convert(&path, &cols, &mut labels, fields(&a), 1).unwrap();
        assert!(matches!(ra.serial, Cow::Borrowed("AB12")));
        assert_eq!(
            (ra.manufacturer, ra.model),
            (Some("Dell"), Some("Latitude 5440"))
        );
        let oa = labels.to_owned(&ra);
        let rb = convert(&path, &cols, &mut labels, fields(&b), 2).unwrap();
        assert_eq!((rb.serial.as_ref(), rb.periods_removed), ("CD34", 1));
        let ob = labels.to_owned(&rb);
        assert!(Arc::ptr_eq(
            oa.manufacturer.as_ref().unwrap(),
            ob.manufacturer.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(
            oa.model.as_ref().unwrap(),
            ob.model.as_ref().unwrap()
        ));
        assert_eq!(ob.view(), rb);
        // A bad label is refused even right after a good one, with its column.
        let c = record(&["Dell, Inc", "Latitude 5440", "EF56"]);
        let e = convert(&path, &cols, &mut labels, fields(&c), 3).unwrap_err();
        assert_eq!((e.line, e.column, e.code), (3, Some(1), "bad-label"));
    }

    #[test]
    fn cells_that_are_not_text_are_named_even_when_the_record_is() {
        let path: Arc<Path> = Arc::from(Path::new("in.csv"));
        let cols = super::super::sniff::columns_without_header(3);
        let mut labels = Labels::default();
        let bad = |cells: &[&[u8]], labels: &mut Labels| {
            let mut bytes = Vec::new();
            let mut ends = Vec::new();
            for c in cells {
                bytes.extend_from_slice(c);
                ends.push(bytes.len());
            }
            let e = convert(&path, &cols, labels, Fields::packed(&bytes, &ends), 7).unwrap_err();
            (e.column, e.code)
        };
        // "é" cut in two by a field end: the record is valid UTF-8, the cells are not.
        assert_eq!(
            bad(&[b"Dell", b"X\xc3", b"\xa9AB"], &mut labels),
            (Some(3), "bad-text")
        );
        // Not text at all, in the model only: the serial and manufacturer pass.
        assert_eq!(
            bad(&[b"Dell", b"X\xff", b"AB12"], &mut labels),
            (Some(2), "bad-text")
        );
        // Non-ASCII text is cut into cells as text.
        let (bytes, ends) = record(&["Dell", "Modèle 5", "AB12"]);
        let r = convert(&path, &cols, &mut labels, Fields::packed(&bytes, &ends), 8).unwrap();
        assert_eq!((r.model, r.serial.as_ref()), (Some("Modèle 5"), "AB12"));
    }
}
