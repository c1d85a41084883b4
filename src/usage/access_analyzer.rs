//! IAM Access Analyzer policy generation: one job per principal, within the service's real quotas.
//!
//! Owns [`generate`], the entry point the `iamtrim generate` command calls, its settings
//! ([`GenerateSettings`], [`PollSettings`]), its result ([`GenerateReport`]) and the conversion of a
//! generated policy into [`ObservedUsage`] ([`usage_from_generated`]).
//!
//! The quotas shape everything: one generation at a time per account and region, 50 a day (5 in some
//! regions), cancelled jobs included. So jobs run strictly one after another, the day's count comes from
//! `ListPolicyGenerations` before anything starts, every started job id is saved at once in the
//! [`JobLedger`], and a later run resumes recorded or listed in-flight jobs instead of starting new ones.
//! Any refusal (quota, conflict, access denied, credentials, a failed job) stops the queue with a clear
//! [`AccessAnalyzerError`] and leaves it intact for the next run. Dropping the future (Ctrl-C) leaves the
//! running job recorded; `cancel` cancels the recorded jobs instead of generating.
//!
//! It prints nothing: progress goes through the [`Progress`] trait, which the CLI renders as bars.

use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, PolicyError};
use crate::usage::aws::{AwsError, classify};
use crate::usage::cache::{
    Cache, CacheEntry, CacheError, CacheKey, DEFAULT_TTL, JobLedger, JobRecord, Lookup,
    parse_rfc3339, rfc3339,
};
use crate::usage::{
    ActionUse, ObservedUsage, UsageSourceKind, Window, WindowBound, normalize_action,
};
use aws_sdk_accessanalyzer::Client;
use aws_sdk_accessanalyzer::operation::get_generated_policy::GetGeneratedPolicyOutput;
use aws_sdk_accessanalyzer::primitives::DateTime;
use aws_sdk_accessanalyzer::types::{CloudTrailDetails, JobStatus, PolicyGenerationDetails, Trail};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// The longest window Access Analyzer accepts.
pub const MAX_WINDOW_DAYS: u32 = 90;
/// Default daily quota of policy generations per account and region.
pub const DEFAULT_DAILY_QUOTA: u32 = 50;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A principal to generate a policy for; pass them riskiest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationTarget {
    /// The existing principal's ARN.
    pub principal_arn: String,
    /// Its Terraform address, for messages.
    pub address: String,
    /// [`crate::usage::cache::fingerprint`] of its current policies.
    pub policy_fingerprint: String,
}

/// How job polling backs off, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSettings {
    /// First wait between polls.
    pub initial: Duration,
    /// Longest wait between polls (the wait doubles up to this).
    pub max: Duration,
    /// Give up waiting for one job after this long; it stays recorded and is resumed next run.
    pub max_wait: Duration,
    /// Retries of a throttled call before the run stops.
    pub max_throttle_retries: u32,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(60),
            max_wait: Duration::from_secs(30 * 60),
            max_throttle_retries: 5,
        }
    }
}

/// Everything a generation run needs besides the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSettings {
    /// The CloudTrail trail ARN Access Analyzer reads.
    pub trail_arn: String,
    /// Regions of the trail to read; empty means all regions.
    pub regions: Vec<String>,
    /// The role Access Analyzer assumes to read the trail.
    pub access_role_arn: String,
    /// Window length in days, at most [`MAX_WINDOW_DAYS`].
    pub window_days: u32,
    /// Cache folder; the job ledger is `jobs.json` next to it.
    pub cache_dir: PathBuf,
    /// Cache time to live.
    pub ttl: Duration,
    /// Policy generations allowed per 24 hours in this account and region.
    pub daily_quota: u32,
    /// Polling behaviour.
    pub poll: PollSettings,
    /// Cancel the recorded in-flight jobs instead of generating.
    pub cancel: bool,
}

impl GenerateSettings {
    /// Settings with the defaults for everything but the trail and the access role.
    pub fn new(trail_arn: &str, access_role_arn: &str, cache_dir: impl Into<PathBuf>) -> Self {
        GenerateSettings {
            trail_arn: trail_arn.to_string(),
            regions: Vec::new(),
            access_role_arn: access_role_arn.to_string(),
            window_days: MAX_WINDOW_DAYS,
            cache_dir: cache_dir.into(),
            ttl: DEFAULT_TTL,
            daily_quota: DEFAULT_DAILY_QUOTA,
            poll: PollSettings::default(),
            cancel: false,
        }
    }

