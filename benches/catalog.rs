//! Catalog load (decompress + parse, budget 20 ms) and wildcard expansion.

use criterion::{Criterion, criterion_group, criterion_main};
use iamtrim::iam::action::ActionPattern;
use iamtrim::iam::catalog::Catalog;
use std::hint::black_box;
use std::io::Read;

fn load(c: &mut Criterion) {
    c.bench_function("catalog/load", |b| {
        b.iter_with_large_drop(|| Catalog::from_gzip(black_box(Catalog::embedded_data())))
    });
    // The two halves of a load, to see which one to work on. Dropping the catalog is left out of
    // the timing: the embedded one lives as long as the process.
    let gunzip = || {
        let mut text = String::new();
        flate2::read::GzDecoder::new(Catalog::embedded_data())
            .read_to_string(&mut text)
            .map(|_| text)
    };
    c.bench_function("catalog/load: gunzip only", |b| {
        b.iter(|| gunzip().map(|t| t.len()))
    });
    if let Ok(text) = gunzip() {
        c.bench_function("catalog/load: parse only", |b| {
            b.iter_with_large_drop(|| Catalog::from_text(black_box(&text)))
        });
    }
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
