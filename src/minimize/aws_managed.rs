//! Customer-managed replacements of AWS-managed policies: AWS-managed policies cannot be edited, so
//! the minimizer leaves them unchanged; here each resolved AWS-managed attachment is trimmed as a
//! customer-managed copy (`crate::iam::aws_managed::replacement_view`), and a copy that changes
//! anything takes the place of the unchanged suggestion in its principal's outcome.
//!
//! Main entry: [`minimize_with_replacements`], which returns the outcomes and the
//! [`PolicyReplacement`]s for the Terraform writer. Whether an attachment existed before the plan
//! (so that its actions can have usage) is read from the plan's typed `before` values
//! ([`PriorAttachments`]), never from its text. It writes no Terraform: `crate::emit::replacement`
//! does.

use super::{PrincipalOutcome, PrincipalStatus, minimize_all};
use crate::config::Config;
// The size helpers are moving to `minimize::size`; `emit::replacement` re-exports them.
use super::size::{MANAGED_POLICY_MAX_CHARS, policy_size, split_for_size};
use crate::iam::aws_managed;
use crate::iam::catalog::Catalog;
use crate::iam::discover::strip_instance_keys;
use crate::iam::{PolicyDocument, Principal};
use crate::plan::model::Plan;
use crate::usage::ObservedUsage;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One AWS-managed attachment to replace with a customer-managed policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyReplacement {
    /// The address the suggestion is reported under (attachment and ARN).
    pub policy_address: String,
    /// The AWS-managed policy's ARN.
    pub arn: String,
    /// Instance address of the attachment resource, or of the role for `managed_policy_arns`.
    pub attachment: String,
    /// True when the role's `managed_policy_arns` attaches it (no attachment resource).
    pub role_attribute: bool,
    /// The trimmed document; `None` when nothing of the policy was used (detach it).
    pub suggested: Option<PolicyDocument>,
}

impl PolicyReplacement {
    /// The module key (`app.db` for `module.app.module.db.x.y`) of the attachment.
    pub fn module_key(&self) -> String {
        split_module(&strip_instance_keys(&self.attachment)).0
    }

    /// The attachment's block address within its module, e.g. `aws_iam_role_policy_attachment.ro`.
    pub fn block_in_module(&self) -> String {
        split_module(&strip_instance_keys(&self.attachment)).1
    }

    /// The AWS-managed policy's name, the last part of its ARN.
    pub fn policy_name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }

    /// The managed policies the replacement is written as (see [`split_for_size`]); empty when
    /// nothing was used (detach).
    pub fn parts(&self) -> Vec<PolicyDocument> {
        self.suggested
            .as_ref()
            .map(split_for_size)
            .unwrap_or_default()
    }
}

/// `module.a.module.b.type.name` -> (`a.b`, `type.name`).
fn split_module(address: &str) -> (String, String) {
    let mut parts: Vec<&str> = address.split('.').collect();
    let mut module = Vec::new();
    while parts.len() > 2 && parts[0] == "module" {
        module.push(parts[1]);
        parts.drain(..2);
    }
    (module.join("."), parts.join("."))
}

/// Which policy ARNs each resource attached before this plan, read from the plan's `before`
/// values: an attachment's `policy_arn`, an exclusive attachment's `policy_arns`, a role's
/// `managed_policy_arns`. A resource this plan creates has no `before`, so it attached nothing.
#[derive(Debug, Clone, Default)]
pub struct PriorAttachments {
    by_address: HashMap<String, BTreeSet<String>>,
}

/// The attributes of a `before` value that attach policies by ARN.
#[derive(Deserialize)]
struct PriorLinks {
    #[serde(default)]
    policy_arn: Option<serde_json::Value>,
    #[serde(default)]
    policy_arns: Option<serde_json::Value>,
    #[serde(default)]
    managed_policy_arns: Option<serde_json::Value>,
}

