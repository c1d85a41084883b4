//! `iamtrim check` wall time on a 5,000-resource plan with a warm cache (budget: 100 ms, no network).
//!
//! Generates the plan with `plan_gen` (25 MB gives 5,000 resource instances), fills
//! `.iamtrim/cache/` with a usage entry for every existing principal (a few of its granted actions, as a
//! real cache would hold), then runs the release binary several times and prints the median. The
//! environment points every AWS endpoint at a closed local port, so a network call would fail the run.
//!
//! `cargo bench --bench check` (the binary must be built with the same profile: cargo does it).

#[path = "../tests/support/plan_gen/mod.rs"]
mod plan_gen;

use iamtrim::iam::discover;
use iamtrim::plan::parse_plan_bytes;
use iamtrim::usage::cache::{Cache, CacheEntry, CacheKey};
use iamtrim::usage::{ActionUse, ObservedUsage, UsageSourceKind, Window, principal_fingerprint};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

fn main() {
    let mb: f64 = std::env::var("IAMTRIM_BENCH_CHECK_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            25.0
        } else {
            1.0
        });
    let spec = plan_gen::PlanSpec::megabytes(mb);
    let generated = plan_gen::generate(&spec);
    let dir = plan_gen::bench_data_dir().join(format!(
        "check-{}",
        spec.file_name().trim_end_matches(".json")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, &generated.bytes).expect("write plan");

    let loaded = parse_plan_bytes(&generated.bytes, "plan.json").expect("plan parses");
    let resources = loaded.plan.resource_changes.total;
    let discovery = discover(&loaded.plan);
    let cache = Cache::open(dir.join(".iamtrim/cache"));
    let mut entries = 0;
    for p in discovery.principals.iter().filter(|p| p.arn.is_some()) {
        let arn = p.arn.as_deref().unwrap_or_default();
        let mut usage = ObservedUsage::empty(
            arn,
            UsageSourceKind::Cloudtrail,
            Window {
                start: "2026-09-01T00:00:00Z".into(),
                end: "2026-11-30T00:00:00Z".into(),
            },
        );
        // What the principal "used": the first explicit action of each of its statements.
        let used: BTreeMap<String, ActionUse> = p
            .policies
            .iter()
            .filter_map(|s| s.document.as_ref())
            .flat_map(|d| d.statements.iter())
            .filter_map(|st| {
                st.action
                    .as_ref()
                    .and_then(|a| a.patterns().first().cloned())
            })
            .filter(|a| !a.contains('*'))
            .map(|a| {
                (
                    a,
                    ActionUse {
                        count: 3,
                        ..ActionUse::default()
                    },
                )
            })
            .collect();
        usage.actions = used;
        let key = CacheKey::new(
            arn,
            UsageSourceKind::Cloudtrail,
            BTreeMap::from([("source".into(), "bench".into())]),
        );
        cache
            .put(&CacheEntry::new(
                key,
                usage,
                &principal_fingerprint(p),
                SystemTime::now(),
            ))
            .expect("cache write");
        entries += 1;
    }

    let run = || {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_iamtrim"))
            .args(["check", "plan.json", "--format", "json", "--chdir"])
            .arg(&dir)
            .current_dir(&dir)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run iamtrim check");
        let took = started.elapsed();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (took, out.status.code())
    };
    run(); // warm the page cache
    let runs = if std::env::args().any(|a| a == "--bench") {
        11
    } else {
        1
    };
    let mut times: Vec<Duration> = (0..runs).map(|_| run().0).collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "check: {resources} resources, {} principals, {entries} cache entries: median {:.1} ms (min {:.1}, max {:.1}); budget 100 ms -> {:.2}x of budget",
        discovery.principals.len(),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3 / 100.0
    );
}
