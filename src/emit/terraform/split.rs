//! Suggestions over IAM's size limit for their kind of policy (issue 14): the suggested document is
//! written as several customer-managed policies in the module's `iamtrim.suggested.tf`, each a
//! `data "aws_iam_policy_document"` and an `aws_iam_policy`, with a comment saying how to attach
//! them in place of the policy. Several policies are never a patch in place. The same goes for a
//! suggestion that moves out because its principal's inline policies are together over their
//! aggregate limit ([`OverLimit::Together`]).
//!
//! Main items: [`size_limit`] (the limit that applies where a document is written) and
//! [`split_blocks`] (the Terraform text). The splitting itself is `crate::minimize::size`.

use crate::emit::terraform::edit::PolicyLocation;
use crate::emit::terraform::modules::config_module;
use crate::emit::terraform::suggestion::{hcl_string, policy_document_block};
use crate::iam::policy::PolicyDocument;
use crate::minimize::size::{InlineOverflow, MANAGED_POLICY_MAX_CHARS, SizeLimit};
use crate::plan::model::{Expr, Plan};

/// The size limit of the policy written at `location`: from its resource type, or for a
/// `data "aws_iam_policy_document"` the smallest limit among the resources of its module that
/// use it (a managed policy's when none is found).
pub fn size_limit(plan: &Plan, location: &PolicyLocation) -> SizeLimit {
    if !location.is_data {
        return SizeLimit::of_resource_type(&location.resource_type).unwrap_or(SizeLimit::Managed);
    }
    let name = location.block_address();
    let Some(module) = config_module(plan, &location.module_key) else {
        return SizeLimit::Managed;
    };
    module
        .resources
        .iter()
        .filter(|r| r.expressions.values().any(|e| references(e, &name)))
        .filter_map(|r| SizeLimit::of_resource_type(&r.resource_type))
        .min_by_key(|l| l.max_chars())
        .unwrap_or(SizeLimit::Managed)
}

/// True when `expr` (or a nested block of it) references `address` or an attribute of it.
fn references(expr: &Expr, address: &str) -> bool {
    match expr {
        Expr::Leaf(e) => e.references.iter().flatten().any(|r| {
            r.strip_prefix(address)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        }),
        Expr::Blocks(_) | Expr::Block(_) => expr
            .blocks()
            .iter()
            .any(|b| b.values().any(|e| references(e, address))),
    }
}

/// The Terraform names of `n` parts of a suggestion named `name`: `name` for one, else
/// `name_1` ... `name_N`.
fn part_names(name: &str, n: usize) -> Vec<String> {
    if n == 1 {
        return vec![name.to_string()];
    }
    (1..=n).map(|i| format!("{name}_{i}")).collect()
}

/// Why a suggestion is written as managed policies.
#[derive(Debug, Clone, Copy)]
pub enum OverLimit<'a> {
    /// Its own document, `size` characters, is over `limit`.
    Alone {
        /// The counted characters of the trimmed document.
        size: usize,
        /// The limit of its kind of policy.
        limit: SizeLimit,
    },
    /// The principal's inline policies are together over their aggregate limit, and this one
    /// moves so the rest fits.
    Together(&'a InlineOverflow),
}

