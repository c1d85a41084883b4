//! The first step of the writer's plan: from the analysis, one [`PolicyEdit`] per policy document
//! a suggestion changes, located where Terraform writes it (the rendering
//! `data "aws_iam_policy_document"` when there is one, else the resource's own target), each marked
//! when it moves to managed policies because its principal's inline policies are together over
//! IAM's aggregate limit.

use crate::emit::terraform::edit::{PolicyEdit, PolicyLocation, PolicyTarget};
use crate::iam::discover::strip_instance_keys;
use crate::iam::{PolicySource, Principal};
use crate::minimize::Analysis;
use crate::minimize::size::{InlineOverflow, inline_overflow};
use std::collections::{BTreeSet, HashMap};

/// One edit per policy document that changes (a shared policy once), located in Terraform.
///
/// Policies with no known place in Terraform (outside the plan, or an address that does not parse)
/// get no edit.
pub fn policy_edits(analysis: &Analysis) -> Vec<PolicyEdit> {
    let mut principals: HashMap<&str, &Principal> = HashMap::new();
    for p in &analysis.discovery.principals {
        principals.entry(p.address.as_str()).or_insert(p);
    }
    // Which suggestions move to managed policies, computed as the minimizer did when it flagged
    // them, for every principal before any edit: a group's policy may first be met under a member
    // user, whose inline limit it does not count against.
    let mut moving: HashMap<String, InlineOverflow> = HashMap::new();
    for outcome in &analysis.outcomes {
        let Some(principal) = principals.get(outcome.address.as_str()) else {
            continue;
        };
        if let Some(overflow) = inline_overflow(principal, &outcome.suggestions) {
            for address in &overflow.moved {
                moving.insert(address.clone(), overflow.clone());
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut edits = Vec::new();
    for outcome in &analysis.outcomes {
        let Some(principal) = principals.get(outcome.address.as_str()) else {
            continue;
        };
        for s in &outcome.suggestions {
            let Some(suggested) = &s.suggested else {
                continue;
            };
            if !s.changes_anything() || !seen.insert(s.policy_address.clone()) {
                continue;
            }
            let Some(source) = source_of(principal, &s.policy_address) else {
                continue;
            };
            let Some(location) = location_of(source) else {
                continue;
            };
            edits.push(PolicyEdit {
                location,
                current: std::sync::Arc::clone(&s.current),
                suggested: suggested.clone(),
                statements: s.statements.clone(),
                inline_overflow: moving.get(&s.policy_address).cloned(),
            });
        }
    }
    edits
}

fn source_of<'a>(p: &'a Principal, policy_address: &str) -> Option<&'a PolicySource> {
    p.policies.iter().find(|s| s.address == policy_address)
}

/// Where a policy's document is written: the rendering data source when there is one.
pub fn location_of(source: &PolicySource) -> Option<PolicyLocation> {
    let origin = source.origin.as_ref()?;
    let (address, target) = match &origin.document_source {
        Some(doc) => (doc.as_str(), PolicyTarget::DocumentStatements),
        None => (origin.resource.as_str(), origin.target.clone()),
    };
    let block = strip_instance_keys(address);
    let mut parts: Vec<&str> = block.split('.').collect();
    let mut module = Vec::new();
    while parts.len() > 2 && parts[0] == "module" {
        module.push(parts[1]);
        parts.drain(..2);
    }
    let is_data = parts.first() == Some(&"data");
    if is_data {
        parts.remove(0);
    }
    let [resource_type, resource_name] = parts.as_slice() else {
        return None;
    };
    Some(PolicyLocation {
        module_key: module.join("."),
        resource_type: resource_type.to_string(),
        resource_name: resource_name.to_string(),
        is_data,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::PolicyKind;
    use crate::iam::principal::PolicyOrigin;

    fn source(origin: Option<PolicyOrigin>) -> PolicySource {
        PolicySource {
            address: "aws_iam_role_policy.p".into(),
            kind: PolicyKind::Inline,
            name: None,
            arn: None,
            attachment: None,
            via_group: None,
            document: None,
            before: None,
            unknown_reason: None,
            origin,
        }
    }

    fn origin(resource: &str, target: PolicyTarget, document: Option<&str>) -> PolicyOrigin {
        PolicyOrigin {
            resource: resource.into(),
            target,
            document_source: document.map(str::to_string),
        }
    }

    #[test]
    fn a_rendering_data_source_is_edited_in_its_statements() {
        let s = source(Some(origin(
            "module.app[\"a\"].aws_iam_role_policy.p",
            PolicyTarget::PolicyAttribute,
            Some("module.app[\"a\"].module.db.data.aws_iam_policy_document.d"),
        )));
        assert_eq!(
            location_of(&s),
            Some(PolicyLocation {
                module_key: "app.db".into(),
                resource_type: "aws_iam_policy_document".into(),
                resource_name: "d".into(),
                is_data: true,
                target: PolicyTarget::DocumentStatements,
            })
        );
    }

    #[test]
    fn an_inline_policy_block_keeps_its_target() {
        let target = PolicyTarget::InlinePolicyBlock {
            name: Some("s3".into()),
        };
        let s = source(Some(origin("aws_iam_role.r[0]", target.clone(), None)));
        assert_eq!(
            location_of(&s),
            Some(PolicyLocation {
                module_key: String::new(),
                resource_type: "aws_iam_role".into(),
                resource_name: "r".into(),
                is_data: false,
                target,
            })
        );
    }

    #[test]
    fn a_policy_without_origin_or_with_an_odd_address_has_no_location() {
        assert_eq!(location_of(&source(None)), None);
        let odd = origin("aws_iam_role", PolicyTarget::PolicyAttribute, None);
        assert_eq!(location_of(&source(Some(odd))), None);
    }
}
