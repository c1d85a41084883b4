//! IAM Access Analyzer policy generation against the in-process emulator, through the real SDK client.

use crate::support;

use aws_sdk_accessanalyzer::Client;
use aws_sdk_accessanalyzer::config::retry::RetryConfig;
use aws_sdk_accessanalyzer::config::{BehaviorVersion, Credentials, Region};
use iamtrim::usage::access_analyzer::{
    AccessAnalyzerError, GenerateReport, GenerateSettings, GenerationTarget, PollSettings,
    Progress, ProgressEvent, TargetStatus, generate,
};
use iamtrim::usage::aws::AwsError;
use iamtrim::usage::cache::{Cache, CacheEntry, CacheKey, JobLedger, Lookup, StaleReason};
use iamtrim::usage::{ObservedUsage, UsageSourceKind, Window};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use support::aa_emulator::{Emulator, Fault, JobOutcome, Op};

const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail";
const ACCESS_ROLE: &str = "arn:aws:iam::123456789012:role/AccessAnalyzerMonitorServiceRole";
const WORKER: &str = "arn:aws:iam::123456789012:role/app-worker";
const ADMIN: &str = "arn:aws:iam::123456789012:role/admin";
const REPORTING: &str = "arn:aws:iam::123456789012:role/reporting";

fn emulator() -> Emulator {
    Emulator::start(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/access_analyzer/cloudtrail"),
    )
}

fn client_with_key(emu: &Emulator, access_key: &str) -> Client {
    let conf = aws_sdk_accessanalyzer::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emu.url())
        .credentials_provider(Credentials::new(
            access_key,
            "test-secret",
            None,
            None,
            "test",
        ))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

fn client(emu: &Emulator) -> Client {
    client_with_key(emu, "AKIDTEST")
}

fn settings(root: &Path) -> GenerateSettings {
    let mut s = GenerateSettings::new(TRAIL, ACCESS_ROLE, root.join(".iamtrim/cache"));
    s.regions = vec!["us-east-1".into()];
    s.poll = PollSettings {
        initial: Duration::from_millis(2),
        max: Duration::from_millis(10),
        max_wait: Duration::from_secs(10),
        max_throttle_retries: 3,
    };
    s
}

fn target(arn: &str, fingerprint: &str) -> GenerationTarget {
    GenerationTarget {
        principal_arn: arn.into(),
        address: format!("aws_iam_role.{}", arn.rsplit('/').next().unwrap_or("x")),
        policy_fingerprint: fingerprint.into(),
    }
}

fn key(s: &GenerateSettings, arn: &str) -> CacheKey {
    CacheKey::access_analyzer(arn, &s.trail_arn, &s.regions, s.window_days)
}

fn cached(s: &GenerateSettings, arn: &str, fingerprint: &str) -> Lookup {
    Cache::open(&s.cache_dir).get(&key(s, arn), fingerprint, SystemTime::now())
}

fn usage_of(lookup: Lookup) -> ObservedUsage {
    match lookup {
        Lookup::Fresh(e) | Lookup::Stale { entry: e, .. } => e.usage,
        Lookup::Miss(w) => panic!("expected a cache entry, got a miss ({w:?})"),
    }
}

fn ledger(s: &GenerateSettings) -> JobLedger {
    JobLedger::load(&JobLedger::path_for(&s.cache_dir)).0
}

fn statuses(report: &GenerateReport) -> Vec<&TargetStatus> {
    report.outcomes.iter().map(|o| &o.status).collect()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<ProgressEvent>>);

