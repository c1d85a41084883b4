//! The Terraform writer: turns minimizer suggestions ([`PolicyEdit`]) into edits of the user's own
//! `.tf` files, unified-diff patches and suggestion files, and applies those patches.
//!
//! - [`edit`]: the input contract ([`PolicyEdit`], [`PolicyLocation`]) and [`EmitError`].
//! - [`locate`]: the analysis's changed documents as [`PolicyEdit`]s, located in Terraform.
//! - [`hcl`]: [`TerraformFileMut`], a format-preserving editor of one `.tf` file.
//! - [`json_text`]: policy JSON text rewritten in the author's layout.
//! - [`modules`]: module key -> directory, from `modules.json` or local `source` paths.
//! - [`suggestion`]: new `data "aws_iam_policy_document"` blocks in `terraform fmt` style.
//! - [`patch`]: unified diffs with a sha256 header, and applying them.
//! - [`replacement`]: customer-managed replacements of AWS-managed policies.
//! - [`split`]: a suggestion over IAM's size limit for its kind, as several managed policies.
//! - [`write`]: `write_suggestions`, in three steps: plan (what becomes of each edit), render
//!   (patch and HCL text), commit (one staged set of files under the repository root).
//!
//! It does not decide what a policy keeps (`crate::minimize`) nor format reports
//! (`crate::emit::report`).

pub mod edit;
pub mod hcl;
pub mod json_text;
pub mod locate;
pub mod modules;
pub mod patch;
pub mod replacement;
pub mod split;
pub mod suggestion;
pub mod write;

pub use edit::{EmitError, PolicyEdit, PolicyLocation, PolicyTarget, StatementChange};
pub use hcl::{PolicyForm, Rewrite, TerraformFileMut};
pub use locate::policy_edits;
pub use patch::{ApplyReport, apply_patches};
pub use replacement::PolicyReplacement;
pub use write::{
    EditOutcome, WriteOptions, WriteReport, write_suggestions, write_suggestions_and_replacements,
};
