//! The CloudTrail budget run: generates a corpus of `IAMTRIM_BENCH_CT_MB` MB (default 16; use
//! 1024+ for the real figures), then measures, each in a fresh child process so peak memory is the
//! scan's own:
//! - one core: scan time vs only decompressing the same files (budget <= 1.25x), MB/s uncompressed
//!   (target >= 420 MB/s, 10x trailscraper's ~42 MB/s);
//! - two cores vs one (budget >= 1.8x);
//! - peak resident memory of the scan (budget <= 256 MB), from `VmHWM`;
//! - where the one-core time over decompression goes: decompression plus a UTF-8 check of every
//!   byte, plus reading every record without counting, and the whole scan;
//! - a scan that counts two principals only, as `suggest` counts a plan's;
//! - peak memory of a two-thread scan of two gzip bombs (1 GiB of JSON whitespace each, about
//!   1 MB compressed), which must stay within the same 256 MB budget (each is refused).
//!
//! Run: `IAMTRIM_BENCH_CT_MB=1100 cargo bench --bench cloudtrail_measure`.

#[path = "../tests/support/ct_corpus.rs"]
mod ct_corpus;

use flate2::read::MultiGzDecoder;
use iamtrim::usage::cloudtrail::record::for_each_record;
use iamtrim::usage::cloudtrail::{PrincipalFilter, ScanOptions, scan_path};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The child mode that decompresses the way the scan does (the budget's baseline).
const SHIPPED_DECOMPRESSOR: &str = "decompress-libdeflate";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            &args[i + 2],
            args[i + 3].parse().expect("threads"),
        );
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        // Only `cargo bench` passes `--bench`; `cargo test --all-targets` runs this target too and
        // must stay quick.
        return;
    }
    let mb = ct_corpus::size_mb(16);
    let started = Instant::now();
    let corpus = ct_corpus::corpus(mb);
    println!(
        "corpus: {} files, {:.1} MB uncompressed, {:.1} MB gzip, ready in {:.1}s",
        corpus.files.len(),
        corpus.uncompressed as f64 / 1e6,
        corpus.compressed as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let root = corpus.root.to_string_lossy().into_owned();
    // Warm the page cache so every measurement reads from memory.
    run_child("decompress", &root, 1);
    let runs = 2;
    let mbs = |t: f64| corpus.uncompressed as f64 / 1e6 / t;
    let best = |mode: &str, threads: usize| {
        (0..runs)
            .map(|_| run_child(mode, &root, threads))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("runs")
    };
    let (t_flate2, _) = best("decompress", 1);
    let (t_libdeflate, _) = best("decompress-libdeflate", 1);
    println!(
        "decompress only, 1 thread: flate2/zlib-rs {t_flate2:.2}s = {:.0} MB/s, libdeflate {t_libdeflate:.2}s = {:.0} MB/s",
        mbs(t_flate2),
        mbs(t_libdeflate)
    );
    let (t_gunzip, rss_gunzip) = best(SHIPPED_DECOMPRESSOR, 1);
    let (t1, rss1) = best("scan", 1);
    let (t2, rss2) = best("scan", 2);
    println!(
        "decompress only, shipped backend: {t_gunzip:.2}s = {:.0} MB/s (peak {} MB)",
        mbs(t_gunzip),
        rss_gunzip / 1024
    );
    println!(
        "scan, 1 thread:            {t1:.2}s = {:.0} MB/s (peak {} MB)",
        mbs(t1),
        rss1 / 1024
    );
    println!(
        "scan, 2 threads:           {t2:.2}s = {:.0} MB/s (peak {} MB)",
        mbs(t2),
        rss2 / 1024
    );
    println!(
        "scan / decompress (1 core): {:.2}x (budget <= 1.25x)",
        t1 / t_gunzip
    );
    // Where the time over decompression goes: a UTF-8 check of every byte, reading the records
    // (the scan's reader, nothing counted), and the whole scan (reading and counting).
    let (t_utf8, _) = best("decompress-utf8", 1);
    let (t_read, _) = best("decompress-read", 1);
    println!(
        "over decompression, 1 core: + UTF-8 check {:.2}x, + reading every record {:.2}x, + counting too (the scan) {:.2}x",
        t_utf8 / t_gunzip,
        t_read / t_gunzip,
        t1 / t_gunzip
    );
    // What `suggest` scans for a plan: only the plan's principals are counted.
    let (t_plan, _) = best("scan-plan", 1);
    println!(
        "scan counting 2 principals of the corpus' ~50 (as `suggest` does for a plan's), 1 core: {t_plan:.2}s = {:.0} MB/s, {:.2}x decompression",
        mbs(t_plan),
        t_plan / t_gunzip
    );
    println!(
        "throughput (1 core): {:.0} MB/s = {:.1}x trailscraper's 42 MB/s (target >= 420 MB/s)",
        mbs(t1),
        mbs(t1) / 42.0
    );
    println!("2 threads vs 1: {:.2}x (budget >= 1.8x)", t1 / t2);
    println!(
        "peak memory: {} MB (budget <= 256 MB)",
        rss1.max(rss2) / 1024
    );
    let bombs = bomb_dir();
    let (t_bombs, rss_bombs) = run_child("scan-bombs", &bombs.to_string_lossy(), 2);
    println!(
        "two 1 GiB gzip bombs, 2 threads: refused in {t_bombs:.2}s, peak memory {} MB (budget <= 256 MB)",
        rss_bombs / 1024
    );
}

