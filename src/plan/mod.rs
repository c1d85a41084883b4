//! Reading `terraform show -json` output: serde types ([`model`]) and a loader ([`load`]) that handles
//! encodings, stdin, format versions and errors that name the file and the JSON path.
//!
//! This module knows nothing about IAM; `crate::iam` interprets the plan.

pub mod load;
mod mapped;
pub mod model;
mod split;

pub use load::{LoadedPlan, PlanError, load_plan, parse_plan_bytes};
pub use mapped::leave_maps_at_exit;
pub use model::{ChangeAction, Expr, Expression, InstanceKey, Mode, Plan, ResourceChange};
