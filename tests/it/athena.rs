//! Usage from Athena and CloudTrail Lake: the generated SQL on a real engine (DuckDB) against the
//! local reader on the same logs, and the SDK flows against moto and the query emulator.

use crate::support::moto;
use crate::support::query_emulator::{Fault, Outcome, QueryEmulator};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_athena::config::retry::RetryConfig;
use aws_sdk_athena::config::{Credentials, SharedCredentialsProvider};
use iamtrim::iam::catalog::Catalog;
use iamtrim::usage::ObservedUsage;
use iamtrim::usage::aggregate::rows::{AggregateRow, RowReader, usage_from_rows};
use iamtrim::usage::aggregate::sql::{self, COLUMNS, Dialect, Partitions};
use iamtrim::usage::aggregate::{
    AggregateError, AggregateSource, AthenaTable, PollSettings, QueryProgress, UsageQuery,
    query_usage,
};
use iamtrim::usage::cloudtrail::{PrincipalFilter, ScanOptions, scan_path};
use iamtrim::usage::{Window, cloudtrail::layout::ScanWindow};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv `scripts/test` sets up (moto and DuckDB).
fn venv_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("target"));
    let python = target.join("moto-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `scripts/test` (it installs moto and DuckDB)",
        python.display()
    );
    python
}

fn known(action: &str) -> Option<String> {
    Catalog::embedded()
        .lookup(action)
        .map(|a| a.name().to_string())
}

/// What the comparison looks at: the local reader also keeps resource ARNs, which the aggregate
/// query does not return, and cannot tell data-event types apart.
fn comparable(mut usage: BTreeMap<String, ObservedUsage>) -> BTreeMap<String, ObservedUsage> {
    for u in usage.values_mut() {
        for a in u.actions.values_mut() {
            a.resources.clear();
            a.resources_truncated = false;
        }
        u.data_event_types.clear();
        u.query = None;
    }
    usage
}

/// The local reader's usage of `principals` on `logs` over the window.
fn local_usage(
    logs: &Path,
    principals: &[String],
    window: (&str, &str),
) -> BTreeMap<String, ObservedUsage> {
    let filter: PrincipalFilter = principals.iter().cloned().collect();
    let opts = ScanOptions {
        window: Some(window),
        threads: 1,
        known_action: Some(&known),
        progress: None,
        principals: Some(&filter),
    };
    let scan = scan_path(logs, &opts).expect("local scan");
    assert!(
        scan.stats.file_errors.is_empty(),
        "{:?}",
        scan.stats.file_errors
    );
    scan.usage
}

/// Runs the Athena SQL for `principals` on DuckDB over `logs` (the console table as a view).
fn duckdb_rows(
    logs: &Path,
    principals: &[String],
    window: (&str, &str),
    partitions: Partitions,
    account_partition: bool,
) -> Vec<AggregateRow> {
    let w = ScanWindow::parse(window.0, window.1).expect("window");
    let spec = sql::QuerySpec {
        source: "cloudtrail.logs".into(),
        catalog: None,
        principals: principals.to_vec(),
        start: w.start.clone(),
        end: w.end.clone(),
        partitions,
        account_partition,
        regions: Vec::new(),
    };
    let text = sql::build(Dialect::Athena, &spec).expect("sql");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let out = Command::new(venv_python())
        .arg(manifest().join("tests/support/duckdb_cloudtrail.py"))
        .arg(logs)
        .arg(file.path())
        .arg("cloudtrail.logs")
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "duckdb failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runner JSON");
    let header: Vec<String> = result["header"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let mut reader = RowReader::new(&header).expect("columns");
    result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cells: Vec<Option<&str>> =
                row.as_array().unwrap().iter().map(|c| c.as_str()).collect();
            reader.read(&cells).expect("row")
        })
        .collect()
}

