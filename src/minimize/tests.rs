//! Unit tests named after the keep rules, a table of tricky documents, explanation snapshots;
//! `all` covers `minimize_all`, `properties` the proptest properties.

use super::*;
use crate::iam::action::ActionPattern;
use crate::iam::catalog::Catalog;
use crate::iam::policy::{ActionSpec, Effect, ResourceSpec, Statement};
use crate::usage::{ActionUse, ObservedUsage, UsageSourceKind, Window};
use std::collections::BTreeSet;

fn doc(text: &str) -> PolicyDocument {
    PolicyDocument::parse_str(text).unwrap()
}

fn usage(used: &[&str]) -> ObservedUsage {
    let mut u = ObservedUsage::empty(
        "arn:aws:iam::123456789012:role/app",
        UsageSourceKind::Cloudtrail,
        Window {
            start: "2026-01-01T00:00:00Z".into(),
            end: "2026-03-01T00:00:00Z".into(),
        },
    );
    u.data_events_seen = true;
    for a in used {
        u.actions.insert(
            a.to_string(),
            ActionUse {
                count: 1,
                ..ActionUse::default()
            },
        );
    }
    u
}

/// Minimizes with the document itself as `before`, so nothing counts as new in the plan.
fn run(current: &PolicyDocument, u: &ObservedUsage, rules: &KeepRules) -> PolicySuggestion {
    minimize_document(current, Some(current), u, Catalog::embedded(), rules).unwrap()
}

fn verdict<'a>(s: &'a PolicySuggestion, action: &str) -> ActionVerdict<'a> {
    s.actions
        .get(action)
        .unwrap_or_else(|| panic!("no verdict for {action}"))
}

fn kept_actions(s: &PolicySuggestion) -> Vec<String> {
    s.suggested
        .iter()
        .flat_map(|d| &d.statements)
        .filter_map(|st| match &st.action {
            Some(ActionSpec::Action(l)) if st.effect == Effect::Allow => Some(l.values.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

const EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ec2","Effect":"Allow","Action":["ec2:DescribeInstances","ec2:TerminateInstances"],"Resource":"*"}]}"#;

#[test]
fn keep_rule_used() {
    let s = run(
        &doc(EC2),
        &usage(&["ec2:DescribeInstances"]),
        &KeepRules::default(),
    );
    assert_eq!(
        s.statements,
        vec![StatementChange::SetActions(vec![
            "ec2:DescribeInstances".into()
        ])]
    );
    assert_eq!(
        verdict(&s, "ec2:DescribeInstances").kind,
        Some(KeepReason::Used)
    );
    let removed = verdict(&s, "ec2:TerminateInstances");
    assert!(!removed.keep && removed.kind.is_none());
    assert!(
        removed.reason.starts_with("not used between 2026-01-01"),
        "{}",
        removed.reason
    );
    assert_eq!(
        (s.granted, s.kept, s.applicability),
        (2, 1, Applicability::Safe)
    );
}

/// Regression (issue 14): `s3:*` on a report worker kept `s3:BypassGovernanceRetention` and the
/// other permission-only actions although nothing it did needs them.
#[test]
fn permission_only_action_no_used_action_needs_is_removed_for_review() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:BypassGovernanceRetention","s3:PutAccessPointPublicAccessBlock"],"Resource":"*"}]}"#,
    );
    let s = run(
        &d,
        &usage(&["s3:GetObject", "s3:PutObject"]),
        &KeepRules::default(),
    );
    assert_eq!(kept_actions(&s), ["s3:GetObject", "s3:PutObject"]);
    let bypass = verdict(&s, "s3:BypassGovernanceRetention");
    assert!(!bypass.keep && bypass.review, "{bypass:?}");
    assert!(
        bypass
            .reason
            .starts_with("permission-only; no used action needs it"),
        "{}",
        bypass.reason
    );
    assert!(!verdict(&s, "s3:GetObject").review);
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("s3:BypassGovernanceRetention")),
        "{:?}",
        s.notes
    );
}

