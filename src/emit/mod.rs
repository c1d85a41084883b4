//! Output: the versioned report model and its renderers ([`report`]).
//!
//! This is the only layer that formats what a user reads.

pub mod report;