    fn key(&self, principal_arn: &str) -> CacheKey {
        CacheKey::access_analyzer(
            principal_arn,
            &self.trail_arn,
            &self.regions,
            self.window_days,
        )
    }
}

/// A reason the run stopped early; the queue and ledger are kept for the next run.
#[derive(Debug, thiserror::Error)]
pub enum AccessAnalyzerError {
    /// An Access Analyzer call failed (quota, conflict, access denied, credentials...).
    #[error("IAM Access Analyzer refused {what}")]
    Aws {
        /// What was being done, e.g. `to start a policy generation for arn:...`.
        what: String,
        /// The classified AWS error.
        #[source]
        source: AwsError,
    },
    /// Starting another job would exceed the daily quota.
    #[error(
        "daily quota reached: {used} of {quota} policy generations started in the last 24 h in this account and region; the remaining {pending} principal(s) stay queued for a later run"
    )]
    DailyQuota {
        /// Jobs started in the last 24 hours (cancelled ones count).
        used: u32,
        /// The quota.
        quota: u32,
        /// Principals left.
        pending: usize,
    },
    /// A job ended FAILED.
    #[error(
        "policy generation {job_id} for {principal_arn} failed with {code}: {message}. {advice}"
    )]
    JobFailed {
        /// The principal.
        principal_arn: String,
        /// The job.
        job_id: String,
        /// `jobError.code`.
        code: String,
        /// `jobError.message`.
        message: String,
        /// What to do about it.
        advice: &'static str,
    },
    /// A job (ours or someone else's) is still running after the wait limit.
    #[error(
        "policy generation {job_id} for {principal_arn} is still running after {waited_secs} s; it stays recorded and the next run resumes it"
    )]
    StillRunning {
        /// The principal.
        principal_arn: String,
        /// The job.
        job_id: String,
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The window is out of range.
    #[error("window of {days} days is not between 1 and {MAX_WINDOW_DAYS}")]
    InvalidWindow {
        /// The requested window.
        days: u32,
    },
    /// A generated policy chunk is not a valid policy document.
    #[error("job {job_id}: generated policy chunk {chunk} is not a valid policy")]
    BadPolicy {
        /// The job.
        job_id: String,
        /// Index in `generatedPolicies`.
        chunk: usize,
        /// The parse error.
        #[source]
        source: PolicyError,
    },
    /// The cache or the job ledger could not be written.
    #[error("cannot update the usage cache")]
    Cache(#[from] CacheError),
}

fn advice_for(code: &str) -> &'static str {
    match code {
        "AUTHORIZATION_ERROR" => {
            "The access role cannot read the trail: check its trust policy (access-analyzer.amazonaws.com), cloudtrail:GetTrail and s3:GetObject/ListBucket on the trail bucket, and kms:Decrypt if the trail is encrypted."
        }
        "RESOURCE_NOT_FOUND_ERROR" => {
            "The trail, its bucket or the principal does not exist: check --trail-arn and the regions."
        }
        "SERVICE_QUOTA_EXCEEDED_ERROR" => "A policy generation quota is used up: run again later.",
        "SERVICE_ERROR" => "An internal Access Analyzer error: run again later.",
        _ => "Run again later.",
    }
}

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    /// A fresh cache entry exists; no call was made.
    Cached,
    /// Usage was generated and cached.
    Generated {
        /// The job.
        job_id: String,
        /// True when the job was started by an earlier run and resumed.
        resumed: bool,
        /// Access Analyzer's `isComplete`.
        complete: bool,
        /// The cache file written.
        path: PathBuf,
    },
    /// The job ended FAILED (the run may have continued with other targets).
    Failed {
        /// The job.
        job_id: String,
        /// `jobError.code`.
        code: String,
    },
    /// The job was cancelled (by `cancel`, or by someone else).
    Cancelled {
        /// The job.
        job_id: String,
    },
    /// Not processed because the run stopped; stays queued.
    Pending,
}

