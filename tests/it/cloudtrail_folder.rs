//! Scanning CloudTrail logs from disk: the delivery layout, windows, the public samples, corrupt files.

use iamtrim::usage::cloudtrail::{CloudTrailScan, ScanOptions, scan_path};
use iamtrim::usage::{ObservedUsage, UsageSourceKind};
use std::path::{Path, PathBuf};

const ROLE: &str = "arn:aws:iam::111122223333:role/service-role/app-runner";
const USER: &str = "arn:aws:iam::111122223333:user/deployer";
const ORG_ROLE: &str = "arn:aws:iam::444455556666:role/service-role/etl";
const BUCKET: &str = "arn:aws:s3:::app-data-bucket";

fn testdata(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/cloudtrail")
        .join(case)
}

fn scan(case: &str, opts: &ScanOptions<'_>) -> CloudTrailScan {
    scan_path(&testdata(case), opts).expect("scan succeeds")
}

/// The layout case's window, two threads, every principal (also used by `cloudtrail_s3`).
pub(crate) const MARCH: ScanOptions<'static> = ScanOptions {
    window: Some(("2024-03-01", "2024-03-06")),
    threads: 2,
    known_action: None,
    progress: None,
    principals: None,
};

fn usage<'a>(scan: &'a CloudTrailScan, arn: &str) -> &'a ObservedUsage {
    scan.usage
        .get(arn)
        .unwrap_or_else(|| panic!("no usage for {arn}; have {:?}", scan.usage.keys()))
}

fn counts(u: &ObservedUsage) -> Vec<(&str, u64)> {
    u.actions
        .iter()
        .map(|(a, used)| (a.as_str(), used.count))
        .collect()
}

#[test]
fn assumed_role_usage_is_keyed_by_the_role_and_mapped_to_actions() {
    let scan = scan("layout", &MARCH);
    let role = usage(&scan, ROLE);
    assert_eq!(role.source, UsageSourceKind::Cloudtrail);
    assert_eq!(
        counts(role),
        [
            ("cloudwatch:PutMetricData", 2),
            ("lambda:GetFunction", 1),
            ("lambda:ListFunctions", 1),
            ("s3:GetObject", 2),
            ("s3:ListBucket", 1),
        ]
    );
    let get_object = &role.actions["s3:GetObject"];
    assert_eq!(
        get_object
            .resources
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [BUCKET, "arn:aws:s3:::app-data-bucket/in/a.csv"]
    );
    assert_eq!(role.denied.get("iam:CreateRole"), Some(&1));
    assert!(!role.used("iam:CreateRole"), "a denied call is never a use");
    assert!(role.data_events_seen);
    assert!(role.complete);
    assert_eq!(role.window.start, "2024-03-01T00:00:00Z");
    assert_eq!(role.window.end, "2024-03-06T00:00:00Z");
    assert!(
        !scan
            .usage
            .keys()
            .any(|k| k.contains(":sts:") || k.contains("assumed-role"))
    );
}

#[test]
fn iam_user_usage_with_denied_and_console_events() {
    let scan = scan("layout", &MARCH);
    let user = usage(&scan, USER);
    assert_eq!(
        counts(user),
        [
            ("ec2:DescribeInstances", 1),
            ("sqs:SendMessage", 1),
            ("sts:GetCallerIdentity", 1)
        ]
    );
    assert_eq!(user.denied.get("ec2:RunInstances"), Some(&1));
    // Issue 14 item 7: a console sign-in is no permission of the user and keeps nothing.
    assert!(
        user.service_level_only.is_empty(),
        "{:?}",
        user.service_level_only
    );
    assert!(user.unmapped_events.is_empty());
    assert_eq!(
        scan.stats
            .unmapped
            .get(&("signin.amazonaws.com".into(), "ConsoleLogin".into())),
        None
    );
    assert_eq!(scan.stats.console_events, 1);
}

#[test]
fn organization_trail_layout_is_read_and_data_events_are_per_account() {
    let scan = scan("layout", &MARCH);
    let org = usage(&scan, ORG_ROLE);
    assert_eq!(
        counts(org),
        [
            ("cloudwatch:GetMetricData", 1),
            ("kms:Decrypt", 1),
            ("logs:CreateLogStream", 1)
        ]
    );
    assert!(
        org.actions["kms:Decrypt"]
            .resources
            .iter()
            .any(|r| r.starts_with("arn:aws:kms:eu-west-1:444455556666:key/"))
    );
    assert!(
        !org.data_events_seen,
        "no data event was logged for account 444455556666"
    );
}

