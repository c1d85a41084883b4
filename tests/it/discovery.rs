//! Discovery over the small plans in testdata/discovery/: every resource type and link form.
//! Expectations are written by hand from the scenario, not derived from the code.

use iamtrim::iam::{Discovery, PolicyKind, Principal, UnknownReason, discover};
use iamtrim::plan::load_plan;
use std::path::Path;

fn scan(name: &str) -> Discovery {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/discovery")
        .join(name);
    let loaded = load_plan(&path).expect("plan loads");
    discover(&loaded.plan)
}

fn principal<'a>(d: &'a Discovery, address: &str) -> &'a Principal {
    d.principals
        .iter()
        .find(|p| p.address == address)
        .unwrap_or_else(|| panic!("no principal {address}"))
}

/// (policy address, kind, via group) triples, sorted.
fn sources(p: &Principal) -> Vec<(String, PolicyKind, Option<String>)> {
    let mut v: Vec<_> = p
        .policies
        .iter()
        .map(|s| (s.address.clone(), s.kind, s.via_group.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
    v
}

#[test]
fn known_values_link_every_resource_type() {
    let d = scan("known_values.json");
    let mut addresses: Vec<_> = d.principals.iter().map(|p| p.address.as_str()).collect();
    addresses.sort();
    // The deleted role is not a principal any more.
    assert_eq!(
        addresses,
        [
            "aws_iam_group.devs",
            "aws_iam_group.ops",
            "aws_iam_role.app",
            "aws_iam_user.alice",
            "aws_iam_user.bob"
        ]
    );

    let app = principal(&d, "aws_iam_role.app");
    assert_eq!(
        app.arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/app")
    );
    assert_eq!(app.account.as_deref(), Some("123456789012"));
    assert_eq!(
        sources(app),
        vec![
            (
                "arn:aws:iam::123456789012:policy/made-by-hand".into(),
                PolicyKind::Managed,
                None
            ),
            (
                "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
                PolicyKind::AwsManaged,
                None
            ),
            ("aws_iam_policy.shared".into(), PolicyKind::Managed, None),
            ("aws_iam_role_policy.app".into(), PolicyKind::Inline, None),
        ]
    );
    let external = app
        .policies
        .iter()
        .find(|s| s.address.ends_with("made-by-hand"))
        .unwrap();
    assert_eq!(external.unknown_reason, Some(UnknownReason::NotInPlan));
    let ro = app
        .policies
        .iter()
        .find(|s| s.kind == PolicyKind::AwsManaged)
        .unwrap();
    assert_eq!(
        ro.unknown_reason,
        Some(UnknownReason::AwsManagedNotResolved)
    );
    assert_eq!(
        ro.attachment.as_deref(),
        Some("aws_iam_role_policy_attachment.app_ro")
    );

    // alice: inline + managed attachment + devs' inline policy through aws_iam_group_membership.
    assert_eq!(
        sources(principal(&d, "aws_iam_user.alice")),
        vec![
            (
                "aws_iam_group_policy.devs".into(),
                PolicyKind::InheritedFromGroup,
                Some("aws_iam_group.devs".into())
            ),
            ("aws_iam_policy.shared".into(), PolicyKind::Managed, None),
            ("aws_iam_user_policy.alice".into(), PolicyKind::Inline, None),
        ]
    );
    // bob: devs (group membership), ops (user group membership) with its attachments, and the
    // aws_iam_policy_attachment that names him directly.
    assert_eq!(
        sources(principal(&d, "aws_iam_user.bob")),
        vec![
            (
                "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                PolicyKind::InheritedFromGroup,
                Some("aws_iam_group.ops".into())
            ),
            (
                "aws_iam_group_policy.devs".into(),
                PolicyKind::InheritedFromGroup,
                Some("aws_iam_group.devs".into())
            ),
            ("aws_iam_policy.shared".into(), PolicyKind::Managed, None),
            (
                "aws_iam_policy.shared".into(),
                PolicyKind::InheritedFromGroup,
                Some("aws_iam_group.ops".into())
            ),
        ]
    );
    assert_eq!(
        sources(principal(&d, "aws_iam_group.ops")),
        vec![
            (
                "arn:aws:iam::aws:policy/AdministratorAccess".into(),
                PolicyKind::AwsManaged,
                None
            ),
            ("aws_iam_policy.shared".into(), PolicyKind::Managed, None),
        ]
    );
    let inline = &principal(&d, "aws_iam_role.app")
        .policies
        .iter()
        .find(|s| s.kind == PolicyKind::Inline)
        .unwrap();
    let doc = inline.document.as_ref().expect("known document");
    assert_eq!(
        doc.statements[0].action.as_ref().unwrap().patterns(),
        ["s3:GetObject"]
    );
    assert!(
        inline.before.is_some(),
        "the document before the plan is kept"
    );
}

#[test]
fn unknown_values_link_through_configuration_references() {
    let d = scan("config_references.json");
    let new = principal(&d, "aws_iam_role.new");
    assert!(new.is_new(), "a role this plan creates has no ARN");
    assert_eq!(new.plan_action, "create");
    let by_addr = |a: &str| {
        new.policies
            .iter()
            .find(|s| s.address == a)
            .unwrap_or_else(|| panic!("{a}"))
    };
    // policy_arn unknown: linked through `aws_iam_policy.new.arn`.
    let managed = by_addr("aws_iam_policy.new");
    assert_eq!(
        managed.attachment.as_deref(),
        Some("aws_iam_role_policy_attachment.new")
    );
    assert_eq!(
        managed.document.as_ref().unwrap().statements[0]
            .action
            .as_ref()
            .unwrap()
            .patterns(),
        ["dynamodb:GetItem", "dynamodb:PutItem"]
    );
    // policy from a policy document read at apply: built from its known statement blocks.
    let from_doc = by_addr("aws_iam_role_policy.from_doc");
    assert_eq!(
        from_doc.document.as_ref().unwrap().statements[0]
            .action
            .as_ref()
            .unwrap()
            .patterns(),
        ["kms:Decrypt"]
    );
    assert_eq!(
        from_doc.origin.as_ref().unwrap().document_source.as_deref(),
        Some("data.aws_iam_policy_document.deferred")
    );
    assert_eq!(
        by_addr("aws_iam_role_policy.from_var").unknown_reason,
        Some(UnknownReason::FromVariable)
    );

    let inline = principal(&d, "aws_iam_role.inline");
    let kinds: Vec<_> = sources(inline)
        .into_iter()
        .map(|(a, k, _)| (a, k))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "arn:aws:iam::aws:policy/AWSLambdaExecute".into(),
                PolicyKind::AwsManaged
            ),
            (
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess".into(),
                PolicyKind::AwsManaged
            ),
            ("aws_iam_role.inline".into(), PolicyKind::Inline),
            ("aws_iam_role_policy.secret".into(), PolicyKind::Inline),
        ]
    );
    let block = inline
        .policies
        .iter()
        .find(|s| s.address == "aws_iam_role.inline")
        .unwrap();
    let origin = block.origin.as_ref().unwrap();
    assert_eq!(
        (origin.attribute.as_str(), origin.block_name.as_deref()),
        ("inline_policy", Some("direct"))
    );
    let secret = inline
        .policies
        .iter()
        .find(|s| s.address == "aws_iam_role_policy.secret")
        .unwrap();
    assert_eq!(secret.unknown_reason, Some(UnknownReason::Sensitive));
    assert!(
        secret.document.is_none(),
        "a sensitive document is never kept for output"
    );

    let builder = principal(&d, "aws_iam_user.builder");
    let logs = &builder.policies[0];
    assert_eq!(
        logs.origin.as_ref().unwrap().document_source.as_deref(),
        Some("data.aws_iam_policy_document.known")
    );
}

