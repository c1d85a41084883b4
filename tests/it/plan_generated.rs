//! Discovery over generated plans (`tests/support/plan_gen`) finds exactly what the generator put there.

use crate::support::plan_gen;

use iamtrim::iam::{PolicyKind, PrincipalKind, discover};
use iamtrim::plan::parse_plan_bytes;
use plan_gen::{Expected, PlanSpec, generate};

fn found(spec: &PlanSpec) -> (Expected, Expected, Vec<String>) {
    let generated = generate(spec);
    let loaded =
        parse_plan_bytes(&generated.bytes, "generated.json").expect("the generated plan parses");
    let plan = &loaded.plan;
    let data_read = plan
        .prior_state
        .as_ref()
        .and_then(|s| s.values.as_ref())
        .and_then(|v| v.root_module.as_ref())
        .map(count_data_sources)
        .unwrap_or(0);
    let iam_changes = plan
        .resource_changes
        .kept
        .iter()
        .filter(|r| r.resource_type.starts_with("aws_iam_"))
        .count();
    let mut discovery = discover(plan);
    let mut got = Expected {
        resources: plan.resource_changes.total + data_read,
        iam_resources: iam_changes + data_read,
        ..Expected::default()
    };
    for p in &discovery.principals {
        match p.kind {
            PrincipalKind::Role => got.roles += 1,
            PrincipalKind::User => got.users += 1,
            PrincipalKind::Group => got.groups += 1,
        }
        for s in &p.policies {
            match s.kind {
                PolicyKind::Inline => got.inline += 1,
                PolicyKind::Managed => got.managed += 1,
                PolicyKind::AwsManaged => got.aws_managed += 1,
                PolicyKind::InheritedFromGroup => got.inherited += 1,
                // The generator attaches every policy through the configuration.
                PolicyKind::OutsideConfiguration => {
                    panic!("{}: {} read as attached outside", p.address, s.address)
                }
            }
            // Inherited sources repeat the group's; the generator counts documents where they are defined.
            if s.document.is_some() && s.kind != PolicyKind::InheritedFromGroup {
                got.known_documents += 1;
            }
        }
    }
    (
        generated.expected,
        got,
        std::mem::take(&mut discovery.warnings),
    )
}

/// Every data source in the generator's plans is an `aws_iam_policy_document` read during planning.
fn count_data_sources(m: &iamtrim::plan::model::ValuesModule) -> usize {
    m.resources
        .iter()
        .filter(|r| r.mode == iamtrim::plan::Mode::Data)
        .count()
        + m.child_modules
            .iter()
            .map(count_data_sources)
            .sum::<usize>()
}

#[test]
fn discovery_finds_every_generated_principal_and_policy() {
    let (expected, got, warnings) = found(&PlanSpec::megabytes(2.5));
    assert!(
        expected.principals() > 20 && expected.policy_sources() > 50,
        "{expected:?}"
    );
    assert_eq!(got, expected);
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn generated_plans_scale_and_stay_deterministic() {
    let small = PlanSpec::megabytes(0.5);
    let a = generate(&small);
    let b = generate(&small);
    assert_eq!(a.bytes, b.bytes);
    let size = a.bytes.len() as f64;
    assert!((size - 0.5e6).abs() < 0.1e6, "{size} bytes for 0.5 MB");
    let (expected, got, _) = found(&PlanSpec {
        seed: 7,
        ..PlanSpec::megabytes(1.5)
    });
    assert_eq!(got, expected);
    assert!(
        expected.iam_resources * 4 <= expected.resources + 4,
        "{expected:?}"
    );
}
