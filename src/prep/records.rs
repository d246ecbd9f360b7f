//! Records out of a decoded input, with a fast path for lines that hold no quote character.
//!
//! Records end at LF only (a CR stays in the last field and is trimmed later). A line without a
//! `"` is split on the delimiter where it lies in the read buffer: no state machine, no copy. A
//! line with a quote goes to csv-core's state machine (quoted fields with delimiters and line
//! breaks), which then reads as many lines as the record spans. Both paths give the same fields
//! and line numbers; blank records are left to the caller, as csv gives them.

use std::io::{self, Read};

use csv_core::ReadRecordResult;

/// One record's fields: field `i` is `bytes[start(i)..ends[i]]` with `start(0) = 0` and
/// `start(i) = ends[i - 1] + gap`. On the fast path `bytes` is the line with its delimiters
/// (`gap` 1); from csv-core it is the unquoted field bytes back to back (`gap` 0).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
    gap: usize,
}

impl<'a> Fields<'a> {
    /// Fields stored back to back, as csv-core writes them.
    pub fn packed(bytes: &'a [u8], ends: &'a [usize]) -> Self {
        Self {
            bytes,
            ends,
            gap: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.bytes.get(self.range(i)?)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// All the fields' bytes (with the delimiters between them on the fast path): cut at
    /// [`range`](Self::range), they give the fields.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Where field `i` lies in [`bytes`](Self::bytes).
    pub fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1] + self.gap,
        };
        Some(start..end)
    }
}

/// What [`scan_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// An LF at this offset, with no quote before it; `ends` holds the delimiter offsets and it.
    Line(usize),
    /// A quote before any LF.
    Quote,
    /// Neither a quote nor an LF.
    More,
}

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of `x` that is zero, exactly (no carries between bytes).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// Looks for the first LF or quote in `hay` from `start` (the bytes before it were scanned
/// already), appending the offsets of the delimiters before it to `ends`. Eight bytes at a time:
/// a line of a few dozen bytes costs a few word operations per word instead of a test and
/// branch per byte.
fn scan_line(hay: &[u8], start: usize, delimiter: u8, ends: &mut Vec<usize>) -> Scan {
    let (lf, quote, delim) = (
        ONES * u64::from(b'\n'),
        ONES * u64::from(b'"'),
        ONES * u64::from(delimiter),
    );
    let mut at = start;
    while at + 8 <= hay.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hay[at..at + 8]);
        let x = u64::from_le_bytes(word);
        let mut stops = zero_bytes(x ^ lf) | zero_bytes(x ^ quote) | zero_bytes(x ^ delim);
        while stops != 0 {
            let i = at + (stops.trailing_zeros() / 8) as usize;
            match hay[i] {
                b'\n' => {
                    ends.push(i);
                    return Scan::Line(i);
                }
                b'"' => return Scan::Quote,
                _ => ends.push(i),
            }
            stops &= stops - 1;
        }
        at += 8;
    }
    for (i, &b) in hay.iter().enumerate().skip(at) {
        match b {
            b'\n' => {
                ends.push(i);
                return Scan::Line(i);
            }
            b'"' => return Scan::Quote,
            b if b == delimiter => ends.push(i),
            _ => {}
        }
    }
    Scan::More
}

/// Where the current record is.
#[derive(Debug, Clone, Copy)]
enum Current {
    None,
    /// `buf[start..start + len]`, split at `ends`.
    Line {
        start: usize,
        len: usize,
    },
    /// csv-core's output: `out`, `csv_ends[..fields]`.
    Csv {
        fields: usize,
    },
}

