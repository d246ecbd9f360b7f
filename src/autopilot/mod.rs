//! Windows Autopilot hardware hashes end to end: read them ([`hash`], [`file`]), check them
//! ([`check`]), import them into Intune and wait for the deployment profile ([`import`]).

pub mod api;
pub mod check;
pub mod codes;
pub mod encode;
pub mod file;
pub mod hash;
pub mod import;
pub mod show;

/// Outside text made safe for a terminal: control characters (escape sequences, line breaks)
/// are shown escaped, everything else as is.
pub fn safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