fn duckdb_usage(
    logs: &Path,
    principals: &[String],
    window: (&str, &str),
    partitions: Partitions,
    account_partition: bool,
) -> BTreeMap<String, ObservedUsage> {
    let rows = duckdb_rows(logs, principals, window, partitions, account_partition);
    let w = ScanWindow::parse(window.0, window.1).unwrap();
    let filter: PrincipalFilter = principals.iter().cloned().collect();
    usage_from_rows(
        &rows,
        &filter,
        &Window {
            start: w.start.into(),
            end: w.end.into(),
        },
        Some(&known),
    )
    .usage
}

/// Every principal the local reader finds in `logs` (no filter), plus `extra`.
fn all_principals(logs: &Path, extra: &[&str]) -> Vec<String> {
    let opts = ScanOptions {
        threads: 1,
        ..ScanOptions::default()
    };
    let mut arns: Vec<String> = scan_path(logs, &opts).unwrap().usage.into_keys().collect();
    arns.extend(extra.iter().map(|s| s.to_string()));
    arns
}

/// Asserts both layouts give what the local reader gives, and that the usage is not trivially empty.
fn assert_same_usage(
    logs: &Path,
    principals: &[String],
    window: (&str, &str),
    account_partition: bool,
    min_principals: usize,
) {
    let local = comparable(local_usage(logs, principals, window));
    assert!(
        local.len() >= min_principals,
        "the logs should give usage for at least {min_principals} principals, got {}",
        local.len()
    );
    for partitions in [Partitions::Projection, Partitions::Hive, Partitions::None] {
        let remote = comparable(duckdb_usage(
            logs,
            principals,
            window,
            partitions,
            account_partition,
        ));
        assert_eq!(remote, local, "{partitions:?}");
    }
}

#[test]
fn duckdb_usage_equals_local_reader_on_e2e_logs() {
    let logs = manifest().join("testdata/e2e/multi/cloudtrail");
    let principals = all_principals(&logs, &[]);
    assert_same_usage(&logs, &principals, ("2026-11-01", "2026-12-01"), true, 3);
    // A window that cuts a day in two: events before it must not count.
    assert_same_usage(
        &logs,
        &principals,
        ("2026-11-25T12:00:00Z", "2026-11-26T12:00:00Z"),
        true,
        2,
    );
}

#[test]
fn duckdb_usage_equals_local_reader_on_org_layout_logs() {
    // Only the delivery layout: an Athena table over the trail bucket never sees the folder's
    // LookupEvents export, which the local reader also reads.
    let dir = tempfile::tempdir().unwrap();
    crate::support::repo::copy_dir(
        &manifest().join("testdata/cloudtrail/layout/AWSLogs"),
        &dir.path().join("AWSLogs"),
    );
    let principals = all_principals(dir.path(), &[]);
    assert_same_usage(
        dir.path(),
        &principals,
        ("2024-01-01", "2024-12-31"),
        true,
        3,
    );
}

#[test]
fn duckdb_usage_equals_local_reader_on_generated_corpus() {
    let corpus = crate::support::ct_corpus::corpus(2);
    let principals = all_principals(&corpus.root, &[]);
    assert_same_usage(
        &corpus.root,
        &principals,
        ("2000-01-01", "2100-01-01"),
        true,
        5,
    );
}

/// Writes one gzip log file in the delivery layout.
fn write_log(root: &Path, account: &str, day: &str, records: &[serde_json::Value]) {
    let (y, rest) = day.split_at(4);
    let (m, d) = (&rest[1..3], &rest[4..6]);
    let dir = root.join(format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/{y}/{m}/{d}"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "{account}_CloudTrail_us-east-1_{y}{m}{d}T1200Z_test.json.gz"
    ));
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    gz.finish().unwrap();
}

