//! Issue 14 end to end through the binary, on `testdata/e2e/size/` (plan from
//! `scripts/make-e2e-size-plan`): roles granted `"Action": "*"` whose CloudTrail logs, written here
//! from the catalog, show hundreds or over a thousand distinct actions. `iamtrim suggest`, then
//! `git apply --check` and `iamtrim apply`, then the documents the patched `.tf` files and
//! `iamtrim.suggested.tf` evaluate to are checked against the usage:
//!
//! - `admin` (1,200 used actions, an inline `jsonencode`): over any one policy, so managed
//!   policies in `iamtrim.suggested.tf`;
//! - `ops` (a `data "aws_iam_policy_document"`) and `deploy` (a managed policy in a heredoc): a
//!   few hundred actions, within their limits, so patched in place as several statements;
//! - `pair`: two inline policies that each fit the role's 10,240 characters as suggested, but not
//!   together, so the larger moves to managed policies and the other is patched.
//!
//! The expected truth, decided from the usage alone: the actions are management events with no
//! dependent actions, in services with no data-event or never-logged action, so under `*` the
//! minimizer keeps exactly what was used plus the never-logged APIs of the catalog. Every
//! document must grant exactly that (every used action, nothing else, no wildcard, Resource `*`
//! as today), in statements of at most 150 actions, each document within its IAM limit.

use crate::support::repo::{self, find_block, git, iamtrim};
use iamtrim::iam::catalog::{Catalog, Visibility};
use iamtrim::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec};
use iamtrim::minimize::grants_no_more;
use iamtrim::minimize::size::{
    GROUP_INLINE_MAX_CHARS, MANAGED_POLICY_MAX_CHARS, ROLE_INLINE_MAX_CHARS, STATEMENT_ACTION_CAP,
    policy_size,
};
use iamtrim::usage::cloudtrail::mapping::{action_for_event, service_prefix};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const CASE: &str = "testdata/e2e/size";
const ACCOUNT: &str = "111122223333";

/// Management-event actions CloudTrail records under `<service>.amazonaws.com` with their own
/// name, that need no other action, in services without data-event or never-logged actions: what
/// the minimizer keeps of them under `*` is exactly what was used. In catalog order.
fn plain_actions() -> Vec<String> {
    let catalog = Catalog::embedded();
    let mut noisy: BTreeSet<&str> = BTreeSet::new();
    for a in catalog.actions() {
        if matches!(
            a.visibility(),
            Visibility::DataEvent(_) | Visibility::NeverLogged
        ) {
            noisy.insert(a.service());
        }
    }
    catalog
        .actions()
        .iter()
        .filter(|a| {
            let source = format!("{}.amazonaws.com", a.service());
            a.visibility() == Visibility::Management
                && a.dependent_actions().is_empty()
                && !noisy.contains(a.service())
                && service_prefix(&source).as_deref() == Some(a.service())
                && action_for_event(&source, a.action()).as_deref() == Some(a.name())
        })
        .map(|a| a.name().to_string())
        .collect()
}

/// The never-logged APIs of the catalog: kept under `*` whatever the usage.
fn never_logged() -> BTreeSet<String> {
    Catalog::embedded()
        .actions()
        .iter()
        .filter(|a| a.visibility() == Visibility::NeverLogged)
        .map(|a| a.name().to_string())
        .collect()
}

/// What each role used: distinct, deterministic, sized so the expected outcome is certain.
struct Usage {
    admin: Vec<String>,
    ops: Vec<String>,
    deploy: Vec<String>,
    pair: Vec<String>,
    /// The user `dev`: EC2 and SageMaker actions, which its group's two policies grant.
    dev_ec2: Vec<String>,
    dev_ml: Vec<String>,
}