impl PriorAttachments {
    /// Reads the kept `resource_changes` of `plan` (the first entry of an address that is not a
    /// deposed object, as Terraform lists the current one first).
    pub fn from_plan(plan: &Plan) -> Self {
        let mut by_address: HashMap<String, BTreeSet<String>> = HashMap::new();
        for change in plan
            .resource_changes
            .kept
            .iter()
            .filter(|c| c.deposed.is_none())
        {
            if by_address.contains_key(&change.address) {
                continue;
            }
            let arns = change
                .change
                .before
                .as_deref()
                // `null` (a create) and anything but an object attach nothing.
                .and_then(|raw| serde_json::from_str::<PriorLinks>(raw.get()).ok())
                .map(|links| {
                    [
                        links.policy_arn,
                        links.policy_arns,
                        links.managed_policy_arns,
                    ]
                    .into_iter()
                    .flatten()
                    .flat_map(arn_strings)
                    .collect()
                })
                .unwrap_or_default();
            by_address.insert(change.address.clone(), arns);
        }
        PriorAttachments { by_address }
    }

    /// Whether `attachment` attached `arn` before this plan. Unknown means no, which keeps the
    /// whole policy (nothing can be removed for lack of usage that cannot exist yet).
    pub fn attached(&self, attachment: &str, arn: &str) -> bool {
        self.by_address
            .get(attachment)
            .is_some_and(|arns| arns.contains(arn))
    }
}

/// The ARN strings of an attribute value: a string, or a list of them.
fn arn_strings(value: serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s],
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The minimizer's outcomes and the AWS-managed replacements that go with them.
#[derive(Debug, Clone, Default)]
pub struct Minimized {
    /// Per principal, riskiest first.
    pub outcomes: Vec<PrincipalOutcome>,
    /// Customer-managed replacements of AWS-managed attachments whose suggestion removes actions.
    pub replacements: Vec<PolicyReplacement>,
}

/// [`minimize_all`], then, when `prior` is given, the customer-managed copies of resolved
/// AWS-managed attachments: a copy that changes anything replaces the unchanged AWS-managed
/// suggestion in its outcome, and is returned as a replacement for the Terraform writer. Without
/// `prior` no replacement is made (`--aws-managed off`, and `check`).
pub fn minimize_with_replacements(
    principals: &[Principal],
    usage: &BTreeMap<String, ObservedUsage>,
    catalog: &'static Catalog,
    config: &Config,
    prior: Option<&PriorAttachments>,
) -> Minimized {
    let mut outcomes = minimize_all(principals, usage, catalog, config);
    super::size::flag_inline_aggregates(principals, &mut outcomes);
    let replacements = match prior {
        Some(prior) => {
            replace_aws_managed(principals, usage, catalog, config, prior, &mut outcomes)
        }
        None => Vec::new(),
    };
    Minimized {
        outcomes,
        replacements,
    }
}

