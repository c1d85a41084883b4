//! The IAM domain: policy documents, action patterns, principals and the policy sources that reach
//! them, risk flags, discovery of all of it from a Terraform plan, and the bundled documents of
//! AWS-managed policies (`aws_managed`). Address and ARN text helpers (`address`, `arn`) sit below
//! discovery and import none of it.
//!
//! It reads `crate::plan` and nothing above it.

pub mod action;
pub mod address;
pub mod arn;
pub mod aws_managed;
pub mod catalog;
pub mod discover;
pub mod policy;
pub mod principal;
pub mod resources;
pub mod risk;

pub use discover::{Discovery, discover};
pub use policy::PolicyDocument;
pub use principal::{
    PolicyKind, PolicySource, PolicyTarget, Principal, PrincipalKind, RiskFlag, UnknownReason,
};
