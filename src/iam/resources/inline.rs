//! `aws_iam_role_policy`, `aws_iam_user_policy`, `aws_iam_group_policy`: inline policies.

use super::attachment::principal_refs;
use super::document::attribute_document;
use crate::iam::discover::facts::{Claim, ClaimFact, Facts, InlineFact, PrincipalRef};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::principal::{PolicyOrigin, PolicyTarget, PrincipalKind};

/// `aws_iam_role_policy`.
pub fn visit_role_policy(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit(inst, index, facts, PrincipalKind::Role, "role");
}

/// `aws_iam_user_policy`.
pub fn visit_user_policy(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit(inst, index, facts, PrincipalKind::User, "user");
}

/// `aws_iam_group_policy`.
pub fn visit_group_policy(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit(inst, index, facts, PrincipalKind::Group, "group");
}

fn visit(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    facts: &mut Facts,
    kind: PrincipalKind,
    attr: &str,
) {
    if inst.is_deleted() {
        // Still listed in the role's refreshed `inline_policy` until applied: claimed, so it is not
        // taken for a policy attached outside this configuration.
        if let (Some(name), Some(principal)) =
            (inst.before_string("name"), inst.before_string(attr))
        {
            facts.claims.push(ClaimFact {
                principal: PrincipalRef::Name(kind, principal),
                policy: Claim::InlineName(name),
            });
        }
        return;
    }
    let document = attribute_document(inst, index, "policy");
    let origin = PolicyOrigin {
        resource: inst.address.to_string(),
        target: PolicyTarget::PolicyAttribute,
        document_source: document.document_source.clone(),
    };
    let mut targets = principal_refs(inst, index, facts, kind, attr);
    let name = inst.shown_string("name");
    let match_name = inst.string("name");
    // Moved into the last target rather than cloned for each (there is almost always one).
    let last = targets.pop();
    for principal in targets {
        facts.inline.push(InlineFact {
            principal,
            address: inst.address.to_string(),
            name: name.clone(),
            match_name: match_name.clone(),
            document: document.clone(),
            origin: origin.clone(),
        });
    }
    if let Some(principal) = last {
        facts.inline.push(InlineFact {
            principal,
            address: inst.address.to_string(),
            name,
            match_name,
            document,
            origin,
        });
    }
}
