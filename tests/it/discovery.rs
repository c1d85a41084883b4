//! Discovery over the small plans in testdata/discovery/: every resource type and link form.
//! Expectations are written by hand from the scenario, not derived from the code.

use iamtrim::iam::{Discovery, PolicyKind, PolicyTarget, Principal, UnknownReason, discover};
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
        origin.target,
        PolicyTarget::InlinePolicyBlock {
            name: Some("direct".into())
        }
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

/// (policy address, kind, unknown reason) triples of a principal, sorted.
fn sources_with_reasons(p: &Principal) -> Vec<(String, PolicyKind, Option<String>)> {
    let mut v: Vec<_> = p
        .policies
        .iter()
        .map(|s| {
            (
                s.address.clone(),
                s.kind,
                s.unknown_reason.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_policy_linked_only_through_module_variables_reaches_its_role() {
    // issue 15, case 1: `role = var.iam_role_id` three modules down, the role passed by the root.
    let d = scan("module_variables.json");
    assert_eq!(
        sources(principal(&d, "aws_iam_role.instance_role")),
        vec![(
            "module.cluster.module.iam.module.policies.aws_iam_role_policy.auto_discover_cluster[0]"
                .into(),
            PolicyKind::Inline,
            None
        )]
    );
    assert!(principal(&d, "aws_iam_role.bystander").policies.is_empty());
    // A for_each module: each instance's policy reaches the role of the same key, and only it.
    for key in ["a", "b"] {
        assert_eq!(
            sources(principal(&d, &format!("aws_iam_role.node[\"{key}\"]"))),
            vec![(
                format!("module.nodes[\"{key}\"].aws_iam_role_policy.node"),
                PolicyKind::Inline,
                None
            )]
        );
    }
    assert_eq!(d.warnings, Vec::<String>::new());
}

#[test]
fn policies_in_change_values_are_found_and_outside_ones_are_their_own_kind() {
    let d = scan("change_values.json");
    // Case 2: a dynamic inline_policy block, absent from the configuration, document unknown.
    assert_eq!(
        sources_with_reasons(principal(&d, "module.eks.aws_iam_role.cluster")),
        vec![(
            "module.eks.aws_iam_role.cluster".into(),
            PolicyKind::Inline,
            Some("computed at apply".into())
        )]
    );
    let cluster = &principal(&d, "module.eks.aws_iam_role.cluster").policies[0];
    assert_eq!(cluster.name.as_deref(), Some("k8s-test-cluster"));
    // ... and one on an existing role that this plan changes: the planned document.
    let dyn_role = principal(&d, "aws_iam_role.dyn");
    assert_eq!(dyn_role.policies.len(), 1);
    assert_eq!(dyn_role.policies[0].kind, PolicyKind::Inline);
    assert_eq!(
        dyn_role.policies[0].document.as_ref().unwrap().to_json(),
        r#"{"Statement":[{"Action":["s3:GetObject","s3:PutObject"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#
    );
    // Case 3: `managed_policy_arns = []` unknown after the change is no policy at all.
    assert!(
        principal(&d, "aws_iam_role.fresh").policies.is_empty(),
        "{:?}",
        sources_with_reasons(principal(&d, "aws_iam_role.fresh"))
    );
    // Case 4: the worker's refreshed lists; what its resources manage is listed once, what this
    // plan deletes not at all, the rest is attached outside this configuration.
    let worker = principal(&d, "aws_iam_role.worker");
    assert_eq!(
        sources_with_reasons(worker),
        vec![
            (
                "arn:aws:iam::123456789012:policy/attached-by-tf".into(),
                PolicyKind::Managed,
                Some("managed outside this plan".into())
            ),
            (
                "arn:aws:iam::123456789012:policy/orphan".into(),
                PolicyKind::OutsideConfiguration,
                None
            ),
            (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole".into(),
                PolicyKind::OutsideConfiguration,
                Some("AWS-managed, not resolved".into())
            ),
            (
                "aws_iam_role.worker (inline policy s3-cache-access)".into(),
                PolicyKind::OutsideConfiguration,
                None
            ),
            ("aws_iam_role_policy.main".into(), PolicyKind::Inline, None),
        ]
    );
    for s in worker
        .policies
        .iter()
        .filter(|s| s.kind == PolicyKind::OutsideConfiguration)
    {
        assert!(s.origin.is_none(), "{} is never patched", s.address);
    }
    // Counted in risk: the outside inline policy passes any role.
    assert!(
        worker.flags.contains(&iamtrim::iam::RiskFlag::PassRoleAny),
        "{:?}",
        worker.flags
    );
    // A replaced role's old list (unknown after) is not read as configuration: listed once.
    assert_eq!(
        sources(principal(&d, "aws_iam_role.replaced")),
        vec![(
            "aws_iam_role_policy.mirror".into(),
            PolicyKind::Inline,
            None
        )]
    );
    // Case 5: `users = null` names no one, and nothing here is ambiguous.
    assert_eq!(d.warnings, Vec::<String>::new());
}

#[test]
fn wrong_typed_values_are_invalid_not_computed_at_apply() {
    let d = scan("plan_values.json");
    assert_eq!(
        sources_with_reasons(principal(&d, "aws_iam_role.svc")),
        vec![
            (
                "aws_iam_role_policy.from_bad".into(),
                PolicyKind::Inline,
                Some("invalid plan value: `json` is a number, not a JSON string".into())
            ),
            (
                "aws_iam_role_policy.from_secret".into(),
                PolicyKind::Inline,
                Some("sensitive".into())
            ),
            (
                "aws_iam_role_policy.number".into(),
                PolicyKind::Inline,
                Some("invalid plan value: `policy` is a number, not a JSON string".into())
            ),
            (
                "aws_iam_role_policy.object".into(),
                PolicyKind::Inline,
                Some("invalid plan value: `policy` is an object, not a JSON string".into())
            ),
            (
                "aws_iam_role_policy.oops".into(),
                PolicyKind::Inline,
                Some("invalid plan value: `change.after` is a string, not an object".into())
            ),
            (
                "aws_iam_role_policy.twice".into(),
                PolicyKind::Inline,
                Some("invalid policy: $.Statement[0]: duplicate key `Action`".into())
            ),
        ]
    );
}

#[test]
fn trusted_services_come_from_the_trust_policy_or_its_document() {
    let d = scan("plan_values.json");
    // Allow statements only; a Deny or an account principal trusts no service.
    assert_eq!(
        principal(&d, "aws_iam_role.svc").trusted_services,
        ["ecs-tasks.amazonaws.com", "s3.amazonaws.com"]
    );
    // Unknown JSON until apply: read from the policy document data source's statements.
    assert_eq!(
        principal(&d, "aws_iam_role.fn").trusted_services,
        ["lambda.amazonaws.com"]
    );
    let known = scan("known_values.json");
    assert!(
        principal(&known, "aws_iam_role.app")
            .trusted_services
            .is_empty()
    );
    assert!(
        principal(&known, "aws_iam_user.alice")
            .trusted_services
            .is_empty()
    );
}