#[test]
fn keep_rule_needed_by_used_action() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","iam:CreateRole","ecs:RunTask"],"Resource":"*"}]}"#,
    );
    let s = run(&d, &usage(&["ecs:RunTask"]), &KeepRules::default());
    let pass = verdict(&s, "iam:PassRole");
    assert_eq!(pass.kind, Some(KeepReason::NeededByUsedAction));
    assert!(pass.reason.contains("ecs:RunTask"), "{}", pass.reason);
    assert!(!verdict(&s, "iam:CreateRole").keep);
    assert_eq!(kept_actions(&s), ["iam:PassRole", "ecs:RunTask"]);
    // Only a visible management event was removed: safe.
    assert_eq!(s.applicability, Applicability::Safe);
    // Without the used action nothing needs PassRole: it goes, for review.
    let s = run(&d, &usage(&[]), &KeepRules::default());
    assert!(!verdict(&s, "iam:PassRole").keep);
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
}

#[test]
fn keep_rule_needed_by_trusted_service() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:ReplicateObject","s3:ReplicateDelete","s3:GetObjectVersionForReplication","s3:BypassGovernanceRetention"],"Resource":"*"}]}"#,
    );
    let rules = KeepRules {
        trusted_services: ["s3.amazonaws.com".to_string()].into(),
        ..KeepRules::default()
    };
    let s = run(&d, &usage(&[]), &rules);
    assert_eq!(
        kept_actions(&s),
        [
            "s3:ReplicateObject",
            "s3:ReplicateDelete",
            "s3:GetObjectVersionForReplication"
        ]
    );
    let v = verdict(&s, "s3:ReplicateObject");
    assert_eq!(v.kind, Some(KeepReason::NeededByTrustedService));
    assert!(v.reason.contains("s3.amazonaws.com"), "{}", v.reason);
    assert!(!verdict(&s, "s3:BypassGovernanceRetention").keep);
    // Another trusted service exercises none of them.
    let rules = KeepRules {
        trusted_services: ["lambda.amazonaws.com".to_string()].into(),
        ..KeepRules::default()
    };
    assert_eq!(run(&d, &usage(&[]), &rules).suggested, None);
}

/// Regression (issue 14): a deploy role's `logs:PutLogEvents`, which CloudTrail never records,
/// was removed and the suggestion labelled safe.
#[test]
fn never_logged_api_is_kept() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents","logs:DeleteLogGroup"],"Resource":"*"}]}"#,
    );
    let s = run(&d, &usage(&["logs:CreateLogStream"]), &KeepRules::default());
    assert_eq!(
        kept_actions(&s),
        ["logs:CreateLogStream", "logs:PutLogEvents"]
    );
    let v = verdict(&s, "logs:PutLogEvents");
    assert_eq!(v.kind, Some(KeepReason::NeverLogged));
    assert!(v.reason.contains("never records"), "{}", v.reason);
    assert_eq!(s.applicability, Applicability::Safe);
}

#[test]
fn data_events_are_judged_per_resource_type_when_the_source_tells_them_apart() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","lambda:InvokeFunction","dynamodb:GetRecords"],"Resource":"*"}]}"#,
    );
    let mut u = usage(&[]);
    u.data_events_seen = true;
    u.data_event_types = ["AWS::S3::Object".to_string()].into();
    let s = run(&d, &u, &KeepRules::default());
    assert!(!verdict(&s, "s3:GetObject").keep);
    let invoke = verdict(&s, "lambda:InvokeFunction");
    assert_eq!(invoke.kind, Some(KeepReason::DataEventNotSeen));
    assert!(
        invoke.reason.contains("AWS::Lambda::Function"),
        "{}",
        invoke.reason
    );
    assert_eq!(
        verdict(&s, "dynamodb:GetRecords").kind,
        Some(KeepReason::DataEventNotSeen)
    );
    assert_eq!(s.applicability, Applicability::Safe);
    // An empty set falls back to whether the source saw any data events.
    u.data_event_types.clear();
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(s.suggested, None);
}

