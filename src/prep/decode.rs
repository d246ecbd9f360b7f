//! Encoding sniffing and streaming transcoding to UTF-8.
//!
//! A byte-order mark decides UTF-8 / UTF-16 LE / UTF-16 BE. Without one, UTF-16 is recognised by
//! its NUL bytes and a clean decode (see `utf16`); otherwise a streaming pass checks the whole
//! file: valid UTF-8 is read as is, anything else is Windows-1252 (what Excel's "CSV" writes on
//! western Windows). Control bytes that never occur in text mark the file as binary.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::report::InputError;
use super::utf16;

/// The text encoding of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    #[value(name = "utf-8")]
    Utf8,
    #[value(name = "utf-8-bom")]
    Utf8Bom,
    #[value(name = "utf-16le")]
    Utf16Le,
    #[value(name = "utf-16be")]
    Utf16Be,
    #[value(name = "windows-1252")]
    Windows1252,
}

impl TextEncoding {
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with BOM",
            TextEncoding::Utf16Le => "UTF-16 LE",
            TextEncoding::Utf16Be => "UTF-16 BE",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

/// An open input: its encoding, its size, and a reader yielding UTF-8.
pub struct Decoded {
    pub encoding: TextEncoding,
    pub size: u64,
    pub reader: Box<dyn Read + Send>,
}

const CHUNK: usize = 64 * 1024;

/// Opens `path` and returns a UTF-8 reader. `forced` skips detection (a BOM is still removed).
pub fn open(path: &Path, forced: Option<TextEncoding>) -> Result<Decoded, InputError> {
    let unreadable = |e: io::Error| InputError::Unreadable {
        file: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(InputError::Unreadable {
            file: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    let mut head = [0u8; 3];
    let n =
        read_up_to(&mut File::open(path).map_err(unreadable)?, &mut head).map_err(unreadable)?;
    let bom = match &head[..n] {
        [0xEF, 0xBB, 0xBF] => Some(TextEncoding::Utf8Bom),
        [0xFF, 0xFE, ..] => Some(TextEncoding::Utf16Le),
        [0xFE, 0xFF, ..] => Some(TextEncoding::Utf16Be),
        _ => None,
    };
    let encoding = match (forced, bom) {
        (Some(TextEncoding::Utf8), Some(TextEncoding::Utf8Bom)) => TextEncoding::Utf8Bom,
        (Some(f), _) => f,
        (None, Some(b)) => b,
        (None, None) => {
            match utf16::detect(File::open(path).map_err(unreadable)?).map_err(unreadable)? {
                Some(e) => e,
                None => classify(path).map_err(|e| match e {
                    Classified::Io(e) => unreadable(e),
                    Classified::Binary { offset, byte } => InputError::Binary {
                        file: path.to_path_buf(),
                        offset,
                        byte,
                    },
                })?,
            }
        }
    };
    let mut file = BufReader::with_capacity(CHUNK, File::open(path).map_err(unreadable)?);
    let reader: Box<dyn Read + Send> = match encoding {
        TextEncoding::Utf8 => Box::new(file),
        TextEncoding::Utf8Bom => {
            let mut skip = [0u8; 3];
            let got = read_up_to(&mut file, &mut skip).map_err(unreadable)?;
            if got == 3 && skip != [0xEF, 0xBB, 0xBF] {
                Box::new(io::Cursor::new(skip).chain(file))
            } else {
                Box::new(file)
            }
        }
        TextEncoding::Utf16Le => Box::new(Transcode::new(
            file,
            UTF_16LE.new_decoder_with_bom_removal(),
        )),
        TextEncoding::Utf16Be => Box::new(Transcode::new(
            file,
            UTF_16BE.new_decoder_with_bom_removal(),
        )),
        TextEncoding::Windows1252 => Box::new(Transcode::new(
            file,
            WINDOWS_1252.new_decoder_without_bom_handling(),
        )),
    };
    Ok(Decoded {
        encoding,
        size: meta.len(),
        reader,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

enum Classified {
    Io(io::Error),
    Binary { offset: u64, byte: u8 },
}

/// Bytes that do not occur in text files (NUL, most C0 controls; tab, LF, CR, FF, ESC and the
/// GS1 separators 0x1C-0x1F are left to row validation).
pub(super) fn is_binary_byte(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0E..=0x1A)
}

/// Position of the first binary byte. Scans 64-byte blocks without an early exit inside a block,
/// so the compiler can vectorise the common case of a clean block.
fn first_binary_byte(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    for block in bytes.chunks(64) {
        if block.iter().fold(false, |hit, &b| hit | is_binary_byte(b)) {
            return block
                .iter()
                .position(|&b| is_binary_byte(b))
                .map(|i| at + i);
        }
        at += block.len();
    }
    None
}

/// One streaming pass: binary, valid UTF-8, or Windows-1252.
fn classify(path: &Path) -> Result<TextEncoding, Classified> {
    let mut file = File::open(path).map_err(Classified::Io)?;
    let mut buf = vec![0u8; CHUNK];
    let mut carry = 0usize; // bytes of an incomplete UTF-8 sequence kept at the start of buf
    let mut offset = 0u64; // file offset of buf[carry]
    let mut utf8 = true;
    loop {
        let n = file.read(&mut buf[carry..]).map_err(Classified::Io)?;
        if n == 0 {
            if carry > 0 {
                utf8 = false;
            }
            break;
        }
        let chunk = &buf[carry..carry + n];
        if let Some(i) = first_binary_byte(chunk) {
            return Err(Classified::Binary {
                offset: offset + i as u64,
                byte: chunk[i],
            });
        }
        offset += n as u64;
        let end = carry + n;
        if utf8 {
            match std::str::from_utf8(&buf[..end]) {
                Ok(_) => carry = 0,
                Err(e) if e.error_len().is_none() => {
                    let valid = e.valid_up_to();
                    buf.copy_within(valid..end, 0);
                    carry = end - valid;
                }
                Err(_) => {
                    utf8 = false;
                    carry = 0;
                }
            }
        } else {
            carry = 0;
        }
    }
    Ok(if utf8 {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    })
}

/// A `Read` adapter turning bytes in some encoding into UTF-8 as they are read.
struct Transcode<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    done: bool,
    out: Vec<u8>,
    out_start: usize,
    out_end: usize,
}

impl<R: Read> Transcode<R> {
    fn new(inner: R, decoder: Decoder) -> Self {
        Self {
            inner,
            decoder,
            input: vec![0; CHUNK],
            in_start: 0,
            in_end: 0,
            eof: false,
            done: false,
            out: vec![0; CHUNK * 3 + 16],
            out_start: 0,
            out_end: 0,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        while self.out_start == self.out_end && !self.done {
            if self.in_start == self.in_end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                self.in_start = 0;
                self.in_end = n;
                self.eof = n == 0;
            }
            let (_, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.out,
                self.eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof && self.in_start == self.in_end {
                self.done = true;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Transcode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.refill()?;
        let n = buf.len().min(self.out_end - self.out_start);
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (TextEncoding, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut d = open(&p, None).unwrap();
        let mut s = String::new();
        d.reader.read_to_string(&mut s).unwrap();
        (d.encoding, s)
    }

    #[test]
    fn detects_each_encoding() {
        assert_eq!(decode(b"a,b\n"), (TextEncoding::Utf8, "a,b\n".into()));
        assert_eq!(
            decode(b"\xEF\xBB\xBFa\n"),
            (TextEncoding::Utf8Bom, "a\n".into())
        );
        assert_eq!(
            decode(b"\xFF\xFEa\0\xe9\0\n\0"),
            (TextEncoding::Utf16Le, "a\u{e9}\n".into())
        );
        assert_eq!(
            decode(b"\xFE\xFF\0a\0\xe9\0\n"),
            (TextEncoding::Utf16Be, "a\u{e9}\n".into())
        );
        assert_eq!(
            decode(b"Soci\xe9t\xe9 \x80\n"),
            (
                TextEncoding::Windows1252,
                "Soci\u{e9}t\u{e9} \u{20ac}\n".into()
            )
        );
        assert_eq!(decode(b""), (TextEncoding::Utf8, String::new()));
    }

    #[test]
    fn utf8_split_across_chunks_stays_utf8_and_late_bad_byte_is_1252() {
        let mut big = vec![b'a'; CHUNK - 1];
        big.extend_from_slice("é\n".as_bytes());
        assert_eq!(decode(&big).0, TextEncoding::Utf8);
        let mut late = vec![b'a'; CHUNK * 2 + 5];
        late.push(0xE9);
        let (enc, s) = decode(&late);
        assert_eq!(enc, TextEncoding::Windows1252);
        assert!(s.ends_with('é'));
    }

    #[test]
    fn binary_is_refused_with_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        std::fs::write(&p, b"PK\x03\x04zip").unwrap();
        let err = open(&p, None).err().unwrap();
        assert_eq!(
            err,
            InputError::Binary {
                file: p,
                offset: 2,
                byte: 3
            }
        );
    }

    #[test]
    fn first_binary_byte_is_found_in_any_block() {
        let mut text = vec![b'a'; 300];
        assert_eq!(first_binary_byte(&text), None);
        for at in [0, 63, 64, 130, 299] {
            let mut t = text.clone();
            t[at] = 0x01;
            t[299] = 0x00;
            assert_eq!(first_binary_byte(&t), Some(at), "{at}");
        }
        text.extend_from_slice(b"\t\r\n\x0c\x1b\x1c\x1f");
        assert_eq!(first_binary_byte(&text), None);
    }

    #[test]
    fn large_utf16_transcodes_completely() {
        let text: String = (0..50_000).map(|i| format!("SN{i:06}\r\n")).collect();
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&bytes), (TextEncoding::Utf16Le, text));
    }
}