/// What to do by hand with the `parts` named after `name`, for the policy at `location`, which
/// is over a limit as `over` says.
pub fn split_note(
    location: &PolicyLocation,
    name: &str,
    parts: usize,
    over: OverLimit<'_>,
) -> String {
    let limit = match over {
        OverLimit::Alone { limit, .. } => limit,
        OverLimit::Together(overflow) => overflow.limit,
    };
    let arns = part_names(name, parts)
        .iter()
        .map(|n| format!("aws_iam_policy.{n}.arn"))
        .collect::<Vec<_>>()
        .join(", ");
    let policies = if parts == 1 { "policy" } else { "policies" };
    let attach = match limit {
        SizeLimit::Managed => format!(
            "attach {arns} wherever {} is attached, then remove it",
            location.block_address()
        ),
        SizeLimit::RoleInline => format!(
            "attach {arns} to the role with an aws_iam_role_policy_attachment each, then remove {}",
            location.describe()
        ),
        SizeLimit::UserInline => format!(
            "attach {arns} to the user with an aws_iam_user_policy_attachment each, then remove {}",
            location.describe()
        ),
        SizeLimit::GroupInline => format!(
            "attach {arns} to the group with an aws_iam_group_policy_attachment each, then remove {}",
            location.describe()
        ),
    };
    let why = match over {
        OverLimit::Alone { size, limit } => format!(
            "trimmed, it is {size} characters, over IAM's {} for {}, so it",
            limit.max_chars(),
            limit.describe(),
        ),
        OverLimit::Together(overflow) => format!("{}, so this one", overflow.describe()),
    };
    format!(
        "{}: {why} is written as {parts} managed {policies} of at most {MANAGED_POLICY_MAX_CHARS} below (review them: this is not a patch): {attach}.",
        location.describe(),
    )
}

/// The comment `note`, then a `data "aws_iam_policy_document"` and an `aws_iam_policy` per part.
pub fn split_blocks(
    name: &str,
    location: &PolicyLocation,
    parts: &[PolicyDocument],
    note: &str,
) -> String {
    let mut out = format!("# {note}\n");
    let names = part_names(name, parts.len());
    for (i, (doc, part)) in parts.iter().zip(&names).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&policy_document_block(part, doc));
        out.push('\n');
        let policy_name = format!("{}-iamtrim-{}", location.resource_name, i + 1);
        let description = format!(
            "{} trimmed to the actions in use, part {} of {} (iamtrim)",
            location.describe(),
            i + 1,
            parts.len()
        );
        out.push_str(&format!(
            "resource \"aws_iam_policy\" {} {{\n  name        = {}\n  description = {}\n  policy      = data.aws_iam_policy_document.{part}.json\n}}\n",
            hcl_string(part),
            hcl_string(&policy_name),
            hcl_string(&description),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::terraform::edit::PolicyTarget;

    fn location(resource_type: &str, name: &str, is_data: bool) -> PolicyLocation {
        PolicyLocation {
            module_key: String::new(),
            resource_type: resource_type.into(),
            resource_name: name.into(),
            is_data,
            target: PolicyTarget::PolicyAttribute,
        }
    }

    #[test]
    fn a_policy_document_takes_the_smallest_limit_of_the_resources_that_use_it() {
        let plan: Plan = serde_json::from_str(
            r#"{"format_version":"1.2","configuration":{"root_module":{"resources":[
                {"address":"aws_iam_policy.p","mode":"managed","type":"aws_iam_policy","name":"p",
                 "expressions":{"policy":{"references":["data.aws_iam_policy_document.x.json","data.aws_iam_policy_document.x"]}}},
                {"address":"aws_iam_user_policy.u","mode":"managed","type":"aws_iam_user_policy","name":"u",
                 "expressions":{"policy":{"references":["data.aws_iam_policy_document.x.json","data.aws_iam_policy_document.x"]}}},
                {"address":"aws_iam_group_policy.g","mode":"managed","type":"aws_iam_group_policy","name":"g",
                 "expressions":{"policy":{"references":["data.aws_iam_policy_document.xy.json","data.aws_iam_policy_document.xy"]}}},
                {"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r",
                 "expressions":{"inline_policy":[{"policy":{"references":["data.aws_iam_policy_document.y.json","data.aws_iam_policy_document.y"]}}]}}
            ]}}}"#,
        )
        .unwrap();
        let limit =
            |name: &str| size_limit(&plan, &location("aws_iam_policy_document", name, true));
        assert_eq!(limit("x"), SizeLimit::UserInline);
        // `xy` is not `x`: a reference matches whole names only.
        assert_eq!(limit("xy"), SizeLimit::GroupInline);
        assert_eq!(limit("y"), SizeLimit::RoleInline);
        assert_eq!(limit("unused"), SizeLimit::Managed);
        assert_eq!(
            size_limit(&plan, &location("aws_iam_group_policy", "g", false)),
            SizeLimit::GroupInline
        );
    }
}
