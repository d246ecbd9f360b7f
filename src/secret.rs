//! A string that must never be printed: access tokens, refresh tokens, client secrets, assertions.
//!
//! `Debug` and `Display` are redacted; the only way to read the value is [`Secret::expose`], so every
//! place that touches a secret is greppable. The memory is overwritten with zeros when the value
//! is dropped (`zeroize`), so a freed secret does not linger in the heap.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string with a redacting `Debug`/`Display`, no `Serialize`, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call only where the value leaves the process on purpose (an HTTP header, a
    /// form field, the OS credential store).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Reads one line for a secret: from a terminal without echo (raw mode, so nothing typed is shown
/// or kept in the scrollback), else a plain line from the pipe. The line feed is not included.
pub fn read_secret_line(prompt: &str) -> std::io::Result<Secret> {
    use std::io::{IsTerminal, Read, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.read_line(&mut line)?;
        let secret = Secret::new(line.trim_end_matches(['\r', '\n']));
        line.zeroize();
        return Ok(secret);
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    crossterm::terminal::enable_raw_mode()?;
    let mut bytes: Vec<u8> = Vec::new();
    let mut one = [0u8; 1];
    let mut lock = stdin.lock();
    let result = loop {
        match lock.read(&mut one) {
            Ok(0) => break Ok(()),
            Ok(_) => match one[0] {
                b'\r' | b'\n' => break Ok(()),
                // Ctrl-C, Ctrl-D on an empty line: give up.
                3 | 4 => {
                    break Err(std::io::Error::new(
                        std::io::ErrorKind::Interrupted,
                        "no secret entered",
                    ));
                }
                // Backspace and DEL remove the last character.
                8 | 127 => {
                    while let Some(b) = bytes.pop() {
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                }
                b => bytes.push(b),
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = writeln!(err);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    bytes.zeroize();
    result.map(|()| Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_zeroed_when_dropped() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let mut s = Secret::new("client-secret-value");
        zeroed_on_drop(&s);
        s.zeroize();
        assert!(s.is_empty());
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("eyJ0eXAiOiJKV1QiLCJhbGciOi.very-secret");
        assert!(!format!("{s:?}").contains("very-secret"));
        assert!(!format!("{s}").contains("very-secret"));
        assert!(!format!("{:?}", Some(&s)).contains("very-secret"));
        assert_eq!(s.expose(), "eyJ0eXAiOiJKV1QiLCJhbGciOi.very-secret");
    }
}
