//! Serial number validation shared by the intake pane (one call per scan) and `stagehand prep`.
//!
//! Rules: trim; remove periods (the Intune portal rule: "remove all periods from serials") and say
//! so; allow ASCII letters, digits, space, `-`, `_` and `/`; 1 to 64 characters after cleaning.
//! Manufacturer and model must not contain a comma (Intune's Windows identifier is
//! `manufacturer,model,serial`).
//!
//! [`clean`] borrows the input when nothing needs removing, so a valid scan costs no allocation.

pub(crate) mod rules;

use std::borrow::Cow;
use std::fmt;

/// Longest serial accepted, in characters, after cleaning.
pub const MAX_LEN: usize = 64;

/// A serial that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clean<'a> {
    /// The cleaned serial (trimmed, periods removed).
    pub value: Cow<'a, str>,
    /// How many periods were removed; non-zero means the technician should be told.
    pub periods_removed: usize,
}

impl Clean<'_> {
    /// The notice to show when periods were removed, if any.
    pub fn notice(&self) -> Option<String> {
        (self.periods_removed > 0).then(|| {
            format!(
                "removed {} period{} (Intune does not accept periods in serials)",
                self.periods_removed,
                if self.periods_removed == 1 { "" } else { "s" }
            )
        })
    }
}

/// Why a serial was refused. `Display` is written for a technician at the bench.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialError {
    /// Nothing left after trimming and removing periods.
    Empty,
    /// More than [`MAX_LEN`] characters after cleaning.
    TooLong { len: usize },
    /// A character outside the allowed set; `position` is 1-based, counted in the trimmed input.
    BadChar { ch: char, position: usize },
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerialError::Empty => f.write_str("the serial is empty"),
            SerialError::TooLong { len } => write!(
                f,
                "the serial is {len} characters long; at most {MAX_LEN} are allowed"
            ),
            SerialError::BadChar { ch, position } => {
                if ch.is_control() || ch.is_whitespace() {
                    write!(
                        f,
                        "{} at position {position} is not allowed",
                        char_name(*ch)
                    )
                } else {
                    write!(f, "character '{ch}' at position {position} is not allowed")
                }
            }
        }
    }
}

impl std::error::Error for SerialError {}

/// A readable name for an invisible character: "a tab", "a line break", "U+00A0 (no-break
/// space)", never an escape like `\u{9}`.
pub fn char_name(c: char) -> String {
    match c {
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        ' ' => "a space".into(),
        '\u{a0}' => "a no-break space (U+00A0)".into(),
        '\u{1b}' => "an escape character (U+001B)".into(),
        c if c.is_whitespace() => format!("a space character (U+{:04X})", u32::from(c)),
        c => format!("a control character (U+{:04X})", u32::from(c)),
    }
}

/// True for the characters a serial may hold (periods are removed before this check).
#[inline]
pub const fn is_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '/')
}

/// The same as `str::trim`, with a fast path for the common case of a value that starts and ends
/// with a visible ASCII character (no Unicode whitespace test at all). Bulk callers (`prep`) trim
/// every cell, so this is worth having.
#[inline]
pub fn trim(s: &str) -> &str {
    let visible = |b: &u8| (0x21..0x7F).contains(b);
    let b = s.as_bytes();
    if b.first().is_some_and(visible) && b.last().is_some_and(visible) {
        s
    } else {
        s.trim()
    }
}

const REFUSED: u8 = 0;
const ALLOWED: u8 = 1;
const PERIOD: u8 = 2;

/// [`is_allowed`] (and the period) for each byte, so [`clean`] tests a byte with one load.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [REFUSED; 256];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        if is_allowed(b as char) {
            t[i] = ALLOWED;
        } else if b == b'.' {
            t[i] = PERIOD;
        }
        i += 1;
    }
    t
};

