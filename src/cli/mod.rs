//! cli stage (see crate docs).
