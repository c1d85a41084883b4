//! `minimize_all`: statuses, the union rule, config rules and ordering.

use super::*;
use crate::config::Config;
use crate::iam::principal::{
    PolicyKind, PolicyOrigin, PolicySource, PolicyTarget, Principal, PrincipalKind,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn arn(name: &str) -> String {
    format!("arn:aws:iam::123456789012:role/{name}")
}

fn policy(address: &str, kind: PolicyKind, text: &str) -> PolicySource {
    let d = doc(text);
    PolicySource {
        address: address.to_string(),
        kind,
        name: None,
        arn: None,
        attachment: None,
        via_group: None,
        document: Some(std::sync::Arc::new(d.clone())),
        before: Some(std::sync::Arc::new(d)),
        unknown_reason: None,
        origin: Some(PolicyOrigin {
            resource: address.to_string(),
            target: PolicyTarget::PolicyAttribute,
            document_source: None,
        }),
    }
}

fn principal(
    address: &str,
    kind: PrincipalKind,
    arn: Option<String>,
    policies: Vec<PolicySource>,
) -> Principal {
    Principal {
        address: address.to_string(),
        block_address: crate::iam::discover::strip_instance_keys(address),
        kind,
        name: None,
        arn,
        account: None,
        plan_action: "no-op".into(),
        policies,
        flags: Vec::new(),
        trusted_services: Vec::new(),
    }
}

const EC2_THREE: &str = r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","ec2:TerminateInstances","ec2:RebootInstances"],"Resource":"*"}]}"#;

fn usages(entries: &[(&str, &[&str])]) -> BTreeMap<String, ObservedUsage> {
    entries
        .iter()
        .map(|(name, used)| (arn(name), usage(used)))
        .collect()
}

fn outcome<'a>(all: &'a [PrincipalOutcome], address: &str) -> &'a PrincipalOutcome {
    all.iter().find(|o| o.address == address).unwrap()
}

fn run_all(
    principals: &[Principal],
    usage: &BTreeMap<String, ObservedUsage>,
    config: &Config,
) -> Vec<PrincipalOutcome> {
    minimize_all(principals, usage, Catalog::embedded(), config)
}

#[test]
fn new_principal_is_skipped_with_a_note() {
    let p = principal(
        "aws_iam_role.new",
        PrincipalKind::Role,
        None,
        vec![policy(
            "aws_iam_role_policy.n",
            PolicyKind::Inline,
            EC2_THREE,
        )],
    );
    let out = run_all(&[p], &BTreeMap::new(), &Config::default());
    assert_eq!(out[0].status, PrincipalStatus::New);
    assert!(out[0].suggestions.is_empty() && out[0].notes[0].contains("created by this plan"));
}

#[test]
fn existing_principal_without_usage_is_never_minimized() {
    let p = principal(
        "aws_iam_role.a",
        PrincipalKind::Role,
        Some(arn("a")),
        vec![policy(
            "aws_iam_role_policy.a",
            PolicyKind::Inline,
            EC2_THREE,
        )],
    );
    let out = run_all(&[p], &BTreeMap::new(), &Config::default());
    assert_eq!(out[0].status, PrincipalStatus::NoUsageData);
    assert!(out[0].suggestions.is_empty());
}

