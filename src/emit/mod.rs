//! Output: everything a user reads or gets written.
//!
//! - [`report`]: the versioned report model and its renderers (text, JSON, Markdown); the only
//!   place that formats what a user reads.
//! - [`terraform`]: the Terraform writer, which turns minimizer suggestions ([`PolicyEdit`]) into
//!   edits of the user's own `.tf` files, unified-diff patches and suggestion files. Its modules
//!   are re-exported here under their old paths (`crate::emit::hcl`, `crate::emit::write`, ...).
//!
//! It does not decide what to keep: that is `crate::minimize`.

pub mod report;
pub mod terraform;

// The writer's modules under the paths they had before `terraform/` held them.
pub use terraform::{edit, hcl, json_text, modules, patch, replacement, suggestion, write};

pub use edit::{EmitError, PolicyEdit, PolicyLocation, PolicyTarget, StatementChange};
pub use hcl::{PolicyForm, Rewrite, TerraformFileMut};
pub use patch::{ApplyReport, apply_patches};
pub use replacement::PolicyReplacement;
pub use terraform::locate::policy_edits;
pub use write::{
    EditOutcome, WriteOptions, WriteReport, write_suggestions, write_suggestions_and_replacements,
};