#[test]
fn window_prunes_day_folders_and_event_times() {
    let scan = scan("layout", &MARCH);
    let s = &scan.stats;
    assert_eq!(s.files_read, 4, "{s:?}");
    // Left out before listing: the 2024/02/20 day folder and the digest folder.
    assert_eq!(s.folders_skipped_window, 1, "the 2024/02/20 folder");
    assert_eq!(s.files_skipped_window, 0);
    assert_eq!(s.folders_skipped_digest, 1);
    assert_eq!(s.files_skipped_digest, 0);
    assert_eq!(s.files_skipped_other, 1, "README.md");
    assert_eq!(s.records, 19);
    assert_eq!(
        s.records_outside_window, 1,
        "the December event in the loose export"
    );
    assert_eq!(
        (s.service_events, s.anonymous_events, s.unattributed_events),
        (1, 1, 0)
    );
    assert_eq!(s.denied_events, 2);
    assert!(s.file_errors.is_empty());
    assert!(!usage(&scan, ROLE).used("dynamodb:DeleteTable"));
    assert!(!usage(&scan, USER).used("sqs:DeleteQueue"));
}

#[test]
fn without_a_window_everything_is_read() {
    let scan = scan(
        "layout",
        &ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        },
    );
    assert_eq!(scan.stats.files_read, 5);
    assert_eq!(scan.stats.records_outside_window, 0);
    assert!(usage(&scan, ROLE).used("dynamodb:DeleteTable"));
    assert!(usage(&scan, USER).used("sqs:DeleteQueue"));
    let role = usage(&scan, ROLE);
    assert_eq!(
        (
            role.window.start.to_string().as_str(),
            role.window.end.to_string().as_str()
        ),
        ("2023-12-31T23:00:00Z", "2024-03-05T09:00:20Z")
    );
}

#[test]
fn one_thread_and_two_threads_agree() {
    let one = scan(
        "layout",
        &ScanOptions {
            threads: 1,
            ..MARCH
        },
    );
    let two = scan(
        "layout",
        &ScanOptions {
            threads: 2,
            ..MARCH
        },
    );
    assert_eq!(one, two);
}

#[test]
fn catalog_hook_canonicalizes_and_rejects() {
    // A tiny stand-in catalog: knows some actions, in its own spelling.
    let known = |action: &str| -> Option<String> {
        [
            "s3:GetObject",
            "s3:ListBucket",
            "cloudwatch:PutMetricData",
            "lambda:ListFunctions",
            "iam:CreateRole",
        ]
        .iter()
        .find(|k| k.eq_ignore_ascii_case(action))
        .map(|k| k.to_string())
    };
    let scan = scan(
        "layout",
        &ScanOptions {
            known_action: Some(&known),
            ..MARCH
        },
    );
    let role = usage(&scan, ROLE);
    assert!(!role.actions.contains_key("lambda:GetFunction"));
    assert!(role.service_level_only.contains("lambda"));
    assert_eq!(
        scan.stats.unmapped.get(&(
            "lambda.amazonaws.com".into(),
            "GetFunction20150331v2".into()
        )),
        Some(&1)
    );
    assert_eq!(
        scan.stats
            .unmapped
            .get(&("ec2.amazonaws.com".into(), "DescribeInstances".into())),
        Some(&1)
    );
    assert_eq!(role.denied.get("iam:CreateRole"), Some(&1));
}

#[test]
fn corrupt_gzip_is_a_warning_that_marks_usage_incomplete() {
    let scan = scan("corrupt", &ScanOptions::default());
    assert_eq!(scan.stats.files_read, 2);
    assert_eq!(scan.stats.file_errors.len(), 1);
    assert!(
        scan.stats.file_errors[0]
            .file
            .ends_with("Trunc000Trunc000.json.gz"),
        "{:?}",
        scan.stats.file_errors
    );
    let role = usage(&scan, ROLE);
    assert_eq!(counts(role), [("sns:Publish", 1)]);
    assert!(!role.complete);
}

