//! The journal's line format: `<crc32, 8 lower-case hex> <json length, decimal> <json>\n`.
//!
//! The length catches a record cut short inside its JSON, the CRC catches garbled bytes, the newline
//! marks a record whose write completed. serde_json's compact output never contains a raw newline
//! (control characters inside strings are escaped), so one record is always one line.

use super::crc32::crc32;
use super::queue::QueueEvent;

/// Why a line is not a good record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Cut short or garbled: what a torn write leaves behind.
    Damaged(String),
    /// Intact (length and CRC agree) but not an event this version knows.
    Unknown(String),
}

/// Appends the encoded record for `event` to `out`.
pub fn encode_into(out: &mut Vec<u8>, event: &QueueEvent) -> Result<(), serde_json::Error> {
    let json = serde_json::to_vec(event)?;
    out.extend_from_slice(format!("{:08x} {} ", crc32(&json), json.len()).as_bytes());
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(())
}

/// Decodes one line (without its newline).
pub fn decode(line: &[u8]) -> Result<QueueEvent, LineError> {
    let damaged = |why: &str| LineError::Damaged(why.to_string());
    let (crc_field, rest) = split_field(line).ok_or_else(|| damaged("no checksum field"))?;
    if crc_field.len() != 8 {
        return Err(damaged("checksum field is not 8 hex digits"));
    }
    let crc = std::str::from_utf8(crc_field)
        .ok()
        .and_then(|s| u32::from_str_radix(s, 16).ok())
        .ok_or_else(|| damaged("checksum field is not hex"))?;
    let (len_field, json) = split_field(rest).ok_or_else(|| damaged("no length field"))?;
    let len: usize = std::str::from_utf8(len_field)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| damaged("length field is not a number"))?;
    if json.len() != len {
        return Err(LineError::Damaged(format!(
            "record says {len} bytes of JSON, line holds {}",
            json.len()
        )));
    }
    if crc32(json) != crc {
        return Err(damaged("checksum mismatch"));
    }
    serde_json::from_slice(json).map_err(|e| LineError::Unknown(e.to_string()))
}

fn split_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|&b| b == b' ')?;
    Some((&bytes[..i], &bytes[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::queue::tests::entry;

    fn encoded(event: &QueueEvent) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, event).unwrap();
        out
    }

    #[test]
    fn round_trips_and_escapes_newlines_in_text() {
        let mut e = entry("A1");
        e.note = Some("line one\nline two".into());
        let ev = QueueEvent::Added(e);
        let bytes = encoded(&ev);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(*bytes.last().unwrap(), b'\n');
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Ok(ev));
    }

    #[test]
    fn every_prefix_of_a_record_is_damaged_never_accepted() {
        let bytes = encoded(&QueueEvent::Added(entry("A1")));
        let body = &bytes[..bytes.len() - 1];
        for cut in 0..body.len() {
            assert!(
                matches!(decode(&body[..cut]), Err(LineError::Damaged(_))),
                "prefix of {cut} bytes"
            );
        }
    }

    #[test]
    fn garbled_bytes_are_damaged_and_an_intact_stranger_is_unknown() {
        let bytes = encoded(&QueueEvent::Removed {
            serial: "A1".into(),
        });
        let mut garbled = bytes[..bytes.len() - 1].to_vec();
        let last = garbled.len() - 3;
        garbled[last] ^= 0x20;
        assert_eq!(
            decode(&garbled),
            Err(LineError::Damaged("checksum mismatch".into()))
        );

        let json = br#"{"teleported":{"serial":"A1"}}"#;
        let line = [
            format!("{:08x} {} ", crc32(json), json.len()).into_bytes(),
            json.to_vec(),
        ]
        .concat();
        assert!(matches!(decode(&line), Err(LineError::Unknown(_))));
    }
}
