//! The integration tests, in one binary: one link instead of thirteen, and one test run that
//! schedules every test on the same two threads. Each file here was its own `tests/*.rs` binary.
//!
//! `tests/aws_credentials.rs` stays a binary of its own: it rewrites the process environment,
//! which every test here would see.

#[path = "../support/mod.rs"]
mod support;

mod access_analyzer;
mod athena;
mod cli_e2e;
mod cli_e2e_size;
mod cli_generate;
mod cli_outside;
mod cli_scan;
mod cli_suggest;
mod cloudtrail_folder;
mod cloudtrail_mapping;
mod cloudtrail_parsers;
mod cloudtrail_s3;
mod corpus;
mod discovery;
mod emit_split;
mod emit_write;
mod errors;
mod fuzz;
mod hardening;
mod hardening_fs;
mod iam_policies;
mod layering;
mod plan_generated;
mod sensitive;