/// One target's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOutcome {
    /// The principal.
    pub principal_arn: String,
    /// Its Terraform address.
    pub address: String,
    /// What happened.
    pub status: TargetStatus,
}

/// The result of a run: per-target outcomes, and why it stopped early, if it did.
#[derive(Debug, Default)]
pub struct GenerateReport {
    /// One per target, in input order.
    pub outcomes: Vec<TargetOutcome>,
    /// Why the run stopped before the end of the queue.
    pub halted: Option<AccessAnalyzerError>,
    /// Jobs this run started (quota spent).
    pub jobs_started: u32,
    /// Jobs cancelled by `cancel`.
    pub cancelled: Vec<String>,
    /// Non-fatal problems (unreadable cache files...), one line each.
    pub warnings: Vec<String>,
}

/// Something worth showing while a run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// The queue is known: `total` principals need a job.
    Queued {
        /// Principals to process.
        total: usize,
    },
    /// A job was started (`resumed` false) or picked up from an earlier run (true).
    JobStarted {
        /// The principal.
        principal_arn: String,
        /// The job.
        job_id: String,
        /// 1-based position in the queue.
        position: usize,
        /// Queue length.
        total: usize,
        /// Whether an earlier run started it.
        resumed: bool,
    },
    /// A job was polled and is still running.
    JobPolled {
        /// The job.
        job_id: String,
        /// Time since this run began waiting for it.
        elapsed: Duration,
    },
    /// A job reached a final state (`SUCCEEDED`, `FAILED`, `CANCELED`).
    JobFinished {
        /// The job.
        job_id: String,
        /// Its final status.
        status: String,
    },
    /// Waiting for a job this run does not own (one generation at a time per account and region).
    WaitingForOther {
        /// The other job.
        job_id: String,
        /// Its principal.
        principal_arn: String,
    },
    /// A call was throttled; retrying after `wait`.
    Throttled {
        /// The operation.
        operation: String,
        /// The wait before the retry.
        wait: Duration,
    },
}

/// Receives progress events (the CLI draws bars from them on a TTY).
pub trait Progress: Sync {
    /// Called for every event, in order.
    fn on_event(&self, event: &ProgressEvent);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn on_event(&self, _event: &ProgressEvent) {}
}

/// A job as `ListPolicyGenerations` shows it.
#[derive(Debug, Clone)]
struct ListedJob {
    job_id: String,
    principal_arn: String,
    status: JobStatus,
    started_on: Option<SystemTime>,
}

/// How a polled job ended.
enum JobEnd {
    Succeeded(Box<GetGeneratedPolicyOutput>),
    Failed { code: String, message: String },
    Canceled,
    TimedOut(Duration),
}

