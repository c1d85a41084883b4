//! minimize stage (see crate docs).
