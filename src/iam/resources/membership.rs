//! `aws_iam_group_membership` and `aws_iam_user_group_membership`: users inherit their groups' policies.

use super::attachment::principal_refs;
use crate::iam::discover::facts::{Facts, MembershipFact};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::principal::PrincipalKind;

/// `aws_iam_group_membership`: one group, many users.
pub fn visit_group_membership(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if inst.is_deleted() {
        return;
    }
    let groups = principal_refs(inst, index, facts, PrincipalKind::Group, "group");
    let users = principal_refs(inst, index, facts, PrincipalKind::User, "users");
    for g in &groups {
        for u in &users {
            facts.memberships.push(MembershipFact {
                user: u.clone(),
                group: g.clone(),
            });
        }
    }
}

/// `aws_iam_user_group_membership`: one user, many groups.
pub fn visit_user_group_membership(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if inst.is_deleted() {
        return;
    }
    let users = principal_refs(inst, index, facts, PrincipalKind::User, "user");
    let groups = principal_refs(inst, index, facts, PrincipalKind::Group, "groups");
    for g in &groups {
        for u in &users {
            facts.memberships.push(MembershipFact {
                user: u.clone(),
                group: g.clone(),
            });
        }
    }
}
