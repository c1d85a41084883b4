//! [`Analysis`]: everything one run of the pipeline learned (the plan, its principals, their
//! outcomes, usage notes and stale cache entries, AWS-managed replacements), handed to the report
//! (`crate::emit::report`) and the Terraform writer. It lives here, below `emit`, so that both can
//! read it; it is built by the command layer and holds no behaviour of its own.

use super::{PolicyReplacement, PrincipalOutcome};
use crate::iam::Discovery;
use crate::plan::LoadedPlan;
use crate::usage::gather::StaleUsage;

/// Everything a run learned.
pub struct Analysis {
    /// The plan.
    pub loaded: LoadedPlan,
    /// Principals and policies.
    pub discovery: Discovery,
    /// Per principal, riskiest first.
    pub outcomes: Vec<PrincipalOutcome>,
    /// Notes about usage (stale cache entries, unreadable log files, unmapped events).
    pub notes: Vec<String>,
    /// Principals (addresses) whose cached usage is stale, with why.
    pub stale: Vec<(String, StaleUsage)>,
    /// Customer-managed replacements of AWS-managed attachments whose suggestion removes actions.
    pub replacements: Vec<PolicyReplacement>,
}
