//! Rejections remembered across restarts, as the review code sees them. They live in the data
//! dir's database (`review_rejections`, see `crate::store::rejections` and `docs/store.md`); the
//! console changes them through the store thread ([`crate::store::StoreClient::apply_rejections`]),
//! the headless commands read them with [`load`] (no lock needed) and, before each write, again
//! under the data-dir lock.
//!
//! A rejection holds only while the device's current fingerprint equals the recorded one, so a new
//! sign-in or a new primary user brings the row back.

pub use crate::store::rejections::{
    LEGACY_FILE, Rejection, RejectionLine, Rejections, apply_lines, load, load_from,
};

#[cfg(test)]
#[path = "rejections_tests.rs"]
mod tests;