/// Validates and cleans one serial. Allocates only when periods have to be removed.
pub fn clean(raw: &str) -> Result<Clean<'_>, SerialError> {
    let trimmed = trim(raw);
    let mut periods = 0usize;
    // Fast path over bytes: everything allowed is ASCII, so the first non-ASCII byte is an error.
    for (i, b) in trimmed.bytes().enumerate() {
        match BYTE_CLASS[usize::from(b)] {
            ALLOWED => continue,
            PERIOD => {
                periods += 1;
                continue;
            }
            _ => {}
        }
        let ch = trimmed[i..].chars().next().unwrap_or('\u{FFFD}');
        let position = trimmed[..i].chars().count() + 1;
        return Err(SerialError::BadChar { ch, position });
    }
    let value: Cow<'_, str> = if periods == 0 {
        Cow::Borrowed(trimmed)
    } else {
        let without: String = trimmed.chars().filter(|&c| c != '.').collect();
        // Removing periods can expose spaces at either end ("AB12 ."): trim again.
        Cow::Owned(without.trim().to_string())
    };
    // All remaining bytes are ASCII, so the byte length is the character count.
    match value.len() {
        0 => Err(SerialError::Empty),
        len if len > MAX_LEN => Err(SerialError::TooLong { len }),
        _ => Ok(Clean {
            value,
            periods_removed: periods,
        }),
    }
}

/// Removes a scanner's configured prefix and suffix (each only when present and non-empty).
pub fn strip_affixes<'a>(raw: &'a str, prefix: &str, suffix: &str) -> &'a str {
    let mut s = raw;
    if !prefix.is_empty() {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    if !suffix.is_empty() {
        s = s.strip_suffix(suffix).unwrap_or(s);
    }
    s
}

/// A manufacturer or model that cannot go into a Windows identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelError {
    Comma { field: &'static str },
    Control { field: &'static str },
    Empty { field: &'static str },
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelError::Comma { field } => write!(
                f,
                "the {field} must not contain a comma (Intune's Windows identifier is manufacturer,model,serial)"
            ),
            LabelError::Control { field } => write!(
                f,
                "the {field} must not contain line breaks or other control characters"
            ),
            LabelError::Empty { field } => write!(f, "the {field} is empty"),
        }
    }
}

impl std::error::Error for LabelError {}

/// Checks a manufacturer or model (`field` names it in the error) and returns it trimmed.
pub fn check_label<'a>(field: &'static str, value: &'a str) -> Result<&'a str, LabelError> {
    let v = value.trim();
    if v.is_empty() {
        Err(LabelError::Empty { field })
    } else if v.contains(',') {
        Err(LabelError::Comma { field })
    } else if v.chars().any(char::is_control) {
        Err(LabelError::Control { field })
    } else {
        Ok(v)
    }
}

/// A serial as devices are matched on: trimmed and upper-cased, so `" pf3abc12"` and
/// `"PF3ABC12"` are one key. The only way to make one is to normalise ([`SerialKey::new`],
/// `From<&str>`, deserializing), so a map keyed by `SerialKey` cannot hold a serial that was
/// not. Cloning copies a pointer (`Arc<str>`), so the status tracker and poller hand one key
/// around a poll instead of normalising the serial again at every look-up.
///
/// It reads as the plain string everywhere: `Display`, `Debug` (as a `String` would, quoted),
/// serde (a JSON string) and SQLite (a `TEXT` value), so the files and outputs it is written
/// to keep their format. It derefs to `str` for reading; it deliberately does not implement
/// `Borrow<str>`: a map keyed by `SerialKey` is looked up with a `SerialKey`, never with a raw
/// `&str` that might not have been normalised (which would silently miss). `Default` is the key
/// of the empty serial (for containers that need one, such as an empty `SelectList`).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialKey(std::sync::Arc<str>);