fn assumed(
    issuer: Option<&str>,
    session: &str,
    time: &str,
    source: &str,
    name: &str,
) -> serde_json::Value {
    let mut identity =
        serde_json::json!({"type": "AssumedRole", "arn": session, "accountId": "111122223333"});
    if let Some(issuer) = issuer {
        identity["sessionContext"] =
            serde_json::json!({"sessionIssuer": {"type": "Role", "arn": issuer}});
    }
    serde_json::json!({"eventVersion": "1.09", "userIdentity": identity, "eventTime": time,
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333", "eventCategory": "Management", "requestParameters": {}})
}

#[test]
fn duckdb_injection_principal_and_quoted_arns_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    let quoted = "arn:aws:iam::111122223333:role/o'brien--x";
    let evil = "arn:aws:iam::111122223333:role/x') OR 1=1 --";
    let pathed = "arn:aws:iam::111122223333:role/service-role/app_1";
    let mut denied = assumed(
        Some(quoted),
        "arn:aws:sts::111122223333:assumed-role/o'brien--x/s",
        "2024-03-05T10:00:00Z",
        "s3.amazonaws.com",
        "PutObject",
    );
    denied["errorCode"] = "AccessDenied".into();
    let mut tagged = assumed(
        Some(pathed),
        "arn:aws:sts::111122223333:assumed-role/app_1/s",
        "2024-03-05T10:03:00Z",
        "iam.amazonaws.com",
        "CreateRole",
    );
    tagged["requestParameters"] =
        serde_json::json!({"roleName": "r", "tags": [{"key": "a", "value": "b"}]});
    write_log(
        dir.path(),
        "111122223333",
        "2024-03-05",
        &[
            assumed(
                Some(quoted),
                "arn:aws:sts::111122223333:assumed-role/o'brien--x/s",
                "2024-03-05T10:00:00Z",
                "s3.amazonaws.com",
                "GetObject",
            ),
            denied,
            // No sessionIssuer: only the session ARN names the role, without its path.
            assumed(
                None,
                "arn:aws:sts::111122223333:assumed-role/app_1/s",
                "2024-03-05T10:01:00Z",
                "sqs.amazonaws.com",
                "SendMessage",
            ),
            assumed(
                Some(pathed),
                "arn:aws:sts::111122223333:assumed-role/app_1/s",
                "2024-03-05T10:02:00Z",
                "lambda.amazonaws.com",
                "GetFunction20150331v2",
            ),
            tagged,
            // `_` is a LIKE wildcard: this role must not be counted as app_1.
            assumed(
                Some("arn:aws:iam::111122223333:role/service-role/appX1"),
                "arn:aws:sts::111122223333:assumed-role/appX1/s",
                "2024-03-05T10:04:00Z",
                "sqs.amazonaws.com",
                "DeleteQueue",
            ),
            // An unknown action: its whole service is kept.
            assumed(
                Some(pathed),
                "arn:aws:sts::111122223333:assumed-role/app_1/s",
                "2024-03-05T10:05:00Z",
                "sqs.amazonaws.com",
                "NotAnAction",
            ),
        ],
    );
    let principals = vec![quoted.to_string(), evil.to_string(), pathed.to_string()];
    let window = ("2024-03-01", "2024-04-01");
    assert_same_usage(dir.path(), &principals, window, true, 2);
    let remote = duckdb_usage(
        dir.path(),
        &principals,
        window,
        Partitions::Projection,
        true,
    );
    let actions = |arn: &str| -> Vec<String> { remote[arn].actions.keys().cloned().collect() };
    assert_eq!(actions(quoted), ["s3:GetObject"]);
    assert_eq!(remote[quoted].denied.get("s3:PutObject"), Some(&1));
    // The tagged CreateRole also needs iam:TagRole (IAM refuses a create with tags without it).
    assert_eq!(
        actions(pathed),
        [
            "iam:CreateRole",
            "iam:TagRole",
            "lambda:GetFunction",
            "sqs:SendMessage"
        ]
    );
    assert!(remote[pathed].service_level_only.contains("sqs"));
    assert!(!remote.contains_key(evil));
    // The request facts reach the rows (the mapping turns them into actions at the merge).
    let rows = duckdb_rows(
        dir.path(),
        &principals,
        window,
        Partitions::Projection,
        true,
    );
    let create = rows.iter().find(|r| r.event_name == "CreateRole").unwrap();
    assert!(create.request_facts.tags && !create.request_facts.version_id);
}

// --- SDK flows ---------------------------------------------------------------------------

fn emulator_config(emu: &QueryEmulator) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .endpoint_url(emu.url())
        .retry_config(RetryConfig::disabled())
        .build()
}

