//! Attachments of managed policies: `aws_iam_{role,user,group}_policy_attachment` and
//! `aws_iam_policy_attachment` (roles, users and groups at once). Also the shared link readers.

use crate::iam::discover::facts::{
    AttachmentFact, Claim, ClaimFact, Facts, PolicyRef, PrincipalRef,
};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::discover::reference::{references_variable, resolve_reference};
use crate::iam::principal::{PrincipalKind, UnknownReason};
use serde_json::Value;

/// `aws_iam_role_policy_attachment`.
pub fn visit_role_attachment(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit_single(inst, index, facts, PrincipalKind::Role, "role");
}

/// `aws_iam_user_policy_attachment`.
pub fn visit_user_attachment(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit_single(inst, index, facts, PrincipalKind::User, "user");
}

/// `aws_iam_group_policy_attachment`.
pub fn visit_group_attachment(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    visit_single(inst, index, facts, PrincipalKind::Group, "group");
}

/// `aws_iam_policy_attachment`: `roles`, `users`, `groups` lists.
pub fn visit_policy_attachment(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if inst.is_deleted() {
        return;
    }
    let policies = policy_refs(inst, index, "policy_arn");
    for (kind, attr) in [
        (PrincipalKind::Role, "roles"),
        (PrincipalKind::User, "users"),
        (PrincipalKind::Group, "groups"),
    ] {
        for principal in principal_refs(inst, index, facts, kind, attr) {
            for policy in &policies {
                facts.attachments.push(AttachmentFact {
                    principal: principal.clone(),
                    policy: policy.clone(),
                    address: inst.address.to_string(),
                });
            }
        }
    }
}

fn visit_single(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    facts: &mut Facts,
    kind: PrincipalKind,
    attr: &str,
) {
    if inst.is_deleted() {
        // Still listed in the role's refreshed `managed_policy_arns` until applied: claimed.
        if let (Some(arn), Some(principal)) =
            (inst.before_string("policy_arn"), inst.before_string(attr))
        {
            facts.claims.push(ClaimFact {
                principal: PrincipalRef::Name(kind, principal),
                policy: Claim::Arn(arn),
            });
        }
        return;
    }
    let policies = policy_refs(inst, index, "policy_arn");
    for principal in principal_refs(inst, index, facts, kind, attr) {
        for policy in &policies {
            facts.attachments.push(AttachmentFact {
                principal: principal.clone(),
                policy: policy.clone(),
                address: inst.address.to_string(),
            });
        }
    }
}

fn principal_type(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Role => "aws_iam_role",
        PrincipalKind::User => "aws_iam_user",
        PrincipalKind::Group => "aws_iam_group",
    }
}

/// The principals named by attribute `attr` (a name or a list of names): known values by name,
/// unknown ones through configuration references. Records a warning when neither works.
pub fn principal_refs(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    facts: &mut Facts,
    kind: PrincipalKind,
    attr: &str,
) -> Vec<PrincipalRef> {
    let mut out = Vec::new();
    let known: Vec<String> = match inst.string(attr) {
        Some(one) => vec![one],
        None => inst.strings(attr).unwrap_or_default(),
    };
    for name in known {
        // `role` accepts a name; an ARN's last path segment is the name.
        let name = if name.starts_with("arn:") {
            name.rsplit('/').next().unwrap_or(&name).to_string()
        } else {
            name
        };
        out.push(PrincipalRef::Name(kind, name));
    }
    if out.is_empty() || inst.is_unknown(attr) {
        for address in resolve_reference(index, inst, inst.expr(attr), &[principal_type(kind)]) {
            out.push(PrincipalRef::Address(address));
        }
    }
    // Settled: a known list (maybe empty, maybe the configuration's constant) or a known null,
    // which names no one (`users = null` with `users = []` in the configuration).
    let settled = match inst.value(attr) {
        Some(Value::Null) => !inst.is_unknown(attr),
        Some(_) => true,
        None => false,
    };
    if out.is_empty() && !settled && (inst.is_unknown(attr) || inst.expr(attr).is_some()) {
        facts.warnings.push(format!(
            "{}: cannot tell which {kind} `{attr}` names (unknown until apply, and not a reference to a {kind} in the same module)",
            inst.address
        ));
    }
    out
}

/// The policies named by `attr` (an ARN or a list of ARNs).
pub fn policy_refs(inst: &Instance<'_>, index: &PlanIndex<'_>, attr: &str) -> Vec<PolicyRef> {
    let mut out: Vec<PolicyRef> = match inst.string(attr) {
        Some(one) => vec![PolicyRef::Arn(one)],
        None => inst
            .strings(attr)
            .unwrap_or_default()
            .into_iter()
            .map(PolicyRef::Arn)
            .collect(),
    };
    // Known: a value the plan shows, or the configuration's constant for one it leaves unknown.
    let known = inst.value(attr).is_some_and(|v| !v.is_null());
    if !known || (inst.is_unknown(attr) && inst.constant(attr).is_none()) {
        let addrs = resolve_reference(index, inst, inst.expr(attr), &["aws_iam_policy"]);
        if addrs.is_empty() && out.is_empty() {
            let reason = if references_variable(inst.expr(attr)) {
                UnknownReason::FromVariable
            } else {
                UnknownReason::ComputedAtApply
            };
            out.push(PolicyRef::Unknown(reason));
        }
        out.extend(addrs.into_iter().map(PolicyRef::Address));
    }
    out
}