#[test]
fn public_samples_envelope_gzip_and_event_history_lines() {
    let scan = scan("public", &ScanOptions::default());
    assert_eq!(scan.stats.files_read, 4);
    assert_eq!(scan.stats.records, 13);
    assert_eq!(
        scan.stats.service_events, 4,
        "three AWSService AssumeRole, one AwsServiceEvent"
    );
    assert!(
        scan.stats.file_errors.is_empty(),
        "{:?}",
        scan.stats.file_errors
    );
    let some_role = usage(&scan, "arn:aws:iam::111111111111:role/someRole");
    assert_eq!(
        counts(some_role),
        [("autoscaling:DescribeLaunchConfigurations", 3)]
    );
    let root = usage(&scan, "arn:aws:iam::123456789012:root");
    // API Gateway's `GetResource` is authorized by `apigateway:GET` (there is no
    // `apigateway:GetResource` permission).
    assert_eq!(counts(root), [("apigateway:GET", 1)]);
    let user = usage(&scan, "arn:aws:iam::012345678901:user/fakeusername");
    assert_eq!(
        counts(user),
        [
            ("ec2:CreateSecurityGroup", 1),
            ("ec2:DescribeInstances", 1),
            ("ec2:RunInstances", 1),
            ("ec2:StopInstances", 1),
            ("ec2:TerminateInstances", 1),
        ]
    );
}

#[test]
fn a_single_file_can_be_scanned() {
    let file =
        testdata("public").join("log2timeline__plaso__test_data__jsonl__aws_cloudtrail.jsonl");
    let scan = scan_path(&file, &ScanOptions::default()).expect("scan succeeds");
    assert_eq!(scan.stats.records, 6);
}

#[test]
fn missing_folder_and_bad_window_are_errors_naming_the_input() {
    let err = scan_path(
        Path::new("/nonexistent/cloudtrail"),
        &ScanOptions::default(),
    )
    .expect_err("fails");
    assert!(err.to_string().contains("/nonexistent/cloudtrail"), "{err}");
    let opts = ScanOptions {
        window: Some(("2024-03-05", "last week")),
        ..ScanOptions::default()
    };
    let err = scan_path(&testdata("layout"), &opts).expect_err("fails");
    assert!(err.to_string().contains("last week"), "{err}");
}

/// The progress hook hears of every file read, with its stored bytes, and of every file listed.
#[test]
fn progress_counts_every_file_listed_and_read() {
    use iamtrim::usage::cloudtrail::ScanProgress;
    let seen = std::sync::Mutex::new(Vec::new());
    let hook = |p: ScanProgress| seen.lock().expect("lock").push(p);
    let scan = scan(
        "layout",
        &ScanOptions {
            progress: Some(&hook),
            ..MARCH
        },
    );
    let seen = seen.into_inner().expect("lock");
    let read = scan.stats.files_read;
    assert!(read > 0);
    // Threads report in any order: the largest figures are the totals.
    let max = |f: fn(&ScanProgress) -> u64| seen.iter().map(f).max().unwrap_or(0);
    assert_eq!(max(|p| p.files_listed), read);
    assert_eq!(max(|p| p.files_read), read);
    // One report for the listing, one per file.
    assert_eq!(seen.len() as u64, 1 + read);
    let mut bytes = 0;
    let dir = testdata("layout");
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            let key = path
                .strip_prefix(&dir)
                .expect("under")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if !key.contains("Digest")
                && !key.contains("2024/02/20")
                && !key.ends_with(".md")
            {
                bytes += std::fs::metadata(&path).expect("metadata").len();
            }
        }
    }
    assert_eq!(max(|p| p.bytes_read), bytes);
}

