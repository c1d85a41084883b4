//! `iamtrim check` as a whole process (start to exit, output to a file) on a 5,000-resource plan
//! with a warm cache, against the floor of a process that only reads and parses the same plan.
//! Budget: median at most 100 ms.
//!
//! Generates the plan with `plan_gen` (`IAMTRIM_BENCH_CHECK_MB`, default 25 MB = about 5,000
//! resource instances), fills `.iamtrim/cache/` with a usage entry for every existing principal (the
//! first explicit action of each of its statements, as a real cache would hold a few), then times
//! `target/release/iamtrim check plan.json` (text, the pre-commit default; then json and markdown)
//! with stdout to a file, `IAMTRIM_BENCH_RUNS` runs each (default 15), median. The floor is this
//! bench's own executable re-run as a child (`--parse-only PLAN`): the same release profile and
//! the same library, so the same process start, `load_plan` and exit, and nothing else. Every AWS
//! endpoint points at a closed local port, so a network call would fail the run.
//!
//! `cargo bench --bench check_process`. `cargo test --all-targets` runs it once on a 1 MB plan.

#[path = "../tests/support/plan_gen/mod.rs"]
mod plan_gen;

use iamtrim::iam::discover;
use iamtrim::plan::parse_plan_bytes;
use iamtrim::usage::cache::{Cache, CacheEntry, CacheKey};
use iamtrim::usage::{ActionUse, ObservedUsage, UsageSourceKind, Window, principal_fingerprint};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--parse-only") {
        parse_only(Path::new(&args[i + 1]));
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let mb: f64 = std::env::var("IAMTRIM_BENCH_CHECK_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 25.0 } else { 1.0 });
    let runs: usize = std::env::var("IAMTRIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 15 } else { 1 });
    let setup = prepare(mb);
    println!(
        "plan {:.1} MB: {} resources, {} principals, {} cache entries; {runs} runs each",
        setup.plan_bytes as f64 / 1e6,
        setup.resources,
        setup.principals,
        setup.entries
    );

    let out = setup.dir.join("out");
    let me = std::env::current_exe().expect("current exe");
    let parse = |_: usize| {
        let mut cmd = Command::new(&me);
        cmd.arg("--parse-only").arg(setup.dir.join("plan.json"));
        timed(cmd, &out, &[0])
    };
    let check = |format: &'static str| {
        let dir = setup.dir.clone();
        let out = out.clone();
        move |_: usize| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamtrim"));
            cmd.args(["check", "plan.json", "--format", format, "--chdir"])
                .arg(&dir)
                .current_dir(&dir);
            timed(cmd, &out, &[0, 1])
        }
    };
    // Warm the page cache (plan, binaries, cache entries) before anything is timed.
    parse(0);
    check("text")(0);

    let floor = median_of(runs, parse);
    report("parse only (floor)", floor, floor);
    for format in ["text", "json", "markdown"] {
        let t = median_of(runs, check(format));
        report(&format!("check --format {format}"), t, floor);
    }
}

/// The floor: read and parse the plan the way `check` does, then exit as the binary does (the
/// plan is left to the operating system).
fn parse_only(path: &Path) {
    let loaded = iamtrim::plan::load_plan(path).expect("plan parses");
    std::mem::forget(loaded);
}

/// The generated plan and its warm cache, on disk.
struct Setup {
    dir: PathBuf,
    plan_bytes: usize,
    resources: usize,
    principals: usize,
    entries: usize,
}

fn prepare(mb: f64) -> Setup {
    let spec = plan_gen::PlanSpec::megabytes(mb);
    let generated = plan_gen::generate(&spec);
    let dir = plan_gen::bench_data_dir().join(format!(
        "check-process-{}",
        spec.file_name().trim_end_matches(".json")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    std::fs::write(dir.join("plan.json"), &generated.bytes).expect("write plan");

    let loaded = parse_plan_bytes(&generated.bytes, "plan.json").expect("plan parses");
    let discovery = discover(&loaded.plan);
    let cache = Cache::open(dir.join(".iamtrim/cache"));
    let mut entries = 0;
    for p in &discovery.principals {
        let Some(arn) = p.arn.as_deref() else {
            continue;
        };
        let mut usage = ObservedUsage::empty(
            arn,
            UsageSourceKind::Cloudtrail,
            Window {
                start: "2026-09-01T00:00:00Z".into(),
                end: "2026-11-30T00:00:00Z".into(),
            },
        );
        usage.actions = p
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
    Setup {
        dir,
        plan_bytes: generated.bytes.len(),
        resources: loaded.plan.resource_changes.total,
        principals: discovery.principals.len(),
        entries,
    }
}

/// Runs `cmd` with stdout to `out`, start to exit; panics on an unexpected exit code.
fn timed(mut cmd: Command, out: &Path, codes: &[i32]) -> Duration {
    let file = File::create(out).expect("output file");
    cmd.stdout(file)
        .stderr(Stdio::piped())
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let started = Instant::now();
    let result = cmd.output().expect("run child");
    let took = started.elapsed();
    assert!(
        result.status.code().is_some_and(|c| codes.contains(&c)),
        "{cmd:?} failed ({:?}): {}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    took
}

fn median_of(runs: usize, mut f: impl FnMut(usize) -> Duration) -> (Duration, Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs.max(1)).map(&mut f).collect();
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

fn report(what: &str, t: (Duration, Duration, Duration), floor: (Duration, Duration, Duration)) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<26} median {:7.1} ms (min {:.1}, max {:.1}) = {:.2}x the parse floor, {:.2}x the 100 ms budget",
        ms(t.0),
        ms(t.1),
        ms(t.2),
        t.0.as_secs_f64() / floor.0.as_secs_f64(),
        ms(t.0) / 100.0
    );
}