#[test]
fn minimized_principal_gets_addresses_on_its_suggestion() {
    let p = principal(
        "aws_iam_role.a",
        PrincipalKind::Role,
        Some(arn("a")),
        vec![policy(
            r#"aws_iam_role_policy.a["x"]"#,
            PolicyKind::Inline,
            EC2_THREE,
        )],
    );
    let out = run_all(
        &[p],
        &usages(&[("a", &["ec2:DescribeInstances"])]),
        &Config::default(),
    );
    assert_eq!(out[0].status, PrincipalStatus::Minimized);
    let s = &out[0].suggestions[0];
    assert_eq!(
        (s.policy_address.as_str(), s.block_address.as_str()),
        (r#"aws_iam_role_policy.a["x"]"#, "aws_iam_role_policy.a")
    );
    assert_eq!(s.kept, 1);
}

#[test]
fn shared_managed_policy_uses_the_union_of_usages() {
    let shared = policy("aws_iam_policy.shared", PolicyKind::Managed, EC2_THREE);
    let a = principal(
        "aws_iam_role.a",
        PrincipalKind::Role,
        Some(arn("a")),
        vec![shared.clone()],
    );
    let b = principal(
        "aws_iam_role.b",
        PrincipalKind::Role,
        Some(arn("b")),
        vec![shared],
    );
    let out = run_all(
        &[a, b],
        &usages(&[
            ("a", &["ec2:DescribeInstances"]),
            ("b", &["ec2:TerminateInstances"]),
        ]),
        &Config::default(),
    );
    for address in ["aws_iam_role.a", "aws_iam_role.b"] {
        let s = &outcome(&out, address).suggestions[0];
        assert_eq!(
            kept_actions(s),
            ["ec2:DescribeInstances", "ec2:TerminateInstances"],
            "{address}"
        );
    }
}

#[test]
fn shared_policy_reaching_a_principal_without_usage_is_unchanged() {
    let shared = policy("aws_iam_policy.shared", PolicyKind::Managed, EC2_THREE);
    let a = principal(
        "aws_iam_role.a",
        PrincipalKind::Role,
        Some(arn("a")),
        vec![shared.clone()],
    );
    let b = principal(
        "aws_iam_role.b",
        PrincipalKind::Role,
        Some(arn("b")),
        vec![shared.clone()],
    );
    let fresh = principal("aws_iam_role.c", PrincipalKind::Role, None, vec![shared]);
    let out = run_all(
        &[a.clone(), b],
        &usages(&[("a", &["ec2:DescribeInstances"])]),
        &Config::default(),
    );
    let s = &outcome(&out, "aws_iam_role.a").suggestions[0];
    assert!(!s.changes_anything());
    assert!(
        s.notes[0].contains("aws_iam_role.b (no usage data)"),
        "{:?}",
        s.notes
    );
    assert_eq!(
        outcome(&out, "aws_iam_role.a").status,
        PrincipalStatus::Unchanged
    );
    let out = run_all(
        &[a, fresh],
        &usages(&[("a", &["ec2:DescribeInstances"])]),
        &Config::default(),
    );
    assert!(!outcome(&out, "aws_iam_role.a").suggestions[0].changes_anything());
}

#[test]
fn for_each_instances_of_one_block_share_the_union() {
    let mk = |key: &str| {
        let address = format!("aws_iam_role_policy.p[\"{key}\"]");
        principal(
            &format!("aws_iam_role.r[\"{key}\"]"),
            PrincipalKind::Role,
            Some(arn(key)),
            vec![policy(&address, PolicyKind::Inline, EC2_THREE)],
        )
    };
    let out = run_all(
        &[mk("x"), mk("y")],
        &usages(&[
            ("x", &["ec2:DescribeInstances"]),
            ("y", &["ec2:RebootInstances"]),
        ]),
        &Config::default(),
    );
    for o in &out {
        assert_eq!(
            kept_actions(&o.suggestions[0]),
            ["ec2:DescribeInstances", "ec2:RebootInstances"],
            "{}",
            o.address
        );
        assert_eq!(o.suggestions[0].block_address, "aws_iam_role_policy.p");
    }
}

#[test]
fn group_policy_is_minimized_against_its_members() {
    let gp = policy("aws_iam_group_policy.g", PolicyKind::Inline, EC2_THREE);
    let mut inherited = gp.clone();
    inherited.kind = PolicyKind::InheritedFromGroup;
    inherited.via_group = Some("aws_iam_group.g".into());
    let g = principal(
        "aws_iam_group.g",
        PrincipalKind::Group,
        Some("arn:aws:iam::123456789012:group/g".into()),
        vec![gp.clone()],
    );
    let u = principal(
        "aws_iam_user.u",
        PrincipalKind::User,
        Some(arn("u")),
        vec![inherited],
    );
    let out = run_all(
        &[g.clone(), u],
        &usages(&[("u", &["ec2:RebootInstances"])]),
        &Config::default(),
    );
    assert_eq!(
        kept_actions(&outcome(&out, "aws_iam_group.g").suggestions[0]),
        ["ec2:RebootInstances"]
    );
    assert_eq!(
        outcome(&out, "aws_iam_group.g").status,
        PrincipalStatus::Minimized
    );
    // Alone, a group has nobody to learn usage from.
    let out = run_all(&[g], &BTreeMap::new(), &Config::default());
    assert!(!out[0].suggestions[0].changes_anything());
    assert!(out[0].suggestions[0].notes[0].contains("no member"));
}

#[test]
fn config_excludes_allowlists_and_requires_a_window() {
    let config = Config::from_toml(
        r#"
[[principal]]
match = "aws_iam_role.ex*"
exclude = true

[[principal]]
match = "arn:aws:iam::*:role/allow"
allow = ["ec2:RebootInstances"]

[[principal]]
match = "aws_iam_role.long"
min_usage_days = 90
"#,
        Path::new(".iamtrim.toml"),
    )
    .unwrap();
    let mk = |name: &str| {
        principal(
            &format!("aws_iam_role.{name}"),
            PrincipalKind::Role,
            Some(arn(name)),
            vec![policy(
                &format!("aws_iam_role_policy.{name}"),
                PolicyKind::Inline,
                EC2_THREE,
            )],
        )
    };
    let used: &[&str] = &["ec2:DescribeInstances"];
    let out = run_all(
        &[mk("excluded"), mk("allow"), mk("long")],
        &usages(&[("excluded", used), ("allow", used), ("long", used)]),
        &config,
    );
    assert_eq!(
        outcome(&out, "aws_iam_role.excluded").status,
        PrincipalStatus::Excluded
    );
    assert_eq!(
        kept_actions(&outcome(&out, "aws_iam_role.allow").suggestions[0]),
        ["ec2:DescribeInstances", "ec2:RebootInstances"]
    );
    let long = outcome(&out, "aws_iam_role.long");
    assert_eq!(long.status, PrincipalStatus::Unchanged);
    assert!(
        long.notes[0].contains("59 days is shorter than the minimum of 90"),
        "{:?}",
        long.notes
    );
}

#[test]
fn outcomes_are_ordered_by_risk() {
    let admin = principal(
        "aws_iam_role.z_admin",
        PrincipalKind::Role,
        Some(arn("z")),
        vec![policy(
            "aws_iam_policy.admin",
            PolicyKind::Managed,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )],
    );
    let escalate = principal(
        "aws_iam_role.m_iam",
        PrincipalKind::Role,
        Some(arn("m")),
        vec![policy(
            "aws_iam_policy.iam",
            PolicyKind::Managed,
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:AttachRolePolicy","Resource":"*"}]}"#,
        )],
    );
    let exfil = principal(
        "aws_iam_role.k_secrets",
        PrincipalKind::Role,
        Some(arn("k")),
        vec![policy(
            "aws_iam_policy.sec",
            PolicyKind::Managed,
            r#"{"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#,
        )],
    );
    let plain = principal(
        "aws_iam_role.a_plain",
        PrincipalKind::Role,
        Some(arn("a")),
        vec![policy(
            "aws_iam_policy.plain",
            PolicyKind::Managed,
            EC2_THREE,
        )],
    );
    let out = run_all(
        &[plain, exfil, escalate, admin],
        &BTreeMap::new(),
        &Config::default(),
    );
    let order: Vec<_> = out.iter().map(|o| o.address.as_str()).collect();
    assert_eq!(
        order,
        [
            "aws_iam_role.z_admin",
            "aws_iam_role.m_iam",
            "aws_iam_role.k_secrets",
            "aws_iam_role.a_plain"
        ]
    );
    assert!(out[0].risk.full_admin);
    assert!(out[1].risk.privilege_escalation > 0 && out[1].risk.permissions_management_on_any > 0);
    assert_eq!(out[2].risk.labels(), ["data-exfiltration"]);
}

/// Regression (issue 14): a principal left untouched said `unchanged` with no reason.
#[test]
fn unchanged_principal_says_why() {
    let p = principal(
        "aws_iam_role.busy",
        PrincipalKind::Role,
        Some(arn("busy")),
        vec![policy(
            "aws_iam_role_policy.busy",
            PolicyKind::Inline,
            r#"{"Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","logs:PutLogEvents"],"Resource":"*"}]}"#,
        )],
    );
    let all = run_all(
        &[p],
        &usages(&[("busy", &["ec2:DescribeInstances"])]),
        &Config::default(),
    );
    let o = outcome(&all, "aws_iam_role.busy");
    assert_eq!(o.status, PrincipalStatus::Unchanged);
    assert_eq!(
        o.unchanged_reason.as_deref(),
        Some("unchanged: nothing to remove, all 2 granted actions stay (never-logged 1, used 1)")
    );
}

/// One independent scenario of issue 14's "done when": a principal's policy, what it used, and the
/// truth decided before running: `needed` is what the evidence requires (used, never logged,
/// dependent actions of used ones, actions a trusted service exercises).
struct Scenario {
    name: &'static str,
    policy: &'static str,
    used: &'static [&'static str],
    trusted: &'static [&'static str],
    needed: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "deploy",
        policy: r#"{"Statement":[{"Effect":"Allow","Action":["ecs:*","logs:*","iam:PassRole","ecr:*"],"Resource":"*"}]}"#,
        used: &[
            "ecs:RegisterTaskDefinition",
            "ecs:UpdateService",
            "ecs:DescribeServices",
            "ecr:GetAuthorizationToken",
            "logs:CreateLogStream",
        ],
        trusted: &[],
        needed: &[
            "ecs:RegisterTaskDefinition",
            "ecs:UpdateService",
            "ecs:DescribeServices",
            "ecr:GetAuthorizationToken",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
            // RegisterTaskDefinition passes the task's roles.
            "iam:PassRole",
        ],
    },
    Scenario {
        name: "worker",
        policy: r#"{"Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*","dynamodb:*"],"Resource":"*"}]}"#,
        used: &[
            "s3:GetObject",
            "s3:PutObject",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "dynamodb:PutItem",
        ],
        trusted: &[],
        needed: &[
            "s3:GetObject",
            "s3:PutObject",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "dynamodb:PutItem",
        ],
    },
    Scenario {
        name: "admin",
        policy: r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        used: &[
            "iam:CreateRole",
            "ec2:RunInstances",
            "s3:CreateBucket",
            "cloudformation:CreateStack",
        ],
        trusted: &[],
        needed: &[
            "iam:CreateRole",
            "ec2:RunInstances",
            "s3:CreateBucket",
            "cloudformation:CreateStack",
            // Dependent actions of RunInstances (and CreateStack's role).
            "iam:PassRole",
            "ec2:CreateTags",
            "ssm:GetParameters",
            "logs:PutLogEvents",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
        ],
    },
    Scenario {
        name: "not-action",
        policy: r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}"#,
        used: &[
            "ec2:DescribeInstances",
            "s3:ListAllMyBuckets",
            "sts:GetCallerIdentity",
        ],
        trusted: &[],
        needed: &[
            "ec2:DescribeInstances",
            "s3:ListAllMyBuckets",
            "sts:GetCallerIdentity",
            "logs:PutLogEvents",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
        ],
    },
    Scenario {
        name: "replication",
        policy: r#"{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#,
        used: &["s3:GetReplicationConfiguration", "s3:ListBucket"],
        trusted: &["s3.amazonaws.com"],
        needed: &[
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
            "s3:GetObjectVersionForReplication",
            "s3:ObjectOwnerOverrideToBucketOwner",
            "s3:ReplicateDelete",
            "s3:ReplicateObject",
            "s3:ReplicateObjectAnnotation",
            "s3:ReplicateTags",
        ],
    },
];