impl Progress for Recorder {
    fn on_event(&self, event: &ProgressEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

async fn run(
    emu: &Emulator,
    s: &GenerateSettings,
    targets: Vec<GenerationTarget>,
) -> GenerateReport {
    run_with_events(emu, s, targets).await.0
}

/// [`run`], with the progress events it told.
async fn run_with_events(
    emu: &Emulator,
    s: &GenerateSettings,
    targets: Vec<GenerationTarget>,
) -> (GenerateReport, Vec<ProgressEvent>) {
    let progress = Recorder::default();
    let report = generate(targets, s, &client(emu), &progress)
        .await
        .expect("local failure");
    let events = progress.0.lock().unwrap().clone();
    (report, events)
}

/// Polls until `cond` holds (the emulator runs on its own threads).
async fn until(cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition never held");
}

#[tokio::test]
async fn generates_usage_from_cloudtrail_merging_chunks_and_service_level_services() {
    let emu = emulator();
    emu.set_chunk_size(1);
    emu.set_service_level_only("ec2");
    emu.set_incomplete(ADMIN);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let (report, events) =
        run_with_events(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(report.jobs_started, 2);
    assert!(matches!(
        statuses(&report)[..],
        [
            TargetStatus::Generated {
                complete: true,
                resumed: false,
                ..
            },
            TargetStatus::Generated {
                complete: false,
                ..
            }
        ]
    ));

    let worker = usage_of(cached(&s, WORKER, "fp1"));
    let actions: Vec<&str> = worker.actions.keys().map(String::as_str).collect();
    // Four chunks of one action each were merged; the denied iam:CreateUser is absent.
    assert_eq!(
        actions,
        [
            "dynamodb:GetItem",
            "s3:GetObject",
            "s3:PutObject",
            "sqs:SendMessage"
        ]
    );
    assert_eq!(
        worker.service_level_only.iter().collect::<Vec<_>>(),
        ["ec2"]
    );
    assert_eq!(worker.source, UsageSourceKind::AccessAnalyzer);
    assert!(worker.complete);
    assert!(!usage_of(cached(&s, ADMIN, "fp1")).complete);

    let gets: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.op == Op::Get)
        .collect();
    assert!(gets.iter().all(|c| {
        c.query
            .get("includeServiceLevelTemplate")
            .map(String::as_str)
            == Some("true")
    }));
    let starts: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.op == Op::Start)
        .collect();
    assert_eq!(
        starts[0].body["cloudTrailDetails"]["accessRole"],
        ACCESS_ROLE
    );
    assert_eq!(
        starts[0].body["cloudTrailDetails"]["trails"][0]["cloudTrailArn"],
        TRAIL
    );
    assert_eq!(
        starts[0].body["policyGenerationDetails"]["principalArn"],
        WORKER
    );
    assert!(ledger(&s).jobs.is_empty(), "finished jobs leave the ledger");

    assert!(events.contains(&ProgressEvent::Queued { total: 2 }));
    assert!(events.iter().any(|e| matches!(
        e,
        ProgressEvent::JobStarted {
            position: 2,
            total: 2,
            ..
        }
    )));
}

#[tokio::test]
async fn fresh_cache_hit_makes_zero_calls() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    let before = emu.calls().len();
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(statuses(&report), [&TargetStatus::Cached]);
    assert_eq!(
        emu.calls().len(),
        before,
        "a cache hit must not call AWS at all"
    );
}

#[tokio::test]
async fn changed_policies_make_the_entry_stale_but_usable_and_regenerate() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    let lookup = cached(&s, WORKER, "fp2");
    let Lookup::Stale {
        entry,
        why: StaleReason::PoliciesChanged,
    } = lookup
    else {
        panic!("expected stale, got {lookup:?}")
    };
    assert!(
        entry.usage.used("s3:GetObject"),
        "stale entries keep their usage"
    );
    let report = run(&emu, &s, vec![target(WORKER, "fp2")]).await;
    assert_eq!(report.jobs_started, 1);
    assert_eq!(emu.jobs_created(), 2);
    assert!(matches!(cached(&s, WORKER, "fp2"), Lookup::Fresh(_)));
}

#[tokio::test]
async fn corrupt_cache_file_is_a_warning_and_a_miss() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let path = Cache::open(&s.cache_dir).path_of(&key(&s, WORKER));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        "{\"format\": \"iamtrim-usage-cache/1\", \"key\": tru",
    )
    .unwrap();
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("not valid JSON"),
        "{}",
        report.warnings[0]
    );
    assert_eq!(report.jobs_started, 1);
    assert!(
        matches!(cached(&s, WORKER, "fp1"), Lookup::Fresh(_)),
        "the corrupt file is replaced"
    );
}

