//! The join: facts into principals with their policy sources, group policies inherited by members,
//! policies found on roles in AWS kept only where no resource of the configuration claims them,
//! risk flags, and the riskiest principals first ([`resolve`], [`Discovery`]).

use super::facts::{
    Claim, DocumentFact, Facts, ManagedPolicyFact, OutsidePolicy, PolicyRef, PrincipalRef,
};
use crate::iam::arn::{account_of, is_aws_managed};
use crate::iam::policy::PolicyDocument;
use crate::iam::principal::{
    PolicyKind, PolicyOrigin, PolicySource, PolicyTarget, Principal, PrincipalKind, UnknownReason,
};
use crate::iam::risk;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
// foldhash: keys are addresses from the plan being read (no flooding risk), hashed many times.
use foldhash::HashMap;

/// The result of discovery.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Principals, riskiest first, then by address.
    pub principals: Vec<Principal>,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

impl Drop for Discovery {
    fn drop(&mut self) {
        // A large discovery is tens of thousands of small allocations (policy documents): freed on
        // two threads, as they were made.
        if self.principals.len() >= PARALLEL_DROP_MIN {
            // In pieces that either thread takes (principals differ a lot in size).
            std::mem::take(&mut self.principals)
                .into_par_iter()
                .for_each(drop);
        }
    }
}

/// From this many principals, [`Discovery`] is dropped on two threads.
const PARALLEL_DROP_MIN: usize = 256;

