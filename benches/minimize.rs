//! Benchmarks: minimizing 5,000 principals (20 statements each, usage of 200 actions each) and
//! loading the embedded catalog. Targets: under 2 s on one core; catalog load under 20 ms.
//!
//! The data is generated here, deterministically, from the embedded catalog's real actions.
//! `IAMTRIM_BENCH_PRINCIPALS` shrinks the principal count (default 5,000); `IAMTRIM_BENCH_ONCE=1`
//! skips criterion and runs `minimize_all` once, for instruction counts under callgrind; with it,
//! `IAMTRIM_BENCH_DUMP=FILE` writes the outcomes as JSON so two builds' results can be compared.

use criterion::{Criterion, criterion_group, criterion_main};
use iamtrim::config::Config;
use iamtrim::iam::catalog::Catalog;
use iamtrim::iam::policy::{PolicyDocument, Statement};
use iamtrim::iam::principal::{
    PolicyKind, PolicyOrigin, PolicySource, PolicyTarget, Principal, PrincipalKind,
};
use iamtrim::minimize::minimize_all;
use iamtrim::usage::{ActionUse, ObservedUsage, UsageSourceKind, Window};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

const PRINCIPALS: usize = 5_000;

/// The principal count: `IAMTRIM_BENCH_PRINCIPALS` or [`PRINCIPALS`].
fn principal_count() -> usize {
    std::env::var("IAMTRIM_BENCH_PRINCIPALS")
        .ok()
        .and_then(|v| v.parse().ok())
        // `cargo test --all-targets` runs benches without `--bench`: a smoke run, not a measurement.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            PRINCIPALS
        } else {
            50
        })
}
const POLICIES_PER_PRINCIPAL: usize = 4;
const STATEMENTS_PER_POLICY: usize = 5;
const USED_PER_PRINCIPAL: usize = 200;

/// Prefix wildcards of the kind real policies use, one per statement.
const WILDCARDS: &[&str] = &[
    "s3:Get*",
    "ec2:Describe*",
    "dynamodb:*Item",
    "sqs:*",
    "lambda:List*",
    "logs:*",
    "kms:*",
];

/// A deterministic xorshift generator: the benchmark needs no `rand`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn principals_and_usage(catalog: &Catalog) -> (Vec<Principal>, BTreeMap<String, ObservedUsage>) {
    let actions: Vec<&str> = catalog.actions().iter().map(|a| a.name()).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let count = principal_count();
    let mut principals = Vec::with_capacity(count);
    let mut usage = BTreeMap::new();
    for p in 0..count {
        let arn = format!("arn:aws:iam::123456789012:role/r{p}");
        let mut granted = Vec::new();
        let mut policies = Vec::with_capacity(POLICIES_PER_PRINCIPAL);
        for q in 0..POLICIES_PER_PRINCIPAL {
            let statements: Vec<Statement> = (0..STATEMENTS_PER_POLICY)
                .map(|_| {
                    let mut list: Vec<String> = (0..12)
                        .map(|_| actions[rng.below(actions.len())].to_string())
                        .collect();
                    list.push(WILDCARDS[rng.below(WILDCARDS.len())].to_string());
                    granted.extend(list.iter().filter(|a| !a.contains('*')).cloned());
                    Statement::allow(list, vec![format!("arn:aws:s3:::bucket-{p}/*")])
                })
                .collect();
            let doc = PolicyDocument::new(statements);
            let address = format!("aws_iam_role_policy.p{p}_{q}");
            policies.push(PolicySource {
                address: address.clone(),
                kind: PolicyKind::Inline,
                name: None,
                arn: None,
                attachment: None,
                via_group: None,
                document: Some(std::sync::Arc::new(doc.clone())),
                before: Some(std::sync::Arc::new(doc)),
                unknown_reason: None,
                origin: Some(PolicyOrigin {
                    resource: address,
                    target: PolicyTarget::PolicyAttribute,
                    document_source: None,
                }),
            });
        }
        let mut observed = ObservedUsage::empty(
            &arn,
            UsageSourceKind::Cloudtrail,
            Window {
                start: "2026-01-01T00:00:00Z".into(),
                end: "2026-04-01T00:00:00Z".into(),
            },
        );
        // Half the usage hits granted actions, half other actions.
        for i in 0..USED_PER_PRINCIPAL {
            let action = if i % 2 == 0 {
                granted[rng.below(granted.len())].clone()
            } else {
                actions[rng.below(actions.len())].to_string()
            };
            observed.actions.insert(
                action,
                ActionUse {
                    count: 1,
                    ..ActionUse::default()
                },
            );
        }
        usage.insert(arn.clone(), observed);
        principals.push(Principal {
            address: format!("aws_iam_role.r{p}"),
            block_address: format!("aws_iam_role.r{p}"),
            kind: PrincipalKind::Role,
            name: Some(format!("r{p}")),
            arn: Some(arn),
            account: Some("123456789012".into()),
            plan_action: "no-op".into(),
            policies,
            flags: Vec::new(),
            trusted_services: Vec::new(),
        });
    }
    (principals, usage)
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("IAMTRIM_BENCH_ONCE").is_some() {
        let catalog = Catalog::embedded();
        let (principals, usage) = principals_and_usage(catalog);
        let started = std::time::Instant::now();
        let cpu_started = cpu_seconds();
        let outcomes = minimize_all(&principals, &usage, catalog, &Config::default());
        let minimized = started.elapsed();
        let cpu_minimized = cpu_seconds();
        let second = minimize_all(&principals, &usage, catalog, &Config::default());
        let again = started.elapsed() - minimized;
        let cpu_again = cpu_seconds();
        drop(black_box(second));
        let dropped = started.elapsed() - minimized - again;
        let cpu_dropped = cpu_seconds();
        println!(
            "minimize_all, {} principals: {:.3} s, again {:.3} s, dropping the outcomes {:.3} s",
            principals.len(),
            minimized.as_secs_f64(),
            again.as_secs_f64(),
            dropped.as_secs_f64()
        );
        // Time on the CPU, which other processes sharing the core do not inflate (caches aside).
        if let (Some(a), Some(b), Some(c), Some(d)) =
            (cpu_started, cpu_minimized, cpu_again, cpu_dropped)
        {
            println!(
                "on the CPU: {:.3} s, again {:.3} s, dropping the outcomes {:.3} s",
                b - a,
                c - b,
                d - c
            );
        }
        // `IAMTRIM_BENCH_DUMP=FILE` writes the outcomes as JSON, to compare two builds' results.
        if let Some(path) = std::env::var_os("IAMTRIM_BENCH_DUMP") {
            let json = serde_json::to_string_pretty(&outcomes).expect("outcomes serialize");
            std::fs::write(path, json).expect("write IAMTRIM_BENCH_DUMP");
        }
        black_box(outcomes.len());
        return;
    }
    c.bench_function("catalog load (decompress + parse)", |b| {
        b.iter(|| Catalog::from_gzip(black_box(Catalog::embedded_data())).map(|c| c.len()))
    });

    let catalog = Catalog::embedded();
    let (principals, usage) = principals_and_usage(catalog);
    let config = Config::default();
    let mut group = c.benchmark_group("minimize");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(
        "5000 principals x 20 statements, 200 used actions each",
        |b| {
            b.iter(|| {
                minimize_all(black_box(&principals), black_box(&usage), catalog, &config).len()
            })
        },
    );
    group.finish();
}

/// Seconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`), if readable.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

criterion_group!(benches, bench);
criterion_main!(benches);