#[tokio::test]
async fn interrupted_run_is_resumed_from_the_ledger_without_wasting_quota() {
    let emu = emulator();
    emu.set_polls_to_finish(20); // ~400 ms at 20 ms a poll: ample time to interrupt it
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.poll.initial = Duration::from_millis(20);
    s.poll.max = Duration::from_millis(20);
    // First run: killed (the future dropped, as on Ctrl-C) after the job started and was polled once.
    let c = client(&emu);
    let progress = Recorder::default();
    tokio::select! {
        r = generate(vec![target(WORKER, "fp1")], &s, &c, &progress) => panic!("run was meant to be interrupted: {r:?}"),
        _ = until(|| emu.count(Op::Get) >= 1) => {}
    }
    assert_eq!(emu.jobs_created(), 1);
    let recorded = ledger(&s);
    assert_eq!(recorded.jobs.len(), 1, "the job id is saved before polling");
    let job_id = recorded.jobs[0].job_id.clone();
    assert_eq!(
        emu.job_status(&job_id),
        Some("IN_PROGRESS"),
        "interruption leaves the job running"
    );

    // Second run: resumes the same job.
    s.poll = settings(dir.path()).poll;
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(
        emu.jobs_created(),
        1,
        "no quota wasted: the second run started nothing"
    );
    assert_eq!(report.jobs_started, 0);
    assert!(
        matches!(&statuses(&report)[..], [TargetStatus::Generated { job_id: j, resumed: true, .. }] if *j == job_id)
    );
    assert!(usage_of(cached(&s, WORKER, "fp1")).used("sqs:SendMessage"));
    assert!(ledger(&s).jobs.is_empty());
}

#[tokio::test]
async fn in_flight_job_found_by_listing_is_adopted_when_the_ledger_was_lost() {
    let emu = emulator();
    let seeded = emu.seed_job(WORKER, "IN_PROGRESS", Duration::from_secs(30), 2);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert!(
        matches!(&statuses(&report)[0], TargetStatus::Generated { job_id, resumed: true, .. } if *job_id == seeded)
    );
    assert_eq!(
        emu.jobs_created(),
        1,
        "only the admin role needed a new job"
    );
    assert_eq!(
        emu.quota_refusals(),
        0,
        "nothing started while the adopted job ran"
    );
}

#[tokio::test]
async fn recent_succeeded_job_is_used_when_a_run_died_before_saving_its_id() {
    let emu = emulator();
    let seeded = emu.seed_job(WORKER, "SUCCEEDED", Duration::from_secs(600), 0);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(
        emu.jobs_created(),
        0,
        "the finished job's result is used, no quota spent"
    );
    assert!(
        matches!(&statuses(&report)[0], TargetStatus::Generated { job_id, resumed: true, .. } if *job_id == seeded)
    );
    assert!(usage_of(cached(&s, WORKER, "fp1")).used("s3:PutObject"));
}