fn usage() -> Usage {
    let plain = plain_actions();
    let of_service = |service: &str, lo: usize, hi: usize, n: usize| -> Vec<String> {
        let out: Vec<String> = plain
            .iter()
            .filter(|a| a.split(':').next() == Some(service) && (lo..=hi).contains(&a.len()))
            .take(n)
            .cloned()
            .collect();
        assert_eq!(
            out.len(),
            n,
            "the catalog has enough plain {service} actions"
        );
        out
    };
    let between = |lo: usize, hi: usize, skip: usize, n: usize| -> Vec<String> {
        let out: Vec<String> = plain
            .iter()
            .filter(|a| (lo..=hi).contains(&a.len()))
            .skip(skip)
            .take(n)
            .cloned()
            .collect();
        assert_eq!(out.len(), n, "the catalog has enough plain actions");
        out
    };
    Usage {
        // Spread over the catalog: every 3rd plain action.
        admin: {
            let out: Vec<String> = plain.iter().step_by(3).take(1_200).cloned().collect();
            assert_eq!(out.len(), 1_200);
            out
        },
        // 210 names of at most 30 characters: two statements, at most 210 * 33 characters.
        ops: between(10, 30, 50, 210),
        // 170 names of at most 22 characters: two statements, at most 170 * 25 characters.
        deploy: between(10, 22, 0, 170),
        // 300 names of 20 to 26 characters: each policy at most 300 * 29 plus its scope, fitting
        // 10,240 alone; both at least 2 * 300 * 23, over it together.
        pair: between(20, 26, 400, 300),
        // 120 names each, of 20 to 28 and 24 to 32 characters: each group policy at most
        // 120 * 35 plus its scope, fitting the group's 5,120 alone; both at least
        // 120 * 23 + 120 * 27, over it together.
        dev_ec2: of_service("ec2", 20, 28, 120),
        dev_ml: of_service("sagemaker", 24, 32, 120),
    }
}

/// The CloudTrail `userIdentity` of a session of the role `role`.
fn role_identity(role: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE{}:lambda", role.to_uppercase()),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/lambda"),
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                "accountId": ACCOUNT,
                "userName": role
            }
        }
    })
}

/// One CloudTrail record of `identity` calling `action`.
fn record(identity: &Value, action: &str, second: usize) -> Value {
    let (service, name) = action.split_once(':').unwrap();
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": format!("2026-11-26T09:{:02}:{:02}Z", (second / 60) % 60, second % 60),
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.20",
        "eventID": format!("{second:032x}"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "eventCategory": "Management",
        "recipientAccountId": ACCOUNT
    })
}

/// Writes the logs of `usage` under `repo/cloudtrail/`, in the S3 delivery layout.
fn write_logs(repo: &Path, usage: &Usage) {
    let mut records = Vec::new();
    let dev = json!({
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLESIZEDEV",
        "arn": format!("arn:aws:iam::{ACCOUNT}:user/size-dev"),
        "accountId": ACCOUNT,
        "userName": "size-dev"
    });
    for (identity, actions) in [
        (role_identity("size-admin"), &usage.admin),
        (role_identity("size-ops"), &usage.ops),
        (role_identity("size-deploy"), &usage.deploy),
        (role_identity("size-pair"), &usage.pair),
        (dev.clone(), &usage.dev_ec2),
        (dev, &usage.dev_ml),
    ] {
        for a in actions {
            records.push(record(&identity, a, records.len()));
        }
    }
    let dir = repo.join(format!(
        "cloudtrail/AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/11/26"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!(
            "{ACCOUNT}_CloudTrail_eu-west-1_20261126T0905Z_size.json"
        )),
        serde_json::to_string(&json!({ "Records": records })).unwrap(),
    )
    .unwrap();
}

/// The IAM JSON of a `data "aws_iam_policy_document"` block of literal statements, as the
/// provider renders it (what IAM then counts).
fn policy_document(block: &hcl::Block) -> PolicyDocument {
    let ctx = hcl::eval::Context::new();
    let mut statements = Vec::new();
    for s in block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
    {
        let mut st = serde_json::Map::new();
        for (hcl_key, json_key) in [
            ("sid", "Sid"),
            ("effect", "Effect"),
            ("actions", "Action"),
            ("not_actions", "NotAction"),
            ("resources", "Resource"),
        ] {
            if let Some(attr) = s.body().attributes().find(|a| a.key() == hcl_key) {
                let value = hcl::eval::Evaluate::evaluate(attr.expr(), &ctx).unwrap();
                let value = match serde_json::to_value(value).unwrap() {
                    // The provider renders a one-element set as a bare string.
                    Value::Array(mut list) if list.len() == 1 => list.remove(0),
                    other => other,
                };
                st.insert(json_key.into(), value);
            }
        }
        st.entry("Effect").or_insert(json!("Allow"));
        statements.push(Value::Object(st));
    }
    let doc = json!({ "Version": "2012-10-17", "Statement": statements });
    PolicyDocument::parse_str(&doc.to_string()).unwrap()
}

