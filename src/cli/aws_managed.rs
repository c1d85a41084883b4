//! AWS-managed policies in the pipeline: resolving their documents after discovery (online through
//! the IAM API, else the bundled snapshot), and turning minimizer output into customer-managed
//! replacements after minimizing.
//!
//! The minimizer leaves AWS-managed policies unchanged (they cannot be edited), so the replacements
//! come from a second [`minimize_all`] over `crate::iam::aws_managed::replacement_view`, whose
//! suggestions take the place of the unchanged ones in the outcomes.

use super::args::AwsManagedMode;
use crate::config::Config;
use crate::emit::PolicyReplacement;
use crate::emit::replacement::{MANAGED_POLICY_MAX_CHARS, policy_size, split_for_size};
use crate::iam::aws_managed::{self, AwsManagedPolicies};
use crate::iam::catalog::Catalog;
use crate::iam::{PolicyDocument, Principal};
use crate::minimize::{PrincipalOutcome, PrincipalStatus, minimize_all};
use crate::plan::model::Plan;
use crate::usage::ObservedUsage;
use crate::usage::aws::AwsArgs;
use crate::usage::iam_policies::fetch_policy_documents;
use std::collections::{BTreeMap, BTreeSet};

/// Fills AWS-managed documents of `principals` as `mode` says; returns notes for the report.
pub fn resolve(
    principals: &mut [Principal],
    mode: AwsManagedMode,
    aws: &AwsArgs,
    network: bool,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut online: BTreeMap<String, PolicyDocument> = BTreeMap::new();
    match mode {
        AwsManagedMode::Off => return Ok(notes),
        AwsManagedMode::Snapshot => {}
        AwsManagedMode::Online => {
            if !network {
                anyhow::bail!(
                    "--aws-managed online needs the network, which this command does not use"
                );
            }
            let arns = aws_managed::unresolved_arns(principals);
            if !arns.is_empty() {
                let (found, failed) =
                    crate::usage::aws::run_with_aws(aws, 0, |config| async move {
                        let client = aws_sdk_iam::Client::new(&config);
                        anyhow::Ok(fetch_policy_documents(&client, &arns).await)
                    })?;
                for e in failed {
                    notes.push(format!(
                        "AWS-managed policy not fetched, using the bundled snapshot: {e}"
                    ));
                }
                online = found.into_iter().map(|(a, p)| (a, p.document)).collect();
            }
        }
    }
    let snapshot = AwsManagedPolicies::embedded();
    let resolution = aws_managed::resolve(principals, &online, Some(snapshot));
    for arn in resolution.missing {
        notes.push(format!(
            "{arn}: AWS-managed policy not in the bundled snapshot ({}); not minimized",
            snapshot.source_version()
        ));
    }
    Ok(notes)
}

/// Minimizes the customer-managed copies of resolved AWS-managed attachments, puts the ones that
/// change anything into `outcomes` (in place of the unchanged AWS-managed suggestion) and returns
/// them as replacements for the Terraform writer.
pub fn replacements(
    plan: &Plan,
    principals: &[Principal],
    usage: &BTreeMap<String, ObservedUsage>,
    catalog: &'static Catalog,
    config: &Config,
    outcomes: &mut [PrincipalOutcome],
) -> Vec<PolicyReplacement> {
    let view = aws_managed::replacement_view(principals, |attachment, arn| {
        attached_before(plan, attachment, arn)
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
                .and_then(|o| o.document.as_deref())
            {
                s.current = original.clone();
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

/// Whether the plan shows `attachment` attaching `arn` before it: an attachment resource that is
/// not created by this plan, or a role whose prior `managed_policy_arns` lists it. Unknown means no,
/// which keeps the whole policy (nothing can be removed for lack of usage that cannot exist yet).
fn attached_before(plan: &Plan, attachment: &str, arn: &str) -> bool {
    plan.resource_changes
        .kept
        .iter()
        .find(|c| c.address == attachment && c.deposed.is_none())
        .and_then(|c| c.change.before.as_ref())
        .is_some_and(|before| {
            let text = before.get();
            text != "null" && text.contains(&format!("\"{arn}\""))
        })
}