/// Generates usage for every target without a fresh cache entry, one job at a time, within the quotas.
///
/// Targets are processed in the given order (pass them riskiest first). Returns `Err` only for local
/// problems (invalid window, unwritable cache); AWS refusals end the run with `report.halted` set.
pub async fn generate(
    targets: Vec<GenerationTarget>,
    settings: &GenerateSettings,
    client: &Client,
    progress: &dyn Progress,
) -> Result<GenerateReport, AccessAnalyzerError> {
    if settings.window_days == 0 || settings.window_days > MAX_WINDOW_DAYS {
        return Err(AccessAnalyzerError::InvalidWindow {
            days: settings.window_days,
        });
    }
    let cache = Cache::open(&settings.cache_dir).with_ttl(settings.ttl);
    let ledger_path = JobLedger::path_for(&settings.cache_dir);
    let (mut ledger, warning) = JobLedger::load(&ledger_path);
    let mut report = GenerateReport::default();
    report.warnings.extend(warning.map(|w| w.to_string()));

    if settings.cancel {
        cancel_recorded(&mut ledger, client, settings, &mut report).await;
        ledger.save(&ledger_path)?;
        return Ok(report);
    }

    // 1. The cache decides who needs a job; a full hit makes no call at all.
    let now = SystemTime::now();
    let mut queue: Vec<usize> = Vec::new();
    let mut not_before: HashMap<usize, SystemTime> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        let key = settings.key(&t.principal_arn);
        let status = match cache.get(&key, &t.policy_fingerprint, now) {
            Lookup::Fresh(_) => TargetStatus::Cached,
            Lookup::Stale { entry, .. } => {
                // A job older than the entry cannot reflect what made it stale.
                if let Some(at) = parse_rfc3339(&entry.generated_at) {
                    not_before.insert(i, at);
                }
                queue.push(i);
                TargetStatus::Pending
            }
            Lookup::Miss(warning) => {
                report.warnings.extend(warning.map(|w| w.to_string()));
                queue.push(i);
                TargetStatus::Pending
            }
        };
        report.outcomes.push(TargetOutcome {
            principal_arn: t.principal_arn.clone(),
            address: t.address.clone(),
            status,
        });
    }
    if queue.is_empty() {
        return Ok(report);
    }

    // 2. Survey the account: the day's quota use, and jobs already running.
    let listed = match list_all(client, &settings.poll, progress).await {
        Ok(l) => l,
        Err(source) => {
            report.halted = Some(AccessAnalyzerError::Aws {
                what: "to list policy generations".into(),
                source,
            });
            return Ok(report);
        }
    };
    let mut used_today = listed
        .iter()
        .filter(|j| {
            j.started_on
                .is_some_and(|s| now.duration_since(s).unwrap_or_default() < DAY)
        })
        .count() as u32;
    // Adopt, for each queued principal with nothing recorded, its newest in-progress or recent succeeded job:
    // a run that died between StartPolicyGeneration and saving the ledger must not cost a second job.
    for &i in &queue {
        let t = &targets[i];
        let key = settings.key(&t.principal_arn);
        if ledger.job_for(&key).is_some() {
            continue;
        }
        let not_before = not_before
            .get(&i)
            .copied()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let candidate = listed
            .iter()
            .filter(|j| j.principal_arn == t.principal_arn)
            .filter(|j| j.status == JobStatus::InProgress || j.status == JobStatus::Succeeded)
            .filter(|j| {
                j.started_on.is_some_and(|s| {
                    s > not_before && now.duration_since(s).unwrap_or_default() < DAY
                })
            })
            .max_by_key(|j| j.started_on);
        if let Some(job) = candidate {
            let started = job.started_on.unwrap_or(now);
            ledger.record(JobRecord {
                job_id: job.job_id.clone(),
                key,
                policy_fingerprint: t.policy_fingerprint.clone(),
                window: requested_window(settings, started),
                started_at: rfc3339(started),
                adopted: true,
            });
        }
    }
    // Every other running job must end before this run can start one.
    let mut others_in_flight: Vec<ListedJob> = listed
        .iter()
        .filter(|j| j.status == JobStatus::InProgress)
        .filter(|j| {
            !queue.iter().any(|&i| {
                ledger
                    .job_for(&settings.key(&targets[i].principal_arn))
                    .is_some_and(|r| r.job_id == j.job_id)
            })
        })
        .cloned()
        .collect();
    ledger.save(&ledger_path)?;

    // Resumable jobs first: one may be running, and nothing new can start until it ends.
    queue.sort_by_key(|&i| {
        ledger
            .job_for(&settings.key(&targets[i].principal_arn))
            .is_none()
    });
    progress.on_event(&ProgressEvent::Queued { total: queue.len() });

    // 3. One job at a time.
    let total = queue.len();
    for (position, &i) in queue.iter().enumerate() {
        let target = &targets[i];
        let key = settings.key(&target.principal_arn);
        let pending_after = total - position;
        // At most twice: an adopted job that turns out to be for another trail or window is dropped.
        loop {
            let (record, resumed) = match ledger.job_for(&key) {
                Some(r) => (r.clone(), true),
                None => {
                    for other in others_in_flight.drain(..) {
                        progress.on_event(&ProgressEvent::WaitingForOther {
                            job_id: other.job_id.clone(),
                            principal_arn: other.principal_arn.clone(),
                        });
                        match poll_job(client, &other.job_id, &settings.poll, progress).await {
                            Ok(JobEnd::TimedOut(waited)) => {
                                report.halted = Some(AccessAnalyzerError::StillRunning {
                                    principal_arn: other.principal_arn,
                                    job_id: other.job_id,
                                    waited_secs: waited.as_secs(),
                                });
                                return Ok(report);
                            }
                            Ok(_) => {}
                            Err(source) => {
                                let what =
                                    format!("to report on the running generation {}", other.job_id);
                                report.halted = Some(AccessAnalyzerError::Aws { what, source });
                                return Ok(report);
                            }
                        }
                    }
                    if used_today >= settings.daily_quota {
                        report.halted = Some(AccessAnalyzerError::DailyQuota {
                            used: used_today,
                            quota: settings.daily_quota,
                            pending: pending_after,
                        });
                        return Ok(report);
                    }
                    let started = SystemTime::now();
                    let job_id =
                        match start_job(client, settings, &target.principal_arn, started, progress)
                            .await
                        {
                            Ok(id) => id,
                            Err(source) => {
                                let what = format!(
                                    "to start a policy generation for {}",
                                    target.principal_arn
                                );
                                report.halted = Some(AccessAnalyzerError::Aws { what, source });
                                return Ok(report);
                            }
                        };
                    used_today += 1;
                    report.jobs_started += 1;
                    let record = JobRecord {
                        job_id,
                        key: key.clone(),
                        policy_fingerprint: target.policy_fingerprint.clone(),
                        window: requested_window(settings, started),
                        started_at: rfc3339(started),
                        adopted: false,
                    };
                    // Saved before the first poll, so an interrupted run is resumed, never repeated.
                    ledger.record(record.clone());
                    ledger.save(&ledger_path)?;
                    (record, false)
                }
            };
            progress.on_event(&ProgressEvent::JobStarted {
                principal_arn: target.principal_arn.clone(),
                job_id: record.job_id.clone(),
                position: position + 1,
                total,
                resumed,
            });
            let end = match poll_job(client, &record.job_id, &settings.poll, progress).await {
                Ok(end) => end,
                Err(source) => {
                    let what = format!(
                        "to report on policy generation {} for {}",
                        record.job_id, target.principal_arn
                    );
                    report.halted = Some(AccessAnalyzerError::Aws { what, source });
                    return Ok(report);
                }
            };
            match end {
                JobEnd::Succeeded(output) => {
                    if record.adopted && !matches_settings(&output, settings) {
                        ledger.remove(&record.job_id);
                        ledger.save(&ledger_path)?;
                        report.warnings.push(format!(
                        "policy generation {} for {} used another trail, regions or window; starting a new one",
                        record.job_id, target.principal_arn
                    ));
                        continue;
                    }
                    let usage = usage_from_output(&target.principal_arn, &record, &output)?;
                    let complete = usage.complete;
                    let entry = CacheEntry::new(
                        key.clone(),
                        usage,
                        &record.policy_fingerprint,
                        SystemTime::now(),
                    );
                    let path = cache.put(&entry)?;
                    ledger.remove(&record.job_id);
                    ledger.save(&ledger_path)?;
                    report.outcomes[i].status = TargetStatus::Generated {
                        job_id: record.job_id.clone(),
                        resumed,
                        complete,
                        path,
                    };
                }
                JobEnd::Canceled => {
                    ledger.remove(&record.job_id);
                    ledger.save(&ledger_path)?;
                    report.outcomes[i].status = TargetStatus::Cancelled {
                        job_id: record.job_id.clone(),
                    };
                }
                JobEnd::Failed { code, message } => {
                    ledger.remove(&record.job_id);
                    ledger.save(&ledger_path)?;
                    report.outcomes[i].status = TargetStatus::Failed {
                        job_id: record.job_id.clone(),
                        code: code.clone(),
                    };
                    // An internal error may not recur; anything else (role, trail, quota) would fail every job.
                    if code != "SERVICE_ERROR" {
                        report.halted = Some(AccessAnalyzerError::JobFailed {
                            principal_arn: target.principal_arn.clone(),
                            job_id: record.job_id.clone(),
                            advice: advice_for(&code),
                            code,
                            message,
                        });
                        return Ok(report);
                    }
                }
                JobEnd::TimedOut(waited) => {
                    report.halted = Some(AccessAnalyzerError::StillRunning {
                        principal_arn: target.principal_arn.clone(),
                        job_id: record.job_id.clone(),
                        waited_secs: waited.as_secs(),
                    });
                    return Ok(report);
                }
            }
            break;
        }
    }
    Ok(report)
}

