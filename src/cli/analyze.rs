//! The pipeline shared by `suggest` and `check`: plan -> principals (AWS-managed documents
//! resolved) -> usage (cache, then CloudTrail when given) -> minimize (with customer-managed
//! replacements of AWS-managed policies). Commands render and write; this gathers.

use super::args::AwsManagedMode;
use super::aws_managed;
use super::settings::Settings;
use crate::config::Config;
use crate::emit::PolicyReplacement;
use crate::iam::catalog::Catalog;
use crate::iam::{Discovery, Principal};
use crate::minimize::{PrincipalOutcome, minimize_all};
use crate::plan::{LoadedPlan, load_plan};
use crate::usage::cache::{Cache, CacheEntry, CacheError, CacheKey, Lookup, StaleReason};
use crate::usage::cloudtrail::{self, PrincipalFilter, ProgressHook, ScanOptions, ScanProgress};
use crate::usage::{ObservedUsage, UsageSourceKind, principal_fingerprint};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where usage comes from besides the cache.
#[derive(Debug, Clone, Default)]
pub struct UsageInputs {
    /// `--cloudtrail`: a folder or `s3://bucket/prefix`.
    pub cloudtrail: Option<String>,
    /// Only events of the last N days (CloudTrail).
    pub window_days: Option<u32>,
    /// AWS connection for S3-hosted logs and online AWS-managed policy documents.
    pub aws: crate::usage::aws::AwsArgs,
    /// Where AWS-managed policy documents come from (`Off`: no replacements).
    pub aws_managed: AwsManagedMode,
    /// `--athena` / `--cloudtrail-lake`: one aggregate query instead of reading logs.
    pub aggregate: Option<super::generate::AggregateInputs>,
    /// Whether usage read from CloudTrail is stored in the cache (`suggest` without `--dry-run`).
    pub write_cache: bool,
}

/// Why `analyze` could not run, beyond the errors of the stages it calls.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
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
}

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

/// Everything a run learned.
pub struct Analysis {
    /// The plan.
    pub loaded: LoadedPlan,
    /// Principals and policies.
    pub discovery: Discovery,
    /// Per principal, riskiest first.
    pub outcomes: Vec<PrincipalOutcome>,
    /// Notes about usage (stale cache entries, unreadable log files, unmapped events).
    pub notes: Vec<String>,
    /// Principals (addresses) whose cached usage is stale, with why.
    pub stale: Vec<(String, StaleUsage)>,
    /// Customer-managed replacements of AWS-managed attachments whose suggestion removes actions.
    pub replacements: Vec<PolicyReplacement>,
}

