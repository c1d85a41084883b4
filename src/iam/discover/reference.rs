//! Reference resolution through the configuration: which instances a linking resource's
//! expression names (`aws_iam_role.r.name`, `var.role` followed up through module calls), for the
//! handlers to record as links when the plan does not know the value yet.

use super::index::{Instance, PlanIndex};
use crate::iam::address::{parse_reference, split_module_instance, strip_instance_keys};
use crate::plan::model::{Expr, InstanceKey};

/// Resolves a configuration reference such as `aws_iam_role.r.name` or `aws_iam_role.r[0].id`, made
/// from the instance `from`, to instance addresses of type `target_type` in the same module instance.
///
/// With `count`/`for_each` on both sides and no explicit index, an instance links to the target
/// instance with the same key (the common "same for_each" pattern); when that cannot be decided it
/// links to every instance, which over-attributes (safe: minimizing then keeps more) rather than
/// missing a link (unsafe).
pub fn resolve_reference(
    index: &PlanIndex<'_>,
    from: &Instance<'_>,
    expr: Option<&Expr>,
    target_types: &[&str],
) -> Vec<String> {
    let Some(refs) = expr
        .and_then(Expr::leaf)
        .and_then(|e| e.references.as_ref())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    resolve_in(
        index,
        from.module_address,
        from.index,
        refs,
        target_types,
        0,
        &mut out,
    );
    out
}

/// Module nesting a variable is followed through at most (Terraform has no limit; plans seen in
/// the wild stay under ten).
const MAX_VARIABLE_DEPTH: usize = 64;

/// [`resolve_reference`] for the references `refs` written in module instance `module_address`,
/// from an instance (or a module instance) with key `key`. A module variable (`var.x`) is followed
/// to the expression the calling module passes for it, resolved in the caller's module instance
/// with the called module instance's key, through any number of levels.
fn resolve_in(
    index: &PlanIndex<'_>,
    module_address: &str,
    key: Option<&InstanceKey>,
    refs: &[String],
    target_types: &[&str],
    depth: usize,
    out: &mut Vec<String>,
) {
    // Terraform lists each traversal and its prefixes (`aws_iam_role.r[0].name`, `aws_iam_role.r[0]`,
    // sometimes `aws_iam_role.r`): keep one target per block, the most specific index.
    let mut targets: Vec<(String, String, bool, Option<InstanceKey>)> = Vec::new();
    let mut variables: Vec<&str> = Vec::new();
    for r in refs {
        if let Some(var) = r.strip_prefix("var.") {
            let name = var.split(['.', '[']).next().unwrap_or(var);
            if !variables.contains(&name) {
                variables.push(name);
            }
            continue;
        }
        let Some((rtype, rname, rindex)) = parse_reference(r) else {
            continue;
        };
        if !target_types.contains(&rtype.as_str()) {
            continue;
        }
        let is_data = r.starts_with("data.");
        match targets
            .iter_mut()
            .find(|t| t.0 == rtype && t.1 == rname && t.2 == is_data)
        {
            Some(t) => {
                if t.3.is_none() {
                    t.3 = rindex;
                }
            }
            None => targets.push((rtype, rname, is_data, rindex)),
        }
    }
    for (rtype, rname, is_data, rindex) in targets {
        let candidates: Vec<&Instance<'_>> =
            index.live_block_instances(module_address, &rtype, &rname, is_data);
        let chosen: Vec<&Instance<'_>> = match &rindex {
            Some(k) => candidates
                .into_iter()
                .filter(|i| i.index == Some(k))
                .collect(),
            None if candidates.len() <= 1 => candidates,
            None => {
                let same: Vec<&Instance<'_>> = candidates
                    .iter()
                    .copied()
                    .filter(|i| i.index.is_some() && i.index == key)
                    .collect();
                if same.len() == 1 { same } else { candidates }
            }
        };
        for c in chosen {
            if !out.iter().any(|o| o == c.address) {
                out.push(c.address.to_string());
            }
        }
    }
    if variables.is_empty() || depth >= MAX_VARIABLE_DEPTH {
        return;
    }
    let Some((parent, call_key)) = split_module_instance(module_address) else {
        return;
    };
    let Some(call) = index.module_call(&strip_instance_keys(module_address)) else {
        return;
    };
    for name in variables {
        let Some(passed) = call
            .expressions
            .get(name)
            .and_then(Expr::leaf)
            .and_then(|e| e.references.as_ref())
        else {
            continue;
        };
        resolve_in(
            index,
            parent,
            call_key.as_ref(),
            passed,
            target_types,
            depth + 1,
            out,
        );
    }
}

/// True when an expression references only input variables / locals (its value comes from outside).
pub fn references_variable(expr: Option<&Expr>) -> bool {
    expr.and_then(Expr::leaf)
        .and_then(|e| e.references.as_ref())
        .is_some_and(|r| {
            r.iter().any(|x| {
                x.starts_with("var.") || x.starts_with("local.") || x.starts_with("each.value")
            })
        })
}
