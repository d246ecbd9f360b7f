//! The streaming loop: rows in, validated, de-duplicated, formatted, written; problems counted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::report::{self, RowError, Severity, Summary};
use super::{Defaults, Format, InputFile, Outcome, PrepArgs, damage, sniff, split};

pub(super) fn pipeline(
    args: &PrepArgs,
    d: &Defaults,
    files: Vec<InputFile>,
    is_input: impl Fn(&Path) -> bool,
    progress: bool,
) -> Outcome {
    let format = args.format;
    let header: Vec<u8> = match format {
        Format::Autopilot => [super::writer::AUTOPILOT_HEADER.as_bytes(), b"\r\n"].concat(),
        Format::Json => b"{\"rows\":[\n".to_vec(),
        _ => Vec::new(),
    };
    let (max_rows, max_bytes) = format.limits();
    let mut out = split::SplitWriter::new(&args.output, &header, max_rows, max_bytes);
    let mut summary = Summary::default();
    let mut problems: Vec<RowError> = Vec::new();
    // Sized from the inputs (about 24 bytes a row, capped) so a big file does not rehash often.
    let estimate = files.iter().map(|f| f.size).sum::<u64>() / 24;
    let mut seen: HashMap<Box<str>, (u32, u32), BuildHasherDefault<WordHasher>> =
        HashMap::with_capacity_and_hasher(estimate.min(1 << 21) as usize, Default::default());
    let mut names: Vec<Arc<Path>> = Vec::new();
    let mut bar = report::Progress::new(progress);
    let mut line = Vec::with_capacity(256);
    let mut io_error = None;
    for (fi, mut file) in files.into_iter().enumerate() {
        names.push(file.path.clone());
        let big = file.size > 8 * 1024 * 1024;
        let mut zeros = damage::LeadingZeros::default();
        let mut serial_column = 1;
        let mut rows = 0u64;
        while let Some(item) = file.next() {
            rows += 1;
            if big && rows.is_multiple_of(8192) {
                bar.update(&file.path, rows, file.position(), file.size);
            }
            let mut row = match item {
                Ok(r) => r,
                Err(e) => {
                    summary.count(&e);
                    problems.push(e);
                    continue;
                }
            };
            line.clear();
            if let Err(u) = format.format_row(&row, d, &mut line) {
                let e = RowError {
                    file: row.file.clone(),
                    line: row.line,
                    column: u.column.map(|c| c + 1),
                    severity: Severity::Rejected,
                    code: u.code,
                    reason: u.reason,
                };
                summary.count(&e);
                problems.push(e);
                continue;
            }
            // Duplicates compare case-insensitively. The serial moves into the set unless it has
            // lower-case letters, so the common case costs no extra allocation.
            let has_lower = row.serial.bytes().any(|b| b.is_ascii_lowercase());
            let key: Box<str> = if has_lower {
                row.serial.to_ascii_uppercase().into_boxed_str()
            } else {
                std::mem::take(&mut row.serial).into_boxed_str()
            };
            if let Some(&(pf, pl)) = seen.get(&key) {
                let shown = if has_lower {
                    row.serial.as_str()
                } else {
                    &*key
                };
                let e = RowError {
                    file: row.file.clone(),
                    line: row.line,
                    column: Some(row.serial_column),
                    severity: Severity::Duplicate,
                    code: "duplicate",
                    reason: format!(
                        "serial {shown} already on {} line {pl}; written once",
                        names[pf as usize].display()
                    ),
                };
                summary.count(&e);
                problems.push(e);
                continue;
            }
            if row.periods_removed > 0 {
                summary.note_periods(&row.file, row.line);
            }
            serial_column = row.serial_column;
            zeros.observe(row.line, &key);
            // File index and line in 8 bytes; a line past 4 billion is recorded as the maximum.
            let at = (fi as u32, u32::try_from(row.line).unwrap_or(u32::MAX));
            seen.insert(key, at);
            if format == Format::Json && out.rows_written() > 0 {
                line.splice(0..0, *b",");
            }
            line.extend_from_slice(format.line_end());
            if let Err(e) = out.write_line(&line) {
                io_error = Some(e);
                break;
            }
        }
        for s in zeros.finish() {
            let e = RowError {
                file: file.path.clone(),
                line: s.line,
                column: Some(serial_column),
                severity: Severity::Warning,
                code: "leading-zeros",
                reason: format!(
                    "serial {} has {} digits where this column's serials have {}: a spreadsheet may have dropped leading zeros (written; check it)",
                    s.serial,
                    s.serial.len(),
                    s.usual
                ),
            };
            summary.count(&e);
            problems.push(e);
        }
        summary.rows_read += rows;
        summary.inputs.push(report::InputInfo {
            file: file.path.display().to_string(),
            encoding: file.encoding.label(),
            delimiter: sniff::delimiter_name(file.delimiter),
            header: file.header,
            rows,
        });
        if io_error.is_some() {
            break;
        }
    }
    bar.finish();
    problems.sort_by_key(|p| (names.iter().position(|n| *n == p.file), p.line));
    let fail = |summary: Summary, problems: Vec<RowError>, msg: String| Outcome {
        exit_code: 2,
        error: Some(msg),
        summary,
        problems,
    };
    if let Some(e) = io_error {
        return fail(
            summary,
            problems,
            format!("{}: cannot write: {e}", args.output.display()),
        );
    }
    let rejected = summary.rejected > 0;
    let nothing = out.rows_written() == 0 && format != Format::Json;
    if (args.strict && rejected) || nothing {
        drop(out);
    } else {
        summary.rows_written = out.rows_written();
        if format == Format::Json {
            let tail = serde_json::json!({ "problems": problems, "summary": summary });
            let tail = tail.to_string();
            // `{"rows":[ ... ],"problems":…,"summary":…}`
            let closing = format!("],{}\n", &tail[1..]);
            if let Err(e) = out.write_raw(closing.as_bytes()) {
                return fail(
                    summary,
                    problems,
                    format!("{}: cannot write: {e}", args.output.display()),
                );
            }
        }
        if let Some(clash) = out.final_names().into_iter().find(|n| is_input(n)) {
            summary.rows_written = 0;
            return fail(
                summary,
                problems,
                format!(
                    "{}: would overwrite an input; nothing written",
                    clash.display()
                ),
            );
        }
        match out.commit() {
            Ok(names) => summary.outputs = names.iter().map(|n| n.display().to_string()).collect(),
            Err(e) => {
                summary.rows_written = 0;
                return fail(
                    summary,
                    problems,
                    format!("{}: cannot write: {e}", args.output.display()),
                );
            }
        }
    }
    Outcome {
        exit_code: i32::from(rejected),
        error: None,
        summary,
        problems,
    }
}

/// A fast non-cryptographic hasher for the duplicate set: each 8-byte word is mixed in with a
/// folded 64x64->128 multiply (the core of foldhash/ahash's fallback). Inputs come from the
/// operator's own files, so hash flooding is not a concern here.
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let x = u128::from(self.0 ^ word) * u128::from(K ^ 0x2d35_8dcc_aa6c_78a5);
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hasher_spreads_similar_serials() {
        let hash = |s: &str| {
            let mut h = WordHasher::default();
            h.write(s.as_bytes());
            h.write_u8(0xff);
            h.finish()
        };
        for pattern in ["PF", "5CG1234", ""] {
            let hashes: HashSet<u64> = (0..100_000)
                .map(|i| hash(&format!("{pattern}{i:08}")))
                .collect();
            assert_eq!(hashes.len(), 100_000, "{pattern}");
        }
        let hashes: HashSet<u64> = (0..100_000).map(|i| hash(&format!("PF{i:08}"))).collect();
        // The top 7 bits (hashbrown's control byte) must vary too.
        let tops: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(tops.len() > 100, "{}", tops.len());
    }
}