/// Issue 14, done when: on each scenario no used action is removed, never-logged ones stay, every
/// unused action that nothing needs is removed, and actions kept beyond used plus needed stay under
/// 10% of what is needed.
#[test]
fn scenarios_keep_what_the_evidence_needs_and_nothing_else() {
    let catalog = Catalog::embedded();
    for sc in SCENARIOS {
        let mut p = principal(
            &format!("aws_iam_role.{}", sc.name),
            PrincipalKind::Role,
            Some(arn(sc.name)),
            vec![policy(
                &format!("aws_iam_role_policy.{}", sc.name),
                PolicyKind::Inline,
                sc.policy,
            )],
        );
        p.trusted_services = sc.trusted.iter().map(|s| s.to_string()).collect();
        let all = run_all(&[p], &usages(&[(sc.name, sc.used)]), &Config::default());
        let o = outcome(&all, &format!("aws_iam_role.{}", sc.name));
        assert_eq!(
            o.status,
            PrincipalStatus::Minimized,
            "{}: {:?}",
            sc.name,
            o.notes
        );
        let s = &o.suggestions[0];
        let kept: Vec<&str> = s
            .actions
            .iter()
            .filter(|v| v.keep)
            .map(|v| v.action)
            .collect();
        let needed: BTreeSet<String> = sc.needed.iter().map(|a| a.to_ascii_lowercase()).collect();
        for a in sc.needed {
            assert!(
                s.actions.get(a).is_some_and(|v| v.keep),
                "{}: needed {a} removed",
                sc.name
            );
            // Kept in the suggested document itself, not only in the verdicts.
            let allowed = s.suggested.as_ref().is_some_and(|d| {
                d.statements.iter().any(|st| match &st.action {
                    Some(ActionSpec::Action(l)) => {
                        l.values.iter().any(|p| ActionPattern::new(p).matches(a))
                    }
                    _ => false,
                })
            });
            assert!(allowed, "{}: {a} not in the suggested document", sc.name);
        }
        let beyond: Vec<&str> = kept
            .iter()
            .copied()
            .filter(|a| !needed.contains(&a.to_ascii_lowercase()))
            .collect();
        assert!(
            beyond.len() * 10 < needed.len(),
            "{}: kept beyond what is needed: {beyond:?}",
            sc.name
        );
        // Every unused action that nothing needs is removed (the kept list is the needed one).
        assert!(kept.len() >= needed.len() && catalog.len() > kept.len());
    }
}
