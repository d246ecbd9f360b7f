//! Reassignment review, the pure domain: the rules (`verdict`), the plan rows and plan files
//! (`plan`), and the apply state machine with its audit records (`apply`). No IO except plan-file
//! read/write; no async.

pub(crate) mod apply;
pub(crate) mod confirm;
mod docs;
pub mod fetch;
pub(crate) mod plan;
pub(crate) mod proposal;
pub mod rejections;
pub(crate) mod verdict;
pub mod write;

pub use apply::{ApplyError, ApplyJob, ApplyState, CONFIRM_TIMEOUT};
pub use plan::{Drift, PlanError, PlanRow, fingerprint, read_plan, recheck, write_plan};
pub use proposal::{Choice, Proposal, propose};
pub use rejections::{Rejection, RejectionLine, Rejections};
pub use verdict::{
    Assessment, BlockReason, DeviceFacts, HistoryEntry, Join, Person, PlanFact, Rules, SignIn,
    UserFacts, UserLookup, Verdict, assess, assess_pick, has_intune,
};
