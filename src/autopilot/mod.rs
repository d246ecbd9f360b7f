//! Windows Autopilot hardware hashes end to end: read them ([`hash`], [`file`]), check them
//! ([`check`]), import them into Intune and wait for the deployment profile ([`import`]).

/// The Graph calls (in `graph/`, the only place that builds Graph paths).
pub use crate::graph::ops::autopilot as api;
pub mod bench;
pub(crate) mod check;
pub(crate) mod codes;
pub mod encode;
pub(crate) mod file;
pub(crate) mod hash;
pub mod import;
pub(crate) mod show;
pub(crate) mod uploader;

/// Outside text made safe for a terminal: control characters (escape sequences, line breaks)
/// are shown escaped, everything else as is.
pub fn safe(s: &str) -> String {
    // The one escape function for outside text (`crate::text`).
    crate::text::escape(s).into_owned()
}

#[cfg(test)]
mod tests;
