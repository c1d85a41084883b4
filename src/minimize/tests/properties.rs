//! Property tests: on random documents and usages, containment always holds and every used action
//! the current document allows stays allowed. Checked with an evaluator independent of the proof.

use super::*;
use proptest::prelude::*;

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
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

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
            let new = match change {
                StatementChange::Remove => None,
                _ => suggested.next(),
            };
            if st.effect == Effect::Deny {
                prop_assert_eq!(new, Some(st), "Deny statements never change");
                continue;
            }
            // Containment, per statement, over catalog and non-catalog actions alike.
            if let Some(new) = new {
                prop_assert_eq!((&new.resource, &new.condition, &new.sid), (&st.resource, &st.condition, &st.sid));
                for probe in probes() {
                    prop_assert!(!statement_allows(new, &probe) || statement_allows(st, &probe), "{} widened by {:?}", probe, change);
                }
            }
            // Every used action the statement allowed (and no blanket Deny blocks) stays allowed.
            for used in u.actions.keys() {
                if statement_allows(st, used) && !blanket_denied(&current, used) {
                    prop_assert!(new.is_some_and(|n| statement_allows(n, used)), "used {} dropped by {:?}", used, change);
                }
            }
        }
        prop_assert!(suggested.next().is_none());
    }
}
