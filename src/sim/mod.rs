//! The simulated tenant (temporary module list while building).
pub mod directory;
pub mod faults;
pub mod fleet;
pub mod limits;
pub mod odata;
pub mod rng;
pub mod stats;