/// Joins the facts into principals with their policy sources.
pub fn resolve(facts: Facts) -> Discovery {
    let Facts {
        principals: pfacts,
        managed,
        inline,
        attachments,
        memberships,
        outside,
        claims,
        mut warnings,
        ..
    } = facts;
    // Positions as one-element slices, so a lookup borrows its answer rather than allocating it.
    let by_address: HashMap<&str, [usize; 1]> = pfacts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address.as_str(), [i]))
        .collect();
    // One map of names per kind (role, user, group).
    let kind_index = |k: PrincipalKind| match k {
        PrincipalKind::Role => 0,
        PrincipalKind::User => 1,
        PrincipalKind::Group => 2,
    };
    let mut by_name: [HashMap<&str, Vec<usize>>; 3] = Default::default();
    for (i, p) in pfacts.iter().enumerate() {
        if let Some(n) = &p.name {
            by_name[kind_index(p.kind)]
                .entry(n.as_str())
                .or_default()
                .push(i);
        }
    }
    let lookup = borrowing_lookup(|r| match r {
        PrincipalRef::Address(a) => by_address.get(a.as_str()).map_or(&[], |i| &i[..]),
        PrincipalRef::Name(kind, n) => by_name[kind_index(*kind)]
            .get(n.as_str())
            .map_or(&[], Vec::as_slice),
    });
    let mut managed = managed;
    let managed_by_arn: HashMap<String, String> = managed
        .values()
        .filter_map(|m| m.arn.as_ref().map(|a| (a.clone(), m.address.clone())))
        .collect();
    // Which managed policy (by address) an attachment brings, if it is one defined in the plan.
    let managed_of = |policy: &PolicyRef| -> Option<String> {
        match policy {
            PolicyRef::Arn(arn) if is_aws_managed(arn) => None,
            PolicyRef::Arn(arn) => managed_by_arn.get(arn.as_str()).cloned(),
            PolicyRef::Address(addr) => managed.contains_key(addr).then(|| addr.clone()),
            PolicyRef::Unknown(_) => None,
        }
    };
    // Documents are moved into their last attachment's source rather than cloned for every one.
    let mut uses_left: HashMap<String, usize> = HashMap::default();
    for a in &attachments {
        if let Some(addr) = managed_of(&a.policy) {
            *uses_left.entry(addr).or_default() += 1;
        }
    }

    // What the configuration's resources put on each principal, by inline name and by ARN: a
    // policy a role has in AWS is attached outside this configuration only when none of them does.
    let mut claimed: BTreeSet<(usize, Claim)> = BTreeSet::new();
    let claims_needed = !outside.is_empty();
    for f in inline.iter().filter(|_| claims_needed) {
        if let Some(name) = &f.match_name {
            for &i in lookup(&f.principal) {
                claimed.insert((i, Claim::InlineName(name.clone())));
            }
        }
    }
    for a in attachments.iter().filter(|_| claims_needed) {
        let arn = match &a.policy {
            PolicyRef::Arn(arn) => Some(arn.clone()),
            PolicyRef::Address(addr) => managed.get(addr).and_then(|m| m.arn.clone()),
            PolicyRef::Unknown(_) => None,
        };
        if let Some(arn) = arn {
            for &i in lookup(&a.principal) {
                claimed.insert((i, Claim::Arn(arn.clone())));
            }
        }
    }
    for c in claims {
        for &i in lookup(&c.principal) {
            claimed.insert((i, c.policy.clone()));
        }
    }
    let mut outside_sources: Vec<(usize, PolicySource)> = Vec::new();
    for f in outside {
        for &i in lookup(&f.principal) {
            let claim = match &f.policy {
                OutsidePolicy::Inline { name, .. } => Claim::InlineName(name.clone()),
                OutsidePolicy::Arn(arn) => Claim::Arn(arn.clone()),
            };
            if !claimed.contains(&(i, claim)) {
                let source = outside_source(
                    &pfacts[i].address,
                    f.policy.clone(),
                    &managed_by_arn,
                    &managed,
                );
                outside_sources.push((i, source));
            }
        }
    }
    let mut sources: Vec<Vec<PolicySource>> = vec![Vec::new(); pfacts.len()];
    for (i, s) in outside_sources {
        sources[i].push(s);
    }
    for f in inline {
        let targets = lookup(&f.principal);
        let Some((&last, rest)) = targets.split_last() else {
            continue;
        };
        // Moved rather than cloned: an inline policy almost always has one principal.
        let DocumentFact { after, before, .. } = f.document;
        let (document, unknown_reason) = match after {
            Ok(d) => (Some(d), None),
            Err(r) => (None, Some(r)),
        };
        let source = PolicySource {
            address: f.address,
            kind: PolicyKind::Inline,
            name: f.name,
            arn: None,
            attachment: None,
            via_group: None,
            document,
            before,
            unknown_reason,
            origin: Some(f.origin),
        };
        for &i in rest {
            sources[i].push(source.clone());
        }
        sources[last].push(source);
    }
    for a in &attachments {
        let targets = lookup(&a.principal);
        let source = match &a.policy {
            PolicyRef::Arn(arn) if is_aws_managed(arn) => PolicySource::known_by_arn(
                arn,
                PolicyKind::AwsManaged,
                &a.address,
                UnknownReason::AwsManagedNotResolved,
            ),
            PolicyRef::Arn(arn) => match managed_by_arn.get(arn.as_str()) {
                Some(addr) => match managed_use(&mut managed, &mut uses_left, addr) {
                    Some(m) => managed_source(m, &a.address),
                    None => continue,
                },
                None => PolicySource::known_by_arn(
                    arn,
                    PolicyKind::Managed,
                    &a.address,
                    UnknownReason::NotInPlan,
                ),
            },
            PolicyRef::Address(addr) => match managed_use(&mut managed, &mut uses_left, addr) {
                Some(m) => managed_source(m, &a.address),
                None => continue,
            },
            PolicyRef::Unknown(reason) => PolicySource {
                address: a.address.clone(),
                kind: PolicyKind::Managed,
                name: None,
                arn: None,
                attachment: Some(a.address.clone()),
                via_group: None,
                document: None,
                before: None,
                unknown_reason: Some(reason.clone()),
                origin: None,
            },
        };
        let mut fresh: Vec<usize> = Vec::with_capacity(targets.len());
        for &i in targets {
            let dup = sources[i]
                .iter()
                .any(|s| s.address == source.address && s.kind == source.kind);
            if !dup && !fresh.contains(&i) {
                fresh.push(i);
            }
        }
        if let Some((&last, rest)) = fresh.split_last() {
            for &i in rest {
                sources[i].push(source.clone());
            }
            sources[last].push(source);
        }
    }
    // Users inherit their groups' policies.
    let mut inherited: Vec<(usize, PolicySource)> = Vec::new();
    let mut member_of: BTreeSet<(usize, usize)> = BTreeSet::new();
    for m in &memberships {
        for &u in lookup(&m.user) {
            for &g in lookup(&m.group) {
                if pfacts[u].kind == PrincipalKind::User && pfacts[g].kind == PrincipalKind::Group {
                    member_of.insert((u, g));
                }
            }
        }
    }
    for &(u, g) in &member_of {
        for s in &sources[g] {
            let mut s = s.clone();
            s.via_group = Some(pfacts[g].address.clone());
            s.kind = PolicyKind::InheritedFromGroup;
            inherited.push((u, s));
        }
    }
    for (u, s) in inherited {
        sources[u].push(s);
    }
    let mut principals: Vec<Principal> = pfacts
        .into_par_iter()
        .zip(sources)
        .map(|(p, policies)| {
            let flags = risk::flags(policies.iter().filter_map(|s| s.document.as_deref()));
            Principal {
                address: p.address,
                block_address: p.block_address,
                kind: p.kind,
                account: p.arn.as_deref().and_then(account_of),
                name: p.name,
                arn: p.arn,
                plan_action: p.action,
                policies,
                flags,
                trusted_services: p.trusted_services,
            }
        })
        .collect();
    principals.sort_by(|a, b| {
        risk::rank(b)
            .cmp(&risk::rank(a))
            .then_with(|| a.address.cmp(&b.address))
    });
    warnings.sort();
    warnings.dedup();
    Discovery {
        principals,
        warnings,
    }
}

