//! Gathering a run's usage: which source to read (the cache, CloudTrail logs in a folder or S3, or
//! one aggregate query in Athena / CloudTrail Lake), reading it, writing what was read to the cache,
//! and the cache's staleness policy, decided on [`StaleReason`] and worded once ([`StaleUsage`]).
//!
//! Main entry: [`gather`], which returns a [`GatheredUsage`] (usage per principal ARN, notes for the
//! report, stale principals). Progress is reported through a callback ([`Progress`]); drawing it
//! (a terminal status line) is the caller's business. It does not minimize, and it does not
//! choose what to print.

use crate::iam::Principal;
use crate::iam::catalog::Catalog;
use crate::usage::aggregate::{
    AggregateError, AggregateSource, PollSettings as QueryPoll, QueryProgress, UsageQuery,
    cache_usage, query_usage, window_of_days,
};
use crate::usage::aws::{AwsArgs, AwsError, run_with_aws};
use crate::usage::cache::{Cache, CacheEntry, CacheError, CacheKey, Lookup, StaleReason};
use crate::usage::cloudtrail::{
    self, CloudTrailError, PrincipalFilter, ProgressHook, ScanOptions, ScanProgress,
};
use crate::usage::date::Date;
use crate::usage::{ObservedUsage, UsageSourceKind, principal_fingerprint};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Days an aggregate query reads when no window is given: an organization's trail is large, and
/// an unbounded query would read all of it.
pub const AGGREGATE_WINDOW_DAYS: u32 = 90;

/// Unreadable CloudTrail files named one by one in the notes; the rest are counted.
const FILE_ERRORS_NAMED: usize = 10;

/// An aggregate query source (`--athena` / `--cloudtrail-lake`) with its pricing.
#[derive(Debug, Clone)]
pub struct AggregateRequest {
    /// Where the query runs.
    pub source: AggregateSource,
    /// Price per TB scanned, in US cents.
    pub price_per_tb_cents: u64,
}

/// Where a run's usage comes from.
#[derive(Debug, Clone)]
pub enum UsageSource {
    /// Only what the cache holds.
    Cache,
    /// CloudTrail log files: a folder, or `s3://bucket/prefix`.
    CloudTrail(String),
    /// One aggregate query over a whole trail.
    Aggregate(AggregateRequest),
}

impl UsageSource {
    /// The source a run reads: an aggregate query when one is given and the network may be used,
    /// else CloudTrail logs when given, else the cache.
    pub fn choose(
        cloudtrail: Option<String>,
        aggregate: Option<AggregateRequest>,
        network: bool,
    ) -> UsageSource {
        match (aggregate.filter(|_| network), cloudtrail) {
            (Some(query), _) => UsageSource::Aggregate(query),
            (None, Some(location)) => UsageSource::CloudTrail(location),
            (None, None) => UsageSource::Cache,
        }
    }
}

/// What [`gather`] needs besides the principals, the cache and the catalog.
#[derive(Debug, Clone)]
pub struct GatherRequest {
    /// The source.
    pub source: UsageSource,
    /// Only the last N days (CloudTrail; an aggregate query defaults to [`AGGREGATE_WINDOW_DAYS`]).
    pub window_days: Option<u32>,
    /// The AWS connection, for S3 logs and aggregate queries.
    pub aws: AwsArgs,
    /// False for commands that never use the network (`check`): S3 logs are refused.
    pub network: bool,
    /// Whether usage read from logs or a query is stored in the cache (not with `--dry-run`).
    pub write_cache: bool,
    /// The run's "now": cache ages, windows.
    pub now: SystemTime,
}

/// What a long read is doing, for a status line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// Reading of the CloudTrail logs at this location starts.
    LogsStarted {
        /// The folder or S3 URL.
        location: &'a str,
    },
    /// Log files read so far.
    Logs {
        /// The folder or S3 URL.
        location: &'a str,
        /// Files and bytes.
        progress: ScanProgress,
    },
    /// An aggregate query is about to start.
    QueryStarted {
        /// The source's label (`athena:db.table`, ...).
        label: &'a str,
    },
    /// A running aggregate query, after a poll.
    Query {
        /// The source's label.
        label: &'a str,
        /// Its state.
        progress: &'a QueryProgress,
    },
    /// The read is over (successful or not): the status line can go.
    Finished,
}

/// A progress callback, called from any thread.
pub type ProgressSink<'a> = dyn Fn(Progress<'_>) + Sync + 'a;

/// A principal's cached usage that is not fresh, and why; the report words it with `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUsage(pub StaleReason);