/// A scan that counts some principals only: their usage is what a full scan finds for them, data
/// events included when another principal's records show them; the rest are one counter.
#[test]
fn a_principal_filter_counts_those_principals_exactly_as_a_full_scan_does() {
    use iamtrim::usage::cloudtrail::PrincipalFilter;
    let full = scan("layout", &MARCH);
    let attributed = full.stats.records
        - full.stats.records_outside_window
        - full.stats.service_events
        - full.stats.anonymous_events
        - full.stats.unattributed_events;
    assert_eq!(full.stats.records_other_principals, 0, "no filter");

    let only = |arns: &[&str]| {
        let filter: PrincipalFilter = arns.iter().map(|a| a.to_string()).collect();
        scan(
            "layout",
            &ScanOptions {
                principals: Some(&filter),
                ..MARCH
            },
        )
    };
    // Every principal of the logs: the same scan.
    let all: Vec<&str> = full.usage.keys().map(String::as_str).collect();
    let everyone = only(&all);
    assert_eq!(everyone.usage, full.usage);
    assert_eq!(everyone.stats, full.stats);

    // No principal: nothing counted, every attributed record in one counter.
    let nobody = only(&[]);
    assert!(nobody.usage.is_empty());
    assert_eq!(nobody.stats.records_other_principals, attributed);
    assert_eq!(nobody.stats.denied_events, 0);
    assert!(nobody.stats.unmapped.is_empty());

    // One principal whose account's data events only another principal's records show.
    let deployer = "arn:aws:iam::111122223333:user/deployer";
    let runner = "arn:aws:iam::111122223333:role/service-role/app-runner";
    assert!(
        full.usage[runner].actions.contains_key("s3:GetObject"),
        "the data event is the runner's"
    );
    assert!(
        full.usage[deployer]
            .actions
            .keys()
            .all(|a| !a.starts_with("s3:")),
        "the deployer made no data event"
    );
    let one = only(&[deployer]);
    assert_eq!(one.usage.keys().collect::<Vec<_>>(), vec![deployer]);
    assert_eq!(one.usage[deployer], full.usage[deployer]);
    assert!(one.usage[deployer].data_events_seen);
    // Records of the others: their calls, used or denied (none of them has an unmapped event).
    let others: u64 = full
        .usage
        .iter()
        .filter(|(arn, _)| arn.as_str() != deployer)
        .map(|(_, u)| {
            u.actions.values().map(|a| a.count).sum::<u64>() + u.denied.values().sum::<u64>()
        })
        .sum();
    assert_eq!(one.stats.records_other_principals, others);
}

/// A role with a path whose records sometimes lack `sessionIssuer`: such a record names the role
/// only by its session ARN, which has no path. The filter matches it by account and name, so the
/// plan's role gets every call; a miss here would let a suggestion remove an action it used.
#[test]
fn a_filtered_scan_gives_a_role_with_a_path_its_records_without_session_issuer() {
    use iamtrim::usage::cloudtrail::PrincipalFilter;
    let record = |issuer: Option<&str>, session: &str, event: &str| {
        let issuer = issuer.map_or(String::new(), |arn| {
            format!(r#","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"{arn}"}}}}"#)
        });
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","arn":"{session}","accountId":"111122223333"{issuer}}},"eventTime":"2024-03-05T10:00:00Z","eventSource":"sqs.amazonaws.com","eventName":"{event}","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333"}}"#
        )
    };
    let runner_session = "arn:aws:sts::111122223333:assumed-role/app-runner/i-0abc";
    let records = [
        record(Some(ROLE), runner_session, "SendMessage"),
        record(None, runner_session, "DeleteMessage"),
        // Not the runner: another name sharing its prefix, and the same name in another account.
        record(
            None,
            "arn:aws:sts::111122223333:assumed-role/app-runner-2/s",
            "PurgeQueue",
        ),
        record(
            None,
            "arn:aws:sts::444455556666:assumed-role/app-runner/s",
            "DeleteQueue",
        ),
    ];
    let logs = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        logs.path().join("records.json"),
        format!(r#"{{"Records":[{}]}}"#, records.join(",")),
    )
    .expect("write the log");
    let scan = |filter: Option<&PrincipalFilter>| {
        scan_path(
            logs.path(),
            &ScanOptions {
                principals: filter,
                ..MARCH
            },
        )
        .expect("scan succeeds")
    };

    let filter: PrincipalFilter = [ROLE.to_string(), USER.to_string()].into_iter().collect();
    let filtered = scan(Some(&filter));
    assert_eq!(filtered.usage.keys().collect::<Vec<_>>(), vec![ROLE]);
    assert_eq!(
        counts(usage(&filtered, ROLE)),
        [("sqs:DeleteMessage", 1), ("sqs:SendMessage", 1)]
    );
    assert_eq!(filtered.stats.records_other_principals, 2);

    // Without a filter, the scan finds the role's path in its other record and moves the usage
    // there; a role seen only without `sessionIssuer` keeps the ARN without a path.
    let full = scan(None);
    assert_eq!(
        counts(usage(&full, ROLE)),
        [("sqs:DeleteMessage", 1), ("sqs:SendMessage", 1)]
    );
    assert!(
        !full
            .usage
            .contains_key("arn:aws:iam::111122223333:role/app-runner")
    );
    assert_eq!(
        counts(usage(&full, "arn:aws:iam::111122223333:role/app-runner-2")),
        [("sqs:PurgeQueue", 1)]
    );
    assert_eq!(
        counts(usage(&full, "arn:aws:iam::444455556666:role/app-runner")),
        [("sqs:DeleteQueue", 1)]
    );
}