/// Runs the pipeline. With `network == false` only the cache is read.
pub fn analyze(
    settings: &Settings,
    plan: &Path,
    inputs: &UsageInputs,
    network: bool,
) -> anyhow::Result<Analysis> {
    // The catalog decodes on its own thread while the plan is read and parsed; the first use
    // below waits for it (it is a `OnceLock`).
    std::thread::spawn(Catalog::embedded);
    let loaded = load_plan(plan)?;
    let mut discovery = crate::iam::discover(&loaded.plan);
    let config = Config::load(&settings.root_module)?;
    let catalog = Catalog::embedded();
    let cache = Cache::open(config.cache_dir(&settings.root_module, &settings.repo_root)?)
        .with_ttl(config.cache_ttl());
    let mut notes = aws_managed::resolve(
        &mut discovery.principals,
        inputs.aws_managed,
        &inputs.aws,
        network,
    )?;
    let mut stale = Vec::new();
    let now = SystemTime::now();

    let existing: Vec<&Principal> = discovery
        .principals
        .iter()
        .filter(|p| p.arn.is_some())
        .collect();
    let mut usage: BTreeMap<String, ObservedUsage> = BTreeMap::new();

    if let Some(aggregate) = inputs.aggregate.as_ref().filter(|_| network) {
        // Athena / CloudTrail Lake: one query, cached the way --cloudtrail usage is.
        let (found, query_notes) = super::generate::aggregate_usage(
            settings,
            aggregate,
            &inputs.aws,
            &existing,
            inputs.window_days,
            &cache,
        )?;
        notes.extend(query_notes);
        usage.extend(found);
    } else if let Some(source) = &inputs.cloudtrail {
        let window = inputs.window_days.map(|days| window_ending(now, days));
        let window_ref = window.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
        let known = |action: &str| catalog.lookup(action).map(|a| a.name().to_string());
        // A status line on a terminal: a scan of months of logs takes a while.
        let bar = (std::io::stderr().is_terminal() && !settings.quiet).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("reading CloudTrail logs in {source}"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let show = |p: ScanProgress| {
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    "reading CloudTrail logs in {source}: {} of {} files, {:.1} MB",
                    p.files_read,
                    p.files_listed,
                    p.bytes_read as f64 / 1e6
                ));
            }
        };
        // Only the plan's principals are used: the others' calls (an organization trail holds
        // thousands of principals) are not counted, and take no memory.
        let counted: PrincipalFilter = existing.iter().filter_map(|p| p.arn.clone()).collect();
        let opts = ScanOptions {
            window: window_ref,
            threads: 0,
            known_action: Some(&known),
            progress: bar.is_some().then_some(&show as &ProgressHook<'_>),
            principals: Some(&counted),
        };
        let scan = (|| {
            if !source.starts_with("s3://") {
                return cloudtrail::scan_path(Path::new(source), &opts).map_err(|e| {
                    anyhow::anyhow!(
                        "{}; give --cloudtrail a folder of CloudTrail logs or s3://bucket/prefix",
                        with_causes(&e)
                    )
                });
            }
            if !network {
                anyhow::bail!(
                    "--cloudtrail {source}: reading S3 needs the network, which this command does not use"
                );
            }
            // Two workers: while one waits for the parsing threads, the other keeps downloading.
            crate::usage::aws::run_with_aws(&inputs.aws, 2, |config| async move {
                let s3 = cloudtrail::s3_client(&config);
                anyhow::Ok(cloudtrail::scan_s3(&s3, source, &opts).await?)
            })
        })();
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let scan = scan?;
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
            ("source".to_string(), source.clone()),
            (
                "window_days".to_string(),
                inputs
                    .window_days
                    .map_or("all".to_string(), |d| d.to_string()),
            ),
        ]);
        for p in &existing {
            let Some(arn) = &p.arn else { continue };
            let Some(u) = scan.usage.get(arn) else {
                continue;
            };
            // `--dry-run` writes no file at all, the cache included.
            if inputs.write_cache {
                let key = CacheKey::new(arn, UsageSourceKind::Cloudtrail, params.clone());
                let entry = CacheEntry::new(key, u.clone(), &principal_fingerprint(p), now);
                // Only the usage source of this run is written; a read-only repository still gets its suggestions.
                if let Err(e) = cache.put(&entry) {
                    notes.push(format!("usage cache not written: {e}"));
                }
            }
            usage.insert(arn.clone(), u.clone());
        }
    } else {
        let (entries, warnings) = match cache.list() {
            Ok(listed) => listed,
            Err(CacheError::Read { path, source }) => {
                return Err(AnalyzeError::CacheUnreadable { path, source }.into());
            }
            Err(other) => return Err(other.into()),
        };
        notes.extend(warnings.iter().map(ToString::to_string));
        for p in &existing {
            let Some(arn) = &p.arn else { continue };
            let fingerprint = principal_fingerprint(p);
            for entry in entries.iter().filter(|e| &e.key.principal_arn == arn) {
                match cache.get(&entry.key, &fingerprint, now) {
                    Lookup::Fresh(e) => merge_into(&mut usage, arn, e.usage),
                    Lookup::Stale { entry: e, why } => {
                        let why = StaleUsage(why);
                        if !why.withholds_usage() {
                            // Old usage still holds, but newer behaviour may be missing: review before applying.
                            let mut u = e.usage;
                            u.complete = false;
                            merge_into(&mut usage, arn, u);
                        }
                        stale.push((p.address.clone(), why));
                    }
                    Lookup::Miss(Some(w)) => notes.push(w.to_string()),
                    Lookup::Miss(None) => {}
                }
            }
        }
        // A principal waits for fresh data when any of its entries withholds usage, whatever its
        // other entries say.
        for p in &existing {
            let withheld = stale
                .iter()
                .any(|(address, why)| *address == p.address && why.withholds_usage());
            if let (true, Some(arn)) = (withheld, &p.arn) {
                usage.remove(arn);
            }
        }
    }
    let mut outcomes = minimize_all(&discovery.principals, &usage, catalog, &config);
    let replacements = match inputs.aws_managed {
        AwsManagedMode::Off => Vec::new(),
        AwsManagedMode::Online | AwsManagedMode::Snapshot => aws_managed::replacements(
            &loaded.plan,
            &discovery.principals,
            &usage,
            catalog,
            &config,
            &mut outcomes,
        ),
    };
    Ok(Analysis {
        loaded,
        discovery,
        outcomes,
        notes,
        stale,
        replacements,
    })
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
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let today = secs / 86_400;
    (
        civil_date(today.saturating_sub(u64::from(days))),
        civil_date(today + 1),
    )
}

/// Days since 1970-01-01 -> `YYYY-MM-DD` (Howard Hinnant's civil-from-days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unreadable CloudTrail files named one by one in the notes; the rest are counted.
const FILE_ERRORS_NAMED: usize = 10;

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
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_422), "2025-11-30");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