fn replace_aws_managed(
    principals: &[Principal],
    usage: &BTreeMap<String, ObservedUsage>,
    catalog: &'static Catalog,
    config: &Config,
    prior: &PriorAttachments,
    outcomes: &mut [PrincipalOutcome],
) -> Vec<PolicyReplacement> {
    let view = aws_managed::replacement_view(principals, |attachment, arn| {
        prior.attached(attachment, arn)
    });
    if view.iter().all(|p| p.policies.is_empty()) {
        return Vec::new();
    }
    let copies = minimize_all(&view, usage, catalog, config);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for copy in copies {
        let Some(principal) = view.iter().find(|p| p.address == copy.address) else {
            continue;
        };
        let Some(outcome) = outcomes.iter_mut().find(|o| o.address == copy.address) else {
            continue;
        };
        for mut s in copy
            .suggestions
            .into_iter()
            .filter(|s| s.changes_anything())
        {
            let Some(source) = principal
                .policies
                .iter()
                .find(|p| p.address == s.policy_address)
            else {
                continue;
            };
            let (Some(arn), Some(attachment)) = (&source.arn, &source.attachment) else {
                continue;
            };
            // The copy was split by service to be trimmed; the report shows the policy as attached.
            if let Some(original) = principals
                .iter()
                .find(|p| p.address == copy.address)
                .and_then(|p| p.policies.iter().find(|o| o.arn.as_ref() == Some(arn)))
                .and_then(|o| o.document.as_ref())
            {
                s.current = std::sync::Arc::clone(original);
            }
            s.suggested = s.suggested.as_ref().map(aws_managed::join_by_scope);
            if let Some(doc) = s
                .suggested
                .as_ref()
                .filter(|d| policy_size(d) > MANAGED_POLICY_MAX_CHARS)
            {
                s.notes.push(format!(
                    "the replacement is {} characters, over IAM's {MANAGED_POLICY_MAX_CHARS} for a managed policy: written as {} policies within the limit, to attach together",
                    policy_size(doc),
                    split_for_size(doc).len()
                ));
            }
            // The AWS-managed suggestion it replaces has the ARN as its address.
            outcome.suggestions.retain(|o| &o.policy_address != arn);
            outcome.status = PrincipalStatus::Minimized;
            outcome.unchanged_reason = None;
            if seen.insert(s.policy_address.clone()) {
                out.push(PolicyReplacement {
                    policy_address: s.policy_address.clone(),
                    arn: arn.clone(),
                    attachment: attachment.clone(),
                    role_attribute: attachment == &principal.address,
                    suggested: s.suggested.clone(),
                });
            }
            outcome.suggestions.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

    fn plan(resource_changes: &str) -> Plan {
        let text = format!(
            r#"{{"format_version":"1.2","terraform_version":"1.9.0","resource_changes":{resource_changes}}}"#
        );
        serde_json::from_str(&text).expect("a test plan")
    }

    #[test]
    fn an_arn_named_only_in_a_tag_is_not_an_attachment_before_the_plan() {
        // The old check searched the `before` JSON text for the quoted ARN: a role whose tag (or
        // description) names the policy counted as having it attached, so the copy's actions
        // lost their "new in this plan" protection and could be removed for lack of usage.
        let p = plan(&format!(
            r#"[{{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r",
                "change":{{"actions":["update"],
                  "before":{{"name":"r","managed_policy_arns":[],"tags":{{"replaces":"{READ_ONLY}"}}}},
                  "after":{{"name":"r","managed_policy_arns":["{READ_ONLY}"]}}}}}}]"#
        ));
        let prior = PriorAttachments::from_plan(&p);
        assert!(!prior.attached("aws_iam_role.r", READ_ONLY));
    }

    #[test]
    fn attachments_before_the_plan_are_read_from_their_arn_attributes() {
        let p = plan(&format!(
            r#"[
              {{"address":"aws_iam_role_policy_attachment.ro","mode":"managed","type":"aws_iam_role_policy_attachment","name":"ro",
                "change":{{"actions":["no-op"],"before":{{"role":"r","policy_arn":"{READ_ONLY}"}},"after":{{"role":"r","policy_arn":"{READ_ONLY}"}}}}}},
              {{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r",
                "change":{{"actions":["no-op"],"before":{{"managed_policy_arns":["{READ_ONLY}"]}},"after":{{"managed_policy_arns":["{READ_ONLY}"]}}}}}},
              {{"address":"aws_iam_role_policy_attachments_exclusive.x","mode":"managed","type":"aws_iam_role_policy_attachments_exclusive","name":"x",
                "change":{{"actions":["no-op"],"before":{{"role_name":"r","policy_arns":["{READ_ONLY}"]}},"after":{{"role_name":"r","policy_arns":["{READ_ONLY}"]}}}}}},
              {{"address":"aws_iam_role_policy_attachment.new","mode":"managed","type":"aws_iam_role_policy_attachment","name":"new",
                "change":{{"actions":["create"],"before":null,"after":{{"role":"r","policy_arn":"{READ_ONLY}"}}}}}}
            ]"#
        ));
        let prior = PriorAttachments::from_plan(&p);
        assert!(prior.attached("aws_iam_role_policy_attachment.ro", READ_ONLY));
        assert!(prior.attached("aws_iam_role.r", READ_ONLY));
        assert!(prior.attached("aws_iam_role_policy_attachments_exclusive.x", READ_ONLY));
        assert!(!prior.attached("aws_iam_role_policy_attachment.new", READ_ONLY));
        assert!(!prior.attached("aws_iam_role_policy_attachment.absent", READ_ONLY));
        assert!(!prior.attached(
            "aws_iam_role_policy_attachment.ro",
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
    }
}
