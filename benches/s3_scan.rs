//! Scanning CloudTrail logs in S3 through the real SDK, against a local S3 that answers every
//! request after a fixed delay (`IAMTRIM_BENCH_S3_LATENCY_MS`, default 20 ms): what the listing and
//! the downloads cost when each request waits on the network, which the CPU-bound budgets of
//! `cloudtrail_measure` do not show.
//!
//! The bucket holds the generated corpus (`IAMTRIM_BENCH_CT_MB`, default 100 MB uncompressed) as
//! the window's logs, and two earlier years of small logs of the same accounts and regions
//! (`IAMTRIM_BENCH_S3_HISTORY`, default 20 files a day per region), which a scan of the window never
//! needs. Prints the best of three scans with 2 parsing threads and the requests each made.
//!
//! Run: `cargo bench --bench s3_scan`.

#[path = "../tests/support/ct_corpus.rs"]
mod ct_corpus;
#[path = "../tests/support/s3_emulator.rs"]
mod s3_emulator;

use iamtrim::usage::cloudtrail::{ScanOptions, scan_s3};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs this target too and must stay quick.
        return;
    }
    let latency = Duration::from_millis(env_u64("IAMTRIM_BENCH_S3_LATENCY_MS", 20));
    let per_day = env_u64("IAMTRIM_BENCH_S3_HISTORY", 20);
    let corpus = ct_corpus::corpus(ct_corpus::size_mb(100));
    let mut objects = BTreeMap::new();
    let mut roots = BTreeSet::new();
    for file in &corpus.files {
        let rel = file.strip_prefix(&corpus.root).expect("under root");
        let key = format!("logs/{}", rel.to_string_lossy());
        // `.../CloudTrail/<region>/`, where the history goes.
        if let Some(at) = key.find("/CloudTrail/") {
            let region_end = key[at + 12..].find('/').map(|i| at + 12 + i + 1);
            roots.insert(key[..region_end.expect("region")].to_string());
        }
        objects.insert(key, std::fs::read(file).expect("read corpus file"));
    }
    let window_files = objects.len();
    // Two years before the window, day by day.
    let mut day = (2022u32, 3u32, 1u32);
    while day < (2024, 3, 1) {
        let (y, m, d) = day;
        for root in &roots {
            for n in 0..per_day {
                let key = format!("{root}{y}/{m:02}/{d:02}/history_{y}{m:02}{d:02}_{n}.json.gz");
                objects.insert(key, Vec::new());
            }
        }
        day = if d == 28 {
            if m == 12 {
                (y + 1, 1, 1)
            } else {
                (y, m + 1, 1)
            }
        } else {
            (y, m, d + 1)
        };
    }
    let emulator = s3_emulator::start("trail", objects, latency);
    println!(
        "bucket: {window_files} files of the window ({:.1} MB gzip, {:.1} MB uncompressed) and {} earlier ones, {} ms a request",
        corpus.compressed as f64 / 1e6,
        corpus.uncompressed as f64 / 1e6,
        emulator_keys(per_day, roots.len()),
        latency.as_millis()
    );

    let current = std::env::var("IAMTRIM_BENCH_S3_RUNTIME").as_deref() == Ok("current");
    let runtime = if current {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let client = runtime.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIDBENCH",
                "secret",
                None,
                None,
                "bench",
            ))
            .endpoint_url(&emulator.endpoint)
            .load()
            .await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        )
    });
    let opts = ScanOptions {
        window: Some(("2024-03-01", "2024-03-29")),
        threads: 2,
        known_action: None,
        progress: None,
        principals: None,
    };
    let mut best = f64::MAX;
    for _ in 0..3 {
        let (lists, gets) = (
            emulator.lists.load(Ordering::Relaxed),
            emulator.gets.load(Ordering::Relaxed),
        );
        let started = Instant::now();
        let scan = runtime
            .block_on(scan_s3(&client, "s3://trail/logs/", &opts))
            .expect("scan");
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        assert_eq!(scan.stats.files_read as usize, window_files);
        println!(
            "scan: {secs:.2}s = {:.0} MB/s uncompressed, {} list pages, {} downloads",
            corpus.uncompressed as f64 / 1e6 / secs,
            emulator.lists.load(Ordering::Relaxed) - lists,
            emulator.gets.load(Ordering::Relaxed) - gets,
        );
    }
    println!(
        "best: {best:.2}s ({} runtime)",
        if current {
            "current-thread"
        } else {
            "2-worker"
        }
    );
}

fn emulator_keys(per_day: u64, roots: usize) -> u64 {
    // 2022-03-01 .. 2024-02-28, months of 28 days as generated.
    24 * 28 * per_day * roots as u64
}