#[test]
fn count_and_for_each_instances_stay_apart() {
    let d = scan("count_for_each.json");
    for key in ["eu", "us"] {
        let p = principal(&d, &format!("module.fleet.aws_iam_role.worker[\"{key}\"]"));
        assert_eq!(p.block_address, "module.fleet.aws_iam_role.worker");
        assert_eq!(
            sources(p),
            vec![(
                format!("module.fleet.aws_iam_role_policy.worker[\"{key}\"]"),
                PolicyKind::Inline,
                None
            )]
        );
        let s = &p.policies[0];
        assert_eq!(
            s.before.as_ref().unwrap().statements[0]
                .action
                .as_ref()
                .unwrap()
                .patterns(),
            ["s3:GetObject"]
        );
        assert_eq!(
            s.document.as_ref().unwrap().statements[0]
                .action
                .as_ref()
                .unwrap()
                .patterns(),
            ["s3:GetObject", "s3:PutObject"]
        );
    }
    // `aws_iam_user.ci[0].name` names the first instance only.
    assert_eq!(
        principal(&d, "module.fleet.aws_iam_user.ci[0]")
            .policies
            .len(),
        1
    );
    assert_eq!(
        principal(&d, "module.fleet.aws_iam_user.ci[1]")
            .policies
            .len(),
        0
    );
}

#[test]
fn quickstart_has_its_three_principals() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/plan.json");
    let d = discover(&load_plan(&path).unwrap().plan);
    let mut got: Vec<_> = d
        .principals
        .iter()
        .map(|p| (p.address.as_str(), p.policies.len()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("aws_iam_role.ci_deploy", 1),
            ("aws_iam_user.auditor", 1),
            ("module.worker.aws_iam_role.this", 1)
        ]
    );
    // The riskiest comes first: the worker can write IAM.
    assert_eq!(d.principals[0].address, "module.worker.aws_iam_role.this");
}