impl SerialKey {
    /// The key of `serial`: trimmed, upper-cased. A serial that already is (the usual case:
    /// validation upper-cases scans) costs one allocation, no intermediate `String`.
    pub fn new(serial: &str) -> Self {
        let t = serial.trim();
        if t.is_ascii() {
            if t.bytes().any(|b| b.is_ascii_lowercase()) {
                Self(t.to_ascii_uppercase().into())
            } else {
                Self(t.into())
            }
        } else {
            Self(t.to_uppercase().into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SerialKey {
    fn from(serial: &str) -> Self {
        Self::new(serial)
    }
}

impl From<&String> for SerialKey {
    fn from(serial: &String) -> Self {
        Self::new(serial)
    }
}

impl std::ops::Deref for SerialKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SerialKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SerialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SerialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl serde::Serialize for SerialKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SerialKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::new(&s))
    }
}

impl rusqlite::ToSql for SerialKey {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.0.as_bytes()),
        ))
    }
}

impl rusqlite::types::FromSql for SerialKey {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str().map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_serial_is_borrowed_and_trimmed() {
        let c = clean("  PF3ABC12 \r").unwrap();
        assert_eq!(c.value, "PF3ABC12");
        assert!(matches!(c.value, Cow::Borrowed(_)));
        assert_eq!(c.periods_removed, 0);
        assert_eq!(c.notice(), None);
        for ok in ["a-b_c/d e", "0", "Z".repeat(64).as_str()] {
            assert!(clean(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn every_ascii_character_is_judged_by_is_allowed() {
        for b in 0u8..128 {
            let c = b as char;
            let raw = format!("A{c}B");
            let got = clean(&raw);
            if is_allowed(c) || c == '.' {
                let want = if c == '.' {
                    "AB".to_string()
                } else {
                    format!("A{c}B")
                };
                assert_eq!(got.map(|c| c.value.into_owned()), Ok(want), "{b:#x}");
            } else {
                let e = got.unwrap_err();
                assert_eq!(e, SerialError::BadChar { ch: c, position: 2 }, "{b:#x}");
            }
        }
    }

    #[test]
    fn periods_are_removed_with_a_notice() {
        let c = clean("1.234.5").unwrap();
        assert_eq!(c.value, "12345");
        assert_eq!(c.periods_removed, 2);
        assert_eq!(
            c.notice().unwrap(),
            "removed 2 periods (Intune does not accept periods in serials)"
        );
        assert_eq!(clean("AB12 .").unwrap().value, "AB12");
        assert_eq!(clean("...").unwrap_err(), SerialError::Empty);
    }

    #[test]
    fn bad_character_names_character_and_position() {
        let e = clean("ABC#12").unwrap_err();
        assert_eq!(
            e,
            SerialError::BadChar {
                ch: '#',
                position: 4
            }
        );
        assert_eq!(e.to_string(), "character '#' at position 4 is not allowed");
        // Position counts characters of the trimmed input, not bytes.
        let e = clean("  éA,").unwrap_err();
        assert_eq!(
            e,
            SerialError::BadChar {
                ch: 'é',
                position: 1
            }
        );
        let e = clean("AéB,").unwrap_err();
        assert_eq!(
            e,
            SerialError::BadChar {
                ch: 'é',
                position: 2
            }
        );
        let e = clean("AB\u{1d}C").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a control character (U+001D) at position 3 is not allowed"
        );
        assert_eq!(
            clean("AB\tC").unwrap_err().to_string(),
            "a tab at position 3 is not allowed"
        );
    }

    #[test]
    fn length_limits() {
        assert_eq!(clean("   ").unwrap_err(), SerialError::Empty);
        assert_eq!(clean("").unwrap_err(), SerialError::Empty);
        let long = "A".repeat(65);
        assert_eq!(clean(&long).unwrap_err(), SerialError::TooLong { len: 65 });
        // 64 after removing periods is fine.
        let dotted = format!("{}.", "B".repeat(64));
        assert_eq!(clean(&dotted).unwrap().value.len(), 64);
    }

    #[test]
    fn strip_affixes_only_when_present() {
        assert_eq!(strip_affixes("]C1ABC123\r", "]C1", "\r"), "ABC123");
        assert_eq!(strip_affixes("ABC123", "]C1", "#"), "ABC123");
        assert_eq!(strip_affixes("ABC", "", ""), "ABC");
        assert_eq!(strip_affixes("#ABC#", "#", "#"), "ABC");
    }

    #[test]
    fn labels_refuse_commas() {
        assert_eq!(check_label("model", " Surface 5 "), Ok("Surface 5"));
        assert_eq!(
            check_label("model", "Lat\r\n5440").unwrap_err(),
            LabelError::Control { field: "model" }
        );
        let e = check_label("model", "Surface, 5").unwrap_err();
        assert!(
            e.to_string().contains("model must not contain a comma"),
            "{e}"
        );
        assert_eq!(
            check_label("manufacturer", " ").unwrap_err(),
            LabelError::Empty {
                field: "manufacturer"
            }
        );
    }

    #[test]
    fn trim_matches_str_trim() {
        for s in [
            "",
            " ",
            "A",
            " A",
            "A ",
            "\u{a0}A",
            "A\u{3000}",
            "é",
            "\tA\r",
            "A B",
            "~x!",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn trim_agrees_with_str_trim(s in "[ -~\t\r\n\u{a0}\u{2003}\u{e9}]{0,12}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }

        #[test]
        fn clean_agrees_with_the_rules(raw in "[ -~\\t\u{e9}\u{1d}]{0,80}") {
            match clean(&raw) {
                Ok(c) => {
                    proptest::prop_assert!(c.value.chars().all(is_allowed));
                    proptest::prop_assert!((1..=MAX_LEN).contains(&c.value.len()));
                    proptest::prop_assert_eq!(c.value.trim(), &*c.value);
                    proptest::prop_assert_eq!(c.periods_removed, raw.trim().matches('.').count());
                }
                Err(SerialError::BadChar { ch, position }) => {
                    let t: Vec<char> = raw.trim().chars().collect();
                    proptest::prop_assert_eq!(t[position - 1], ch);
                    proptest::prop_assert!(!is_allowed(ch) && ch != '.');
                    proptest::prop_assert!(t[..position - 1].iter().all(|&c| is_allowed(c) || c == '.'));
                }
                Err(SerialError::Empty) => {
                    proptest::prop_assert!(raw.chars().all(|c| c == '.' || c.is_whitespace()));
                }
                Err(SerialError::TooLong { len }) => proptest::prop_assert!(len > MAX_LEN),
            }
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::SerialKey;
    use std::collections::HashMap;

    #[test]
    fn a_key_is_the_serial_trimmed_and_upper_cased() {
        assert_eq!(&*SerialKey::new("  pf3abc12\t"), "PF3ABC12");
        assert_eq!(SerialKey::new("Pf3-Ab/c_1 2").as_str(), "PF3-AB/C_1 2");
        assert_eq!(SerialKey::from("PF3ABC12"), SerialKey::new(" pf3Abc12 "));
        // Beyond ASCII, as `str::to_uppercase` does.
        assert_eq!(&*SerialKey::new("straße"), "STRASSE");
        assert_eq!(&*SerialKey::new(""), "");
    }

    #[test]
    fn two_spellings_are_one_map_key() {
        let mut m = HashMap::new();
        m.insert(SerialKey::new("pf1"), 1);
        m.insert(SerialKey::new(" PF1 "), 2);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&SerialKey::new("Pf1")], 2);
    }

    #[test]
    fn it_reads_as_the_plain_string() {
        let k = SerialKey::new("pf1");
        assert_eq!(k.to_string(), "PF1");
        assert_eq!(format!("{k:?}"), format!("{:?}", "PF1".to_string()));
        assert_eq!(serde_json::to_string(&k).unwrap(), r#""PF1""#);
        let back: SerialKey = serde_json::from_str(r#"" pf1""#).unwrap();
        assert_eq!(back, k);
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let (text, back): (String, SerialKey) = db
            .query_row("SELECT ?1, ?1", [&k], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((text.as_str(), back), ("PF1", k));
    }
}
