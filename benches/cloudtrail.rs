//! CloudTrail scan throughput against the cost of only decompressing the same files.
//!
//! Corpus size: `IAMTRIM_BENCH_CT_MB` (default 8 MB uncompressed, so `cargo bench --no-run` and
//! quick runs stay cheap). The >= 1 GB budget run is `benches/cloudtrail_measure.rs`.

#[path = "../tests/support/ct_corpus.rs"]
mod ct_corpus;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::read::MultiGzDecoder;
use iamtrim::usage::cloudtrail::{ScanOptions, scan_path};
use std::hint::black_box;
use std::io::Read;

fn bench(c: &mut Criterion) {
    let corpus = ct_corpus::corpus(ct_corpus::size_mb(8));
    let mut group = c.benchmark_group("cloudtrail");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(corpus.uncompressed));
    group.bench_function("decompress_only_1_thread", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for file in &corpus.files {
                let bytes = std::fs::read(file).expect("read");
                out.clear();
                MultiGzDecoder::new(&bytes[..])
                    .read_to_end(&mut out)
                    .expect("gunzip");
                black_box(out.len());
            }
        })
    });
    group.bench_function("decompress_only_libdeflate_1_thread", |b| {
        let mut out = Vec::new();
        let mut inflater = libdeflater::Decompressor::new();
        b.iter(|| {
            for file in &corpus.files {
                let bytes = std::fs::read(file).expect("read");
                let tail: [u8; 4] = bytes[bytes.len() - 4..].try_into().expect("ISIZE");
                let len = u32::from_le_bytes(tail) as usize;
                if out.len() < len {
                    out.resize(len, 0);
                }
                black_box(
                    inflater
                        .gzip_decompress(&bytes, &mut out[..len])
                        .expect("gunzip"),
                );
            }
        })
    });
    for threads in [1, 2] {
        group.bench_function(format!("scan_{threads}_thread"), |b| {
            b.iter(|| {
                let scan = scan_path(
                    &corpus.root,
                    &ScanOptions {
                        threads,
                        ..ScanOptions::default()
                    },
                )
                .expect("scan");
                black_box(scan.stats.records)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