/// `target/bench-data/cloudtrail-bombs/`: two files of 1 GiB of spaces inside `{"Records":[...]}`,
/// made of one compressed 64 MiB member repeated (a multi-member gzip file).
fn bomb_dir() -> std::path::PathBuf {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/cloudtrail-bombs");
    if dir.join("b.json.gz").is_file() {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("bench-data folder");
    let gzip = |data: &[u8], times: usize| {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
        for _ in 0..times {
            enc.write_all(data).expect("gzip in memory");
        }
        enc.finish().expect("gzip in memory")
    };
    let member = gzip(&vec![b' '; 1 << 20], 64);
    let bomb = [
        gzip(b"{\"Records\":[", 1),
        member.repeat(16),
        gzip(b"]}", 1),
    ]
    .concat();
    for name in ["a.json.gz", "b.json.gz"] {
        std::fs::write(dir.join(name), &bomb).expect("write bomb");
    }
    dir
}

/// Runs one measurement in a fresh process; returns (seconds, peak RSS in kB).
fn run_child(mode: &str, root: &str, threads: usize) -> (f64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--child", mode, root, &threads.to_string()])
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let secs = it.next().and_then(|s| s.parse().ok()).expect("seconds");
    let rss = it.next().and_then(|s| s.parse().ok()).expect("rss");
    (secs, rss)
}

fn child(mode: &str, root: &str, threads: usize) {
    let started = Instant::now();
    match mode {
        "decompress" => {
            let mut files = Vec::new();
            collect(Path::new(root), &mut files);
            let mut out = Vec::new();
            let mut total = 0usize;
            for file in &files {
                let bytes = std::fs::read(file).expect("read");
                out.clear();
                MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .expect("gunzip");
                total += out.len();
            }
            std::hint::black_box(total);
        }
        "decompress-libdeflate" | "decompress-utf8" | "decompress-read" => {
            let mut files = Vec::new();
            collect(Path::new(root), &mut files);
            let mut out = Vec::new();
            let mut total = 0usize;
            let mut records = 0usize;
            let mut inflater = libdeflater::Decompressor::new();
            for file in &files {
                let bytes = std::fs::read(file).expect("read");
                let tail: [u8; 4] = bytes[bytes.len() - 4..].try_into().expect("ISIZE");
                out.resize(u32::from_le_bytes(tail) as usize, 0);
                let n = inflater.gzip_decompress(&bytes, &mut out).expect("gunzip");
                total += n;
                match mode {
                    // One vectorized pass over every byte, as any sound reader makes.
                    "decompress-utf8" => {
                        records += usize::from(simdutf8::basic::from_utf8(&out[..n]).is_ok());
                    }
                    // Every record read as the scan reads it, and nothing counted.
                    "decompress-read" => {
                        for_each_record(&out[..n], &mut |r| {
                            records += usize::from(r.event_name.is_some());
                        })
                        .expect("records");
                    }
                    _ => {}
                }
            }
            std::hint::black_box((total, records));
        }
        "scan-bombs" => {
            let scan = scan_path(
                Path::new(root),
                &ScanOptions {
                    threads,
                    ..ScanOptions::default()
                },
            )
            .expect("scan");
            std::hint::black_box((scan.stats.file_errors.len(), scan.usage.len()));
        }
        _ => {
            let plan: PrincipalFilter = [
                "arn:aws:iam::111122223333:role/app-runner",
                "arn:aws:iam::444455556666:user/deployer",
            ]
            .map(String::from)
            .into_iter()
            .collect();
            let scan = scan_path(
                Path::new(root),
                &ScanOptions {
                    threads,
                    principals: (mode == "scan-plan").then_some(&plan),
                    ..ScanOptions::default()
                },
            )
            .expect("scan");
            assert!(scan.stats.file_errors.is_empty());
            std::hint::black_box(scan.usage.len());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{secs} {}", peak_rss_kb());
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.to_string_lossy().ends_with(".json.gz") {
            out.push(path);
        }
    }
}

/// `VmHWM` from `/proc/self/status` (Linux): the peak resident set, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
