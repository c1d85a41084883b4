//! emit stage (see crate docs).