/// The mapping case's role (`testdata/cloudtrail/mapping/README.md` has the truth).
const WORKER: &str = "arn:aws:iam::111122223333:role/worker";

/// The real catalog as the scan's hook, as `suggest` uses it.
fn catalog_hook(action: &str) -> Option<String> {
    iamtrim::iam::catalog::Catalog::embedded()
        .lookup(action)
        .map(|a| a.name().to_string())
}

#[test]
fn mapping_case_gives_each_call_the_actions_it_needs() {
    let scan = scan(
        "mapping",
        &ScanOptions {
            known_action: Some(&catalog_hook),
            ..ScanOptions::default()
        },
    );
    let worker = usage(&scan, WORKER);
    assert_eq!(
        counts(worker),
        [
            ("apigateway:GET", 1),
            ("dynamodb:ConditionCheckItem", 1),
            ("dynamodb:DeleteItem", 1),
            ("dynamodb:PutItem", 1),
            ("dynamodb:UpdateItem", 1),
            ("ec2:CreateSecurityGroup", 1),
            ("ec2:CreateTags", 1),
            ("ec2:RunInstances", 1),
            ("kms:ReEncryptFrom", 1),
            ("kms:ReEncryptTo", 1),
            ("lambda:InvokeFunction", 1),
            ("mobiletargeting:GetApps", 1),
            ("rds:AddTagsToResource", 1),
            ("rds:CreateDBInstance", 1),
            ("s3:GetObject", 1),
            ("s3:GetObjectVersion", 1),
            ("s3:PutObject", 1),
            ("sqs:SendMessage", 1),
        ]
    );
    // The GetObject above is the copy's read of its source; the versioned read is not a GetObject.
    assert_eq!(
        worker.actions["s3:GetObjectVersion"]
            .resources
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["arn:aws:s3:::reports", "arn:aws:s3:::reports/2024/q1.csv"]
    );
    // The unmapped event keeps its real IAM service, by name.
    assert_eq!(
        worker.service_level_only.iter().collect::<Vec<_>>(),
        ["mobiletargeting"]
    );
    assert_eq!(
        worker
            .unmapped_events
            .iter()
            .map(|(s, names)| (s.as_str(), names.iter().map(String::as_str).collect()))
            .collect::<Vec<(&str, Vec<&str>)>>(),
        [("mobiletargeting", vec!["FrobnicateWidgets"])]
    );
    assert_eq!(
        scan.stats.unmapped.keys().collect::<Vec<_>>(),
        [&(
            "pinpoint.amazonaws.com".to_string(),
            "FrobnicateWidgets".to_string()
        )]
    );
    // The console event keeps nothing.
    assert_eq!(scan.stats.console_events, 1);
    assert!(!worker.service_level_only.contains("signin"));
    assert!(worker.actions.keys().all(|a| !a.starts_with("signin:")));
    // Data events were visible, of these types.
    assert!(worker.data_events_seen);
    assert_eq!(
        worker.data_event_types.iter().collect::<Vec<_>>(),
        [
            "AWS::DynamoDB::Table",
            "AWS::Lambda::Function",
            "AWS::S3::Object"
        ]
    );
    assert!(worker.complete);
}

#[test]
fn mapping_case_reads_the_same_with_the_serde_reader() {
    let opts = ScanOptions {
        known_action: Some(&catalog_hook),
        ..ScanOptions::default()
    };
    let fast = iamtrim::usage::cloudtrail::scan_path_with_parser(
        &testdata("mapping"),
        &opts,
        iamtrim::usage::cloudtrail::RecordParser::Skim,
    )
    .expect("scan");
    let serde = iamtrim::usage::cloudtrail::scan_path_with_parser(
        &testdata("mapping"),
        &opts,
        iamtrim::usage::cloudtrail::RecordParser::Serde,
    )
    .expect("scan");
    assert_eq!(fast, serde);
}