/// True when a job's reported trail, regions and window are the ones these settings ask for.
fn matches_settings(output: &GetGeneratedPolicyOutput, settings: &GenerateSettings) -> bool {
    let Some(props) = output
        .generated_policy_result()
        .and_then(|r| r.properties())
        .and_then(|p| p.cloud_trail_properties())
    else {
        return false;
    };
    let mut wanted: Vec<&str> = settings.regions.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let trail_ok = props.trail_properties().iter().any(|t| {
        let mut regions: Vec<&str> = t.regions().iter().map(String::as_str).collect();
        regions.sort_unstable();
        regions.dedup();
        t.cloud_trail_arn() == settings.trail_arn
            && (regions == wanted || (wanted.is_empty() && t.all_regions() == Some(true)))
    });
    let span = props.end_time().secs() - props.start_time().secs();
    let want = i64::from(settings.window_days) * 86_400;
    // A day's slack: the window is rounded to whole seconds and ends when the job started.
    trail_ok && (span - want).abs() <= 86_400
}

fn requested_window(settings: &GenerateSettings, end: SystemTime) -> Window {
    let start = end
        .checked_sub(DAY * settings.window_days)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Window {
        start: WindowBound::instant(start),
        end: WindowBound::instant(end),
    }
}

/// Cancels every recorded job; a cancelled job still counts against the daily quota.
async fn cancel_recorded(
    ledger: &mut JobLedger,
    client: &Client,
    settings: &GenerateSettings,
    report: &mut GenerateReport,
) {
    for record in ledger.jobs.clone() {
        let result = with_throttle_retry(
            "CancelPolicyGeneration",
            &settings.poll,
            &NoProgress,
            || async {
                client
                    .cancel_policy_generation()
                    .job_id(&record.job_id)
                    .send()
                    .await
                    .map_err(|e| classify("CancelPolicyGeneration", e))
            },
        )
        .await;
        match result {
            Ok(_) => {
                ledger.remove(&record.job_id);
                report.cancelled.push(record.job_id.clone());
            }
            Err(AwsError::NotFound { .. }) => ledger.remove(&record.job_id),
            Err(source) => {
                let what = format!("to cancel policy generation {}", record.job_id);
                report.halted = Some(AccessAnalyzerError::Aws { what, source });
                return;
            }
        }
    }
}

