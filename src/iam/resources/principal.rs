//! `aws_iam_role`, `aws_iam_user`, `aws_iam_group`: the principals themselves, plus a role's
//! `inline_policy` blocks and `managed_policy_arns`.

use super::attachment::policy_refs;
use super::document::{attribute_document, document_fact};
use crate::iam::discover::facts::{
    AttachmentFact, Facts, InlineFact, OutsideFact, OutsidePolicy, PrincipalFact, PrincipalRef,
};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::discover::marks::Step;
use crate::iam::policy::Effect;
use crate::iam::principal::{PolicyOrigin, PolicyTarget, PrincipalKind};
use crate::plan::Expr;
use serde_json::Value;

/// `aws_iam_role`.
pub fn visit_role(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if !record(inst, PrincipalKind::Role, facts) {
        return;
    }
    let me = PrincipalRef::Address(inst.address.to_string());
    if let Some(p) = facts.principals.last_mut() {
        p.trusted_services = trusted_services(inst, index);
    }
    // With an `inline_policy` block in the configuration, every listed block is the configuration's.
    // Without one, the attribute is computed: it lists the aws_iam_role_policy resources (read by
    // their own handler), policies attached outside this configuration, and blocks of a `dynamic
    // "inline_policy"`, which the plan's configuration does not show.
    if inst.config.is_none() || inst.expr("inline_policy").is_some() {
        inline_blocks(inst, index, facts, &me, true);
    } else {
        inline_blocks(inst, index, facts, &me, false);
    }
    if inst.expr("managed_policy_arns").is_some() {
        for policy in policy_refs(inst, index, "managed_policy_arns") {
            facts.attachments.push(AttachmentFact {
                principal: me.clone(),
                policy,
                address: inst.address.to_string(),
            });
        }
    } else if inst.action != "create" && inst.action != "replace" {
        // Not set by the configuration: the refreshed list of an existing role holds every policy
        // attached to it in AWS; those no attachment resource claims are attached outside (the
        // join drops the claimed ones).
        for arn in inst.strings("managed_policy_arns").unwrap_or_default() {
            facts.outside.push(OutsideFact {
                principal: me.clone(),
                policy: OutsidePolicy::Arn(arn),
            });
        }
    }
}

