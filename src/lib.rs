//! iamtrim: AWS IAM least privilege for Terraform.
//!
//! The pipeline, one module a stage, data flowing one way:
//! `cli -> plan -> iam -> usage -> minimize -> emit`. A lower stage never imports a higher one.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod config;
pub mod emit;
pub mod iam;
pub mod minimize;
pub mod plan;
pub mod repo_root;
pub mod usage;