impl StaleUsage {
    /// Whether the principal's cached usage is left out of minimizing: after a policy change,
    /// actions granted since may be in use without showing in the old usage, so minimizing against
    /// it could remove them. Expired usage still holds (it is only marked incomplete).
    pub fn withholds_usage(&self) -> bool {
        match self.0 {
            StaleReason::PoliciesChanged => true,
            StaleReason::Expired { .. } | StaleReason::FromTheFuture { .. } => false,
        }
    }
}

impl fmt::Display for StaleUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            StaleReason::PoliciesChanged => f.write_str(
                "policies changed since its usage was cached; refresh with --cloudtrail or `iamtrim generate`",
            ),
            StaleReason::Expired { age_secs } => {
                write!(f, "cached usage is {} days old", age_secs / 86_400)
            }
            StaleReason::FromTheFuture { .. } => write!(f, "{}", self.0),
        }
    }
}

/// The usage a run gathered.
#[derive(Debug, Clone, Default)]
pub struct GatheredUsage {
    /// Usage per principal ARN (only principals of the plan that exist).
    pub usage: BTreeMap<String, ObservedUsage>,
    /// Notes for the report, in the order they arose (query cost, unreadable files, unmapped
    /// events, cache warnings).
    pub notes: Vec<String>,
    /// Principals (addresses) whose cached usage is stale, with why.
    pub stale: Vec<(String, StaleUsage)>,
}

/// Why usage could not be gathered. Each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The cache folder exists but cannot be listed (not a folder, no permission): going on would
    /// pass a check on no usage at all.
    #[error(
        "{}: cannot read the usage cache ({source}); make it a readable folder or set `[cache] dir` in .iamtrim.toml",
        path.display()
    )]
    CacheUnreadable {
        /// The cache folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another cache failure.
    #[error(transparent)]
    Cache(CacheError),
    /// A local folder of logs could not be scanned.
    #[error(
        "{}; give --cloudtrail a folder of CloudTrail logs or s3://bucket/prefix",
        with_causes(.0)
    )]
    LocalLogs(#[source] CloudTrailError),
    /// Logs in S3 asked of a command that does not use the network.
    #[error(
        "--cloudtrail {location}: reading S3 needs the network, which this command does not use"
    )]
    S3WithoutNetwork {
        /// The S3 URL.
        location: String,
    },
    /// Logs in S3 could not be read.
    #[error(transparent)]
    S3Logs(CloudTrailError),
    /// The aggregate query failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// AWS could not be reached (credentials, configuration).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The async runtime could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Gathers the usage of the existing `principals` from `request.source`; `progress` is told how a
/// long read goes (when `None`, log scans skip their progress bookkeeping).
pub fn gather(
    principals: &[Principal],
    cache: &Cache,
    catalog: &'static Catalog,
    request: &GatherRequest,
    progress: Option<&ProgressSink<'_>>,
) -> Result<GatheredUsage, GatherError> {
    let existing: Vec<&Principal> = principals.iter().filter(|p| p.arn.is_some()).collect();
    match &request.source {
        UsageSource::Aggregate(query) => {
            let (usage, notes) = aggregate(query, request, &existing, cache, catalog, progress)?;
            Ok(GatheredUsage {
                usage,
                notes,
                stale: Vec::new(),
            })
        }
        UsageSource::CloudTrail(location) => {
            logs(location, request, &existing, cache, catalog, progress)
        }
        UsageSource::Cache => from_cache(&existing, cache, request.now),
    }
}

/// Runs the aggregate query for `principals` (with `StopQueryExecution` / `CancelQuery` on Ctrl-C)
/// and caches each principal's usage as `--cloudtrail` does. Returns the usage per principal ARN
/// and notes (the query's ID, bytes scanned and cost first).
pub fn aggregate(
    query: &AggregateRequest,
    request: &GatherRequest,
    principals: &[&Principal],
    cache: &Cache,
    catalog: &'static Catalog,
    progress: Option<&ProgressSink<'_>>,
) -> Result<(BTreeMap<String, ObservedUsage>, Vec<String>), GatherError> {
    let window_days = request.window_days.unwrap_or(AGGREGATE_WINDOW_DAYS);
    let label = query.source.label();
    let known = |action: &str| catalog.lookup(action).map(|a| a.name().to_string());
    let tell = |p: Progress<'_>| {
        if let Some(sink) = progress {
            sink(p);
        }
    };
    tell(Progress::QueryStarted { label: &label });
    let show = |p: &QueryProgress| {
        tell(Progress::Query {
            label: &label,
            progress: p,
        })
    };
    let usage_query = UsageQuery {
        source: &query.source,
        principals: principals.iter().filter_map(|p| p.arn.clone()).collect(),
        window: window_of_days(request.now, window_days),
        known_action: Some(&known),
        poll: QueryPoll::default(),
        price_per_tb_cents: query.price_per_tb_cents,
        progress: Some(&show),
    };
    let found = run_with_aws(&request.aws, 0, |config| async move {
        let interrupted = async {
            // No signal handler means no Ctrl-C to wait for: the query runs to its end.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        Ok::<_, GatherError>(query_usage(&config, &usage_query, interrupted).await?)
    });
    tell(Progress::Finished);
    let found = found?;
    let (usage, cache_notes) = cache_usage(
        cache,
        principals,
        &found,
        &query.source,
        window_days,
        request.now,
    );
    let mut notes = found.notes;
    notes.extend(cache_notes);
    Ok((usage, notes))
}