/// The AWS service principals a role's trust policy (`assume_role_policy`) lets in, sorted: from
/// the known JSON, else from the `aws_iam_policy_document` it references. Empty when unknown.
fn trusted_services(inst: &Instance<'_>, index: &PlanIndex<'_>) -> Vec<String> {
    let doc = attribute_document(inst, index, "assume_role_policy");
    let Ok(doc) = doc.after else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
        let Some((key, principal)) = &st.principal else {
            continue;
        };
        if key != "Principal" {
            continue; // NotPrincipal lets in everyone but the named: no service is named as trusted
        }
        match principal.get("Service") {
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Array(items)) => {
                out.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `aws_iam_user`.
pub fn visit_user(inst: &Instance<'_>, _index: &PlanIndex<'_>, facts: &mut Facts) {
    record(inst, PrincipalKind::User, facts);
}

/// `aws_iam_group`.
pub fn visit_group(inst: &Instance<'_>, _index: &PlanIndex<'_>, facts: &mut Facts) {
    record(inst, PrincipalKind::Group, facts);
}

fn record(inst: &Instance<'_>, kind: PrincipalKind, facts: &mut Facts) -> bool {
    if inst.is_deleted() {
        return false;
    }
    // An ARN exists only for a principal already in AWS: from `before`, never a planned value.
    let arn = inst.before_string("arn").or_else(|| {
        inst.after
            .as_ref()
            .and_then(|a| a.get_str("arn"))
            .filter(|_| inst.action != "create")
    });
    let name = inst.shown_string("name");
    facts.principals.push(PrincipalFact {
        address: inst.address.to_string(),
        block_address: inst.block_address(),
        module_address: inst.module_address.to_string(),
        index: inst.index.cloned(),
        kind,
        name,
        arn: if inst.action == "replace" && inst.is_unknown("arn") {
            None
        } else {
            arn
        },
        action: inst.action.to_string(),
        trusted_services: Vec::new(),
    });
    true
}

/// A role's `inline_policy` blocks: the configuration's when `configured` (or when they cannot be
/// from anywhere else), else sorted into dynamic blocks and policies attached outside.
fn inline_blocks(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    facts: &mut Facts,
    me: &PrincipalRef,
    configured: bool,
) {
    let after_value = inst.after.as_ref().and_then(|a| a.get("inline_policy"));
    let before_value = inst.before.as_ref().and_then(|a| a.get("inline_policy"));
    let after = after_value.as_ref().and_then(Value::as_array);
    let before = before_value.as_ref().and_then(Value::as_array);
    let config_blocks: Vec<_> = inst
        .expr("inline_policy")
        .map(Expr::blocks)
        .unwrap_or_default();
    let Some(blocks) = after.or(before) else {
        return;
    };
    // A role this plan creates has no policy yet in AWS: whatever it lists is configuration.
    let exists = inst.action != "create" && inst.action != "replace";
    // Not configured and unknown after the change: what the plan lists is the old state only, the
    // policies of a role that exists (outside, or mirrored from aws_iam_role_policy resources).
    if !configured && after.is_none() && !exists {
        return;
    }
    for (i, block) in blocks.iter().enumerate() {
        let name = block
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let policy_unknown = after.is_some()
            && inst.is_unknown_at(&[
                Step::Key("inline_policy"),
                Step::Index(i),
                Step::Key("policy"),
            ]);
        if name.as_deref().unwrap_or("").is_empty()
            && block
                .get("policy")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            && !policy_unknown
        {
            continue; // the empty block the provider keeps when no inline policy is configured
        }
        let before_block = before.and_then(|b| {
            b.iter()
                .find(|x| x.get("name").and_then(Value::as_str) == name.as_deref())
        });
        let before_value = before_block.and_then(|x| x.get("policy"));
        let sensitive = inst.is_sensitive_at(&[
            Step::Key("inline_policy"),
            Step::Index(i),
            Step::Key("policy"),
        ]);
        let shown_name = if inst.is_sensitive_at(&[
            Step::Key("inline_policy"),
            Step::Index(i),
            Step::Key("name"),
        ]) {
            None
        } else {
            name.clone()
        };
        // Not configured: a block whose value is planned (unknown, new, or changed) comes from a
        // `dynamic` block; one that is as it was in AWS is attached outside this configuration (or
        // by an aws_iam_role_policy, which the join recognises by name).
        let unchanged =
            after.is_none() || before_block.is_some_and(|b| b.get("policy") == block.get("policy"));
        if !configured && exists && unchanged && !policy_unknown {
            // Parsed only if no resource claims it (most mirror an aws_iam_role_policy).
            facts.outside.push(OutsideFact {
                principal: me.clone(),
                policy: OutsidePolicy::Inline {
                    name: name.unwrap_or_default(),
                    shown_name,
                    document: if sensitive {
                        None
                    } else {
                        block.get("policy").cloned()
                    },
                    sensitive,
                },
            });
            continue;
        }
        let expr = config_blocks.get(i).and_then(|b| b.get("policy"));
        let document = document_fact(
            inst,
            index,
            block.get("policy"),
            before_value,
            expr,
            sensitive,
            "inline_policy",
        );
        facts.inline.push(InlineFact {
            principal: me.clone(),
            address: inst.address.to_string(),
            name: shown_name.clone(),
            match_name: name,
            origin: PolicyOrigin {
                resource: inst.address.to_string(),
                target: PolicyTarget::InlinePolicyBlock { name: shown_name },
                document_source: document.document_source.clone(),
            },
            document,
        });
    }
}