#[test]
fn unmapped_events_keep_their_service_need_review_and_are_named() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["apigateway:GET","apigateway:POST","ec2:TerminateInstances"],"Resource":"*"}]}"#,
    );
    let mut u = usage(&[]);
    u.unmapped_events
        .insert("apigateway".into(), ["GetRestApis".to_string()].into());
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(kept_actions(&s), ["apigateway:GET", "apigateway:POST"]);
    assert_eq!(
        verdict(&s, "apigateway:GET").kind,
        Some(KeepReason::UnmappedEvents)
    );
    assert!(!verdict(&s, "ec2:TerminateInstances").keep);
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    assert!(
        s.notes.iter().any(|n| n.contains("GetRestApis")),
        "{:?}",
        s.notes
    );
}

#[test]
fn keep_rule_data_event_not_seen() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:CreateBucket"],"Resource":"*"}]}"#,
    );
    let mut u = usage(&[]);
    u.data_events_seen = false;
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(
        verdict(&s, "s3:GetObject").kind,
        Some(KeepReason::DataEventNotSeen)
    );
    assert!(!verdict(&s, "s3:CreateBucket").keep);
    // When the source did see data events, an unused data-event action goes.
    let s = run(&d, &usage(&[]), &KeepRules::default());
    assert_eq!(s.suggested, None, "nothing left: detach");
}

#[test]
fn keep_rule_no_action_level_data() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:List*","ec2:TerminateInstances"],"Resource":"*"}]}"#,
    );
    let mut u = usage(&[]);
    u.action_level_services = Some(["ec2".to_string()].into());
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(
        verdict(&s, "s3:ListAllMyBuckets").kind,
        Some(KeepReason::NoActionLevelData)
    );
    // The source knows nothing of s3, so the pattern stays as written rather than frozen into a list.
    assert_eq!(
        s.statements,
        vec![StatementChange::SetActions(vec!["s3:List*".into()])]
    );
    let mut u = usage(&[]);
    u.service_level_only = ["ec2".to_string()].into();
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(
        verdict(&s, "ec2:TerminateInstances").kind,
        Some(KeepReason::NoActionLevelData)
    );
}

#[test]
fn keep_rule_new_in_plan() {
    let current = doc(EC2);
    let before = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances"],"Resource":"*"}]}"#,
    );
    let s = minimize_document(
        &current,
        Some(&before),
        &usage(&[]),
        Catalog::embedded(),
        &KeepRules::default(),
    )
    .unwrap();
    assert_eq!(
        verdict(&s, "ec2:TerminateInstances").kind,
        Some(KeepReason::NewInPlan)
    );
    assert!(!verdict(&s, "ec2:DescribeInstances").keep);
    // A policy this plan creates is new as a whole.
    let s = minimize_document(
        &current,
        None,
        &usage(&[]),
        Catalog::embedded(),
        &KeepRules::default(),
    )
    .unwrap();
    assert_eq!(s.statements, vec![StatementChange::Keep]);
}

#[test]
fn keep_rule_allowlisted() {
    let rules = KeepRules {
        allow: vec![ActionPattern::new("ec2:Terminate*")],
        ..KeepRules::default()
    };
    let s = run(&doc(EC2), &usage(&[]), &rules);
    assert_eq!(
        verdict(&s, "ec2:TerminateInstances").kind,
        Some(KeepReason::Allowlisted)
    );
    assert_eq!(kept_actions(&s), ["ec2:TerminateInstances"]);
}

#[test]
fn keep_rule_unknown_to_catalog() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["newsvc:DoThing","ec2:TerminateInstances"],"Resource":"*"}]}"#,
    );
    let s = run(&d, &usage(&[]), &KeepRules::default());
    assert_eq!(
        verdict(&s, "newsvc:DoThing").kind,
        Some(KeepReason::UnknownToCatalog)
    );
    assert_eq!(kept_actions(&s), ["newsvc:DoThing"]);
}

