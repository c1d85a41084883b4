//! Plan parsing + discovery against the floor of merely validating the JSON.
//!
//! Measures (a) `serde_json::from_slice::<IgnoredAny>` and (b) `parse_plan_bytes` + `discover` over the
//! same bytes of a generated plan (see `tests/support/plan_gen`; size from `IAMTRIM_BENCH_PLAN_MB`), with
//! criterion, then prints the ratio b / a from interleaved runs (the budget is 1.5), and beside it
//! the ratio with freeing the plan and the discovery afterwards (which the binary skips).
//!
//! `cargo bench --bench plan`; `IAMTRIM_BENCH_PLAN_MB=100 cargo bench --bench plan` for the real figure.

#[path = "../tests/support/plan_gen/mod.rs"]
mod plan_gen;

use criterion::{Criterion, Throughput};
use iamtrim::iam::discover;
use iamtrim::plan::parse_plan_bytes;
use serde::de::IgnoredAny;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn validate(bytes: &[u8]) {
    let _: IgnoredAny =
        serde_json::from_slice(black_box(bytes)).expect("the generated plan is JSON");
}

fn parse_and_discover(bytes: &[u8]) -> usize {
    let loaded =
        parse_plan_bytes(black_box(bytes), "bench.json").expect("the generated plan parses");
    discover(&loaded.plan).principals.len()
}

fn main() {
    let spec = plan_gen::PlanSpec::from_env();
    let (path, expected) = plan_gen::write_bench_plan(&spec).expect("writing the bench plan");
    let bytes = std::fs::read(&path).expect("reading the bench plan");
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not and wants one quick pass.
    let benching = std::env::args().any(|a| a == "--bench");
    println!(
        "plan: {} ({:.1} MB, {} resources, {} IAM, {} principals)",
        path.display(),
        bytes.len() as f64 / 1e6,
        expected.resources,
        expected.iam_resources,
        expected.principals()
    );
    assert_eq!(
        parse_and_discover(&bytes),
        expected.principals(),
        "discovery found every principal"
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let mut group = c.benchmark_group("plan");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("ignored_any", |b| b.iter(|| validate(&bytes)));
    group.bench_function("parse_discover", |b| b.iter(|| parse_and_discover(&bytes)));
    group.finish();
    c.final_summary();

    // The ratio from interleaved runs, so both sides see the same machine load.
    let rounds = if benching { 15 } else { 1 };
    let (mut floor, mut parse, mut kept, mut ours) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        validate(&bytes);
        floor.push(t.elapsed());
        let t = Instant::now();
        let loaded =
            parse_plan_bytes(black_box(&bytes), "bench.json").expect("the generated plan parses");
        parse.push(t.elapsed());
        let discovery = black_box(discover(&loaded.plan));
        kept.push(t.elapsed());
        drop(discovery);
        drop(loaded);
        ours.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (f, p, k, o) = (
        median(&mut floor),
        median(&mut parse),
        median(&mut kept),
        median(&mut ours),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    // The budget's figure is parse + discovery: the time until the discovery is there to use (the
    // `iamtrim` binary never frees it, see `cli::leave_memory_at_exit`). Freeing the plan and the
    // discovery afterwards, which a library caller pays when it drops them, is printed beside it.
    println!(
        "plan: medians of {rounds}: IgnoredAny {:.1} ms, parse {:.1} ms, parse+discover {:.1} ms; time ratio {:.2} (budget 1.50); then freeing both: {:.1} ms in all ({:.2}x)",
        ms(f),
        ms(p),
        ms(k),
        k.as_secs_f64() / f.as_secs_f64(),
        ms(o),
        o.as_secs_f64() / f.as_secs_f64()
    );
}
