//! `aws_iam_role`, `aws_iam_user`, `aws_iam_group`: the principals themselves, plus a role's
//! `inline_policy` blocks and `managed_policy_arns`.

use super::attachment::policy_refs;
use super::document::document_fact;
use crate::iam::discover::{
    AttachmentFact, Facts, InlineFact, Instance, PlanIndex, PrincipalFact, PrincipalRef,
};
use crate::iam::principal::{PolicyOrigin, PrincipalKind};
use crate::plan::Expr;
use serde_json::Value;

/// `aws_iam_role`.
pub fn visit_role(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts) {
    if !record(inst, PrincipalKind::Role, facts) {
        return;
    }
    let me = PrincipalRef::Address(inst.address.to_string());
    // Without an `inline_policy` block in the configuration, the attribute is computed: it mirrors the
    // aws_iam_role_policy resources (read by their own handler) and policies made outside Terraform.
    if inst.config.is_none() || inst.expr("inline_policy").is_some() {
        inline_blocks(inst, index, facts, &me);
    }
    // managed_policy_arns only when the configuration sets it; otherwise the state lists attachments
    // made by other resources (or outside Terraform), which their own handlers cover.
    if inst.expr("managed_policy_arns").is_some() {
        for policy in policy_refs(inst, index, "managed_policy_arns") {
            facts.attachments.push(AttachmentFact {
                principal: me.clone(),
                policy,
                address: inst.address.to_string(),
            });
        }
    }
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
    let name = if inst.is_sensitive("name") {
        None
    } else {
        inst.string("name")
    };
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
    });
    true
}

fn inline_blocks(inst: &Instance<'_>, index: &PlanIndex<'_>, facts: &mut Facts, me: &PrincipalRef) {
    let after_value = inst.after.as_ref().and_then(|a| a.get("inline_policy"));
    let before_value = inst.before.as_ref().and_then(|a| a.get("inline_policy"));
    let sensitive_value = inst.sensitive.as_ref().and_then(|s| s.get("inline_policy"));
    let after = after_value.as_ref().and_then(Value::as_array);
    let before = before_value.as_ref().and_then(Value::as_array);
    let config_blocks: Vec<_> = inst
        .expr("inline_policy")
        .map(Expr::blocks)
        .unwrap_or_default();
    let Some(blocks) = after.or(before) else {
        return;
    };
    for (i, block) in blocks.iter().enumerate() {
        let name = block
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string);
        if name.as_deref().unwrap_or("").is_empty()
            && block
                .get("policy")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            continue; // the empty block the provider keeps when no inline policy is configured
        }
        let before_value = before
            .and_then(|b| {
                b.iter()
                    .find(|x| x.get("name").and_then(Value::as_str) == name.as_deref())
            })
            .and_then(|x| x.get("policy"));
        let sensitive = sensitive_value
            .as_ref()
            .and_then(|s| s.get(i))
            .and_then(|s| s.get("policy"))
            .is_some_and(|v| v == &Value::Bool(true));
        let expr = config_blocks.get(i).and_then(|b| b.get("policy"));
        let document = document_fact(
            inst,
            index,
            block.get("policy"),
            before_value,
            expr,
            sensitive,
        );
        facts.inline.push(InlineFact {
            principal: me.clone(),
            address: inst.address.to_string(),
            name: name.clone(),
            origin: PolicyOrigin {
                resource: inst.address.to_string(),
                attribute: "inline_policy".into(),
                block_name: name,
                document_source: document.document_source.clone(),
            },
            document,
        });
    }
}
