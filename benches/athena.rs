//! The aggregate sources' own work: building the SQL for a large plan, and turning 1,000,000
//! result rows into usage; against the local reader scanning logs for the same kind of usage.
//!
//! A result row stands for at least one event (most stand for many), so the local reader needs at
//! least as many records as the query returns rows to find the same usage: compare the time per
//! row here with the scan's time per record (`local_scan_1_thread`, corpus size from
//! `IAMTRIM_BENCH_CT_MB`, default 8 MB uncompressed).

#[path = "../tests/support/ct_corpus.rs"]
mod ct_corpus;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iamtrim::iam::catalog::Catalog;
use iamtrim::usage::Window;
use iamtrim::usage::aggregate::rows::{RowReader, usage_from_rows};
use iamtrim::usage::aggregate::sql::{self, COLUMNS, Dialect, Partitions, QuerySpec};
use iamtrim::usage::cloudtrail::{PrincipalFilter, ScanOptions, scan_path};
use std::hint::black_box;

/// Rows in the mapping benchmark.
const ROWS: usize = 1_000_000;
/// Principals the rows are spread over.
const PRINCIPALS: usize = 10_000;

/// Real `(eventSource, eventName)` pairs, mapped and unmapped, as a trail holds them.
const EVENTS: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("s3.amazonaws.com", "ListObjectsV2"),
    ("s3.amazonaws.com", "HeadObject"),
    ("sqs.amazonaws.com", "SendMessage"),
    ("sqs.amazonaws.com", "ReceiveMessage"),
    ("kms.amazonaws.com", "Decrypt"),
    ("kms.amazonaws.com", "GenerateDataKey"),
    ("lambda.amazonaws.com", "GetFunction20150331v2"),
    ("lambda.amazonaws.com", "Invoke"),
    ("dynamodb.amazonaws.com", "GetItem"),
    ("dynamodb.amazonaws.com", "Query"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("logs.amazonaws.com", "PutLogEvents"),
    ("monitoring.amazonaws.com", "PutMetricData"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("iam.amazonaws.com", "GetRole"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"),
    ("ssm.amazonaws.com", "GetParameter"),
    ("madeup.amazonaws.com", "DoThing"),
];

fn principal(i: usize) -> String {
    format!(
        "arn:aws:iam::{:012}:role/team-{}/app-{i}",
        100_000_000_000 + i % 1000,
        i % 7
    )
}

/// 1,000,000 rows as text cells, the way `GetQueryResults` gives them.
fn result_rows() -> Vec<Vec<Option<String>>> {
    (0..ROWS)
        .map(|i| {
            let p = i % PRINCIPALS;
            let (source, name) = EVENTS[(i / PRINCIPALS) % EVENTS.len()];
            let denial = (i % 97 == 0).then(|| "AccessDenied".to_string());
            let data = (i % 50 == 0).then(|| format!("{:012}", 100_000_000_000 + p % 1000));
            vec![
                Some(principal(p)),
                Some(source.to_string()),
                Some(name.to_string()),
                denial,
                Some((i % 13 == 0).to_string()),
                Some("false".to_string()),
                Some("false".to_string()),
                data.clone(),
                data.map(|_| "AWS::S3::Object".to_string()),
                Some((1 + i % 1000).to_string()),
                Some("2024-03-01T00:00:01Z".to_string()),
                Some("2024-03-30T23:59:59Z".to_string()),
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let known = |action: &str| catalog.lookup(action).map(|a| a.name().to_string());
    let mut group = c.benchmark_group("athena");
    group.sample_size(10);

    let spec = QuerySpec {
        source: "cloudtrail.logs".into(),
        catalog: None,
        principals: (0..1000).map(principal).collect(),
        start: "2024-03-01T00:00:00Z".into(),
        end: "2024-04-01T00:00:00Z".into(),
        partitions: Partitions::Projection,
        account_partition: true,
        regions: Vec::new(),
    };
    group.throughput(Throughput::Elements(1000));
    group.bench_function("build_sql_1000_principals", |b| {
        b.iter(|| black_box(sql::build(Dialect::Athena, &spec).expect("sql").len()))
    });

    let rows = result_rows();
    let filter: PrincipalFilter = (0..PRINCIPALS).map(principal).collect();
    let window = Window {
        start: "2024-03-01T00:00:00Z".into(),
        end: "2024-04-01T00:00:00Z".into(),
    };
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("map_1m_rows", |b| {
        b.iter(|| {
            let mut reader = RowReader::new(COLUMNS).expect("columns");
            let parsed: Vec<_> = rows
                .iter()
                .map(|row| {
                    let cells: Vec<Option<&str>> = row.iter().map(|c| c.as_deref()).collect();
                    reader.read(&cells).expect("row")
                })
                .collect();
            let usage = usage_from_rows(&parsed, &filter, &window, Some(&known));
            black_box(usage.usage.len())
        })
    });

    let corpus = ct_corpus::corpus(ct_corpus::size_mb(8));
    let records = scan_path(
        &corpus.root,
        &ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        },
    )
    .expect("scan")
    .stats
    .records;
    group.throughput(Throughput::Elements(records));
    group.bench_function("local_scan_1_thread", |b| {
        b.iter(|| {
            let scan = scan_path(
                &corpus.root,
                &ScanOptions {
                    threads: 1,
                    known_action: Some(&known),
                    ..ScanOptions::default()
                },
            )
            .expect("scan");
            black_box(scan.usage.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
