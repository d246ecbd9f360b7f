//! Text from outside (Graph, Entra, CSV cells, config values, the command line) made safe for a
//! terminal and a log line.
//!
//! A device named `"Laptop\nRETIRE: ...\e[8m"` must not forge a line or hide the text after it, and
//! an error body holding `\e[2J` must not clear the screen. [`escape`] renders every C0 and C1
//! control character, DEL and the bidirectional controls (which reorder what the reader sees) as a
//! visible `\u{..}`; everything else, including a backslash, is left as it is. Every path of outside
//! text to stdout, stderr or the log file goes through here (`docs/security.md`).

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` must not reach a terminal as itself.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidirectional controls: ALM, LRM, RLM, the embeddings/overrides and the isolates.
        | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Line and paragraph separators break lines in some terminals and viewers.
        | '\u{2028}' | '\u{2029}')
}

/// `s` with every unsafe character written as `\u{..}` (lower-case hex). Borrowed when clean.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_keeping(s, &[])
}

/// Like [`escape`] but keeps line feeds: for a message of several lines that the program itself
/// put together, printed as the last thing before exit.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    escape_keeping(s, &['\n'])
}

fn escape_keeping<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    let bad = |c: char| is_unsafe(c) && !keep.contains(&c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `Display` of a value with [`escape`] applied: `println!("{}", Escaped(&name))`.
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        f.write_str(&escape(&s))
    }
}

/// A writer for the log file: every event line is escaped, its final line feed kept, so outside
/// text inside a log field can neither forge a log line nor reach a terminal that `cat`s the log.
pub struct EscapingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (&*text, ""),
        };
        let clean = escape(body);
        self.0.write_all(clean.as_bytes())?;
        self.0.write_all(end.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A writer for a command's stdout: escapes every unsafe character except the line feeds the
/// command writes, so no escape sequence from outside text reaches the terminal on any path
/// (fields that could forge a line are escaped with [`escape`] where they are put in the text).
pub struct TermWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for TermWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(escape_lines(text).as_bytes())?,
            Err(_) => self
                .0
                .write_all(escape_lines(&String::from_utf8_lossy(buf)).as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_rendered_visibly_and_clean_text_is_borrowed() {
        assert_eq!(
            escape("Laptop\nRETIRE: all\u{1b}[8m"),
            "Laptop\\u{a}RETIRE: all\\u{1b}[8m"
        );
        assert_eq!(
            escape("\u{1b}[2J\r\t\u{7f}"),
            "\\u{1b}[2J\\u{d}\\u{9}\\u{7f}"
        );
        assert_eq!(escape("a\u{9b}31m"), "a\\u{9b}31m");
        assert_eq!(escape("exe.\u{202e}fdp"), "exe.\\u{202e}fdp");
        assert_eq!(
            escape("\u{2066}x\u{2069}\u{200f}"),
            "\\u{2066}x\\u{2069}\\u{200f}"
        );
        assert!(matches!(
            escape("DESKTOP-Ü1 CONTOSO\\tech"),
            Cow::Borrowed(_)
        ));
        assert_eq!(escape_lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
        assert_eq!(Escaped("x\u{7}").to_string(), "x\\u{7}");
    }

    #[test]
    fn the_log_writer_keeps_only_the_final_line_feed() {
        use std::io::Write as _;
        let mut w = EscapingWriter(Vec::new());
        w.write_all(b"INFO device=Laptop\nFAKE line \x1b[2J\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(w.0).unwrap(),
            "INFO device=Laptop\\u{a}FAKE line \\u{1b}[2J\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_holds_no_unsafe_character(s in "\\PC*|[\\x00-\\x{9f}\\x{202a}-\\x{202e}]*") {
            let e = escape(&s);
            proptest::prop_assert!(!e.chars().any(is_unsafe));
        }
    }
}