/// `f` as it is: gives a closure the signature that lets its answer borrow from what it captures.
fn borrowing_lookup<'m, F: Fn(&PrincipalRef) -> &'m [usize]>(f: F) -> F {
    f
}

/// A managed policy for one attachment: borrowed while later attachments still need it, taken out of
/// `managed` (so its documents move rather than being copied) at its last attachment.
enum ManagedUse<'m> {
    Shared(&'m ManagedPolicyFact),
    Last(Box<ManagedPolicyFact>),
}

fn managed_use<'m>(
    managed: &'m mut BTreeMap<String, ManagedPolicyFact>,
    uses_left: &mut HashMap<String, usize>,
    addr: &str,
) -> Option<ManagedUse<'m>> {
    let left = uses_left.get_mut(addr)?;
    *left = left.saturating_sub(1);
    if *left == 0 {
        managed.remove(addr).map(|m| ManagedUse::Last(Box::new(m)))
    } else {
        managed.get(addr).map(ManagedUse::Shared)
    }
}

fn managed_source(m: ManagedUse<'_>, attachment: &str) -> PolicySource {
    let (address, name, arn, document) = match m {
        ManagedUse::Shared(m) => (
            m.address.clone(),
            m.name.clone(),
            m.arn.clone(),
            m.document.clone(),
        ),
        ManagedUse::Last(m) => {
            let m = *m;
            (m.address, m.name, m.arn, m.document)
        }
    };
    let (after, unknown_reason) = match document.after {
        Ok(d) => (Some(d), None),
        Err(r) => (None, Some(r)),
    };
    PolicySource {
        origin: Some(PolicyOrigin {
            resource: address.clone(),
            target: PolicyTarget::PolicyAttribute,
            document_source: document.document_source,
        }),
        address,
        kind: PolicyKind::Managed,
        name,
        arn,
        attachment: Some(attachment.to_string()),
        via_group: None,
        document: after,
        before: document.before,
        unknown_reason,
    }
}

/// The source of a policy attached to `principal` outside this configuration.
fn outside_source(
    principal: &str,
    policy: OutsidePolicy,
    managed_by_arn: &HashMap<String, String>,
    managed: &BTreeMap<String, ManagedPolicyFact>,
) -> PolicySource {
    let (address, name, arn, document, before, unknown_reason) = match policy {
        OutsidePolicy::Inline {
            name,
            shown_name,
            document,
            sensitive,
        } => {
            let parsed = match (&document, sensitive) {
                (_, true) => Err(UnknownReason::Sensitive),
                (Some(Value::String(text)), false) => PolicyDocument::parse_str(text)
                    .map(Arc::new)
                    .map_err(|e| UnknownReason::Invalid(e.to_string())),
                (Some(Value::Null) | None, false) => Err(UnknownReason::ComputedAtApply),
                (Some(_), false) => Err(UnknownReason::WrongType(
                    "an `inline_policy` block's `policy` is not a JSON string".into(),
                )),
            };
            let (doc, reason) = match parsed {
                Ok(d) => (Some(d), None),
                Err(r) => (None, Some(r)),
            };
            // Unchanged by this plan: what it is now is what it was.
            let before = doc.clone();
            // The name is part of the address only when it may be shown.
            let address = match &shown_name {
                Some(n) => format!("{principal} (inline policy {n})"),
                None => format!("{principal} (inline policy)"),
            };
            drop(name);
            (address, shown_name, None, doc, before, reason)
        }
        OutsidePolicy::Arn(arn) => {
            let name = arn.rsplit('/').next().map(str::to_string);
            // A policy this plan defines but attaches only outside it: its document is known.
            let defined = managed_by_arn.get(&arn).and_then(|a| managed.get(a));
            let (doc, before, reason) = match defined {
                Some(m) => match &m.document.after {
                    Ok(d) => (Some(Arc::clone(d)), m.document.before.clone(), None),
                    Err(r) => (None, None, Some(r.clone())),
                },
                None if is_aws_managed(&arn) => {
                    (None, None, Some(UnknownReason::AwsManagedNotResolved))
                }
                None => (None, None, Some(UnknownReason::NotInPlan)),
            };
            (arn.clone(), name, Some(arn), doc, before, reason)
        }
    };
    PolicySource {
        address,
        kind: PolicyKind::OutsideConfiguration,
        name,
        arn,
        attachment: None,
        via_group: None,
        document,
        before,
        unknown_reason,
        // Never patched: nothing in the configuration writes it.
        origin: None,
    }
}
