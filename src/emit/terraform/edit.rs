//! The contract between the minimizer and the Terraform writer: where a policy document is written
//! ([`PolicyLocation`]), what to do with each of its statements ([`StatementChange`], [`PolicyEdit`]),
//! and the writer's error type ([`EmitError`]).
//!
//! This module holds data only; finding, rewriting and writing files live in the sibling modules.

use crate::iam::policy::PolicyDocument;
pub use crate::iam::principal::PolicyTarget;
pub use crate::minimize::size::InlineOverflow;
use std::path::PathBuf;

/// Where a policy document is written in Terraform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyLocation {
    /// Module path without instance keys, e.g. `""` (root) or `"app.db"` (`module.app.module.db`).
    pub module_key: String,
    /// e.g. `aws_iam_role_policy`, `aws_iam_policy`, `aws_iam_role`, `aws_iam_policy_document`.
    pub resource_type: String,
    /// The block's name label.
    pub resource_name: String,
    /// True for `data "aws_iam_policy_document" "x"`.
    pub is_data: bool,
    /// Which part of the block holds the document.
    pub target: PolicyTarget,
}

impl PolicyLocation {
    /// The block's address inside its module, e.g. `data.aws_iam_policy_document.x`.
    pub fn block_address(&self) -> String {
        let prefix = if self.is_data { "data." } else { "" };
        format!("{prefix}{}.{}", self.resource_type, self.resource_name)
    }

    /// The module's address, e.g. `module.app.module.db`; empty for the root module.
    pub fn module_address(&self) -> String {
        if self.module_key.is_empty() {
            return String::new();
        }
        self.module_key
            .split('.')
            .map(|name| format!("module.{name}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The full address used in messages, e.g. `module.app.aws_iam_role_policy.x (policy)`.
    pub fn describe(&self) -> String {
        let module = self.module_address();
        let sep = if module.is_empty() { "" } else { "." };
        let attribute = match self.target.block_name() {
            Some(name) => format!("{} {name:?}", self.target),
            None => self.target.to_string(),
        };
        if self.is_data && self.resource_type == "aws_iam_policy_document" {
            format!("{module}{sep}{}", self.block_address())
        } else {
            format!("{module}{sep}{} ({attribute})", self.block_address())
        }
    }
}

/// What happens to one statement of the current document (the minimizer's type).
pub use crate::minimize::StatementChange;

/// A suggestion for one policy document, as the minimizer hands it over.
#[derive(Debug, Clone)]
pub struct PolicyEdit {
    /// Where the document is written.
    pub location: PolicyLocation,
    /// The document as the plan has it.
    pub current: std::sync::Arc<PolicyDocument>,
    /// The document after the suggestion.
    pub suggested: PolicyDocument,
    /// One change per statement of `current`, in order.
    pub statements: Vec<StatementChange>,
    /// Set when the principal's inline policies are together over IAM's aggregate limit and this
    /// one moves to managed policies (`crate::minimize::size::inline_overflow`): it is written to
    /// the suggestion file as managed policies, never patched.
    pub inline_overflow: Option<InlineOverflow>,
}

/// A failure while rewriting Terraform files or applying patches; each names the file and place.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// A file could not be read, written or listed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `.tf` file is not valid HCL.
    #[error("{path}: not valid HCL: {message}")]
    Hcl {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// `.terraform/modules/modules.json` is not what Terraform writes.
    #[error("{path}: not a Terraform module manifest: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The edit does not fit the document found at its location.
    #[error("{place}: {message}")]
    Mismatch {
        /// `file:line:column` or the policy's address.
        place: String,
        /// What does not fit.
        message: String,
    },
    /// A path would leave the repository root.
    #[error("{path}: outside the repository root {root}; refusing to write")]
    OutsideRoot {
        /// The offending path.
        path: PathBuf,
        /// The root.
        root: PathBuf,
    },
    /// A patch file is not in the format iamtrim writes.
    #[error("{path}:{line}: {message}")]
    Patch {
        /// The patch file.
        path: PathBuf,
        /// 1-based line in the patch.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A patch's target changed since the patch was written.
    #[error(
        "{patch}: {target} changed since the patch was written (sha256 {found}, expected {expected}); run `iamtrim suggest` again"
    )]
    TargetChanged {
        /// The patch file.
        patch: PathBuf,
        /// The target, relative to the root.
        target: String,
        /// The hash the patch was made against.
        expected: String,
        /// The target's hash now.
        found: String,
    },
    /// A write refused (it would leave the root) or failed (and was rolled back).
    #[error(transparent)]
    Write(#[from] crate::repo_root::WriteError),
}

impl EmitError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmitError::Io {
            path: path.into(),
            source,
        }
    }
}