#[test]
fn keep_rule_service_left_alone() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["kms:*","ec2:TerminateInstances"],"Resource":"*"}]}"#,
    );
    let rules = KeepRules {
        leave_alone: ["kms".to_string()].into(),
        ..KeepRules::default()
    };
    let s = run(&d, &usage(&[]), &rules);
    assert_eq!(
        verdict(&s, "kms:Decrypt").kind,
        Some(KeepReason::ServiceLeftAlone)
    );
    assert_eq!(kept_actions(&s), ["kms:*"]);
}

#[test]
fn denied_calls_are_never_used() {
    let mut u = usage(&[]);
    u.denied.insert("ec2:TerminateInstances".into(), 3);
    let s = run(&doc(EC2), &u, &KeepRules::default());
    let v = verdict(&s, "ec2:TerminateInstances");
    assert!(
        !v.keep && v.reason.starts_with("only denied calls"),
        "{}",
        v.reason
    );
    assert_eq!(s.suggested, None);
    assert!(s.notes.iter().any(|n| n.contains("detach")));
}

#[test]
fn used_action_blocked_by_a_deny_in_the_same_document_is_not_used() {
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","ec2:TerminateInstances"],"Resource":"*"},{"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}]}"#,
    );
    let s = run(
        &d,
        &usage(&["ec2:DescribeInstances", "ec2:TerminateInstances"]),
        &KeepRules::default(),
    );
    assert!(
        verdict(&s, "ec2:TerminateInstances")
            .reason
            .contains("unconditional Deny")
    );
    assert_eq!(
        s.statements,
        vec![
            StatementChange::SetActions(vec!["ec2:DescribeInstances".into()]),
            StatementChange::Keep
        ]
    );
    // A conditional Deny may not apply, so the use counts.
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},{"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
    );
    let s = run(
        &d,
        &usage(&["ec2:TerminateInstances"]),
        &KeepRules::default(),
    );
    assert_eq!(
        verdict(&s, "ec2:TerminateInstances").kind,
        Some(KeepReason::Used)
    );
}

#[test]
fn incomplete_usage_is_review_needed() {
    let mut u = usage(&["ec2:DescribeInstances"]);
    u.complete = false;
    let s = run(&doc(EC2), &u, &KeepRules::default());
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    assert!(s.notes.iter().any(|n| n.contains("incomplete")));
}

#[test]
fn empty_statement_is_dropped_and_deny_kept() {
    let d = doc(
        r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"*"},{"Sid":"B","Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"},{"Sid":"D","Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
    );
    let s = run(
        &d,
        &usage(&["ec2:DescribeInstances"]),
        &KeepRules::default(),
    );
    assert_eq!(
        s.statements,
        vec![
            StatementChange::Remove,
            StatementChange::Keep,
            StatementChange::Keep
        ]
    );
    let sids: Vec<_> = s
        .suggested
        .as_ref()
        .unwrap()
        .statements
        .iter()
        .map(|s| s.sid.clone().unwrap())
        .collect();
    assert_eq!(sids, ["B", "D"]);
}

#[test]
fn not_action_too_broad_is_kept_and_flagged() {
    let d = doc(r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#);
    let mut u = usage(&[]);
    u.action_level_services = Some(BTreeSet::new());
    let s = run(&d, &u, &KeepRules::default());
    assert_eq!(s.statements, vec![StatementChange::Keep]);
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    assert!(s.notes[0].contains("would need"), "{:?}", s.notes);
    assert!(s.kept > STATEMENT_ACTION_LIMIT && s.kept == s.granted);
}

/// A tricky document: name, policy JSON, used actions, and the checks on its suggestion.
type TrickyCase = (
    &'static str,
    &'static str,
    &'static [&'static str],
    fn(&PolicySuggestion),
);

