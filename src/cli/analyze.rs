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
use crate::usage::cache::{Cache, CacheEntry, CacheKey, Lookup, StaleReason};
use crate::usage::cloudtrail::{self, PrincipalFilter, ProgressHook, ScanOptions, ScanProgress};
use crate::usage::{ObservedUsage, UsageSourceKind, principal_fingerprint};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
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
    /// Principals whose cached usage is stale, with why.
    pub stale: Vec<(String, String)>,
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

    if let Some(source) = &inputs.cloudtrail {
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
                return Ok(cloudtrail::scan_path(Path::new(source), &opts)?);
            }
            if !network {
                anyhow::bail!(
                    "--cloudtrail {source}: reading S3 needs the network, which this command does not use"
                );
            }
            // Two workers: while one waits for the parsing threads, the other keeps downloading.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(async {
                let config = crate::usage::aws::sdk_config(&inputs.aws).await;
                crate::usage::aws::check_credentials(&config).await?;
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
        let unmapped: u64 = scan.stats.unmapped.values().sum();
        if unmapped > 0 {
            let mut top: Vec<_> = scan.stats.unmapped.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let names: Vec<String> = top
                .iter()
                .take(5)
                .map(|((src, name), n)| format!("{src} {name} ({n})"))
                .collect();
            notes.push(format!(
                "{unmapped} CloudTrail events map to no IAM action in the catalog: {}{}",
                names.join(", "),
                if top.len() > 5 { ", ..." } else { "" }
            ));
        }
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
            let key = CacheKey::new(arn, UsageSourceKind::Cloudtrail, params.clone());
            let entry = CacheEntry::new(key, u.clone(), &principal_fingerprint(p), now);
            // Only the usage source of this run is written; a read-only repository still gets its suggestions.
            if let Err(e) = cache.put(&entry) {
                notes.push(format!("usage cache not written: {e}"));
            }
            usage.insert(arn.clone(), u.clone());
        }
    } else {
        let (entries, warnings) = cache.list().unwrap_or_default();
        notes.extend(warnings.iter().map(ToString::to_string));
        for p in &existing {
            let Some(arn) = &p.arn else { continue };
            let fingerprint = principal_fingerprint(p);
            for entry in entries.iter().filter(|e| &e.key.principal_arn == arn) {
                match cache.get(&entry.key, &fingerprint, now) {
                    Lookup::Fresh(e) => merge_into(&mut usage, arn, e.usage),
                    Lookup::Stale {
                        entry: e,
                        why: StaleReason::Expired { age_secs },
                    } => {
                        // Old usage still holds, but newer behaviour may be missing: review before applying.
                        let mut u = e.usage;
                        u.complete = false;
                        merge_into(&mut usage, arn, u);
                        stale.push((
                            p.address.clone(),
                            format!("cached usage is {} days old", age_secs / 86_400),
                        ));
                    }
                    Lookup::Stale {
                        entry: e,
                        why: why @ StaleReason::FromTheFuture { .. },
                    } => {
                        // Its age cannot be known: used like an expired entry, for review.
                        let mut u = e.usage;
                        u.complete = false;
                        merge_into(&mut usage, arn, u);
                        stale.push((p.address.clone(), why.to_string()));
                    }
                    Lookup::Stale {
                        why: StaleReason::PoliciesChanged,
                        ..
                    } => {
                        // Actions granted since then may be in use without showing in the old usage:
                        // minimizing against it could remove them, so this principal waits for fresh data.
                        stale.push((
                            p.address.clone(),
                            "policies changed since its usage was cached; refresh with --cloudtrail or `iamtrim generate`"
                                .to_string(),
                        ));
                    }
                    Lookup::Miss(Some(w)) => notes.push(w.to_string()),
                    Lookup::Miss(None) => {}
                }
            }
        }
        let stale_principals: Vec<&String> = stale
            .iter()
            .filter(|(_, why)| why.starts_with("policies changed"))
            .map(|(a, _)| a)
            .collect();
        for p in &existing {
            if stale_principals.contains(&&p.address) {
                if let Some(arn) = &p.arn {
                    usage.remove(arn);
                }
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
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_422), "2025-11-30");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
