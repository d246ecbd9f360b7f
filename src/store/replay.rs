//! Replaying `queue.journal`: good records rebuild the queue; bad records after the last good one
//! are a torn tail (reported, the caller truncates); a bad record with good ones after it is an error
//! naming its line. The rules and their reasons are in [`super::journal`].

use std::fs;
use std::path::Path;

use super::StoreError;
use super::journal::TornTail;
use super::queue::{Queue, apply};
use super::record::{LineError, decode};

/// Replays the file into a queue; returns the queue, good records and any torn tail.
pub(crate) fn replay(path: &Path) -> Result<(Queue, u64, Option<TornTail>), StoreError> {
    let bytes = fs::read(path).map_err(|e| StoreError::io(path, "read", e))?;
    let mut queue = Queue::new();
    let mut records = 0u64;
    let mut good_end = 0usize;
    let mut first_bad: Option<(usize, String)> = None;
    let (mut pos, mut line) = (0usize, 0usize);
    while pos < bytes.len() {
        line += 1;
        let (text, next, result) = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[pos..pos + i], pos + i + 1, None),
            None => (
                &bytes[pos..],
                bytes.len(),
                Some(LineError::Damaged(
                    "no end of line: the write stopped mid-record".into(),
                )),
            ),
        };
        match result.map_or_else(|| decode(text), Err) {
            Ok(event) => {
                if let Some((bad_line, reason)) = first_bad {
                    return Err(StoreError::Corrupt {
                        file: path.to_path_buf(),
                        line: bad_line,
                        reason,
                    });
                }
                apply(&mut queue, &event);
                records += 1;
                good_end = next;
            }
            Err(LineError::Damaged(reason)) => {
                first_bad.get_or_insert((line, reason));
            }
            Err(LineError::Unknown(reason)) => {
                return Err(StoreError::Unknown {
                    file: path.to_path_buf(),
                    line,
                    reason,
                });
            }
        }
        pos = next;
    }
    let torn = first_bad.map(|(line, reason)| TornTail {
        line,
        offset: good_end as u64,
        bytes: (bytes.len() - good_end) as u64,
        reason,
    });
    Ok((queue, records, torn))
}