/// The `policy` of a resource block, evaluated (`jsonencode` of literals, or a heredoc).
fn resource_policy(block: &hcl::Block) -> PolicyDocument {
    let mut ctx = hcl::eval::Context::new();
    ctx.declare_func(
        "jsonencode",
        hcl::eval::FuncDef::builder()
            .param(hcl::eval::ParamType::Any)
            .build(|args: hcl::eval::FuncArgs| {
                serde_json::to_string(&args[0])
                    .map(hcl::Value::from)
                    .map_err(|e| e.to_string())
            }),
    );
    let attr = block
        .body()
        .attributes()
        .find(|a| a.key() == "policy")
        .unwrap();
    let value = hcl::eval::Evaluate::evaluate(attr.expr(), &ctx).unwrap();
    PolicyDocument::parse_str(value.as_str().unwrap()).unwrap()
}

/// Checks that `doc` grants exactly `expected` (explicit names, Allow on `*`, as today's scope),
/// in statements of at most [`STATEMENT_ACTION_CAP`] actions, within `limit` characters; returns
/// its statement count.
fn assert_grants_exactly(
    what: &str,
    doc: &PolicyDocument,
    expected: &BTreeSet<String>,
    limit: usize,
) -> usize {
    let size = policy_size(doc);
    assert!(size <= limit, "{what}: {size} characters, over {limit}");
    let mut granted = BTreeSet::new();
    for st in &doc.statements {
        assert_eq!(st.effect, Effect::Allow, "{what}");
        let Some(ActionSpec::Action(list)) = &st.action else {
            panic!("{what}: a statement without an Action list");
        };
        assert!(
            list.values.len() <= STATEMENT_ACTION_CAP,
            "{what}: a statement of {} actions",
            list.values.len()
        );
        let Some(ResourceSpec::Resource(resources)) = &st.resource else {
            panic!("{what}: a statement without Resource");
        };
        assert_eq!(resources.values, vec!["*".to_string()], "{what}");
        for a in &list.values {
            assert!(!a.contains('*'), "{what}: wildcard {a}");
            assert!(granted.insert(a.clone()), "{what}: {a} twice");
        }
    }
    let missing: Vec<&String> = expected.difference(&granted).collect();
    let extra: Vec<&String> = granted.difference(expected).collect();
    assert!(
        missing.is_empty(),
        "{what}: used but not granted: {missing:?}"
    );
    assert!(extra.is_empty(), "{what}: granted but not kept: {extra:?}");
    doc.statements.len()
}

/// Every `data "aws_iam_policy_document"` of the suggestion file named `<prefix>_<n>` (or
/// `<prefix>` alone), as documents, in order.
fn suggested_parts(body: &hcl::Body, prefix: &str) -> Vec<PolicyDocument> {
    body.blocks()
        .filter(|b| b.identifier() == "data")
        .filter(|b| {
            let name = b.labels()[1].as_str();
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|n| n.parse::<usize>().is_ok())
        })
        .map(policy_document)
        .collect()
}

/// A statement as (Sid, Effect, actions in order, resources).
type StatementShape = (Option<String>, Effect, Vec<String>, Vec<String>);

/// A document's statements as (Sid, Effect, actions in order, resources): how it is spelled
/// (a bare string or a list, key order) aside.
fn shape(doc: &PolicyDocument) -> Vec<StatementShape> {
    doc.statements
        .iter()
        .map(|st| {
            let actions = match &st.action {
                Some(ActionSpec::Action(l) | ActionSpec::NotAction(l)) => l.values.clone(),
                None => Vec::new(),
            };
            let resources = match &st.resource {
                Some(ResourceSpec::Resource(l) | ResourceSpec::NotResource(l)) => l.values.clone(),
                None => Vec::new(),
            };
            (st.sid.clone(), st.effect, actions, resources)
        })
        .collect()
}

/// How many statements a kept list of `used` plus the never-logged APIs is written as.
fn statements_for(used: &[String]) -> usize {
    expected(used).len().div_ceil(STATEMENT_ACTION_CAP)
}

fn expected(used: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = used.iter().cloned().collect();
    out.extend(never_logged());
    out
}