/// Reads CloudTrail logs at `location` for `principals`, caching what each used.
fn logs(
    location: &str,
    request: &GatherRequest,
    principals: &[&Principal],
    cache: &Cache,
    catalog: &'static Catalog,
    progress: Option<&ProgressSink<'_>>,
) -> Result<GatheredUsage, GatherError> {
    let window = request
        .window_days
        .map(|days| window_ending(request.now, days));
    let window_ref = window.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
    let known = |action: &str| catalog.lookup(action).map(|a| a.name().to_string());
    // Only the plan's principals are used: the others' calls (an organization trail holds
    // thousands of principals) are not counted, and take no memory.
    let counted: PrincipalFilter = principals.iter().filter_map(|p| p.arn.clone()).collect();
    // The scan calls its hook from any of its threads: the sink is `Sync`.
    let hook = |p: ScanProgress| {
        if let Some(sink) = progress {
            sink(Progress::Logs {
                location,
                progress: p,
            });
        }
    };
    let opts = ScanOptions {
        window: window_ref,
        threads: 0,
        known_action: Some(&known),
        progress: progress.is_some().then_some(&hook as &ProgressHook<'_>),
        principals: Some(&counted),
    };
    if let Some(sink) = progress {
        sink(Progress::LogsStarted { location });
    }
    let scan = scan_logs(location, request, &opts);
    if let Some(sink) = progress {
        sink(Progress::Finished);
    }
    let scan = scan?;
    let mut gathered = GatheredUsage::default();
    let notes = &mut gathered.notes;
    // A few files by name; a trail with thousands of unreadable files is one more line.
    for e in scan.stats.file_errors.iter().take(FILE_ERRORS_NAMED) {
        notes.push(format!(
            "{}: {} (usage from this trail is marked incomplete)",
            e.file, e.message
        ));
    }
    let unnamed = scan
        .stats
        .file_errors
        .len()
        .saturating_sub(FILE_ERRORS_NAMED);
    if unnamed > 0 {
        notes.push(format!(
            "{unnamed} more CloudTrail files could not be read (usage from this trail is marked incomplete)"
        ));
    }
    notes.extend(cloudtrail::unmapped_events_note(&scan.stats.unmapped));
    let params = BTreeMap::from([
        ("source".to_string(), location.to_string()),
        (
            "window_days".to_string(),
            request
                .window_days
                .map_or("all".to_string(), |d| d.to_string()),
        ),
    ]);
    for p in principals {
        let Some(arn) = &p.arn else { continue };
        let Some(u) = scan.usage.get(arn) else {
            continue;
        };
        // `--dry-run` writes no file at all, the cache included.
        if request.write_cache {
            let key = CacheKey::new(arn, UsageSourceKind::Cloudtrail, params.clone());
            let entry = CacheEntry::new(key, u.clone(), &principal_fingerprint(p), request.now);
            // Only the usage source of this run is written; a read-only repository still gets its suggestions.
            if let Err(e) = cache.put(&entry) {
                notes.push(format!("usage cache not written: {e}"));
            }
        }
        gathered.usage.insert(arn.clone(), u.clone());
    }
    Ok(gathered)
}

/// Scans a folder, or S3 when the network may be used.
fn scan_logs(
    location: &str,
    request: &GatherRequest,
    opts: &ScanOptions<'_>,
) -> Result<cloudtrail::CloudTrailScan, GatherError> {
    if !location.starts_with("s3://") {
        return cloudtrail::scan_path(Path::new(location), opts).map_err(GatherError::LocalLogs);
    }
    if !request.network {
        return Err(GatherError::S3WithoutNetwork {
            location: location.to_string(),
        });
    }
    // Two workers: while one waits for the parsing threads, the other keeps downloading.
    run_with_aws(&request.aws, 2, |config| async move {
        let s3 = cloudtrail::s3_client(&config);
        cloudtrail::scan_s3(&s3, location, opts)
            .await
            .map_err(GatherError::S3Logs)
    })
}

/// Usage from the cache alone, with the staleness policy applied.
fn from_cache(
    principals: &[&Principal],
    cache: &Cache,
    now: SystemTime,
) -> Result<GatheredUsage, GatherError> {
    let (entries, warnings) = match cache.list() {
        Ok(listed) => listed,
        Err(CacheError::Read { path, source }) => {
            return Err(GatherError::CacheUnreadable { path, source });
        }
        Err(other) => return Err(GatherError::Cache(other)),
    };
    let mut gathered = GatheredUsage {
        notes: warnings.iter().map(ToString::to_string).collect(),
        ..GatheredUsage::default()
    };
    let usage = &mut gathered.usage;
    for p in principals {
        let Some(arn) = &p.arn else { continue };
        let fingerprint = principal_fingerprint(p);
        for entry in entries.iter().filter(|e| &e.key.principal_arn == arn) {
            match cache.get(&entry.key, &fingerprint, now) {
                Lookup::Fresh(e) => merge_into(usage, arn, e.usage),
                Lookup::Stale { entry: e, why } => {
                    let why = StaleUsage(why);
                    if !why.withholds_usage() {
                        // Old usage still holds, but newer behaviour may be missing: review before applying.
                        let mut u = e.usage;
                        u.complete = false;
                        merge_into(usage, arn, u);
                    }
                    gathered.stale.push((p.address.clone(), why));
                }
                Lookup::Miss(Some(w)) => gathered.notes.push(w.to_string()),
                Lookup::Miss(None) => {}
            }
        }
    }
    // A principal waits for fresh data when any of its entries withholds usage, whatever its
    // other entries say.
    for p in principals {
        let withheld = gathered
            .stale
            .iter()
            .any(|(address, why)| *address == p.address && why.withholds_usage());
        if let (true, Some(arn)) = (withheld, &p.arn) {
            usage.remove(arn);
        }
    }
    Ok(gathered)
}

/// An error and the causes its message does not already quote, on one line.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

fn merge_into(usage: &mut BTreeMap<String, ObservedUsage>, arn: &str, u: ObservedUsage) {
    match usage.get_mut(arn) {
        Some(existing) => existing.merge(&u),
        None => {
            usage.insert(arn.to_string(), u);
        }
    }
}

/// `(start, end)` dates of the last `days` days, ending tomorrow (end exclusive).
fn window_ending(now: SystemTime, days: u32) -> (String, String) {
    let today = Date::of(now);
    // Day numbers never go before 1970: a window longer than that starts there.
    let start = Date::from_day_number(today.plus_days(-i64::from(days)).day_number().max(0));
    (start.to_string(), today.plus_days(1).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_policy_change_withholds_cached_usage() {
        // The decision is made on the type; rewording the message cannot change it.
        assert!(StaleUsage(StaleReason::PoliciesChanged).withholds_usage());
        assert!(
            !StaleUsage(StaleReason::Expired {
                age_secs: 9 * 86_400
            })
            .withholds_usage()
        );
        assert_eq!(
            StaleUsage(StaleReason::Expired {
                age_secs: 9 * 86_400
            })
            .to_string(),
            "cached usage is 9 days old"
        );
    }

    #[test]
    fn an_aggregate_query_needs_the_network_else_logs_then_the_cache() {
        let query = AggregateRequest {
            source: AggregateSource::Lake {
                event_data_store: "eds".to_string(),
            },
            price_per_tb_cents: 500,
        };
        let logs = Some("logs".to_string());
        assert!(matches!(
            UsageSource::choose(logs.clone(), Some(query.clone()), true),
            UsageSource::Aggregate(_)
        ));
        assert!(matches!(
            UsageSource::choose(logs.clone(), Some(query.clone()), false),
            UsageSource::CloudTrail(l) if l == "logs"
        ));
        assert!(matches!(
            UsageSource::choose(None, Some(query), false),
            UsageSource::Cache
        ));
        assert!(matches!(
            UsageSource::choose(None, None, true),
            UsageSource::Cache
        ));
    }

    #[test]
    fn a_log_window_is_the_last_days_through_today() {
        // 2025-11-30T16:53:17Z.
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_521_597);
        assert_eq!(
            window_ending(now, 30),
            ("2025-10-31".to_string(), "2025-12-01".to_string())
        );
        // Longer than the epoch: it starts there.
        assert_eq!(window_ending(now, 30_000).0, "1970-01-01");
    }
}