/// Issue 14: a DynamoDB PartiQL call kept all four `PartiQL*` actions whatever its statement
/// said. `testdata/cloudtrail/partiql/README.md` has the truth.
#[test]
fn partiql_calls_need_only_the_verbs_of_their_logged_statements() {
    let role = |name: &str| format!("arn:aws:iam::111122223333:role/{name}");
    for parser in [
        iamtrim::usage::cloudtrail::RecordParser::Skim,
        iamtrim::usage::cloudtrail::RecordParser::Serde,
    ] {
        let scan = iamtrim::usage::cloudtrail::scan_path_with_parser(
            &testdata("partiql"),
            &ScanOptions {
                known_action: Some(&catalog_hook),
                ..ScanOptions::default()
            },
            parser,
        )
        .expect("scan");
        assert_eq!(
            counts(usage(&scan, &role("reader"))),
            [("dynamodb:PartiQLSelect", 2)],
            "{parser:?}"
        );
        assert_eq!(
            counts(usage(&scan, &role("loader"))),
            [("dynamodb:PartiQLInsert", 1), ("dynamodb:PartiQLUpdate", 1)],
            "{parser:?}"
        );
        assert_eq!(
            counts(usage(&scan, &role("cleaner"))),
            [("dynamodb:PartiQLDelete", 1)],
            "{parser:?}"
        );
        // No statement logged: every verb stays.
        assert_eq!(
            counts(usage(&scan, &role("blind"))),
            [
                ("dynamodb:PartiQLDelete", 1),
                ("dynamodb:PartiQLInsert", 1),
                ("dynamodb:PartiQLSelect", 1),
                ("dynamodb:PartiQLUpdate", 1),
            ],
            "{parser:?}"
        );
        assert_eq!(
            usage(&scan, &role("reader")).actions["dynamodb:PartiQLSelect"]
                .resources
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["arn:aws:dynamodb:eu-west-1:111122223333:table/orders"]
        );
    }
}

/// Issue 13 item 16: a record whose `eventName` is megabytes long was copied into the report, the
/// warnings and the cache. It is refused, its file named, and its value copied nowhere.
#[test]
fn an_oversized_event_name_is_refused_naming_the_file_and_copied_nowhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let huge = "A".repeat(1 << 20);
    let record = |name: &str| {
        format!(
            r#"{{"eventTime":"2024-03-02T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"{name}","eventType":"AwsApiCall","userIdentity":{{"type":"IAMUser","arn":"{USER}","accountId":"111122223333"}},"recipientAccountId":"111122223333"}}"#
        )
    };
    let text = format!(
        r#"{{"Records":[{},{}]}}"#,
        record(&huge),
        record("ListBuckets")
    );
    let file = dir.path().join("big.json");
    std::fs::write(&file, text).expect("write");
    for parser in [
        iamtrim::usage::cloudtrail::RecordParser::Skim,
        iamtrim::usage::cloudtrail::RecordParser::Serde,
    ] {
        let scan = iamtrim::usage::cloudtrail::scan_path_with_parser(
            dir.path(),
            &ScanOptions::default(),
            parser,
        )
        .expect("scan");
        assert_eq!(scan.stats.records_oversized, 1);
        // The good record still counts; the usage is marked incomplete.
        let user = usage(&scan, USER);
        assert_eq!(counts(user), [("s3:ListAllMyBuckets", 1)]);
        assert!(!user.complete);
        // The file is named, the value is not copied.
        assert_eq!(scan.stats.file_errors.len(), 1);
        let error = &scan.stats.file_errors[0];
        assert!(error.file.ends_with("big.json"), "{}", error.file);
        assert!(error.message.contains("eventName"), "{}", error.message);
        assert!(error.message.len() < 200, "{}", error.message);
        assert!(!error.message.contains("AAAA"));
        assert!(scan.stats.unmapped.is_empty());
        let cached = serde_json::to_string(&scan.usage).expect("serializes");
        assert!(!cached.contains("AAAA"));
        assert!(cached.len() < 2000, "{} bytes", cached.len());
    }
}

#[test]
fn a_field_at_its_limit_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = "A".repeat(iamtrim::usage::cloudtrail::record::MAX_FIELD_LEN);
    let text = format!(
        r#"{{"Records":[{{"eventTime":"2024-03-02T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"{USER}","accountId":"111122223333"}}}}]}}"#
    );
    std::fs::write(dir.path().join("limit.json"), text).expect("write");
    let scan = scan_path(dir.path(), &ScanOptions::default()).expect("scan");
    assert_eq!(scan.stats.records_oversized, 0);
    assert!(scan.stats.file_errors.is_empty());
    assert!(usage(&scan, USER).used(&format!("s3:{name}")));
}
