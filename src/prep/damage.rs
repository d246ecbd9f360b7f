//! Spreadsheet damage: serials Excel turned into numbers.

use std::collections::HashMap;

/// True for Excel's scientific notation, e.g. `1.23457E+11` (digits, optional fraction, `E`,
/// a sign, digits). The original digits are gone, so the row cannot be repaired.
pub fn is_scientific(s: &str) -> bool {
    let b = crate::serial::trim(s).as_bytes();
    // The mantissa starts with a digit: most serials stop here without a search for the `E`.
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let Some(e) = b.iter().position(|&c| c == b'E' || c == b'e') else {
        return false;
    };
    let (mantissa, exp) = (&b[..e], &b[e + 1..]);
    let mantissa_ok = match mantissa.iter().position(|&c| c == b'.') {
        Some(dot) => all_digits(&mantissa[..dot]) && all_digits(&mantissa[dot + 1..]),
        None => all_digits(mantissa),
    };
    mantissa_ok && matches!(exp.first(), Some(b'+' | b'-')) && all_digits(&exp[1..])
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// A row whose all-digit serial is shorter than its column's usual length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortened {
    pub line: u64,
    pub serial: String,
    pub usual: usize,
}

/// Watches one column of one file for all-digit serials that lost leading zeros. Memory grows
/// with the distinct all-digit serials accepted from the column.
#[derive(Debug, Default)]
pub struct LeadingZeros {
    lengths: HashMap<usize, u64>,
    numeric: Vec<(u64, String)>,
}

impl LeadingZeros {
    pub fn observe(&mut self, line: u64, serial: &str) {
        if serial.bytes().all(|b| b.is_ascii_digit()) {
            *self.lengths.entry(serial.len()).or_default() += 1;
            self.numeric.push((line, serial.to_string()));
        }
    }

    /// The usual length is the most common one among at least three all-digit serials, held by
    /// at least half of them; shorter all-digit serials are suspects.
    pub fn finish(self) -> Vec<Shortened> {
        let total: u64 = self.lengths.values().sum();
        let Some((&usual, &n)) = self.lengths.iter().max_by_key(|&(len, n)| (*n, *len)) else {
            return Vec::new();
        };
        if total < 3 || n * 2 < total {
            return Vec::new();
        }
        self.numeric
            .into_iter()
            .filter(|(_, s)| s.len() < usual)
            .map(|(line, serial)| Shortened {
                line,
                serial,
                usual,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_notation() {
        for s in ["1.23457E+11", "1E+11", "4.5e-3", " 9.99999E+14 "] {
            assert!(is_scientific(s), "{s}");
        }
        for s in [
            "12E45",
            "5CG1234E01",
            "E+11",
            "1.2E+",
            "1.2.3E+4",
            "ABC",
            "1E+1A",
            ".5E+3",
            "A1E+5",
            "",
        ] {
            assert!(!is_scientific(s), "{s}");
        }
    }

    #[test]
    fn leading_zeros_flagged_against_usual_length() {
        let mut lz = LeadingZeros::default();
        lz.observe(1, "0012345678");
        lz.observe(2, "0098765432");
        lz.observe(3, "12345678");
        lz.observe(4, "5551234567");
        lz.observe(5, "PF3ABC");
        assert_eq!(
            lz.finish(),
            vec![Shortened {
                line: 3,
                serial: "12345678".into(),
                usual: 10
            }]
        );
    }

    #[test]
    fn no_flag_without_a_clear_usual_length() {
        let mut lz = LeadingZeros::default();
        lz.observe(1, "123");
        lz.observe(2, "12345");
        assert!(lz.finish().is_empty());
        let mut lz = LeadingZeros::default();
        for (i, s) in ["1", "22", "333", "4444"].iter().enumerate() {
            lz.observe(i as u64, s);
        }
        assert!(lz.finish().is_empty());
    }
}
