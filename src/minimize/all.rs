//! Minimizing every principal of a plan: per-principal rules and statuses, and the union rule for
//! policies that reach several principals or share one Terraform block.

use super::document::{
    Expansions, KeepRules, UsageIndex, granted_actions_cached, minimize_indexed,
};
use super::{
    Applicability, PolicySuggestion, PrincipalOutcome, PrincipalStatus, RiskProfile,
    StatementChange, Verdicts,
};
use crate::config::{Config, PrincipalRules};
use crate::iam::catalog::Catalog;
use crate::iam::discover::strip_instance_keys;
use crate::iam::policy::PolicyDocument;
use crate::iam::principal::{PolicyKind, PolicySource, Principal, PrincipalKind};
use crate::usage::ObservedUsage;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Whether a principal's usage can drive minimizing, and if not, why.
enum Usability<'u> {
    Usable(&'u ObservedUsage),
    /// Groups make no calls: their policies are minimized against their members.
    Group,
    Not(PrincipalStatus, String),
}

/// Where the edit for a policy lands, without instance keys (`block_address`), and the key that
/// groups every policy instance edited through that place.
fn edit_site(p: &PolicySource) -> (String, String) {
    match &p.origin {
        Some(o) => match &o.document_source {
            Some(doc) => {
                let block = strip_instance_keys(doc);
                (block.clone(), format!("document {block}"))
            }
            None => {
                let block = strip_instance_keys(&o.resource);
                let key = format!(
                    "{block} {} {}",
                    o.target,
                    o.target.block_name().unwrap_or("")
                );
                (block, key)
            }
        },
        None => {
            let block = strip_instance_keys(&p.address);
            (block.clone(), block)
        }
    }
}

/// Identifies one policy instance (one document), whichever principal it reaches.
fn instance_key(p: &PolicySource) -> String {
    match &p.origin {
        Some(o) => format!(
            "{} {} {} {}",
            p.address,
            o.resource,
            o.target,
            o.target.block_name().unwrap_or("")
        ),
        None => p.address.clone(),
    }
}

/// The usage of several principals taken together: any action one used, but a service counts as
/// covered at action level, data events as seen and the result as complete only when all agree.
/// A single usage is borrowed as it is: most policies reach one principal.
fn union_usage<'u>(parts: &[&'u ObservedUsage]) -> Option<Cow<'u, ObservedUsage>> {
    let (first, rest) = parts.split_first()?;
    if rest.is_empty() {
        return Some(Cow::Borrowed(*first));
    }
    let mut out = (*first).clone();
    for other in rest {
        for (action, u) in &other.actions {
            out.actions.entry(action.clone()).or_default().absorb(u);
        }
        out.service_level_only
            .extend(other.service_level_only.iter().cloned());
        out.action_level_services = match (
            out.action_level_services.take(),
            &other.action_level_services,
        ) {
            (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect()),
            (Some(a), None) => Some(a),
            (None, Some(b)) => Some(b.clone()),
            (None, None) => None,
        };
        out.data_events_seen &= other.data_events_seen;
        // A data-event type counts as seen only when every part saw it (an empty set means "could
        // not tell types apart", which leaves `data_events_seen` to decide).
        out.data_event_types =
            if out.data_event_types.is_empty() || other.data_event_types.is_empty() {
                std::collections::BTreeSet::new()
            } else {
                out.data_event_types
                    .intersection(&other.data_event_types)
                    .cloned()
                    .collect()
            };
        for (service, events) in &other.unmapped_events {
            out.unmapped_events
                .entry(service.clone())
                .or_default()
                .extend(events.iter().cloned());
        }
        out.complete &= other.complete;
        for (action, n) in &other.denied {
            *out.denied.entry(action.clone()).or_default() += n;
        }
        if other.window.start < out.window.start {
            out.window.start = other.window.start.clone();
        }
        if other.window.end > out.window.end {
            out.window.end = other.window.end.clone();
        }
    }
    Some(Cow::Owned(out))
}

/// A suggestion that leaves the document as it is, saying why.
fn unchanged(
    policy: &PolicySource,
    doc: &Arc<PolicyDocument>,
    block_address: &str,
    note: String,
    expansions: &mut Expansions<'_>,
) -> PolicySuggestion {
    let granted = granted_actions_cached([&**doc], expansions);
    PolicySuggestion {
        policy_address: policy.address.clone(),
        block_address: block_address.to_string(),
        current: Arc::clone(doc),
        suggested: Some(PolicyDocument::clone(doc)),
        statements: vec![StatementChange::Keep; doc.statements.len()],
        actions: Verdicts::default(),
        applicability: Applicability::Safe,
        notes: vec![note],
        granted,
        kept: granted,
    }
}

