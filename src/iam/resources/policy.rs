//! `aws_iam_policy`: a customer-managed policy.

use super::document::attribute_document;
use crate::iam::discover::facts::{Facts, ManagedPolicyFact};
use crate::iam::discover::index::{Instance, PlanIndex};

/// Records the managed policy and its document.
pub fn visit(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if inst.is_deleted() {
        return;
    }
    let arn = inst
        .before_string("arn")
        .or_else(|| inst.after.as_ref().and_then(|a| a.get_str("arn")));
    let document = attribute_document(inst, index, "policy");
    facts.managed.insert(
        inst.address.to_string(),
        ManagedPolicyFact {
            address: inst.address.to_string(),
            name: inst.shown_string("name"),
            arn,
            document,
        },
    );
}