const ROLE: &str = "arn:aws:iam::111122223333:role/app";

/// A result row in [`COLUMNS`] order.
fn row(principal: Option<&str>, source: &str, name: &str, calls: u64) -> Vec<Option<String>> {
    let mut cells: Vec<Option<String>> = vec![None; COLUMNS.len()];
    let set = |cells: &mut Vec<Option<String>>, col: &str, v: &str| {
        cells[COLUMNS.iter().position(|c| *c == col).unwrap()] = Some(v.to_string());
    };
    if let Some(p) = principal {
        set(&mut cells, "principal", p);
        set(&mut cells, "event_source", source);
        set(&mut cells, "event_name", name);
    }
    for flag in ["has_tags", "has_version_id", "has_copy_source"] {
        set(&mut cells, flag, "false");
    }
    set(&mut cells, "calls", &calls.to_string());
    set(&mut cells, "first_seen", "2024-03-05T10:00:00Z");
    set(&mut cells, "last_seen", "2024-03-05T11:00:00Z");
    cells
}

fn athena_source() -> AggregateSource {
    AggregateSource::Athena(AthenaTable {
        table: "cloudtrail.logs".into(),
        workgroup: Some("analysts".into()),
        output: Some("s3://results/iamtrim/".into()),
        ..AthenaTable::default()
    })
}

fn lake_source() -> AggregateSource {
    AggregateSource::Lake {
        event_data_store: "arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/eds-1".into(),
    }
}

fn fast_poll() -> PollSettings {
    PollSettings {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        max_throttled: 3,
    }
}

