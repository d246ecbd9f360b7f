//! UTF-16 without a byte-order mark (some Excel exports, .NET/PowerShell writers configured
//! without a BOM).
//!
//! A guess from the head of the file: text in these files is mostly ASCII, so at least half of
//! its 16-bit units have a zero high byte (a NUL at every odd offset for little-endian, every
//! even offset for big-endian). The guess is then confirmed over the whole file: every unit
//! decodes (surrogates paired, even length) and none is a control character that never occurs in
//! text. A file that fails the confirmation is left to the byte-level checks, which refuse it as
//! binary (it has NUL bytes).

use std::io::{self, Read};

use super::decode::{TextEncoding, is_binary_byte};

/// How much of the head the guess looks at.
const HEAD: usize = 4096;
const CHUNK: usize = 64 * 1024;

/// Detects BOM-less UTF-16 in `r` (read from its start): `Some` only when the head looks like
/// UTF-16 and the whole stream decodes cleanly.
pub fn detect(mut r: impl Read) -> io::Result<Option<TextEncoding>> {
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0;
    while n < HEAD {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let Some(enc) = guess(&buf[..n.min(HEAD)]) else {
        return Ok(None);
    };
    let mut check = Check::new(enc == TextEncoding::Utf16Be);
    let mut len = n;
    loop {
        let whole = len & !1;
        if !check.units(&buf[..whole]) {
            return Ok(None);
        }
        // An odd byte waits for its partner in the next read.
        buf.copy_within(whole..len, 0);
        let carry = len - whole;
        let k = loop {
            match r.read(&mut buf[carry..]) {
                Ok(k) => break k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if k == 0 {
            return Ok((carry == 0 && !check.pending_high).then_some(enc));
        }
        len = carry + k;
    }
}

/// The byte order the head suggests, if any: at least half of the complete units have a zero
/// byte on one side and a non-zero byte on the other, and that side clearly wins.
pub fn guess(head: &[u8]) -> Option<TextEncoding> {
    let units = head.len() / 2;
    if units == 0 {
        return None;
    }
    let (mut le, mut be) = (0usize, 0usize);
    for pair in head.chunks_exact(2) {
        match (pair[0], pair[1]) {
            (a, 0) if a != 0 => le += 1,
            (0, b) if b != 0 => be += 1,
            _ => {}
        }
    }
    if le * 2 >= units && le > be {
        Some(TextEncoding::Utf16Le)
    } else if be * 2 >= units && be > le {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

/// Unit-by-unit validation that carries a high surrogate across reads.
struct Check {
    big_endian: bool,
    pending_high: bool,
}

impl Check {
    fn new(big_endian: bool) -> Self {
        Self {
            big_endian,
            pending_high: false,
        }
    }

    /// False at the first unit that is not clean text.
    fn units(&mut self, bytes: &[u8]) -> bool {
        for pair in bytes.chunks_exact(2) {
            let u = if self.big_endian {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_le_bytes([pair[0], pair[1]])
            };
            let low = (0xDC00..=0xDFFF).contains(&u);
            if self.pending_high != low {
                return false;
            }
            self.pending_high = (0xD800..=0xDBFF).contains(&u);
            if u < 0x20 && is_binary_byte(u as u8) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    fn detect_bytes(b: &[u8]) -> Option<TextEncoding> {
        detect(b).unwrap()
    }

    #[test]
    fn detects_both_byte_orders_with_non_ascii_text() {
        let text = "Serial,Make\r\nPF1,Société Générale 😀\r\n";
        assert_eq!(detect_bytes(&le(text)), Some(TextEncoding::Utf16Le));
        assert_eq!(detect_bytes(&be(text)), Some(TextEncoding::Utf16Be));
        assert_eq!(detect_bytes(&le("A")), Some(TextEncoding::Utf16Le));
    }

    #[test]
    fn long_files_are_checked_to_the_end() {
        let mut text: String = (0..20_000).map(|i| format!("SN{i:06}\r\n")).collect();
        assert_eq!(detect_bytes(&le(&text)), Some(TextEncoding::Utf16Le));
        // A NUL character far past the head: not text.
        text.push('\0');
        text.push_str("SN1\r\n");
        assert_eq!(detect_bytes(&le(&text)), None);
        // An odd trailing byte, or a lone surrogate, is not UTF-16 either.
        let mut odd = le("SN1\r\n");
        odd.push(b'x');
        assert_eq!(detect_bytes(&odd), None);
        let mut lone = le("SN1");
        lone.extend_from_slice(&0xD83Du16.to_le_bytes());
        assert_eq!(detect_bytes(&lone), None);
        let mut lone_low = le("SN1");
        lone_low.extend_from_slice(&0xDE00u16.to_le_bytes());
        lone_low.extend_from_slice(&le("\r\n"));
        assert_eq!(detect_bytes(&lone_low), None);
    }

    #[test]
    fn ordinary_text_and_binary_are_not_utf16() {
        assert_eq!(detect_bytes(b"Serial\r\nPF1\r\n"), None);
        assert_eq!(detect_bytes(b""), None);
        assert_eq!(detect_bytes("Société\n".as_bytes()), None);
        // Looks like UTF-16 at the head (zero high bytes), but holds NUL characters: binary.
        let mut blob = le("ABCDEFGH");
        blob.extend_from_slice(&[0, 0, 7, 0, 1, 2]);
        assert_eq!(detect_bytes(&blob), None);
        // A PNG header: NULs on both sides.
        assert_eq!(detect_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0"), None);
    }

    #[test]
    fn odd_bytes_split_across_reads_are_carried() {
        /// Hands out one byte per read, so every unit straddles two reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let bytes = be("Make;Model\n😀;Zoë\n");
        assert_eq!(
            detect(Trickle(&bytes)).unwrap(),
            Some(TextEncoding::Utf16Be)
        );
    }
}
