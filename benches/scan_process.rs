//! `iamtrim scan` as a whole process (start to exit, output to a file) on a generated 100 MB plan,
//! against the JSON parse floor: a process that reads the same file and validates it as JSON
//! (`serde::de::IgnoredAny`), nothing else. Budget (issue 15): the text scan's median at most 1.5x
//! the floor's.
//!
//! Generates the plan with `plan_gen` (`IAMTRIM_BENCH_SCAN_MB`, default 100 MB), then runs, round
//! after round so that load on the machine falls on all of them alike: the floor (this bench's own
//! executable re-run as a child with `--floor PLAN`, the same code as `examples/json_floor.rs`), then
//! `target/release/iamtrim scan plan.json` in each `--format`. `IAMTRIM_BENCH_RUNS` rounds (default
//! 11); medians, min and max, each as a ratio to the floor's median.
//!
//! `cargo bench --bench scan_process`. `cargo test --all-targets` runs it once on a 1 MB plan.

#[path = "../tests/support/plan_gen/mod.rs"]
mod plan_gen;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Issue 15's budget: the text scan at most this many times the floor.
const BUDGET: f64 = 1.5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--floor") {
        floor(Path::new(&args[i + 1]));
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let mb: f64 = std::env::var("IAMTRIM_BENCH_SCAN_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 100.0 } else { 1.0 });
    let runs: usize = std::env::var("IAMTRIM_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 11 } else { 1 });
    let spec = plan_gen::PlanSpec::megabytes(mb);
    let dir = plan_gen::bench_data_dir().join(format!(
        "scan-process-{}",
        spec.file_name().trim_end_matches(".json")
    ));
    let plan = dir.join("plan.json");
    if !plan.exists() {
        let generated = plan_gen::generate(&spec);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let partial = dir.join("plan.json.partial");
        std::fs::write(&partial, &generated.bytes).expect("write plan");
        std::fs::rename(&partial, &plan).expect("move plan into place");
    }
    let bytes = std::fs::metadata(&plan).expect("plan").len();
    println!(
        "plan {:.1} MB, {runs} rounds; floor = read + validate as JSON",
        bytes as f64 / 1e6
    );

    let out = dir.join("out");
    let me = std::env::current_exe().expect("current exe");
    let floor_run = || {
        let mut cmd = Command::new(&me);
        cmd.arg("--floor").arg(&plan);
        timed(cmd, &out)
    };
    let scan_run = |format: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamtrim"));
        cmd.args(["scan", "plan.json", "--format", format])
            .current_dir(&dir);
        timed(cmd, &out)
    };
    // Warm the page cache (plan and binaries) before anything is timed.
    floor_run();
    scan_run("text");

    const FORMATS: [&str; 3] = ["text", "json", "markdown"];
    let mut floors = Vec::new();
    let mut scans: [Vec<Duration>; 3] = Default::default();
    for _ in 0..runs.max(1) {
        floors.push(floor_run());
        for (times, format) in scans.iter_mut().zip(FORMATS) {
            times.push(scan_run(format));
        }
    }
    let floor = spread(floors);
    report("JSON parse floor", floor, floor);
    for (times, format) in scans.into_iter().zip(FORMATS) {
        report(&format!("scan --format {format}"), spread(times), floor);
    }
}

/// The floor: read the file and validate it as JSON, as `examples/json_floor.rs` does.
fn floor(path: &Path) {
    let bytes = std::fs::read(path).expect("reading the plan");
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).expect("the plan is JSON");
}

/// Runs `cmd` with stdout to `out`, start to exit; panics unless it succeeds.
fn timed(mut cmd: Command, out: &Path) -> Duration {
    let file = File::create(out).expect("output file");
    cmd.stdout(file).stderr(Stdio::piped());
    let started = Instant::now();
    let result = cmd.output().expect("run child");
    let took = started.elapsed();
    assert!(
        result.status.success(),
        "{cmd:?} failed ({:?}): {}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    took
}

/// (median, min, max).
fn spread(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

fn report(what: &str, t: (Duration, Duration, Duration), floor: (Duration, Duration, Duration)) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = t.0.as_secs_f64() / floor.0.as_secs_f64();
    println!(
        "{what:<24} median {:7.1} ms (min {:.1}, max {:.1}) = {ratio:.2}x the floor, {:.2}x the {BUDGET}x budget",
        ms(t.0),
        ms(t.1),
        ms(t.2),
        ratio / BUDGET
    );
}