/// Minimizes every principal, riskiest first.
///
/// A policy reaching several principals (a managed policy attached twice, a group policy and its
/// members, the `count`/`for_each` instances of one block) is minimized against the union of
/// their usages, and left unchanged when any of them is new, excluded or without usage data.
pub fn minimize_all(
    principals: &[Principal],
    usage: &BTreeMap<String, ObservedUsage>,
    catalog: &'static Catalog,
    config: &Config,
) -> Vec<PrincipalOutcome> {
    let rules: Vec<PrincipalRules> = principals
        .iter()
        .map(|p| config.rules_for(&p.address, &p.block_address, p.arn.as_deref()))
        .collect();
    let usability: Vec<Usability<'_>> = principals
        .iter()
        .zip(&rules)
        .map(|(p, r)| usability(p, r, usage))
        .collect();

    // Which principals each edit site reaches.
    let mut reach: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in principals.iter().enumerate() {
        for policy in &p.policies {
            let members = reach.entry(edit_site(policy).1).or_default();
            if members.last() != Some(&i) {
                members.push(i);
            }
        }
    }

    // One decision per edit site: the union usage and rules, or why it stays as it is.
    let mut sites: HashMap<String, Result<Site<'_>, String>> = HashMap::new();
    for (key, members) in &reach {
        let callers: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| principals[i].kind != PrincipalKind::Group)
            .collect();
        let decision = if callers.is_empty() {
            Err("kept unchanged: no principal in this plan uses it directly (a group with no member users here)".to_string())
        } else if let Some((i, why)) = members.iter().find_map(|&i| match &usability[i] {
            Usability::Not(_, why) => Some((i, why.clone())),
            _ => None,
        }) {
            Err(if members.len() > 1 {
                format!(
                    "kept unchanged: it also reaches {} ({why}); never minimized against part of its principals",
                    principals[i].address
                )
            } else {
                format!("kept unchanged: {why}")
            })
        } else {
            let usages: Vec<&ObservedUsage> = callers
                .iter()
                .filter_map(|&i| match &usability[i] {
                    Usability::Usable(u) => Some(*u),
                    _ => None,
                })
                .collect();
            let mut keep = KeepRules::default();
            for &i in &callers {
                keep.allow.extend(rules[i].allow.iter().cloned());
                keep.leave_alone
                    .extend(rules[i].leave_alone.iter().cloned());
                keep.trusted_services.extend(
                    principals[i]
                        .trusted_services
                        .iter()
                        .map(|s| s.to_ascii_lowercase()),
                );
            }
            union_usage(&usages)
                .map(|usage| Site { usage, rules: keep })
                .ok_or_else(|| "kept unchanged: no usage".to_string())
        };
        sites.insert(key.clone(), decision);
    }

    // The usage lookups, once per distinct usage (a principal's own, or a union), keyed by
    // address; built when a document first needs them, so they are still in the cache.
    let mut indices: HashMap<*const ObservedUsage, UsageIndex<'_>> = HashMap::new();
    let mut expansions = Expansions::new(catalog);
    // How many principals still need each policy instance, so the last one takes the suggestion
    // instead of a copy.
    let mut uses: HashMap<String, usize> = HashMap::new();
    for p in principals {
        for policy in p.policies.iter().filter(|s| s.document.is_some()) {
            *uses.entry(instance_key(policy)).or_default() += 1;
        }
    }
    let mut done: HashMap<String, PolicySuggestion> = HashMap::new();
    let mut outcomes: Vec<PrincipalOutcome> = principals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let risk = RiskProfile::of_cached(
                p.policies.iter().filter_map(|s| s.document.as_deref()),
                &mut expansions,
            );
            let mut notes = Vec::new();
            let status = match &usability[i] {
                Usability::Not(status, why) => {
                    notes.push(why.clone());
                    Some(*status)
                }
                _ => None,
            };
            let mut suggestions = Vec::new();
            if status.is_none() {
                for policy in &p.policies {
                    // Nothing in the configuration writes it: said in words, never edited.
                    if policy.kind == PolicyKind::OutsideConfiguration {
                        notes.push(format!(
                            "{}: attached outside this configuration; not patched: detach it, or manage it in Terraform to trim it",
                            policy.address
                        ));
                        continue;
                    }
                    let Some(doc) = &policy.document else {
                        let why = policy
                            .unknown_reason
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_else(|| "unknown".into());
                        notes.push(format!(
                            "{}: document not known ({why}); not minimized",
                            policy.address
                        ));
                        continue;
                    };
                    let key = instance_key(policy);
                    let left = uses.get_mut(&key).map_or(0, |n| {
                        *n = n.saturating_sub(1);
                        *n
                    });
                    let suggestion = match done.remove(&key) {
                        Some(s) => s,
                        None => suggest(policy, doc, &sites, &mut indices, &mut expansions),
                    };
                    if left > 0 {
                        done.insert(key, suggestion.clone());
                    }
                    suggestions.push(suggestion);
                }
            }
            let mut unchanged = None;
            let status = status.unwrap_or_else(|| {
                if suggestions.iter().any(PolicySuggestion::changes_anything) {
                    PrincipalStatus::Minimized
                } else {
                    unchanged = Some(unchanged_reason(&suggestions));
                    PrincipalStatus::Unchanged
                }
            });
            PrincipalOutcome {
                address: p.address.clone(),
                status,
                suggestions,
                notes,
                unchanged_reason: unchanged,
                risk,
            }
        })
        .collect();
    outcomes.sort_by(|a, b| {
        b.risk
            .rank()
            .cmp(&a.risk.rank())
            .then_with(|| a.address.cmp(&b.address))
    });
    outcomes
}