#[tokio::test]
async fn listed_job_over_another_trail_or_window_is_not_adopted() {
    let emu = emulator();
    let other_trail = "arn:aws:cloudtrail:us-east-1:123456789012:trail/security";
    emu.seed_job_over(
        WORKER,
        "SUCCEEDED",
        Duration::from_secs(600),
        0,
        other_trail,
        &["us-east-1"],
        90,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(emu.jobs_created(), 1);
    assert!(
        report.warnings.iter().any(|w| w.contains("another trail")),
        "{:?}",
        report.warnings
    );
    assert!(matches!(
        &statuses(&report)[0],
        TargetStatus::Generated { resumed: false, .. }
    ));

    // Same trail, 30-day window: also not ours.
    let emu = emulator();
    emu.seed_job_over(
        WORKER,
        "SUCCEEDED",
        Duration::from_secs(600),
        0,
        TRAIL,
        &["us-east-1"],
        30,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(emu.jobs_created(), 1);
}

#[tokio::test]
async fn job_older_than_a_stale_entry_is_not_adopted() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(emu.jobs_created(), 1);
    // The policies change; the job listed from the first run predates the entry and must not be reused.
    let report = run(&emu, &s, vec![target(WORKER, "fp2")]).await;
    assert_eq!(emu.jobs_created(), 2);
    assert!(matches!(
        &statuses(&report)[0],
        TargetStatus::Generated { resumed: false, .. }
    ));
}

#[tokio::test]
async fn daily_quota_is_respected_and_job_51_is_never_started() {
    let emu = emulator();
    emu.set_page_size(7); // forces ListPolicyGenerations pagination
    for i in 0..48 {
        emu.seed_job(
            &format!("arn:aws:iam::123456789012:role/other-{i}"),
            "SUCCEEDED",
            Duration::from_secs(3600),
            0,
        );
    }
    emu.seed_job(
        "arn:aws:iam::123456789012:role/cancelled",
        "CANCELED",
        Duration::from_secs(600),
        0,
    );
    for i in 0..5 {
        // Older than a day: these no longer count.
        emu.seed_job(
            &format!("arn:aws:iam::123456789012:role/old-{i}"),
            "SUCCEEDED",
            Duration::from_secs(25 * 3600),
            0,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(
        &emu,
        &s,
        vec![
            target(WORKER, "fp1"),
            target(ADMIN, "fp1"),
            target(REPORTING, "fp1"),
        ],
    )
    .await;
    assert_eq!(
        emu.jobs_created(),
        1,
        "49 used today (a cancelled one counts), so exactly one more"
    );
    assert_eq!(
        emu.quota_refusals(),
        0,
        "never asked for a job the service would refuse"
    );
    match &report.halted {
        Some(AccessAnalyzerError::DailyQuota {
            used: 50,
            quota: 50,
            pending: 2,
        }) => {}
        other => panic!("expected the daily quota stop, got {other:?}"),
    }
    assert!(matches!(
        statuses(&report)[..],
        [
            TargetStatus::Generated { .. },
            TargetStatus::Pending,
            TargetStatus::Pending
        ]
    ));
    let msg = report.halted.unwrap().to_string();
    assert!(msg.contains("stay queued"), "{msg}");
}

#[tokio::test]
async fn five_per_day_regions_use_the_configured_quota() {
    let emu = emulator();
    emu.set_daily_quota(5);
    for i in 0..4 {
        emu.seed_job(
            &format!("arn:aws:iam::123456789012:role/other-{i}"),
            "SUCCEEDED",
            Duration::from_secs(60),
            0,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.daily_quota = 5;
    let report = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert_eq!(report.jobs_started, 1);
    assert_eq!(emu.quota_refusals(), 0);
    assert!(matches!(
        report.halted,
        Some(AccessAnalyzerError::DailyQuota {
            used: 5,
            quota: 5,
            pending: 1
        })
    ));
}

#[tokio::test]
async fn one_generation_at_a_time_waits_for_someone_elses_job() {
    let emu = emulator();
    let other = emu.seed_job(
        "arn:aws:iam::123456789012:role/someone-else",
        "IN_PROGRESS",
        Duration::from_secs(5),
        3,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let (report, events) =
        run_with_events(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(
        emu.quota_refusals(),
        0,
        "no StartPolicyGeneration while a job was in progress"
    );
    assert_eq!(emu.job_status(&other), Some("SUCCEEDED"));
    assert_eq!(report.jobs_started, 2);
    assert!(
        events.iter().any(
            |e| matches!(e, ProgressEvent::WaitingForOther { job_id, .. } if *job_id == other)
        )
    );
}

#[tokio::test]
async fn throttling_waits_retry_after_seconds() {
    let emu = emulator();
    emu.inject(Op::Start, Fault::Throttle { retry_after: 1 });
    emu.inject(Op::Get, Fault::Throttle { retry_after: 0 });
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert!(report.halted.is_none(), "{:?}", report.halted);
    let starts: Vec<_> = emu
        .calls()
        .into_iter()
        .filter(|c| c.op == Op::Start)
        .collect();
    assert_eq!(
        starts.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let gap = starts[1].at.duration_since(starts[0].at);
    assert!(
        gap >= Duration::from_millis(990),
        "retried after {gap:?}, not the 1 s the service asked for"
    );
    assert_eq!(emu.jobs_created(), 1);
}

#[tokio::test]
async fn throttling_beyond_the_retry_limit_stops_with_the_queue_intact() {
    let emu = emulator();
    for _ in 0..4 {
        emu.inject(Op::List, Fault::Throttle { retry_after: 0 });
    }
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert!(
        matches!(
            &report.halted,
            Some(AccessAnalyzerError::Aws {
                source: AwsError::Throttled {
                    retry_after: Some(0),
                    ..
                },
                ..
            })
        ),
        "{:?}",
        report.halted
    );
    assert_eq!(emu.count(Op::List), 4, "one call and three retries");
    assert_eq!(statuses(&report), [&TargetStatus::Pending]);
}

async fn halted_by(
    fault: Fault,
    op: Op,
) -> (
    GenerateReport,
    Emulator,
    GenerateSettings,
    tempfile::TempDir,
) {
    let emu = emulator();
    emu.inject(op, fault);
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let report = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    (report, emu, s, dir)
}

#[tokio::test]
async fn service_quota_exceeded_stops_and_the_next_run_carries_on() {
    let (report, emu, s, _dir) = halted_by(Fault::Quota, Op::Start).await;
    let err = report.halted.as_ref().expect("halted");
    assert!(
        matches!(
            err,
            AccessAnalyzerError::Aws {
                source: AwsError::Quota { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        std::error::Error::source(err)
            .unwrap()
            .to_string()
            .contains("service quota exceeded")
    );
    assert_eq!(
        statuses(&report),
        [&TargetStatus::Pending, &TargetStatus::Pending]
    );
    let again = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert!(again.halted.is_none());
    assert_eq!(again.jobs_started, 2);
}

#[tokio::test]
async fn conflict_stops_with_a_clear_message() {
    let (report, _emu, s, _dir) = halted_by(Fault::Conflict, Op::Start).await;
    let err = report.halted.expect("halted");
    assert!(
        matches!(
            &err,
            AccessAnalyzerError::Aws {
                source: AwsError::Conflict { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("to start a policy generation for arn:aws:iam::123456789012:role/app-worker")
    );
    assert!(ledger(&s).jobs.is_empty());
}

/// The error that stops a one-principal run signed with `access_key`.
async fn halted_with_key(emu: &Emulator, access_key: &str) -> AccessAnalyzerError {
    let dir = tempfile::tempdir().unwrap();
    let report = generate(
        vec![target(WORKER, "fp1")],
        &settings(dir.path()),
        &client_with_key(emu, access_key),
        &Recorder::default(),
    )
    .await
    .unwrap();
    report.halted.expect("halted")
}

#[tokio::test]
async fn access_denied_stops_with_a_clear_message() {
    let emu = emulator();
    emu.deny_access_key("AKIDREADONLY");
    let err = halted_with_key(&emu, "AKIDREADONLY").await;
    let AccessAnalyzerError::Aws {
        source: AwsError::AccessDenied { message, .. },
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("not authorized"), "{message}");
    assert_eq!(emu.jobs_created(), 0);
}

#[tokio::test]
async fn expired_credentials_are_reported_as_credentials() {
    let emu = emulator();
    let err = halted_with_key(&emu, "EXPIRED").await;
    let AccessAnalyzerError::Aws {
        source: AwsError::Credentials { message, .. },
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(message.contains("ExpiredTokenException"), "{message}");
}

#[tokio::test]
async fn expired_token_while_polling_keeps_the_job_recorded() {
    let (report, emu, s, _dir) = halted_by(Fault::ExpiredToken, Op::Get).await;
    assert!(matches!(
        &report.halted,
        Some(AccessAnalyzerError::Aws {
            source: AwsError::Credentials { .. },
            ..
        })
    ));
    assert_eq!(
        ledger(&s).jobs.len(),
        1,
        "the running job is kept for the next run"
    );
    let again = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
    assert!(again.halted.is_none());
    assert_eq!(
        emu.jobs_created(),
        2,
        "worker resumed, admin started: two jobs in all"
    );
}

#[tokio::test]
async fn failed_jobs_report_each_job_error_code() {
    for code in [
        "AUTHORIZATION_ERROR",
        "RESOURCE_NOT_FOUND_ERROR",
        "SERVICE_QUOTA_EXCEEDED_ERROR",
        "SERVICE_ERROR",
    ] {
        let emu = emulator();
        emu.set_outcome(WORKER, JobOutcome::Fail(code.into()));
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path());
        let report = run(&emu, &s, vec![target(WORKER, "fp1"), target(ADMIN, "fp1")]).await;
        assert!(
            matches!(&statuses(&report)[0], TargetStatus::Failed { code: c, .. } if c == code),
            "{code}"
        );
        assert!(
            ledger(&s).jobs.is_empty(),
            "{code}: a failed job is finished"
        );
        assert!(
            matches!(cached(&s, WORKER, "fp1"), Lookup::Miss(None)),
            "{code}"
        );
        if code == "SERVICE_ERROR" {
            // Transient: the queue goes on.
            assert!(report.halted.is_none(), "{code}");
            assert!(matches!(
                statuses(&report)[1],
                TargetStatus::Generated { .. }
            ));
        } else {
            let err = report.halted.as_ref().expect("halted");
            let text = err.to_string();
            assert!(text.contains(code), "{text}");
            assert!(matches!(err, AccessAnalyzerError::JobFailed { .. }));
            assert_eq!(statuses(&report)[1], &TargetStatus::Pending, "{code}");
            assert_eq!(
                emu.jobs_created(),
                1,
                "{code}: no job wasted after a configuration error"
            );
        }
    }
}

#[tokio::test]
async fn cancel_cancels_recorded_jobs() {
    let emu = emulator();
    emu.set_polls_to_finish(1000);
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.poll.max_wait = Duration::from_millis(30);
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert!(
        matches!(
            report.halted,
            Some(AccessAnalyzerError::StillRunning { .. })
        ),
        "{:?}",
        report.halted
    );
    let job_id = ledger(&s).jobs[0].job_id.clone();
    s.cancel = true;
    let report = run(&emu, &s, vec![target(WORKER, "fp1")]).await;
    assert_eq!(report.cancelled, [job_id.as_str()]);
    assert_eq!(emu.job_status(&job_id), Some("CANCELED"));
    assert!(ledger(&s).jobs.is_empty());
    assert_eq!(emu.jobs_created(), 1);
}

#[tokio::test]
async fn window_longer_than_90_days_is_refused_locally() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.window_days = 91;
    let err = generate(
        vec![target(WORKER, "fp1")],
        &s,
        &client(&emu),
        &Recorder::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        AccessAnalyzerError::InvalidWindow { days: 91 }
    ));
    assert!(emu.calls().is_empty());
}

#[test]
fn concurrent_writers_never_corrupt_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir: PathBuf = dir.path().join("cache");
    let key = CacheKey::access_analyzer(WORKER, TRAIL, &["us-east-1".into()], 90);
    let window = Window {
        start: "2026-09-01T00:00:00Z".into(),
        end: "2026-11-30T00:00:00Z".into(),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for writer in 0..6 {
            let (cache_dir, key, window) = (cache_dir.clone(), key.clone(), window.clone());
            scope.spawn(move || {
                let cache = Cache::open(cache_dir);
                for round in 0..40 {
                    let mut usage = ObservedUsage::empty(
                        WORKER,
                        UsageSourceKind::AccessAnalyzer,
                        window.clone(),
                    );
                    // Entries of different sizes, so a torn write would show.
                    for a in 0..(writer * 10 + round % 7) {
                        usage
                            .actions
                            .insert(format!("s3:Action{a}"), Default::default());
                    }
                    cache
                        .put(&CacheEntry::new(
                            key.clone(),
                            usage,
                            "fp",
                            SystemTime::now(),
                        ))
                        .unwrap();
                }
            });
        }
        let (cache_dir, key) = (cache_dir.clone(), key.clone());
        let stop = &stop;
        scope.spawn(move || {
            let cache = Cache::open(cache_dir);
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 50 {
                match cache.get(&key, "fp", SystemTime::now()) {
                    Lookup::Miss(Some(w)) => panic!("reader saw a torn file: {w}"),
                    _ => reads += 1,
                }
            }
        });
        // Writers end first; then let the reader stop.
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(matches!(
        Cache::open(&cache_dir).get(&key, "fp", SystemTime::now()),
        Lookup::Fresh(_)
    ));
    let leftovers: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temp files left behind: {leftovers:?}"
    );
}
