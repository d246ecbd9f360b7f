//! The status domain: pure functions that turn what Graph and the local queue say into one stage
//! and flags per device, decide what to read each poll cycle, and keep the observed timeline;
//! and the poller (`poll`) that does the reads they plan.

pub(crate) mod codes;
pub(crate) mod deployment;
pub(crate) mod inputs;
pub mod plan;
pub mod poll;
pub(crate) mod row;
pub(crate) mod stage;
pub(crate) mod timeline;
pub(crate) mod tracker;

pub use inputs::{
    DeviceRow, EnrollmentState, IdentityInput, LoggedOn, PrimaryRead, QueueInput, ReportRow,
    SingleDevice, UserRef,
};
pub use row::{DeviceStatus, RawFields, SharedRow, Sources};
pub use stage::{Derived, Flags, Inputs, Stage, Thresholds, derive};
pub use timeline::{Change, Timeline};
pub use tracker::{Listed, PlannedRead, ReadAnswer, Tracker};
