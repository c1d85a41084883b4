//! The pipeline shared by `suggest` and `check`, as library calls: plan -> principals (AWS-managed
//! documents resolved) -> usage (`crate::usage::gather`) -> minimize (with customer-managed
//! replacements of AWS-managed policies, `crate::minimize::aws_managed`). Commands render and
//! write; this only calls the stages in order and draws the status line.

use super::progress::StatusLine;
use super::settings::Settings;
use crate::config::Config;
use crate::iam::catalog::Catalog;
use crate::minimize::{Analysis, Minimized, PriorAttachments, minimize_with_replacements};
use crate::plan::load_plan;
use crate::usage::cache::Cache;
use crate::usage::gather::{AggregateRequest, GatherRequest, Progress, UsageSource, gather};
use crate::usage::iam_policies::{AwsManagedSource, resolve_aws_managed};
use std::io::IsTerminal;
use std::path::Path;
use std::time::SystemTime;

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
    pub aws_managed: AwsManagedSource,
    /// `--athena` / `--cloudtrail-lake`: one aggregate query instead of reading logs.
    pub aggregate: Option<AggregateRequest>,
    /// Whether usage read from CloudTrail is stored in the cache (`suggest` without `--dry-run`).
    pub write_cache: bool,
}

/// Runs the pipeline. With `network == false` only the cache is read.
pub fn analyze(
    settings: &Settings,
    plan: &Path,
    inputs: &UsageInputs,
    network: bool,
) -> anyhow::Result<Analysis> {
    // The catalog (and the AWS-managed snapshot, unless it is off) decode on threads of their own
    // while the plan is read and parsed; the first use below waits (each is a `OnceLock`).
    super::decode_embedded_data(inputs.aws_managed != AwsManagedSource::Off);
    let loaded = load_plan(plan)?;
    let mut discovery = crate::iam::discover(&loaded.plan);
    let config = Config::load(&settings.root_module)?;
    let catalog = Catalog::embedded();
    let cache = Cache::open(config.cache_dir(&settings.root_module, &settings.repo_root)?)
        .with_ttl(config.cache_ttl());
    let mut notes = resolve_aws_managed(
        &mut discovery.principals,
        inputs.aws_managed,
        &inputs.aws,
        network,
    )?;
    let request = GatherRequest {
        source: UsageSource::choose(inputs.cloudtrail.clone(), inputs.aggregate.clone(), network),
        window_days: inputs.window_days,
        aws: inputs.aws.clone(),
        network,
        write_cache: inputs.write_cache,
        now: SystemTime::now(),
    };
    let gathered = gather_with_status(settings, &discovery.principals, &cache, catalog, &request)?;
    notes.extend(gathered.notes);
    let prior = match inputs.aws_managed {
        // No replacement is made, so no attachment needs looking up.
        AwsManagedSource::Off => None,
        AwsManagedSource::Online | AwsManagedSource::Snapshot => {
            Some(PriorAttachments::from_plan(&loaded.plan))
        }
    };
    let Minimized {
        outcomes,
        replacements,
    } = minimize_with_replacements(
        &discovery.principals,
        &gathered.usage,
        catalog,
        &config,
        prior.as_ref(),
    );
    Ok(Analysis {
        loaded,
        discovery,
        outcomes,
        notes,
        stale: gathered.stale,
        replacements,
    })
}

/// [`gather`], with a status line on a terminal: a scan of months of logs takes a while.
pub fn gather_with_status(
    settings: &Settings,
    principals: &[crate::iam::Principal],
    cache: &Cache,
    catalog: &'static Catalog,
    request: &GatherRequest,
) -> anyhow::Result<crate::usage::gather::GatheredUsage> {
    let status = StatusLine::default();
    let show = |p: Progress<'_>| status.show(p);
    let draw = std::io::stderr().is_terminal() && !settings.quiet;
    Ok(gather(
        principals,
        cache,
        catalog,
        request,
        draw.then_some(&show as &crate::usage::gather::ProgressSink<'_>),
    )?)
}
