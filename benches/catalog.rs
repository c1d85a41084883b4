//! Catalog load (decompress + parse, budget 20 ms) and wildcard expansion.

use criterion::{Criterion, criterion_group, criterion_main};
use iamtrim::iam::action::ActionPattern;
use iamtrim::iam::catalog::Catalog;
use std::hint::black_box;

fn load(c: &mut Criterion) {
    c.bench_function("catalog/load", |b| {
        b.iter(|| Catalog::from_gzip(black_box(Catalog::embedded_data())).map(|cat| cat.len()))
    });
}

fn expand(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    for text in ["s3:Get*", "s3:*", "ec2:Describe?nstances", "*:Get*", "*"] {
        let pattern = ActionPattern::new(text);
        c.bench_function(&format!("catalog/expand {text}"), |b| {
            b.iter(|| catalog.expand(black_box(&pattern)).len())
        });
    }
    let not_action: Vec<ActionPattern> = ["iam:*", "s3:Get*", "*:Describe*"]
        .into_iter()
        .map(ActionPattern::new)
        .collect();
    c.bench_function("catalog/expand_not_action iam:*,s3:Get*,*:Describe*", |b| {
        b.iter(|| catalog.expand_not_action(black_box(&not_action)).len())
    });
    c.bench_function("catalog/lookup", |b| {
        b.iter(|| catalog.lookup(black_box("S3:GETOBJECT")).is_some())
    });
}

criterion_group!(benches, load, expand);
criterion_main!(benches);
