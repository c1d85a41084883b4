//! Property tests: on random documents and usages, containment always holds and every used action
//! the current document allows stays allowed. Checked with an evaluator independent of the proof.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Concrete actions the random documents and usages draw from (logged, unlogged, data events,
/// several services) plus two the catalog does not know.
const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListAllMyBuckets",
    "s3:CreateBucket",
    "s3:GetBucketPolicy",
    "ec2:DescribeInstances",
    "ec2:TerminateInstances",
    "ec2:RunInstances",
    "ec2:CreateTags",
    "iam:PassRole",
    "iam:CreateRole",
    "iam:GetRole",
    "sqs:SendMessage",
    "sqs:ListQueues",
    "dynamodb:GetItem",
    "kms:Decrypt",
    "newsvc:DoThing",
    "s3:NotInTheCatalog",
];

/// Patterns: the actions above, wildcards within and across services, `*`.
const PATTERNS: &[&str] = &[
    "s3:Get*",
    "s3:*",
    "ec2:Describe*",
    "ec2:*Instances",
    "iam:*",
    "*:List*",
    "sqs:Send*",
    "dynamodb:*Item",
    "newsvc:*",
    "*",
];

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(ACTIONS).prop_map(str::to_string),
        2 => prop::sample::select(PATTERNS).prop_map(str::to_string),
    ]
}

fn statement() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.15),
        prop::collection::vec(pattern(), 1..5),
        prop::sample::select(vec!["*", "arn:aws:s3:::bucket/*"]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(allow, not_action, actions, resource, condition)| {
            let mut st = serde_json::json!({
                "Effect": if allow { "Allow" } else { "Deny" },
                "Resource": resource,
            });
            st[if not_action { "NotAction" } else { "Action" }] = serde_json::json!(actions);
            if condition {
                st["Condition"] =
                    serde_json::json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}});
            }
            st
        })
}

fn document() -> impl Strategy<Value = PolicyDocument> {
    prop::collection::vec(statement(), 1..5).prop_map(|sts| {
        PolicyDocument::from_value(&serde_json::json!({"Version": "2012-10-17", "Statement": sts}))
            .unwrap()
    })
}

fn observed() -> impl Strategy<Value = ObservedUsage> {
    (
        prop::collection::vec(prop::sample::select(ACTIONS), 0..8),
        prop::collection::vec(prop::sample::select(ACTIONS), 0..3),
        any::<bool>(),
        any::<bool>(),
        prop::option::of(prop::collection::btree_set(
            prop::sample::select(vec!["s3", "ec2", "iam"]).prop_map(str::to_string),
            0..3,
        )),
    )
        .prop_map(|(used, denied, data_events_seen, complete, action_level)| {
            let mut u = usage(&used);
            for d in denied {
                u.denied.insert(d.to_string(), 1);
            }
            u.data_events_seen = data_events_seen;
            u.complete = complete;
            u.action_level_services = action_level;
            u
        })
}

/// Independent evaluation of one statement's action element.
fn statement_allows(st: &Statement, action: &str) -> bool {
    st.effect == Effect::Allow
        && match &st.action {
            Some(ActionSpec::Action(l)) => l
                .values
                .iter()
                .any(|p| ActionPattern::new(p).matches(action)),
            Some(ActionSpec::NotAction(l)) => !l
                .values
                .iter()
                .any(|p| ActionPattern::new(p).matches(action)),
            None => false,
        }
}

/// True when an unconditional Deny on every resource blocks `action`.
fn blanket_denied(doc: &PolicyDocument, action: &str) -> bool {
    doc.statements.iter().any(|st| {
        st.effect == Effect::Deny
            && st.condition.is_none()
            && matches!(&st.resource, Some(ResourceSpec::Resource(r)) if r.values.iter().any(|v| v == "*"))
            && match &st.action {
                Some(ActionSpec::Action(l)) => l.values.iter().any(|p| ActionPattern::new(p).matches(action)),
                Some(ActionSpec::NotAction(l)) => !l.values.iter().any(|p| ActionPattern::new(p).matches(action)),
                None => false,
            }
    })
}

