//! `aws_iam_role_policies_exclusive` and `aws_iam_role_policy_attachments_exclusive`.
//!
//! The first only asserts which inline policies a role has (their documents live on
//! `aws_iam_role_policy` resources, read by their own handler), so it adds no policy. The second
//! attaches each listed ARN.

use super::attachment::{policy_refs, principal_refs};
use crate::iam::discover::facts::{AttachmentFact, Facts};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::principal::PrincipalKind;

/// `aws_iam_role_policies_exclusive`.
pub fn visit_role_policies(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if inst.is_deleted() {
        return;
    }
    // Resolving the role still reports a role it cannot find.
    let _ = principal_refs(inst, index, facts, PrincipalKind::Role, "role_name");
}

/// `aws_iam_role_policy_attachments_exclusive`.
pub fn visit_role_policy_attachments(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    facts: &mut Facts,
) {
    if inst.is_deleted() {
        return;
    }
    let policies = policy_refs(inst, index, "policy_arns");
    for principal in principal_refs(inst, index, facts, PrincipalKind::Role, "role_name") {
        for policy in &policies {
            facts.attachments.push(AttachmentFact {
                principal: principal.clone(),
                policy: policy.clone(),
                address: inst.address.to_string(),
            });
        }
    }
}