/// Why a principal whose usage was usable ends up unchanged, in one sentence: how many granted
/// actions stay and for which reasons, so `unchanged` never stands without a reason.
fn unchanged_reason(suggestions: &[PolicySuggestion]) -> String {
    if suggestions.is_empty() {
        return "unchanged: no policy document of it is known".to_string();
    }
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut granted = 0;
    for s in suggestions {
        granted += s.granted;
        for v in s.actions.iter() {
            if let Some(kind) = v.kind {
                *kinds.entry(kind.as_str()).or_default() += 1;
            }
        }
    }
    if kinds.is_empty() {
        // Every suggestion was left unchanged as a whole; their notes say why.
        let why: Vec<&str> = suggestions
            .iter()
            .flat_map(|s| s.notes.iter().map(String::as_str))
            .collect();
        return format!("unchanged: {}", why.join("; "));
    }
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!(
        "unchanged: nothing to remove, all {granted} granted actions stay ({})",
        parts.join(", ")
    )
}

/// What one edit site is minimized against: the (union) usage and the (union) keep rules.
struct Site<'u> {
    usage: Cow<'u, ObservedUsage>,
    rules: KeepRules,
}

/// The suggestion for one known policy document.
fn suggest<'s>(
    policy: &PolicySource,
    doc: &Arc<PolicyDocument>,
    sites: &'s HashMap<String, Result<Site<'_>, String>>,
    indices: &mut HashMap<*const ObservedUsage, UsageIndex<'s>>,
    expansions: &mut Expansions<'static>,
) -> PolicySuggestion {
    let catalog = expansions.catalog();
    let (block_address, key) = edit_site(policy);
    if policy.kind == PolicyKind::AwsManaged {
        let note =
            "AWS-managed: cannot be edited; replace it with a customer-managed policy to trim it"
                .to_string();
        return unchanged(policy, doc, &block_address, note, expansions);
    }
    let site = match sites.get(&key) {
        Some(Ok(site)) => site,
        Some(Err(why)) => return unchanged(policy, doc, &block_address, why.clone(), expansions),
        None => {
            return unchanged(
                policy,
                doc,
                &block_address,
                "kept unchanged: not reached".into(),
                expansions,
            );
        }
    };
    let usage: &'s ObservedUsage = &site.usage;
    let index = indices
        .entry(usage as *const ObservedUsage)
        .or_insert_with(|| UsageIndex::new(usage, catalog));
    match minimize_indexed(
        doc,
        policy.before.as_deref(),
        index,
        expansions,
        &site.rules,
    ) {
        Ok(mut s) => {
            s.policy_address = policy.address.clone();
            s.block_address = block_address;
            super::size::flag_oversize(&mut s);
            s
        }
        Err(e) => unchanged(
            policy,
            doc,
            &block_address,
            format!("kept unchanged: {e}"),
            expansions,
        ),
    }
}

/// Whether `p`'s own usage can be used.
fn usability<'u>(
    p: &Principal,
    rules: &PrincipalRules,
    usage: &'u BTreeMap<String, ObservedUsage>,
) -> Usability<'u> {
    if rules.excluded {
        return Usability::Not(
            PrincipalStatus::Excluded,
            "excluded by .iamtrim.toml".to_string(),
        );
    }
    if p.kind == PrincipalKind::Group {
        return Usability::Group;
    }
    let Some(arn) = &p.arn else {
        return Usability::Not(
            PrincipalStatus::New,
            "created by this plan: no usage history yet, skipped".to_string(),
        );
    };
    let Some(u) = usage.get(arn) else {
        return Usability::Not(PrincipalStatus::NoUsageData, "no usage data".to_string());
    };
    if let Some(min) = rules.min_usage_days {
        match u.window.days() {
            Some(days) if days >= i64::from(min) => {}
            Some(days) => {
                return Usability::Not(
                    PrincipalStatus::Unchanged,
                    format!(
                        "usage window of {days} days is shorter than the minimum of {min} in .iamtrim.toml"
                    ),
                );
            }
            None => {
                return Usability::Not(
                    PrincipalStatus::Unchanged,
                    format!(
                        "usage window `{}`..`{}` is not readable as dates",
                        u.window.start, u.window.end
                    ),
                );
            }
        }
    }
    Usability::Usable(u)
}

#[cfg(test)]
mod tests {
    use crate::usage::Window;

    fn days(start: &str, end: &str) -> Option<i64> {
        Window {
            start: start.into(),
            end: end.into(),
        }
        .days()
    }

    #[test]
    fn window_lengths_in_days() {
        assert_eq!(
            days("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
            Some(29)
        );
        assert_eq!(days("2023-12-31", "2024-01-01"), Some(1));
        assert_eq!(days("1970-01-01T00:00:00Z", "1970-01-01"), Some(0));
        assert_eq!(days("yesterday", "2024-01-01"), None);
    }
}