fn run_query(
    config: &SdkConfig,
    source: &AggregateSource,
    cancel_after_polls: Option<usize>,
) -> Result<iamtrim::usage::aggregate::Aggregated, AggregateError> {
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let notify = tokio::sync::Notify::new();
    let hook = |_: &QueryProgress| {
        let n = polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if cancel_after_polls.is_some_and(|after| n >= after) {
            notify.notify_one();
        }
    };
    let query = UsageQuery {
        source,
        principals: vec![ROLE.to_string()],
        window: Window {
            start: "2024-03-01T00:00:00Z".into(),
            end: "2024-04-01T00:00:00Z".into(),
        },
        known_action: Some(&known),
        poll: fast_poll(),
        price_per_tb_cents: 500,
        progress: Some(&hook),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(query_usage(config, &query, notify.notified()))
}

#[test]
fn athena_reads_every_page_and_records_cost() {
    let emu = QueryEmulator::start();
    emu.set_result(
        COLUMNS,
        (0..7)
            .map(|i| {
                row(
                    Some(ROLE),
                    "sqs.amazonaws.com",
                    [
                        "SendMessage",
                        "ReceiveMessage",
                        "DeleteMessage",
                        "GetQueueUrl",
                        "GetQueueAttributes",
                        "ListQueues",
                        "PurgeQueue",
                    ][i],
                    i as u64 + 1,
                )
            })
            .collect(),
    );
    emu.set_page_size(3);
    emu.set_running_polls(2);
    emu.set_bytes_scanned(2_000_000_000_000);
    let got = run_query(&emulator_config(&emu), &athena_source(), None).unwrap();
    let u = &got.usage[ROLE];
    assert_eq!(u.actions.len(), 7);
    assert_eq!(u.actions["sqs:PurgeQueue"].count, 7);
    assert_eq!(got.query.bytes_scanned, 2_000_000_000_000);
    // 2 TB at $5 per TB.
    assert_eq!(got.query.cost_usd, "10.000000");
    assert_eq!(
        u.query.as_ref().map(|q| q.query_id.as_str()),
        Some("q-0001")
    );
    let ops = emu.ops();
    assert_eq!(
        ops.iter().filter(|o| *o == "GetQueryResults").count(),
        3,
        "{ops:?}"
    );
    assert_eq!(
        ops.iter().filter(|o| *o == "GetQueryExecution").count(),
        3,
        "{ops:?}"
    );
    let start = &emu.calls()[0];
    assert_eq!(start.body["WorkGroup"], "analysts");
    assert_eq!(
        start.body["ResultConfiguration"]["OutputLocation"],
        "s3://results/iamtrim/"
    );
    assert_eq!(
        start.body["QueryExecutionContext"]["Database"],
        "cloudtrail"
    );
    assert!(
        start.body["QueryString"]
            .as_str()
            .unwrap()
            .contains("'arn:aws:iam::111122223333:role/app'")
    );
}

#[test]
fn athena_throttled_polls_back_off_and_succeed() {
    let emu = QueryEmulator::start();
    emu.set_result(
        COLUMNS,
        vec![row(Some(ROLE), "sqs.amazonaws.com", "SendMessage", 2)],
    );
    emu.inject("GetQueryExecution", Fault::throttle());
    emu.inject("GetQueryExecution", Fault::throttle());
    emu.inject("GetQueryResults", Fault::throttle());
    let got = run_query(&emulator_config(&emu), &athena_source(), None).unwrap();
    assert_eq!(got.usage[ROLE].actions["sqs:SendMessage"].count, 2);
}

#[test]
fn athena_throttled_beyond_retries_names_the_fix() {
    let emu = QueryEmulator::start();
    emu.inject(
        "StartQueryExecution",
        Fault {
            status: 400,
            code: "TooManyRequestsException".into(),
            message: "Rate exceeded".into(),
        },
    );
    let err = run_query(&emulator_config(&emu), &athena_source(), None).unwrap_err();
    assert!(matches!(err, AggregateError::Throttled { .. }), "{err:?}");
    assert!(err.to_string().contains("wait and run again"), "{err}");
    let emu = QueryEmulator::start();
    for _ in 0..5 {
        emu.inject("GetQueryExecution", Fault::throttle());
    }
    let err = run_query(&emulator_config(&emu), &athena_source(), None).unwrap_err();
    assert!(matches!(err, AggregateError::Throttled { .. }), "{err:?}");
}

#[test]
fn athena_failures_name_their_fix() {
    let cases: [(Outcome, Option<Fault>, &str); 4] = [
        (
            Outcome::Fail("TABLE_NOT_FOUND: line 9:12: Table 'awsdatacatalog.cloudtrail.logs' does not exist".into()),
            None,
            "create the CloudTrail table",
        ),
        (
            Outcome::Succeed,
            Some(Fault {
                status: 400,
                code: "InvalidRequestException".into(),
                message: "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.".into(),
            }),
            "--athena-output",
        ),
        (
            Outcome::Fail("Query exhausted resources at this scale factor: Bytes scanned limit was exceeded".into()),
            None,
            "workgroup analysts",
        ),
        (
            Outcome::Succeed,
            Some(Fault {
                status: 400,
                code: "AccessDeniedException".into(),
                message: "User is not allowed to call athena:StartQueryExecution".into(),
            }),
            "athena:StartQueryExecution",
        ),
    ];
    for (outcome, fault, fix) in cases {
        let emu = QueryEmulator::start();
        emu.set_outcome(outcome);
        if let Some(fault) = fault {
            emu.inject("StartQueryExecution", fault);
        }
        let err = run_query(&emulator_config(&emu), &athena_source(), None).unwrap_err();
        assert!(err.to_string().contains(fix), "{fix}: {err}");
    }
    let emu = QueryEmulator::start();
    emu.set_outcome(Outcome::Fail("SYNTAX_ERROR: line 1:1".into()));
    let err = run_query(&emulator_config(&emu), &athena_source(), None).unwrap_err();
    assert!(
        matches!(err, AggregateError::Failed { ref reason, .. } if reason.contains("SYNTAX_ERROR")),
        "{err:?}"
    );
    let emu = QueryEmulator::start();
    emu.set_outcome(Outcome::CancelledElsewhere);
    let err = run_query(&emulator_config(&emu), &athena_source(), None).unwrap_err();
    assert!(matches!(err, AggregateError::Cancelled { .. }), "{err:?}");
}

#[test]
fn athena_interrupt_stops_the_query() {
    let emu = QueryEmulator::start();
    emu.set_running_polls(u32::MAX);
    let err = run_query(&emulator_config(&emu), &athena_source(), Some(2)).unwrap_err();
    assert!(
        matches!(err, AggregateError::Interrupted { ref query_id, stop_failed: false, .. } if query_id == "q-0001"),
        "{err:?}"
    );
    let calls = emu.calls();
    let stop = calls
        .iter()
        .find(|c| c.op == "StopQueryExecution")
        .expect("StopQueryExecution");
    assert_eq!(stop.body["QueryExecutionId"], "q-0001");
    assert!(!emu.ops().contains(&"GetQueryResults".to_string()));
}

#[test]
fn lake_reads_every_page() {
    let emu = QueryEmulator::start();
    let mut rows: Vec<Vec<Option<String>>> = (1..=5)
        .map(|i| {
            row(
                Some(ROLE),
                "kms.amazonaws.com",
                [
                    "Decrypt",
                    "Encrypt",
                    "GenerateDataKey",
                    "DescribeKey",
                    "ListKeys",
                ][i - 1],
                i as u64,
            )
        })
        .collect();
    // A row of another principal's data events: marks the account as logging them.
    let mut data = row(None, "", "", 9);
    data[COLUMNS.iter().position(|c| *c == "data_account").unwrap()] = Some("111122223333".into());
    data[COLUMNS.iter().position(|c| *c == "data_type").unwrap()] = Some("AWS::S3::Object".into());
    rows.push(data);
    emu.set_result(COLUMNS, rows);
    emu.set_page_size(2);
    emu.set_bytes_scanned(5_000_000_000);
    let got = run_query(&emulator_config(&emu), &lake_source(), None).unwrap();
    let u = &got.usage[ROLE];
    assert_eq!(u.actions.len(), 5);
    assert_eq!(u.actions["kms:ListKeys"].count, 5);
    assert!(u.data_events_seen);
    assert_eq!(got.query.engine, Dialect::Lake);
    // 5 GB at $5 per TB.
    assert_eq!(got.query.cost_usd, "0.025000");
    let calls = emu.calls();
    assert_eq!(calls[0].op, "StartQuery");
    assert!(
        calls[0].body["QueryStatement"]
            .as_str()
            .unwrap()
            .contains("FROM eds-1")
    );
    assert_eq!(
        calls.iter().filter(|c| c.op == "GetQueryResults").count(),
        3
    );
}

#[test]
fn lake_interrupt_cancels_and_failures_name_the_fix() {
    let emu = QueryEmulator::start();
    emu.set_running_polls(u32::MAX);
    let err = run_query(&emulator_config(&emu), &lake_source(), Some(1)).unwrap_err();
    assert!(matches!(err, AggregateError::Interrupted { .. }), "{err:?}");
    assert!(emu.ops().contains(&"CancelQuery".to_string()));

    let emu = QueryEmulator::start();
    emu.inject(
        "StartQuery",
        Fault {
            status: 400,
            code: "EventDataStoreNotFoundException".into(),
            message: "not found".into(),
        },
    );
    let err = run_query(&emulator_config(&emu), &lake_source(), None).unwrap_err();
    assert!(err.to_string().contains("list-event-data-stores"), "{err}");

    let emu = QueryEmulator::start();
    emu.set_outcome(Outcome::Fail("Query timed out".into()));
    let err = run_query(&emulator_config(&emu), &lake_source(), None).unwrap_err();
    assert!(matches!(err, AggregateError::Failed { .. }), "{err:?}");

    let emu = QueryEmulator::start();
    emu.inject("DescribeQuery", Fault::throttle());
    emu.set_result(
        COLUMNS,
        vec![row(Some(ROLE), "kms.amazonaws.com", "Decrypt", 1)],
    );
    let got = run_query(&emulator_config(&emu), &lake_source(), None).unwrap();
    assert_eq!(got.usage[ROLE].actions["kms:Decrypt"].count, 1);
}

#[test]
fn athena_on_moto_returns_the_rows_it_was_given() {
    let moto = moto::moto();
    // moto's result queue is per account and region: a region of this test's own.
    let region = "ap-southeast-4";
    let header: Vec<serde_json::Value> = COLUMNS
        .iter()
        .map(|c| serde_json::json!({"VarCharValue": c}))
        .collect();
    let data: Vec<serde_json::Value> = row(Some(ROLE), "sqs.amazonaws.com", "SendMessage", 4)
        .into_iter()
        .map(|c| match c {
            Some(v) => serde_json::json!({"VarCharValue": v}),
            None => serde_json::json!({}),
        })
        .collect();
    let body = serde_json::json!({"region": region, "results": [{"rows": [{"Data": header}, {"Data": data}]}]});
    let endpoint = moto.endpoint().to_string();
    let status = Command::new(venv_python())
        .args([
            "-c",
            "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST'))",
            &format!("{endpoint}/moto-api/static/athena/query-results"),
            &body.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let config = moto
        .sdk_config()
        .into_builder()
        .region(Region::new(region))
        .build();
    let source = AggregateSource::Athena(AthenaTable {
        table: "cloudtrail.logs".into(),
        output: Some("s3://results/iamtrim/".into()),
        ..AthenaTable::default()
    });
    let got = run_query(&config, &source, None).unwrap();
    assert_eq!(got.usage[ROLE].actions["sqs:SendMessage"].count, 4);
    assert!(got.query.query_id.len() > 8);
    assert_eq!(got.query.bytes_scanned, 0);
    // Athena's 10 MB minimum.
    assert_eq!(got.query.cost_usd, "0.000050");
}

// --- the command line ---------------------------------------------------------------------

/// A JSON report without what differs between sources by design: the notes (the query's cost).
fn report_without_notes(stdout: &str) -> serde_json::Value {
    let mut report: serde_json::Value = serde_json::from_str(stdout).expect("JSON report");
    if let Some(obj) = report.as_object_mut() {
        obj.remove("warnings");
        obj.remove("notes");
    }
    report
}

#[test]
fn suggest_with_athena_rows_matches_suggest_with_local_logs_and_caches_the_query() {
    use crate::support::repo;
    let quickstart = manifest().join("examples/quickstart");
    // The local reader, on the quickstart's logs.
    let local_repo = tempfile::tempdir().unwrap();
    repo::copy_dir(&quickstart, local_repo.path());
    let local = repo::iamtrim(local_repo.path())
        .args([
            "suggest",
            "plan.json",
            "--cloudtrail",
            "cloudtrail",
            "--window-days",
            "36500",
            "--format",
            "json",
            "--dry-run",
        ])
        .output()
        .unwrap();
    repo::assert_success(&local);

    // The same logs through DuckDB, served as Athena's answer.
    let principals = vec![
        "arn:aws:iam::111122223333:role/ci-deploy".to_string(),
        "arn:aws:iam::111122223333:role/report-worker".to_string(),
        "arn:aws:iam::111122223333:user/auditor".to_string(),
    ];
    let rows = duckdb_rows(
        &quickstart.join("cloudtrail"),
        &principals,
        ("2000-01-01", "2100-01-01"),
        Partitions::Projection,
        false,
    );
    assert!(!rows.is_empty());
    let emu = QueryEmulator::start();
    emu.set_result(
        COLUMNS,
        rows.iter()
            .map(|r| {
                let flag = |b: bool| Some(b.to_string());
                vec![
                    r.principal.clone(),
                    Some(r.event_source.clone()),
                    Some(r.event_name.clone()),
                    r.denial.clone(),
                    flag(r.request_facts.tags),
                    flag(r.request_facts.version_id),
                    flag(r.request_facts.copy_source),
                    r.data_account.clone(),
                    r.data_type.clone(),
                    Some(r.calls.to_string()),
                    Some(r.first_seen.clone()),
                    Some(r.last_seen.clone()),
                ]
            })
            .collect(),
    );
    emu.set_bytes_scanned(3_000_000_000);
    let remote_repo = tempfile::tempdir().unwrap();
    repo::copy_dir(&quickstart, remote_repo.path());
    std::fs::remove_dir_all(remote_repo.path().join("cloudtrail")).unwrap();
    let remote = repo::iamtrim(remote_repo.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .args([
            "suggest",
            "plan.json",
            "--athena",
            "cloudtrail.logs",
            "--athena-output",
            "s3://results/x/",
        ])
        .args([
            "--athena-partitions",
            "org-projection",
            "--window-days",
            "36500",
        ])
        .args([
            "--format",
            "json",
            "--dry-run",
            "--region",
            "us-east-1",
            "--endpoint-url",
            emu.url(),
        ])
        .output()
        .unwrap();
    repo::assert_success(&remote);
    let stdout = String::from_utf8(remote.stdout).unwrap();
    assert_eq!(
        report_without_notes(&stdout),
        report_without_notes(&String::from_utf8(local.stdout).unwrap())
    );
    assert!(
        stdout.contains("athena:cloudtrail.logs: query q-0001 scanned 3000000000 bytes")
            && stdout.contains("$0.015000 at $5.00 per TB"),
        "{stdout}"
    );
    let sql = emu.calls()[0].body["QueryString"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sql.contains("\"account\" IN ('111122223333')"), "{sql}");
    // The cache holds the usage with the query that produced it.
    let mut cached = String::new();
    for entry in walk(&remote_repo.path().join(".iamtrim/cache")) {
        cached.push_str(&std::fs::read_to_string(entry).unwrap());
    }
    assert!(
        cached.contains("\"query_id\": \"q-0001\"") || cached.contains("\"query_id\":\"q-0001\""),
        "{cached}"
    );
    assert!(cached.contains("athena:cloudtrail.logs"), "{cached}");

    // `check` then reads that cache without the network, and finds the same.
    let check = repo::iamtrim(remote_repo.path())
        .args(["check", "plan.json", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        check.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn generate_with_cloudtrail_lake_caches_each_principal_and_ctrl_c_free_flags_are_checked() {
    use crate::support::repo;
    let emu = QueryEmulator::start();
    emu.set_result(
        COLUMNS,
        vec![row(
            Some("arn:aws:iam::111122223333:role/report-worker"),
            "s3.amazonaws.com",
            "GetObject",
            3,
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    repo::copy_dir(&manifest().join("examples/quickstart"), dir.path());
    let out = repo::iamtrim(dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .args([
            "generate",
            "plan.json",
            "--cloudtrail-lake",
            "eds-1",
            "--region",
            "us-east-1",
            "--endpoint-url",
            emu.url(),
        ])
        .output()
        .unwrap();
    repo::assert_success(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("cached: 1 action used"), "{stdout}");
    assert!(stdout.contains("no calls in the window"), "{stdout}");
    assert!(
        stdout.contains("cloudtrail-lake:eds-1: query q-0001"),
        "{stdout}"
    );
    assert_eq!(emu.ops().first().map(String::as_str), Some("StartQuery"));

    // Neither Access Analyzer's flags nor a source: a one-line usage error.
    let out = repo::iamtrim(dir.path())
        .args(["generate", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --athena with --cloudtrail: refused.
    let out = repo::iamtrim(dir.path())
        .args([
            "suggest",
            "plan.json",
            "--cloudtrail",
            "cloudtrail",
            "--athena",
            "db.t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A table name that is not one: refused before any call, naming the flag's value.
    let out = repo::iamtrim(dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "suggest",
            "plan.json",
            "--athena",
            "db.t'--",
            "--dry-run",
            "--region",
            "us-east-1",
            "--endpoint-url",
            emu.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid Athena table \"db.t'--\""));
}

#[test]
fn suggest_help_lists_the_aggregate_sources() {
    let out = crate::support::repo::iamtrim(&manifest())
        .args(["suggest", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let section = &help[help
        .find("Athena and CloudTrail Lake:")
        .expect("the section")..];
    let section = &section[..section.find("\n\nExamples:").unwrap_or(section.len())];
    insta::assert_snapshot!(section);
}