/// Probes: the concrete actions above, a sample of catalog actions, and names outside the catalog
/// that wildcards could match.
fn probes() -> Vec<String> {
    let c = Catalog::embedded();
    let mut out: Vec<String> = ACTIONS.iter().map(|s| s.to_string()).collect();
    out.extend(c.actions().iter().step_by(97).map(|a| a.name().to_string()));
    for svc in ["s3", "ec2", "iam", "sqs", "dynamodb", "newsvc", "zzz"] {
        out.extend(
            [
                "GetFutureThing",
                "ListFuture",
                "DescribeFutureInstances",
                "FutureItem",
            ]
            .map(|n| format!("{svc}:{n}")),
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn containment_holds_and_used_actions_stay(current in document(), u in observed(), before_kind in 0u8..3, before_doc in document()) {
        let c = Catalog::embedded();
        let before = match before_kind { 0 => None, 1 => Some(&current), _ => Some(&before_doc) };
        let s = minimize_document(&current, before, &u, c, &KeepRules::default());
        prop_assert!(s.is_ok(), "proof refused: {:?}", s.err());
        let s = s.unwrap();
        prop_assert_eq!(s.statements.len(), current.statements.len());
        let mut suggested = s.suggested.iter().flat_map(|d| d.statements.iter());
        for (st, change) in current.statements.iter().zip(&s.statements) {
            // A long kept list is written as several statements of the same scope (issue 14).
            let pieces: Vec<&Statement> = match change {
                StatementChange::Remove => Vec::new(),
                StatementChange::Keep => suggested.next().into_iter().collect(),
                StatementChange::SetActions(a) => {
                    (0..a.len().div_ceil(crate::minimize::size::STATEMENT_ACTION_CAP).max(1))
                        .filter_map(|_| suggested.next())
                        .collect()
                }
            };
            if st.effect == Effect::Deny {
                prop_assert_eq!(pieces, vec![st], "Deny statements never change");
                continue;
            }
            // Containment, per statement, over catalog and non-catalog actions alike.
            for (n, new) in pieces.iter().enumerate() {
                prop_assert_eq!((&new.resource, &new.condition), (&st.resource, &st.condition));
                if n == 0 {
                    prop_assert_eq!(&new.sid, &st.sid);
                }
                for probe in probes() {
                    prop_assert!(!statement_allows(new, &probe) || statement_allows(st, &probe), "{} widened by {:?}", probe, change);
                }
            }
            // Every used action the statement allowed (and no blanket Deny blocks) stays allowed.
            for used in u.actions.keys() {
                if statement_allows(st, used) && !blanket_denied(&current, used) {
                    prop_assert!(pieces.iter().any(|n| statement_allows(n, used)), "used {} dropped by {:?}", used, change);
                }
            }
        }
        prop_assert!(suggested.next().is_none());
    }
}

/// What the Allow statements of `doc` grant, as (scope, probe) pairs: a split must neither add
/// nor lose one.
fn allowed_pairs(doc: &PolicyDocument, probes: &[String]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for st in doc
        .statements
        .iter()
        .filter(|st| st.effect == Effect::Allow)
    {
        let scope = format!("{:?}{:?}", st.resource, st.condition);
        for probe in probes.iter().filter(|p| statement_allows(st, p)) {
            out.insert((scope.clone(), probe.clone()));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Issue 14: every policy a suggestion is split into (statements of at most the cap, parts
    /// within a size limit) passes the containment proof against today's document, and together
    /// they grant exactly what the suggestion grants. Small limits force many parts.
    #[test]
    fn every_split_part_is_contained_and_together_they_grant_the_suggestion(
        current in document(),
        u in observed(),
        limit in prop::sample::select(vec![180usize, 400, 1_000, crate::minimize::size::USER_INLINE_MAX_CHARS]),
    ) {
        use crate::minimize::size::{split_long_statements, split_within};
        let c = Catalog::embedded();
        let s = minimize_document(&current, Some(&current), &u, c, &KeepRules::default());
        prop_assert!(s.is_ok(), "proof refused: {:?}", s.err());
        let Some(suggested) = s.unwrap().suggested else { return Ok(()) };
        let suggested = split_long_statements(&suggested);
        let parts = split_within(&suggested, limit);
        let probes = probes();
        let mut joined = BTreeSet::new();
        for part in &parts {
            prop_assert_eq!(grants_no_more(part, &current, c), Ok(()));
            prop_assert_eq!(grants_no_more(part, &suggested, c), Ok(()));
            joined.extend(allowed_pairs(part, &probes));
        }
        prop_assert_eq!(joined, allowed_pairs(&suggested, &probes));
    }
}

/// The actions of the random catalogs below: two services of six actions each.
const SMALL: &[&str] = &[
    "a:A0", "a:A1", "a:A2", "a:A3", "a:A4", "a:A5", "b:B0", "b:B1", "b:B2", "b:B3", "b:B4", "b:B5",
];

/// A catalog of [`SMALL`] with random visibility flags (`-` management, `u` permission-only,
/// `n` never logged, `d` data event) and random dependent actions, leaked for `&'static`.
fn random_catalog() -> impl Strategy<Value = &'static Catalog> {
    (
        prop::collection::vec(
            prop::sample::select(vec!["-", "u", "u", "n", "d"]),
            SMALL.len(),
        ),
        prop::collection::vec(
            prop::collection::btree_set(prop::sample::select(SMALL), 0..3),
            SMALL.len(),
        ),
    )
        .prop_map(|(flags, deps)| {
            let mut text = String::from("iamtrim-catalog 2\nsource random 1\n");
            for (svc, name) in [("a", "A"), ("b", "B")] {
                text.push_str(&format!("S\t{svc}\tService {name}\nR\nC\n"));
                for (i, action) in SMALL.iter().enumerate().filter(|(_, a)| a.starts_with(svc)) {
                    let deps: Vec<&str> = deps[i].iter().copied().collect();
                    let deps = if deps.is_empty() {
                        "-".to_string()
                    } else {
                        deps.join(",")
                    };
                    let short = &action[svc.len() + 1..];
                    text.push_str(&format!("A\t{short}\tW\t{}\t-\t-\t{deps}\t-\n", flags[i]));
                }
            }
            let catalog = Catalog::from_text(&text).expect("generated catalog text is valid");
            &*Box::leak(Box::new(catalog))
        })
}

fn small_document() -> impl Strategy<Value = PolicyDocument> {
    let pattern = prop_oneof![
        3 => prop::sample::select(SMALL).prop_map(str::to_string),
        1 => prop::sample::select(vec!["a:*", "b:B*", "*", "*:A1"]).prop_map(str::to_string),
    ];
    prop::collection::vec(
        (
            prop::bool::weighted(0.2),
            prop::collection::vec(pattern, 1..5),
        ),
        1..4,
    )
    .prop_map(|sts| {
        let sts: Vec<serde_json::Value> = sts
            .into_iter()
            .map(|(not_action, actions)| {
                let mut st = serde_json::json!({"Effect": "Allow", "Resource": "*"});
                st[if not_action { "NotAction" } else { "Action" }] = serde_json::json!(actions);
                st
            })
            .collect();
        PolicyDocument::from_value(&serde_json::json!({"Statement": sts})).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Under random usage and random dependency data: no used action is removed, never-logged and
    /// needed permission-only actions stay, and removing a permission-only action, or a data event
    /// the source could not see, needs review.
    #[test]
    fn no_used_action_is_removed_under_random_dependency_data(
        catalog in random_catalog(),
        current in small_document(),
        used in prop::collection::btree_set(prop::sample::select(SMALL), 0..5),
        data_events_seen in any::<bool>(),
    ) {
        let mut u = usage(&used.iter().copied().collect::<Vec<_>>());
        u.data_events_seen = data_events_seen;
        let s = minimize_document(&current, Some(&current), &u, catalog, &KeepRules::default());
        prop_assert!(s.is_ok(), "proof refused: {:?}", s.err());
        let s = s.unwrap();
        let allowed = |doc: Option<&PolicyDocument>, action: &str| {
            doc.is_some_and(|d| d.statements.iter().any(|st| statement_allows(st, action)))
        };
        let needed: BTreeSet<String> = used
            .iter()
            .filter_map(|a| catalog.lookup(a))
            .flat_map(|a| a.dependent_actions().iter().map(|d| d.to_string()))
            .collect();
        for action in SMALL {
            if !allowed(Some(&current), action) {
                continue;
            }
            let info = catalog.lookup(action).unwrap();
            let kept = allowed(s.suggested.as_ref(), action);
            if used.contains(action) {
                prop_assert!(kept, "used {} removed", action);
            }
            if info.is_never_logged() {
                prop_assert!(kept, "never-logged {} removed", action);
            }
            if info.is_unlogged() && needed.contains(*action) {
                prop_assert!(kept, "{} needed by a used action, removed", action);
            }
            if !kept && info.is_unlogged() && !info.is_never_logged() {
                prop_assert_eq!(s.applicability, Applicability::ReviewNeeded, "{} removed unseen", action);
                prop_assert!(s.actions.get(action).is_some_and(|v| v.review));
            }
            if !kept && !info.is_unlogged() && !info.is_never_logged() {
                // A removed management or data event was visible: it was not used.
                prop_assert!(!used.contains(action));
                if info.is_data_event() && !data_events_seen {
                    // Removed unseen only for review, and never in a service the principal called.
                    let service = action.split(':').next();
                    prop_assert!(!used.iter().any(|u| u.split(':').next() == service), "data event {} of a called service removed unseen", action);
                    prop_assert_eq!(s.applicability, Applicability::ReviewNeeded, "{} removed unseen", action);
                    prop_assert!(s.actions.get(action).is_some_and(|v| v.review));
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Issue 15: the grant counter remembers each document's grants by identity; over principals
    /// that share documents (in any order, repeated, alone or with others), every count is the
    /// one `granted_actions` computes from scratch.
    #[test]
    fn memoized_grant_counts_equal_fresh_ones_over_shared_documents(
        pool in prop::collection::vec(document(), 1..6),
        principals in prop::collection::vec(prop::collection::vec(0usize..6, 0..5), 1..12),
    ) {
        let c = Catalog::embedded();
        let mut counter = crate::minimize::GrantCounter::new(c);
        for picks in &principals {
            let docs: Vec<&PolicyDocument> = picks.iter().map(|&i| &pool[i % pool.len()]).collect();
            prop_assert_eq!(
                counter.count(docs.iter().copied()),
                granted_actions(docs.iter().copied(), c),
                "documents {:?}", picks
            );
        }
    }
}

/// What a suggestion says about the document, without where it lands or the size notes
/// `minimize_all` adds.
fn suggestion_content(s: &PolicySuggestion) -> serde_json::Value {
    serde_json::json!({
        "statements": s.statements,
        "suggested": s.suggested.as_ref().map(PolicyDocument::to_value),
        "actions": s.actions,
        "granted": s.granted,
        "kept": s.kept,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `minimize_all` looks each literal action of a principal's documents up once, for the risk
    /// profile, and minimizes the same documents with the positions it remembered: every
    /// suggestion and risk profile must be the one computed from scratch, document by document,
    /// whatever mix of Deny, `NotAction`, wildcards and unknown actions the documents hold.
    #[test]
    fn remembered_literal_positions_give_the_suggestions_computed_from_scratch(
        principals in prop::collection::vec(
            (prop::collection::vec((document(), any::<bool>()), 1..4), observed()),
            1..5,
        ),
    ) {
        let c = Catalog::embedded();
        let mut usages = BTreeMap::new();
        let mut list = Vec::new();
        for (p, (docs, u)) in principals.iter().enumerate() {
            let arn = format!("arn:aws:iam::123456789012:role/r{p}");
            usages.insert(arn.clone(), u.clone());
            let policies = docs
                .iter()
                .enumerate()
                .map(|(q, (d, existed))| {
                    let address = format!("aws_iam_role_policy.p{p}_{q}");
                    crate::iam::principal::PolicySource {
                        address: address.clone(),
                        kind: crate::iam::principal::PolicyKind::Inline,
                        name: None,
                        arn: None,
                        attachment: None,
                        via_group: None,
                        document: Some(std::sync::Arc::new(d.clone())),
                        before: existed.then(|| std::sync::Arc::new(d.clone())),
                        unknown_reason: None,
                        origin: Some(crate::iam::principal::PolicyOrigin {
                            resource: address,
                            target: crate::iam::principal::PolicyTarget::PolicyAttribute,
                            document_source: None,
                        }),
                    }
                })
                .collect();
            list.push(crate::iam::principal::Principal {
                address: format!("aws_iam_role.r{p}"),
                block_address: format!("aws_iam_role.r{p}"),
                kind: crate::iam::principal::PrincipalKind::Role,
                name: None,
                arn: Some(arn),
                account: None,
                plan_action: "no-op".into(),
                policies,
                flags: Vec::new(),
                trusted_services: Vec::new(),
            });
        }
        let outcomes = minimize_all(&list, &usages, c, &crate::config::Config::default());
        for outcome in &outcomes {
            let p: usize = outcome.address.trim_start_matches("aws_iam_role.r").parse().unwrap();
            let (docs, u) = &principals[p];
            prop_assert_eq!(&outcome.risk, &RiskProfile::of(docs.iter().map(|(d, _)| d), c));
            prop_assert_eq!(outcome.suggestions.len(), docs.len());
            for (s, (d, existed)) in outcome.suggestions.iter().zip(docs) {
                let fresh = minimize_document(d, existed.then_some(d), u, c, &KeepRules::default());
                match fresh {
                    Ok(fresh) => prop_assert_eq!(suggestion_content(s), suggestion_content(&fresh)),
                    Err(e) => prop_assert!(false, "minimize_document refused: {e}"),
                }
            }
        }
    }
}
