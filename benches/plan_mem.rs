//! Peak memory of reading + parsing + discovering a generated plan, as a multiple of its size.
//!
//! The parent generates the plan (see `tests/support/plan_gen`; size from `IAMTRIM_BENCH_PLAN_MB`) and runs itself
//! again with `--measure PATH`, so the generator's memory is not counted. The child reads the file
//! (which alone costs 1x), runs `parse_plan_bytes` + `discover` and reports `VmHWM` from
//! `/proc/self/status`, the peak resident set of the whole process. The budget is 3x.
//!
//! `IAMTRIM_BENCH_PLAN_MB=100 cargo bench --bench plan_mem`.

#[path = "../tests/support/plan_gen/mod.rs"]
mod plan_gen;

use iamtrim::iam::discover;
use iamtrim::plan::parse_plan_bytes;
use std::process::Command;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn measure(path: &str) {
    let baseline = status_bytes("VmHWM:").unwrap_or(0);
    let bytes = std::fs::read(path).expect("reading the plan");
    let loaded = parse_plan_bytes(&bytes, path).expect("the plan parses");
    let found = discover(&loaded.plan);
    let peak = status_bytes("VmHWM:").unwrap_or(0);
    println!(
        "{} {} {} {}",
        bytes.len(),
        baseline,
        peak,
        found.principals.len()
    );
}

/// CPU time of every thread of the process so far (`/proc/self/task/*/schedstat`, nanoseconds):
/// unlike wall-clock time it does not grow while other processes hold the cores.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `--repeat PATH N`: IgnoredAny, then parse + discover (+ drops), N times; prints the median wall
/// and CPU time (all threads) of each, for quick checks on a busy machine and for profilers.
fn repeat(path: &str, rounds: usize) {
    use std::time::Instant;
    let bytes = std::fs::read(path).expect("reading the plan");
    // [IgnoredAny, parse, parse + discover + drops]: wall ms, CPU ms.
    let mut wall: [Vec<f64>; 3] = Default::default();
    let mut cpu: [Vec<f64>; 3] = Default::default();
    let ms = |ns: u64| ns as f64 / 1e6;
    for _ in 0..rounds {
        let (t, c) = (Instant::now(), cpu_ns());
        let _: serde::de::IgnoredAny = serde_json::from_slice(&bytes).expect("JSON");
        wall[0].push(t.elapsed().as_secs_f64() * 1e3);
        cpu[0].push(ms(cpu_ns() - c));
        let (t, c) = (Instant::now(), cpu_ns());
        let loaded = parse_plan_bytes(&bytes, path).expect("the plan parses");
        wall[1].push(t.elapsed().as_secs_f64() * 1e3);
        cpu[1].push(ms(cpu_ns() - c));
        drop(std::hint::black_box(discover(&loaded.plan)));
        drop(loaded);
        wall[2].push(t.elapsed().as_secs_f64() * 1e3);
        cpu[2].push(ms(cpu_ns() - c));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let [w0, w1, w2] = wall.each_mut().map(median);
    let [c0, c1, c2] = cpu.each_mut().map(median);
    println!(
        "medians of {rounds}: IgnoredAny {w0:.1} ms, parse {w1:.1} ms, parse+discover {w2:.1} ms, ratio {:.2}; \
         CPU time (all threads): {c0:.1} / {c1:.1} / {c2:.1} ms, ratio {:.2}",
        w2 / w0,
        c2 / c0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--repeat") {
        let rounds = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(10);
        repeat(args.get(i + 1).expect("--repeat PATH [N]"), rounds);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        measure(args.get(i + 1).expect("--measure PATH"));
        return;
    }
    if std::fs::metadata("/proc/self/status").is_err() {
        println!("plan_mem: /proc/self/status is missing (not Linux); nothing measured");
        return;
    }
    let spec = plan_gen::PlanSpec::from_env();
    let (path, expected) = plan_gen::write_bench_plan(&spec).expect("writing the bench plan");
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("--measure")
        .arg(&path)
        .output()
        .expect("running the measurement");
    assert!(
        out.status.success(),
        "measurement failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [size, baseline, peak, principals] = nums[..] else {
        panic!("unexpected measurement output: {text}")
    };
    assert_eq!(
        principals as usize,
        expected.principals(),
        "discovery found every principal"
    );
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "plan_mem: file {:.1} MB, VmHWM {:.1} MB (process baseline {:.1} MB): peak/file {:.2}, (peak - baseline)/file {:.2} (budget 3.00; reading the file is 1.00 of it)",
        mb(size),
        mb(peak),
        mb(baseline),
        peak as f64 / size as f64,
        peak.saturating_sub(baseline) as f64 / size as f64
    );
}
