//! The Microsoft Graph client: one HTTP layer (auth, retries, a process-wide rate governor,
//! paging, `$batch`, report export) and typed operations per resource family.
//!
//! Everything is built from the injected base URL so tests and the simulator run the same code
//! path as production. The bearer token only ever goes to the configured Graph origin.

pub(crate) mod batch;
#[cfg(test)]
mod boundary_tests;
pub mod client;
pub(crate) mod error;
pub mod export;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod governor;
pub mod limits;
pub mod models;
pub mod odata;
pub mod ops;
pub(crate) mod paging;
pub(crate) mod retry;

pub use batch::{BatchRequest, BatchResponse};
pub use client::{GraphClient, Timeouts};
pub use error::GraphError;
pub use governor::{Family, Governor, GraphConn, Limits};
pub use odata::DeviceFilter;
pub use retry::{RetryPolicy, RetrySafety};