/// Runs `call`, waiting out throttling as the service asks (`retryAfterSeconds`), up to the retry limit.
async fn with_throttle_retry<T, F, Fut>(
    operation: &str,
    poll: &PollSettings,
    progress: &dyn Progress,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let mut attempt = 0;
    let mut backoff = poll.initial;
    loop {
        match call().await {
            Err(AwsError::Throttled { retry_after, .. }) if attempt < poll.max_throttle_retries => {
                attempt += 1;
                let wait = match retry_after {
                    Some(secs) => Duration::from_secs(secs),
                    None => backoff,
                };
                backoff = (backoff * 2).min(poll.max);
                progress.on_event(&ProgressEvent::Throttled {
                    operation: operation.to_string(),
                    wait,
                });
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

async fn list_all(
    client: &Client,
    poll: &PollSettings,
    progress: &dyn Progress,
) -> Result<Vec<ListedJob>, AwsError> {
    let mut jobs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = with_throttle_retry("ListPolicyGenerations", poll, progress, || {
            let token = token.clone();
            async move {
                client
                    .list_policy_generations()
                    .max_results(50)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| classify("ListPolicyGenerations", e))
            }
        })
        .await?;
        for g in page.policy_generations() {
            jobs.push(ListedJob {
                job_id: g.job_id().to_string(),
                principal_arn: g.principal_arn().to_string(),
                status: g.status().clone(),
                started_on: SystemTime::try_from(*g.started_on()).ok(),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(jobs),
        }
    }
}

async fn start_job(
    client: &Client,
    settings: &GenerateSettings,
    principal_arn: &str,
    now: SystemTime,
    progress: &dyn Progress,
) -> Result<String, AwsError> {
    let window = requested_window(settings, now);
    // Both bounds from the whole-second window, so rounding never makes it a fraction over 90 days.
    let start = window.start.system_time().unwrap_or(SystemTime::UNIX_EPOCH);
    let end = window.end.system_time().unwrap_or(now);
    let mut trail = Trail::builder().cloud_trail_arn(&settings.trail_arn);
    if settings.regions.is_empty() {
        trail = trail.all_regions(true);
    } else {
        trail = trail.set_regions(Some(settings.regions.clone()));
    }
    let trail = trail
        .build()
        .map_err(|e| build_error("StartPolicyGeneration", e))?;
    let details = CloudTrailDetails::builder()
        .trails(trail)
        .access_role(&settings.access_role_arn)
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(end))
        .build()
        .map_err(|e| build_error("StartPolicyGeneration", e))?;
    let principal = PolicyGenerationDetails::builder()
        .principal_arn(principal_arn)
        .build()
        .map_err(|e| build_error("StartPolicyGeneration", e))?;
    // One client token per attempt sequence: a retried request after a lost response yields the same job.
    let token = format!(
        "iamtrim-{}-{}",
        settings.key(principal_arn).digest(),
        rfc3339(now)
    );
    let out = with_throttle_retry(
        "StartPolicyGeneration",
        &settings.poll,
        progress,
        || async {
            client
                .start_policy_generation()
                .policy_generation_details(principal.clone())
                .cloud_trail_details(details.clone())
                .client_token(&token)
                .send()
                .await
                .map_err(|e| classify("StartPolicyGeneration", e))
        },
    )
    .await?;
    Ok(out.job_id().to_string())
}

fn build_error(operation: &str, e: aws_sdk_accessanalyzer::error::BuildError) -> AwsError {
    AwsError::Other {
        operation: operation.to_string(),
        message: e.to_string(),
        source: Box::new(e),
    }
}

/// Polls one job with backoff until it ends or `max_wait` passes.
async fn poll_job(
    client: &Client,
    job_id: &str,
    poll: &PollSettings,
    progress: &dyn Progress,
) -> Result<JobEnd, AwsError> {
    let began = Instant::now();
    let mut delay = poll.initial;
    loop {
        let out = with_throttle_retry("GetGeneratedPolicy", poll, progress, || async {
            client
                .get_generated_policy()
                .job_id(job_id)
                .include_service_level_template(true)
                .include_resource_placeholders(false)
                .send()
                .await
                .map_err(|e| classify("GetGeneratedPolicy", e))
        })
        .await?;
        let status = out
            .job_details()
            .map(|d| d.status().clone())
            .unwrap_or(JobStatus::InProgress);
        match status {
            JobStatus::InProgress => {
                let elapsed = began.elapsed();
                progress.on_event(&ProgressEvent::JobPolled {
                    job_id: job_id.to_string(),
                    elapsed,
                });
                if elapsed + delay > poll.max_wait {
                    return Ok(JobEnd::TimedOut(elapsed));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(poll.max);
            }
            JobStatus::Succeeded => {
                progress.on_event(&ProgressEvent::JobFinished {
                    job_id: job_id.to_string(),
                    status: "SUCCEEDED".into(),
                });
                return Ok(JobEnd::Succeeded(Box::new(out)));
            }
            JobStatus::Canceled => {
                progress.on_event(&ProgressEvent::JobFinished {
                    job_id: job_id.to_string(),
                    status: "CANCELED".into(),
                });
                return Ok(JobEnd::Canceled);
            }
            other => {
                progress.on_event(&ProgressEvent::JobFinished {
                    job_id: job_id.to_string(),
                    status: other.as_str().into(),
                });
                let error = out.job_details().and_then(|d| d.job_error());
                let code = error
                    .map(|e| e.code().as_str().to_string())
                    .unwrap_or_else(|| "UNKNOWN".into());
                let message = error.map(|e| e.message().to_string()).unwrap_or_default();
                return Ok(JobEnd::Failed { code, message });
            }
        }
    }
}

fn usage_from_output(
    principal_arn: &str,
    record: &JobRecord,
    output: &GetGeneratedPolicyOutput,
) -> Result<ObservedUsage, AccessAnalyzerError> {
    let result = output.generated_policy_result();
    let policies: Vec<String> = result
        .map(|r| {
            r.generated_policies()
                .iter()
                .map(|p| p.policy().to_string())
                .collect()
        })
        .unwrap_or_default();
    let properties = result.and_then(|r| r.properties());
    let complete = properties.and_then(|p| p.is_complete()).unwrap_or(false);
    let window = properties
        .and_then(|p| p.cloud_trail_properties())
        .and_then(|c| {
            let start = SystemTime::try_from(*c.start_time()).ok()?;
            let end = SystemTime::try_from(*c.end_time()).ok()?;
            Some(Window {
                start: WindowBound::instant(start),
                end: WindowBound::instant(end),
            })
        })
        .unwrap_or_else(|| record.window.clone());
    usage_from_generated(principal_arn, &policies, complete, window).map_err(|(chunk, source)| {
        AccessAnalyzerError::BadPolicy {
            job_id: record.job_id.clone(),
            chunk,
            source,
        }
    })
}

/// Turns the merged `generatedPolicies` chunks into usage.
///
/// An action written as `service:*` or with a template placeholder (`service:${Action}`) is what the
/// service-level template gives for a service seen only through last-accessed data: the service goes to
/// `service_level_only`, so every action of it is kept. On a bad chunk, returns its index and the error.
pub fn usage_from_generated(
    principal_arn: &str,
    policies: &[String],
    complete: bool,
    window: Window,
) -> Result<ObservedUsage, (usize, PolicyError)> {
    let mut usage = ObservedUsage::empty(principal_arn, UsageSourceKind::AccessAnalyzer, window);
    usage.complete = complete;
    for (chunk, text) in policies.iter().enumerate() {
        let doc = PolicyDocument::parse_str(text).map_err(|e| (chunk, e))?;
        for statement in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let Some(ActionSpec::Action(actions)) = &statement.action else {
                continue;
            };
            for action in &actions.values {
                let Some((service, name)) = action.split_once(':') else {
                    continue;
                };
                let service = service.to_ascii_lowercase();
                if name == "*" || name.contains("${") {
                    usage.service_level_only.insert(service);
                } else {
                    usage
                        .actions
                        .insert(normalize_action(action), ActionUse::default());
                }
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window {
            start: "2026-09-01T00:00:00Z".into(),
            end: "2026-11-30T00:00:00Z".into(),
        }
    }

    #[test]
    fn merges_chunks_and_spots_service_level_services() {
        let chunks = vec![
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["S3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#.to_string(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:${Action}","dynamodb:*","sqs:SendMessage"],"Resource":"*"}]}"#.to_string(),
        ];
        let usage =
            usage_from_generated("arn:aws:iam::1:role/r", &chunks, false, window()).unwrap();
        let actions: Vec<&str> = usage.actions.keys().map(String::as_str).collect();
        assert_eq!(
            actions,
            ["s3:GetObject", "s3:ListBucket", "sqs:SendMessage"]
        );
        let services: Vec<&str> = usage
            .service_level_only
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(services, ["dynamodb", "ec2"]);
        assert!(!usage.complete);
        assert!(!usage.has_action_level_data("ec2"));
    }

    #[test]
    fn generate_future_is_send_so_the_cli_may_spawn_it() {
        fn assert_send<T: Send>(_: &T) {}
        let conf = aws_sdk_accessanalyzer::Config::builder()
            .behavior_version(aws_sdk_accessanalyzer::config::BehaviorVersion::latest())
            .build();
        let client = Client::from_conf(conf);
        let settings = GenerateSettings::new("trail", "role", "cache");
        let future = generate(Vec::new(), &settings, &client, &NoProgress);
        assert_send(&future);
    }

    #[test]
    fn bad_chunk_names_its_index() {
        let chunks = vec![r#"{"Statement":[]}"#.to_string(), "{".to_string()];
        let err =
            usage_from_generated("arn:aws:iam::1:role/r", &chunks, true, window()).unwrap_err();
        assert_eq!(err.0, 1);
    }
}