/// Statement changes expected for tricky documents.
#[test]
fn tricky_documents() {
    let c = Catalog::embedded();
    let cases: &[TrickyCase] = &[
        (
            // Regression (issue 14): a NotAction allow was kept whole because the ~2,000
            // permission-only actions alone passed the explicit-action limit.
            "NotAction allow over the real catalog becomes the used and never-logged actions",
            r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}]}"#,
            &["ec2:DescribeInstances", "iam:CreateRole"],
            |s| {
                assert_eq!(
                    s.statements,
                    vec![StatementChange::SetActions(
                        [
                            "ec2:DescribeInstances",
                            "logs:FilterLogEvents",
                            "logs:GetLogEvents",
                            "logs:PutLogEvents"
                        ]
                        .map(String::from)
                        .to_vec()
                    )]
                );
                assert_eq!(s.applicability, Applicability::ReviewNeeded);
                assert!(!verdict(s, "ec2:TerminateInstances").keep);
            },
        ),
        (
            "wildcards across services",
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:List*","ec2:Describe*","*:ListQueues"],"Resource":"*"}]}"#,
            &["s3:ListAllMyBuckets", "sqs:ListQueues"],
            |s| {
                let kept = kept_actions(s);
                let c = Catalog::embedded();
                assert!(
                    kept.starts_with(&["s3:ListAllMyBuckets".to_string()])
                        && kept.ends_with(&["sqs:ListQueues".to_string()])
                );
                // Permission-only Describe actions nothing needs are gone too.
                assert_eq!(kept.len(), 2, "{kept:?}");
                assert!(c.lookup("ec2:DescribeInstances").is_some());
            },
        ),
        (
            "Condition with ForAnyValue survives",
            r#"{"Statement":[{"Sid":"Tags","Effect":"Allow","Action":["ec2:CreateTags","ec2:DeleteTags"],"Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","env"]}}}]}"#,
            &["ec2:CreateTags"],
            |s| {
                let st = &s.suggested.as_ref().unwrap().statements[0];
                assert_eq!(st.sid.as_deref(), Some("Tags"));
                assert_eq!(st.condition, s.current.statements[0].condition);
                assert_eq!(kept_actions(s), ["ec2:CreateTags"]);
            },
        ),
        (
            "Allow and Deny in one document",
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::secret/*"},{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#,
            &["s3:GetObject"],
            |s| {
                assert_eq!(
                    s.statements,
                    vec![
                        StatementChange::Keep,
                        StatementChange::SetActions(vec!["s3:GetObject".into()])
                    ]
                )
            },
        ),
        (
            // Regression (issue 14): `"Action": "*"` was kept whole.
            "Action * over the real catalog becomes the used and never-logged actions",
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            &["s3:ListAllMyBuckets", "ec2:DescribeInstances"],
            |s| {
                assert_eq!(
                    kept_actions(s),
                    [
                        "ec2:DescribeInstances",
                        "logs:FilterLogEvents",
                        "logs:GetLogEvents",
                        "logs:PutLogEvents",
                        "s3:ListAllMyBuckets"
                    ]
                );
                assert_eq!(s.granted, Catalog::embedded().len());
                assert_eq!(s.applicability, Applicability::ReviewNeeded);
            },
        ),
    ];
    for (name, text, used, check) in cases {
        let d = doc(text);
        let s = minimize_document(&d, Some(&d), &usage(used), c, &KeepRules::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            grants_no_more(s.suggested.as_ref().unwrap(), &d, c),
            Ok(()),
            "{name}"
        );
        check(&s);
    }
}

#[test]
fn explain_snapshot() {
    let d = doc(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Queue","Effect":"Allow","Action":["sqs:Send*","sqs:DeleteQueue","iam:PassRole","newsvc:Thing"],"Resource":"*"},{"Sid":"Ec2","Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"*"},{"Effect":"Deny","Action":"sqs:DeleteQueue","Resource":"*"}]}"#,
    );
    let mut u = usage(&["sqs:SendMessage", "sqs:DeleteQueue"]);
    u.denied.insert("ec2:TerminateInstances".into(), 1);
    let mut s = run(&d, &u, &KeepRules::default());
    s.policy_address = "aws_iam_role_policy.queue".into();
    insta::assert_snapshot!(explain(&s));
}

#[test]
fn explain_detach_snapshot() {
    let mut u = usage(&[]);
    u.complete = false;
    let mut s = run(&doc(EC2), &u, &KeepRules::default());
    s.policy_address = "aws_iam_policy.ec2".into();
    insta::assert_snapshot!(explain(&s));
}

/// A catalog small enough that `*` and `NotAction` minimize to short lists.
fn small_catalog() -> &'static Catalog {
    static SMALL: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    SMALL.get_or_init(|| {
        let text = [
            "iamtrim-catalog 2",
            "source test",
            "S\tec2\tAmazon EC2\nR\nC",
            "A\tDescribeInstances\tL\t-\t-\t-\t-\t-\nA\tTerminateInstances\tW\t-\t-\t-\t-\t-",
            "S\tiam\tAWS IAM\nR\nC",
            "A\tCreateRole\tW\tp\t-\t-\t-\t-\nA\tPassRole\tW\tu\t-\t-\t-\t-",
            "S\ts3\tAmazon S3\nR\nC",
            "A\tGetObject\tR\td\t-\t-\t-\t-\nA\tListAllMyBuckets\tL\t-\t-\t-\t-\t-",
        ]
        .join("\n");
        Catalog::from_text(&text).unwrap()
    })
}

#[test]
fn not_action_is_expanded_then_minimized() {
    let c = small_catalog();
    let d = doc(
        r#"{"Statement":[{"Sid":"All","Effect":"Allow","NotAction":["iam:Create*"],"Resource":"*"}]}"#,
    );
    let u = usage(&["ec2:DescribeInstances", "iam:CreateRole", "newsvc:Thing"]);
    let s = minimize_document(&d, Some(&d), &u, c, &KeepRules::default()).unwrap();
    // PassRole is permission-only and nothing used needs it: removed. The used action unknown to
    // the catalog is listed by name.
    let expected = ["ec2:DescribeInstances", "newsvc:Thing"]
        .map(String::from)
        .to_vec();
    assert_eq!(s.statements, vec![StatementChange::SetActions(expected)]);
    let st = &s.suggested.as_ref().unwrap().statements[0];
    assert_eq!(st.to_value()["Action"][0], "ec2:DescribeInstances");
    assert!(st.to_value().get("NotAction").is_none());
    assert_eq!((s.granted, s.kept), (6, 2));
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
}

#[test]
fn action_star_shrinks_to_explicit_actions() {
    let c = small_catalog();
    let d = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    let s = minimize_document(
        &d,
        Some(&d),
        &usage(&["s3:ListAllMyBuckets"]),
        c,
        &KeepRules::default(),
    )
    .unwrap();
    assert_eq!(
        s.statements,
        vec![StatementChange::SetActions(vec![
            "s3:ListAllMyBuckets".into()
        ])]
    );
    // iam:PassRole, permission-only, was removed: review.
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
}

#[test]
fn granted_actions_counts_distinct_expanded_actions_over_documents() {
    let c = Catalog::embedded();
    let a = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:getobject","x:Unknown"],"Resource":"*"}]}"#,
    );
    assert_eq!(granted_actions([&a], c), 2);
    let all = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
    assert_eq!(granted_actions([&all, &a], c), c.len() + 1);
    let not = doc(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#);
    assert_eq!(
        granted_actions([&not], c),
        c.len() - c.service_actions("iam").len()
    );
    let deny = doc(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#);
    assert_eq!(granted_actions([&deny], c), 0);
    assert_eq!(granted_actions([&deny, &a], c), 2);
    // One counter over many sets counts each as `granted_actions` does, whatever came before.
    let s3 =
        doc(r#"{"Statement":{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}}"#);
    let sets: [Vec<&PolicyDocument>; 7] = [
        vec![&all, &a],
        vec![&s3],
        vec![&a],
        vec![&s3, &not],
        vec![],
        vec![&deny, &s3],
        vec![&s3],
    ];
    let mut counter = crate::minimize::GrantCounter::new(c);
    for set in &sets {
        assert_eq!(
            counter.count(set.iter().copied()),
            granted_actions(set.iter().copied(), c)
        );
    }
}

mod all;
mod properties;

#[test]
fn unseen_data_events_reached_only_through_star_go_for_review_unless_the_service_is_called() {
    // Truth decided first: the trail logged S3 object events only. The role called CodeBuild and
    // DynamoDB's control plane. Through `*` it is granted Kinesis and DynamoDB data events too.
    let d = doc(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
    let mut u = usage(&["codebuild:StartBuild", "dynamodb:DescribeTable"]);
    u.data_events_seen = true;
    u.data_event_types = ["AWS::S3::Object".to_string()].into();
    let s = run(&d, &u, &KeepRules::default());
    // Kinesis: never called, reached only through `*`, its data events unlogged: removed, review.
    let put = verdict(&s, "kinesis:PutRecord");
    assert!(!put.keep && put.review, "{put:?}");
    assert!(put.reason.contains("called no `kinesis`"), "{}", put.reason);
    // DynamoDB: the principal called it, so its unlogged data events may be in use: kept.
    assert_eq!(
        verdict(&s, "dynamodb:GetItem").kind,
        Some(KeepReason::DataEventNotSeen)
    );
    // S3 object events were logged: an unused one is visible, so removed without review.
    let get = verdict(&s, "s3:GetObject");
    assert!(!get.keep && !get.review, "{get:?}");
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    assert!(
        s.notes.iter().any(|n| n.contains("kinesis:PutRecord")),
        "{:?}",
        s.notes
    );
    // Granted by name, the same unlogged Kinesis data event stays.
    let named = doc(r#"{"Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}"#);
    let s = run(&named, &u, &KeepRules::default());
    assert_eq!(
        verdict(&s, "kinesis:PutRecord").kind,
        Some(KeepReason::DataEventNotSeen)
    );
}

/// `n` distinct catalog actions that CloudTrail logs as management events, every `step`th one in
/// catalog order (deterministic), outside the services in `skip`.
fn management_actions(n: usize, step: usize, skip: &[&str]) -> Vec<String> {
    use crate::iam::catalog::Visibility;
    let out: Vec<String> = Catalog::embedded()
        .actions()
        .iter()
        .filter(|a| a.visibility() == Visibility::Management)
        .filter(|a| !skip.contains(&a.service()))
        .step_by(step)
        .take(n)
        .map(|a| a.name().to_string())
        .collect();
    assert_eq!(out.len(), n, "the catalog has too few actions for the test");
    out
}

/// The checks every split suggestion of an admin-like statement must pass (issue 14): no used
/// action removed; every other kept action kept for a reason the catalog confirms; the kept list
/// written as statements of at most the cap, of the original scope; and, over a role's inline
/// limit, parts that each fit a managed policy, are each contained in the current document and
/// together list exactly the kept actions.
fn check_admin_split(current: &PolicyDocument, used: &[String], address: &str) {
    use crate::iam::catalog::Visibility;
    use crate::minimize::size::{
        MANAGED_POLICY_MAX_CHARS, ROLE_INLINE_MAX_CHARS, STATEMENT_ACTION_CAP, flag_oversize,
        policy_size, split_for_size,
    };
    let c = Catalog::embedded();
    let refs: Vec<&str> = used.iter().map(String::as_str).collect();
    let mut s = run(current, &usage(&refs), &KeepRules::default());
    let changes = s.statements.clone();
    let [StatementChange::SetActions(kept)] = changes.as_slice() else {
        panic!("one statement set to explicit actions: {:?}", s.notes);
    };
    assert!(kept.len() > STATEMENT_ACTION_LIMIT, "{} kept", kept.len());
    for a in used {
        assert!(verdict(&s, a).keep, "used {a} removed");
        assert!(kept.contains(a), "used {a} not listed");
    }
    let used_set: BTreeSet<&str> = refs.iter().copied().collect();
    for a in kept {
        let info = c.lookup(a).unwrap_or_else(|| panic!("{a} unknown"));
        let v = verdict(&s, a);
        let justified = match v.kind {
            Some(KeepReason::Used) => used_set.contains(a.as_str()),
            Some(KeepReason::NeverLogged) => info.visibility() == Visibility::NeverLogged,
            Some(KeepReason::NeededByUsedAction) => used.iter().any(|u| {
                c.lookup(u).is_some_and(|i| {
                    i.dependent_actions()
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(a))
                })
            }),
            Some(KeepReason::DataEventNotSeen) => {
                matches!(info.visibility(), Visibility::DataEvent(_))
                    && used
                        .iter()
                        .any(|u| u.split(':').next() == Some(info.service()))
            }
            _ => false,
        };
        assert!(justified, "{a} kept as {:?}: {}", v.kind, v.reason);
    }
    // Statements of at most the cap, in order, each of the original scope.
    let suggested = s.suggested.clone().expect("a suggestion");
    assert_eq!(
        suggested.statements.len(),
        kept.len().div_ceil(STATEMENT_ACTION_CAP)
    );
    let mut listed = Vec::new();
    for st in &suggested.statements {
        let Some(ActionSpec::Action(l)) = &st.action else {
            panic!("explicit actions");
        };
        assert!(l.values.len() <= STATEMENT_ACTION_CAP);
        assert_eq!(st.resource, current.statements[0].resource);
        listed.extend(l.values.iter().cloned());
    }
    assert_eq!(&listed, kept);
    assert_eq!(grants_no_more(&suggested, current, c), Ok(()));
    // Over a role's inline limit: flagged, and split into managed policies within theirs.
    let size = policy_size(&suggested);
    assert!(size > ROLE_INLINE_MAX_CHARS, "{size}");
    s.policy_address = address.to_string();
    flag_oversize(&mut s);
    assert_eq!(s.applicability, Applicability::ReviewNeeded);
    let parts = split_for_size(&suggested);
    assert!(parts.len() >= size.div_ceil(MANAGED_POLICY_MAX_CHARS));
    let note = s.notes.last().expect("a note");
    assert!(
        note.contains(&format!("over IAM's {ROLE_INLINE_MAX_CHARS}"))
            && note.contains(&format!("{} managed policies", parts.len())),
        "{note}"
    );
    let mut joined = Vec::new();
    for part in &parts {
        assert!(policy_size(part) <= MANAGED_POLICY_MAX_CHARS);
        assert_eq!(grants_no_more(part, current, c), Ok(()));
        for st in &part.statements {
            if let Some(ActionSpec::Action(l)) = &st.action {
                joined.extend(l.values.iter().cloned());
            }
        }
    }
    assert_eq!(
        &joined, kept,
        "the parts list every kept action once, in order"
    );
}

#[test]
fn admin_star_that_used_1200_actions_is_split_not_kept_whole() {
    // Regression (issue 14): `"Action": "*"` of a role that used more than 1,000 actions was
    // kept whole, `*` and all.
    let used = management_actions(1_200, 7, &[]);
    let current = doc(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    check_admin_split(&current, &used, "aws_iam_role_policy.admin");
}

#[test]
fn not_action_role_that_used_1100_actions_is_split_not_kept_whole() {
    let used = management_actions(1_100, 6, &["iam", "organizations"]);
    let current = doc(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}"#,
    );
    check_admin_split(&current, &used, "aws_iam_role.ops (inline policy power)");
    let s = run(
        &current,
        &usage(&used.iter().map(String::as_str).collect::<Vec<_>>()),
        &KeepRules::default(),
    );
    assert!(
        kept_actions(&s)
            .iter()
            .all(|a| !a.starts_with("iam:") && !a.starts_with("organizations:")),
        "an excluded service came back"
    );
}