/// Reads records from a UTF-8 stream that ends with an LF (see `reader::EndsWithNewline`).
pub struct Records {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`; `base` bytes were dropped from the front of `buf`.
    pos: usize,
    end: usize,
    base: u64,
    eof: bool,
    delimiter: u8,
    /// LFs consumed so far.
    lfs: u64,
    core: csv_core::Reader,
    current: Current,
    ends: Vec<usize>,
    out: Vec<u8>,
    csv_ends: Vec<usize>,
}

impl Records {
    pub fn new(src: Box<dyn Read + Send>, delimiter: u8, capacity: usize) -> Self {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        Self {
            src,
            buf: vec![0; capacity.max(1024)],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            delimiter,
            lfs: 0,
            core,
            current: Current::None,
            ends: Vec::with_capacity(16),
            out: vec![0; 1024],
            csv_ends: vec![0; 16],
        }
    }

    /// Decoded bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The current record's fields (none before the first [`next_record`](Self::next_record)).
    pub fn fields(&self) -> Fields<'_> {
        match self.current {
            Current::None => Fields::packed(&[], &[]),
            Current::Line { start, len } => Fields {
                bytes: &self.buf[start..start + len],
                ends: &self.ends,
                gap: 1,
            },
            Current::Csv { fields } => {
                let ends = &self.csv_ends[..fields];
                let n = ends.last().copied().unwrap_or(0);
                Fields::packed(&self.out[..n], ends)
            }
        }
    }

    /// Moves to the next record and returns the line it starts on, or `None` at the end.
    pub fn next_record(&mut self) -> io::Result<Option<u64>> {
        self.current = Current::None;
        self.ends.clear();
        // How much of the line is scanned: a line longer than what is buffered is scanned on
        // from there after each read, not again from its start.
        let mut scanned = 0;
        loop {
            let from = self.pos;
            let hay = &self.buf[from..self.end];
            match scan_line(hay, scanned, self.delimiter, &mut self.ends) {
                Scan::Quote => return self.csv_record(),
                Scan::Line(len) => {
                    self.current = Current::Line { start: from, len };
                    self.pos = from + len + 1;
                    self.lfs += 1;
                    return Ok(Some(self.lfs));
                }
                Scan::More => scanned = hay.len(),
            }
            // No LF in what is buffered: read more (the line moves to the front of the buffer;
            // offsets within it stay).
            if !self.fill()? {
                // The stream ends with an LF, so nothing is left here.
                return Ok(None);
            }
        }
    }

    /// Reads one record with csv-core, starting at `pos`.
    fn csv_record(&mut self) -> io::Result<Option<u64>> {
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let input = &self.buf[self.pos..self.end];
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[outlen..], &mut self.csv_ends[endlen..]);
            self.lfs += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.pos += nin;
            outlen += nout;
            endlen += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    // At the end of the stream the next call passes no input, which csv-core
                    // takes as the end.
                    self.fill()?;
                }
                ReadRecordResult::OutputFull => {
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.csv_ends.len() * 2;
                    self.csv_ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    self.current = Current::Csv { fields: endlen };
                    // The line after the record, less the LFs it holds (its terminator and any
                    // inside quoted fields), as csv's position gives it.
                    let inner = memchr::memchr_iter(b'\n', &self.out[..outlen]).count() as u64;
                    let line_after = self.lfs + 1;
                    return Ok(Some(line_after.saturating_sub(1 + inner).max(1)));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Moves unread bytes to the front and reads more; false at the end of the stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the prep reader sees it: start line and fields.
    type Rec = (u64, Vec<Vec<u8>>);

    fn blank(fields: &[Vec<u8>]) -> bool {
        fields.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
    }

    /// What the reader did before the fast path: the csv crate, records ending at LF, blank
    /// records skipped, start lines counted back from csv's position.
    fn with_csv(input: &[u8], delimiter: u8) -> Vec<Rec> {
        let mut data = input.to_vec();
        if data.last().is_some_and(|&b| b != b'\n') {
            data.push(b'\n');
        }
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(false)
            .flexible(true)
            .from_reader(&data[..]);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while rdr.read_byte_record(&mut rec).unwrap() {
            let fields: Vec<Vec<u8>> = rec.iter().map(<[u8]>::to_vec).collect();
            if blank(&fields) {
                continue;
            }
            let inner = rec.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
            let line = rdr.position().line().saturating_sub(1 + inner).max(1);
            out.push((line, fields));
        }
        out
    }

    /// Hands out at most `step` bytes per read, so records straddle buffer refills.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Returns the records and how many of them the fast path produced.
    fn with_records(input: &[u8], delimiter: u8, step: usize) -> (Vec<Rec>, usize) {
        let mut data = input.to_vec();
        if data.last().is_some_and(|&b| b != b'\n') {
            data.push(b'\n');
        }
        let total = data.len() as u64;
        let src = Chunked { data, at: 0, step };
        let mut r = Records::new(Box::new(src), delimiter, 0);
        let (mut out, mut fast) = (Vec::new(), 0);
        while let Some(line) = r.next_record().unwrap() {
            let fields: Vec<Vec<u8>> = r.fields().iter().map(<[u8]>::to_vec).collect();
            if blank(&fields) {
                continue;
            }
            fast += usize::from(matches!(r.current, Current::Line { .. }));
            out.push((line, fields));
        }
        assert_eq!(r.position(), total, "every byte consumed");
        (out, fast)
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a>(&mut self, from: &[&'a [u8]]) -> &'a [u8] {
            from[self.below(from.len())]
        }
    }

    /// A random input: ragged rows of random cells (empty, spaces, other delimiters, non-ASCII
    /// text, invalid UTF-8, stray CRs), blank lines, trailing delimiters, LF / CRLF / CR
    /// endings, sometimes no final line ending, and with `quotes` some quoted fields holding
    /// delimiters, doubled quotes and line breaks, or stray quotes inside a field.
    fn input(rng: &mut Rng, delimiter: u8, quotes: bool) -> Vec<u8> {
        let cells: &[&[u8]] = &[
            b"",
            b" ",
            b"PF12AB34",
            b"Dell Inc.",
            b"  Latitude 5440 ",
            b"1.23457E+11",
            b",",
            b";",
            b"\t",
            b"Jos\xc3\xa9",
            b"\xe2\x82\xac 5",
            b"\xff\xfe",
            b"a\rb",
            b"\x00",
        ];
        let quoted: &[&[u8]] = &[
            b"\"Dell, Inc\"",
            b"\"two\r\nlines\"",
            b"\"say \"\"hi\"\"\"",
            b"ab\"cd",
            b"\"open",
            b"\"\"",
        ];
        let ends: &[&[u8]] = &[b"\n", b"\r\n", b"\r"];
        let mut out = Vec::new();
        for _ in 0..rng.below(60) {
            match rng.below(10) {
                0 => out.extend_from_slice(rng.pick(ends)),
                1 => out.extend_from_slice(b"   \t"),
                _ => {
                    for i in 0..=rng.below(6) {
                        if i > 0 {
                            out.push(delimiter);
                        }
                        if quotes && rng.below(8) == 0 {
                            out.extend_from_slice(rng.pick(quoted));
                        } else {
                            out.extend_from_slice(rng.pick(cells));
                        }
                    }
                    if rng.below(6) == 0 {
                        out.push(delimiter);
                    }
                }
            }
            if rng.below(40) == 0 {
                out.extend(std::iter::repeat_n(b'x', 1500 + rng.below(3000)));
            }
            out.extend_from_slice(rng.pick(ends));
        }
        if rng.below(4) == 0 {
            out.truncate(out.len().saturating_sub(rng.below(3)));
        }
        out
    }

    #[test]
    fn fast_path_matches_csv_on_random_unquoted_input() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let mut fast_rows = 0;
        for case in 0..600 {
            let delimiter = [b',', b';', b'\t'][case % 3];
            let text = input(&mut rng, delimiter, false);
            let step = [1, 7, 64, 4096][rng.below(4)];
            let want = with_csv(&text, delimiter);
            let (got, fast) = with_records(&text, delimiter, step);
            assert_eq!(
                got,
                want,
                "case {case}: {:?}",
                String::from_utf8_lossy(&text)
            );
            assert_eq!(
                fast,
                got.len(),
                "case {case}: no quote, so every row is split directly"
            );
            fast_rows += fast;
        }
        assert!(fast_rows > 5_000, "{fast_rows}");
    }

    #[test]
    fn lines_with_quotes_fall_back_to_csv_and_agree() {
        let mut rng = Rng(0x5EED_1234_ABCD_0002);
        let (mut csv_rows, mut fast_rows) = (0, 0);
        for case in 0..600 {
            let delimiter = [b',', b';', b'\t'][case % 3];
            let text = input(&mut rng, delimiter, true);
            let step = [1, 7, 64, 4096][rng.below(4)];
            let want = with_csv(&text, delimiter);
            let (got, fast) = with_records(&text, delimiter, step);
            assert_eq!(
                got,
                want,
                "case {case}: {:?}",
                String::from_utf8_lossy(&text)
            );
            fast_rows += fast;
            csv_rows += got.len() - fast;
        }
        assert!(
            csv_rows > 1_000 && fast_rows > 1_000,
            "{csv_rows} {fast_rows}"
        );
    }

    #[test]
    fn word_scan_finds_every_stop_at_every_offset() {
        // Each stop byte at each position of a 20-byte line (across word boundaries and in the
        // tail), among bytes that are one bit away from a stop (no false hits).
        for delimiter in [b',', b';', b'\t'] {
            for at in 0..20 {
                for stop in [b'\n', b'"', delimiter] {
                    let mut hay: Vec<u8> = (0..24u8)
                        .map(|i| {
                            [b'\n' ^ 0x80, b'"' ^ 1, delimiter ^ 2, b'\x8a'][usize::from(i % 4)]
                        })
                        .collect();
                    hay[at] = stop;
                    hay[21] = b'\n';
                    let mut ends = Vec::new();
                    let got = scan_line(&hay, 0, delimiter, &mut ends);
                    match stop {
                        b'\n' => assert_eq!((got, ends), (Scan::Line(at), vec![at])),
                        b'"' => assert_eq!(got, Scan::Quote),
                        _ => assert_eq!((got, ends), (Scan::Line(21), vec![at, 21])),
                    }
                }
            }
            let mut ends = Vec::new();
            assert_eq!(
                scan_line(b"abc,def,ghij,kl", 0, b',', &mut ends),
                Scan::More
            );
            assert_eq!(ends, vec![3, 7, 12]);
            // Resumed after more bytes arrive: only the new bytes are looked at.
            let text = b"abc,def,ghij,kl,mnopqrstuvwxyz,\n";
            assert_eq!(
                scan_line(text, 15, b',', &mut ends),
                Scan::Line(text.len() - 1)
            );
            assert_eq!(ends, vec![3, 7, 12, 15, 30, 31]);
        }
    }

    #[test]
    fn a_file_with_cr_line_endings_is_one_long_record() {
        // Records end at LF only, as with csv before: a CR-only file is one line, read in many
        // pieces and scanned on from where each read stopped.
        let text = b"Dell,M1,SN1\r".repeat(40_000);
        let (got, fast) = with_records(&text, b',', 4096);
        assert_eq!((got.len(), fast), (1, 1));
        let fields = &got[0].1;
        assert_eq!(fields.len(), 80_001);
        assert_eq!(fields[1], b"M1");
        assert_eq!(fields[2], b"SN1\rDell");
        assert_eq!(got, with_csv(&text, b','));
    }

    #[test]
    fn a_quoted_line_is_parsed_as_csv_and_its_neighbours_split_directly() {
        let text = b"a,b\r\n\n\"Dell, Inc\",\"two\nlines\",x\"y\nc,,\n";
        let (got, fast) = with_records(text, b',', 3);
        let f = |v: &[&[u8]]| v.iter().map(|c| c.to_vec()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (1, f(&[b"a", b"b\r"])),
                (3, f(&[b"Dell, Inc", b"two\nlines", b"x\"y"])),
                (5, f(&[b"c", b"", b""])),
            ]
        );
        assert_eq!(fast, 2);
    }
}