/// The text of `text` outside the given top-level blocks: what must stay byte-identical.
fn outside_blocks(text: &str, blocks: &[(&str, &[&str])]) -> String {
    use hcl_edit::Span;
    let body = hcl_edit::parser::parse_body(text).unwrap();
    let mut spans: Vec<std::ops::Range<usize>> = blocks
        .iter()
        .map(|(kind, labels)| {
            body.get_blocks(kind)
                .find(|b| b.has_exact_labels(labels))
                .unwrap()
                .span()
                .unwrap()
        })
        .collect();
    spans.sort_by_key(|s| s.start);
    let mut out = String::new();
    let mut at = 0;
    for s in spans {
        out.push_str(&text[at..s.start]);
        out.push_str("<edited>");
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// One run of the case: `suggest` with the logs of [`usage`], the patch checked with
/// `git apply --check`, then applied with `iamtrim apply`.
struct Run {
    _repo: tempfile::TempDir,
    usage: Usage,
    /// The report's suggestions, by policy address.
    suggestions: BTreeMap<String, Value>,
    /// Every suggestion of the report, a shared policy once under each principal it reaches.
    all_suggestions: Vec<Value>,
    /// The principals' addresses, in the report's order.
    report_order: Vec<String>,
    main_before: String,
    main_after: String,
    /// `iamtrim.suggested.tf`, parsed.
    suggestion_file: hcl::Body,
}

impl Run {
    fn new() -> Run {
        let usage = usage();
        let repo = repo::project_repo(CASE, |dir| write_logs(dir, &usage));
        let root = repo.path();
        let main_before = std::fs::read_to_string(root.join("main.tf")).unwrap();
        let out = iamtrim(root)
            .args([
                "suggest",
                "plan.json",
                "--cloudtrail",
                "cloudtrail",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        repo::assert_success(&out);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let principals = report["principals"].as_array().unwrap();
        let all_suggestions: Vec<Value> = principals
            .iter()
            .flat_map(|p| p["suggestions"].as_array().cloned().unwrap_or_default())
            .collect();
        let suggestions = all_suggestions
            .iter()
            .map(|s| (s["policy_address"].as_str().unwrap().to_string(), s.clone()))
            .collect();
        let report_order = principals
            .iter()
            .map(|p| p["address"].as_str().unwrap().to_string())
            .collect();
        git(root, &["apply", "--check", "iamtrim.patch"]);
        repo::assert_success(&iamtrim(root).arg("apply").output().unwrap());
        let main_after = std::fs::read_to_string(root.join("main.tf")).unwrap();
        let text = std::fs::read_to_string(root.join("iamtrim.suggested.tf")).unwrap();
        Run {
            _repo: repo,
            usage,
            suggestions,
            all_suggestions,
            report_order,
            main_before,
            main_after,
            suggestion_file: hcl::parse(&text).unwrap(),
        }
    }

    /// The report's suggested document for `address`.
    fn suggested(&self, address: &str) -> PolicyDocument {
        PolicyDocument::parse_str(&self.suggestions[address]["suggested"].to_string()).unwrap()
    }

    /// The report's current document for `address`.
    fn current(&self, address: &str) -> PolicyDocument {
        PolicyDocument::parse_str(&self.suggestions[address]["current"].to_string()).unwrap()
    }

    fn body(&self) -> hcl::Body {
        hcl::parse(&self.main_after).unwrap()
    }

    /// The managed policies of the suggestion file named after `prefix`: each within a managed
    /// policy's limit and contained in the current document at `address`, together granting
    /// exactly the kept actions of `used`; their number.
    fn assert_managed_parts(&self, prefix: &str, address: &str, used: &[String]) -> usize {
        let parts = suggested_parts(&self.suggestion_file, prefix);
        let current = self.current(address);
        assert!(!parts.is_empty(), "no {prefix} in iamtrim.suggested.tf");
        let mut all = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            assert!(
                policy_size(part) <= MANAGED_POLICY_MAX_CHARS,
                "{prefix} part {i}: {} characters\n{}",
                policy_size(part),
                part.to_json()
            );
            assert_eq!(
                grants_no_more(part, &current, Catalog::embedded()),
                Ok(()),
                "{prefix} part {i}"
            );
            all.extend(part.statements.iter().cloned());
        }
        // Each part's size is checked above; together they are over any one policy.
        assert_grants_exactly(
            prefix,
            &parts[0].with_statements(all),
            &expected(used),
            usize::MAX,
        );
        parts.len()
    }
}

#[test]
fn admin_roles_with_hundreds_of_used_actions_are_split_over_statements_and_policies() {
    // Regression (issue 14): a kept list over 150 actions was patched in place as one statement.
    let run = Run::new();
    let edited: &[(&str, &[&str])] = &[
        ("data", &["aws_iam_policy_document", "ops"]),
        ("resource", &["aws_iam_policy", "deploy"]),
        ("resource", &["aws_iam_role_policy", "pair_a"]),
        ("resource", &["aws_iam_role_policy", "pair_b"]),
        ("resource", &["aws_iam_group_policy", "team_ec2"]),
        ("resource", &["aws_iam_group_policy", "team_ml"]),
    ];
    assert_eq!(
        outside_blocks(&run.main_after, edited),
        outside_blocks(&run.main_before, edited),
        "only the patched policies change"
    );
    let body = run.body();

    // Within their limits: patched in place, as several statements.
    let ops = policy_document(find_block(
        &body,
        "data",
        &["aws_iam_policy_document", "ops"],
    ));
    let n = assert_grants_exactly(
        "ops",
        &ops,
        &expected(&run.usage.ops),
        ROLE_INLINE_MAX_CHARS,
    );
    assert_eq!(n, statements_for(&run.usage.ops));
    assert_eq!(
        ops.statements
            .iter()
            .map(|s| s.sid.as_deref())
            .collect::<Vec<_>>(),
        [Some("Ops"), Some("OpsPart2")],
        "213 actions: two statements"
    );
    let deploy = resource_policy(find_block(&body, "resource", &["aws_iam_policy", "deploy"]));
    let n = assert_grants_exactly(
        "deploy",
        &deploy,
        &expected(&run.usage.deploy),
        MANAGED_POLICY_MAX_CHARS,
    );
    assert_eq!(n, statements_for(&run.usage.deploy));
    // The patched documents are the suggestions, and the containment proof holds on them.
    for (address, doc) in [
        ("aws_iam_role_policy.ops", &ops),
        ("aws_iam_policy.deploy", &deploy),
    ] {
        assert_eq!(shape(&run.suggested(address)), shape(doc), "{address}");
        assert_eq!(
            grants_no_more(doc, &run.current(address), Catalog::embedded()),
            Ok(())
        );
    }

    // Over any one policy: managed policies in the suggestion file, never a patch.
    let admin = resource_policy(find_block(
        &body,
        "resource",
        &["aws_iam_role_policy", "admin"],
    ));
    assert!(
        matches!(&admin.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["*"]),
        "{admin:?}"
    );
    let parts = run.assert_managed_parts(
        "admin_iamtrim",
        "aws_iam_role_policy.admin",
        &run.usage.admin,
    );
    // Each name costs at least its length and two quotes: the fewest managed policies the
    // admin role's kept list can take.
    let chars: usize = expected(&run.usage.admin).iter().map(|a| a.len() + 2).sum();
    assert!(
        parts >= chars.div_ceil(MANAGED_POLICY_MAX_CHARS),
        "{parts} parts for {chars}"
    );
}

#[test]
fn two_inline_policies_that_fit_alone_but_not_together_move_the_larger_to_managed_policies() {
    // Regression (issue 14): each inline policy was held to the role's 10,240 characters alone,
    // so both were patched and IAM would refuse the second.
    let run = Run::new();
    // The expected truth, from the suggested documents: each fits the role's limit alone, not
    // together; the one with the longer Sid is the larger, so it moves and the other stays.
    let (a, b) = (
        policy_size(&run.suggested("aws_iam_role_policy.pair_a")),
        policy_size(&run.suggested("aws_iam_role_policy.pair_b")),
    );
    assert!(
        a <= ROLE_INLINE_MAX_CHARS && b <= ROLE_INLINE_MAX_CHARS,
        "{a} {b}"
    );
    assert!(a + b > ROLE_INLINE_MAX_CHARS && b > a, "{a} {b}");
    let pair_b = &run.suggestions["aws_iam_role_policy.pair_b"];
    assert_eq!(pair_b["applicability"], "review-needed", "{pair_b}");
    let notes = pair_b["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "as suggested, the inline policies of aws_iam_role.pair total {} characters, over IAM's 10240 for a role's inline policies (aws_iam_role_policy.pair_a {a}, aws_iam_role_policy.pair_b {b})",
            a + b
        )),
        "{notes}"
    );
    let pair_a_notes = run.suggestions["aws_iam_role_policy.pair_a"]["notes"].to_string();
    assert!(
        !pair_a_notes.contains("inline policies of"),
        "{pair_a_notes}"
    );

    let body = run.body();
    let pair_a = resource_policy(find_block(
        &body,
        "resource",
        &["aws_iam_role_policy", "pair_a"],
    ));
    let n = assert_grants_exactly(
        "pair_a",
        &pair_a,
        &expected(&run.usage.pair),
        // What stays inline is pair_a alone.
        ROLE_INLINE_MAX_CHARS,
    );
    assert_eq!(n, statements_for(&run.usage.pair));
    assert_eq!(
        shape(&run.suggested("aws_iam_role_policy.pair_a")),
        shape(&pair_a)
    );
    assert_eq!(
        grants_no_more(
            &pair_a,
            &run.current("aws_iam_role_policy.pair_a"),
            Catalog::embedded()
        ),
        Ok(())
    );
    // pair_b is not patched: it moves to managed policies.
    let pair_b_now = resource_policy(find_block(
        &body,
        "resource",
        &["aws_iam_role_policy", "pair_b"],
    ));
    assert!(
        matches!(&pair_b_now.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["*"]),
        "{pair_b_now:?}"
    );
    run.assert_managed_parts(
        "pair_b_iamtrim",
        "aws_iam_role_policy.pair_b",
        &run.usage.pair,
    );
}

#[test]
fn a_groups_inline_policies_over_its_limit_together_move_even_when_first_met_under_a_member() {
    // The group's policies reach the report first under its member user (granted everything,
    // so riskier), whose inline limit they do not count against: the group's own sum decides.
    let run = Run::new();
    let order: Vec<&str> = run
        .report_order
        .iter()
        .map(String::as_str)
        .filter(|a| *a == "aws_iam_user.dev" || *a == "aws_iam_group.team")
        .collect();
    assert_eq!(order, ["aws_iam_user.dev", "aws_iam_group.team"]);
    // The expected truth, from the suggested documents: each fits the group's 5,120 alone, not
    // together; the larger moves (the first by address when they tie), the other is patched.
    let ec2 = "aws_iam_group_policy.team_ec2";
    let ml = "aws_iam_group_policy.team_ml";
    let (a, b) = (
        policy_size(&run.suggested(ec2)),
        policy_size(&run.suggested(ml)),
    );
    assert!(
        a <= GROUP_INLINE_MAX_CHARS && b <= GROUP_INLINE_MAX_CHARS,
        "{a} {b}"
    );
    assert!(a + b > GROUP_INLINE_MAX_CHARS, "{a} {b}");
    let ((moved, moved_used), (stays, stays_used, stays_label)) = if a >= b {
        (
            (ec2, &run.usage.dev_ec2),
            (ml, &run.usage.dev_ml, "team_ml"),
        )
    } else {
        (
            (ml, &run.usage.dev_ml),
            (ec2, &run.usage.dev_ec2, "team_ec2"),
        )
    };
    // Every copy of the moving suggestion (under the group and under the user) says why.
    let copies: Vec<&Value> = run
        .all_suggestions
        .iter()
        .filter(|s| s["policy_address"] == moved)
        .collect();
    assert_eq!(copies.len(), 2);
    for s in copies {
        assert_eq!(s["applicability"], "review-needed", "{s}");
        let notes = s["notes"].to_string();
        assert!(
            notes.contains(&format!(
                "the inline policies of aws_iam_group.team total {} characters, over IAM's 5120 for a group's inline policies ({ec2} {a}, {ml} {b})",
                a + b
            )),
            "{notes}"
        );
    }

    let body = run.body();
    let patched = resource_policy(find_block(
        &body,
        "resource",
        &["aws_iam_group_policy", stays_label],
    ));
    let mut expected_stays: BTreeSet<String> = stays_used.iter().cloned().collect();
    assert_grants_exactly(stays, &patched, &expected_stays, GROUP_INLINE_MAX_CHARS);
    assert_eq!(
        grants_no_more(&patched, &run.current(stays), Catalog::embedded()),
        Ok(())
    );
    let moved_label = moved.rsplit('.').next().unwrap();
    let untouched = resource_policy(find_block(
        &body,
        "resource",
        &["aws_iam_group_policy", moved_label],
    ));
    assert_eq!(
        shape(&untouched),
        shape(&run.current(moved)),
        "{moved} is not patched"
    );
    let parts = suggested_parts(&run.suggestion_file, &format!("{moved_label}_iamtrim"));
    assert!(!parts.is_empty(), "{moved} in iamtrim.suggested.tf");
    let mut all = Vec::new();
    for part in &parts {
        assert!(policy_size(part) <= MANAGED_POLICY_MAX_CHARS);
        all.extend(part.statements.iter().cloned());
    }
    expected_stays = moved_used.iter().cloned().collect();
    assert_grants_exactly(
        moved,
        &parts[0].with_statements(all),
        &expected_stays,
        usize::MAX,
    );
}
