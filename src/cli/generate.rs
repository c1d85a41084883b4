//! `iamtrim generate`: IAM Access Analyzer policy generation for existing principals, into the cache;
//! or, with `--athena` / `--cloudtrail-lake`, one aggregate query for all of them
//! (`crate::usage::gather::aggregate`, which `suggest` also reaches through its usage step).

use super::ExitStatus;
use super::progress::StatusLine;
use super::settings::{GenerateSettings, GenerateSource, Settings};
use crate::iam::Principal;
use crate::iam::catalog::Catalog;
use crate::minimize::RiskProfile;
use crate::plan::load_plan;
use crate::usage::access_analyzer::{
    GenerateReport, GenerateSettings as AnalyzerSettings, GenerationTarget, PollSettings, Progress,
    ProgressEvent, TargetStatus, generate,
};
use crate::usage::aws::run_with_aws;
use crate::usage::cache::{Cache, fingerprint};
use crate::usage::gather::{
    AggregateRequest, GatherRequest, Progress as GatherProgress, ProgressSink, UsageSource,
    aggregate,
};
use crate::usage::principal_fingerprint;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// `generate --athena` / `--cloudtrail-lake`: one query for every target, into the cache.
fn run_aggregate(
    settings: &Settings,
    args: &GenerateSettings,
    query: &AggregateRequest,
    principals: &[Principal],
) -> anyhow::Result<ExitStatus> {
    let mut targets: Vec<&Principal> = principals.iter().filter(|p| p.arn.is_some()).collect();
    let extra: Vec<Principal> = args
        .principals
        .iter()
        .filter(|arn| {
            !targets
                .iter()
                .any(|p| p.arn.as_deref() == Some(arn.as_str()))
        })
        .map(|arn| principal_of_arn(arn))
        .collect();
    targets.extend(extra.iter());
    let config = crate::config::Config::load(&settings.root_module)?;
    let cache = Cache::open(config.cache_dir(&settings.root_module, &settings.repo_root)?)
        .with_ttl(config.cache_ttl());
    let request = GatherRequest {
        source: UsageSource::Aggregate(query.clone()),
        window_days: Some(args.window_days),
        aws: args.aws.clone(),
        network: true,
        write_cache: true,
        now: std::time::SystemTime::now(),
    };
    let status = StatusLine::default();
    let show = |p: GatherProgress<'_>| status.show(p);
    let draw = std::io::stderr().is_terminal() && !settings.quiet;
    let (usage, notes) = aggregate(
        query,
        &request,
        &targets,
        &cache,
        Catalog::embedded(),
        draw.then_some(&show as &ProgressSink<'_>),
    )?;
    let mut out = std::io::stdout().lock();
    for p in &targets {
        let Some(arn) = &p.arn else { continue };
        let what = match usage.get(arn) {
            Some(u) => format!(
                "cached: {} action{} used{}",
                u.actions.len(),
                if u.actions.len() == 1 { "" } else { "s" },
                if u.denied.is_empty() {
                    String::new()
                } else {
                    format!(", {} denied", u.denied.len())
                }
            ),
            None => "no calls in the window (nothing cached)".to_string(),
        };
        writeln!(out, "{}  {what}", p.address)?;
    }
    for note in &notes {
        writeln!(out, "{note}")?;
    }
    Ok(ExitStatus::Clean)
}

/// A `--principal ARN` given without a plan: no policies, so its fingerprint is the one Access
/// Analyzer targets given the same way get.
fn principal_of_arn(arn: &str) -> Principal {
    use crate::iam::principal::PrincipalKind;
    let kind = if arn.contains(":user/") {
        PrincipalKind::User
    } else {
        PrincipalKind::Role
    };
    Principal {
        address: arn.to_string(),
        block_address: arn.to_string(),
        kind,
        name: arn.rsplit('/').next().map(str::to_string),
        arn: Some(arn.to_string()),
        account: arn.split(':').nth(4).map(str::to_string),
        plan_action: "no-op".into(),
        policies: Vec::new(),
        flags: Vec::new(),
        trusted_services: Vec::new(),
    }
}

/// Runs `generate`: the plan's principals (if any), then Access Analyzer or one aggregate query.
pub fn run(settings: &Settings, args: &GenerateSettings) -> anyhow::Result<ExitStatus> {
    let principals = match &args.plan {
        Some(plan) => std::mem::take(&mut crate::iam::discover(&load_plan(plan)?.plan).principals),
        None => Vec::new(),
    };
    match &args.source {
        GenerateSource::Aggregate(query) => run_aggregate(settings, args, query, &principals),
        GenerateSource::AccessAnalyzer {
            trail_arn,
            access_role_arn,
            trail_regions,
            daily_quota,
            cancel,
            first_poll,
        } => {
            // Resolve: the queue and the analyzer's settings.
            let targets = analyzer_targets(&principals, &args.principals);
            let config = crate::config::Config::load(&settings.root_module)?;
            let mut gen_settings = AnalyzerSettings::new(
                trail_arn,
                access_role_arn,
                config.cache_dir(&settings.root_module, &settings.repo_root)?,
            );
            gen_settings.ttl = config.cache_ttl();
            gen_settings.regions = trail_regions.clone();
            gen_settings.window_days = args.window_days;
            gen_settings.daily_quota = *daily_quota;
            gen_settings.cancel = *cancel;
            gen_settings.poll = PollSettings {
                initial: *first_poll,
                ..PollSettings::default()
            };
            // Call.
            let show_bars = std::io::stderr().is_terminal() && !settings.quiet;
            let report = run_with_aws(&args.aws, 0, |config| async move {
                let client = aws_sdk_accessanalyzer::Client::new(&config);
                let progress = Bars::new(show_bars);
                tokio::select! {
                    report = generate(targets, &gen_settings, &client, &progress) => Ok(report?),
                    _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(
                        "interrupted: running jobs are left running and recorded in .iamtrim/jobs.json; run again to resume them (or --cancel)"
                    )),
                }
            })?;
            // Render.
            render_generation(&mut std::io::stdout().lock(), &report)?;
            if !settings.quiet {
                let mut err = std::io::stderr().lock();
                for w in &report.warnings {
                    writeln!(err, "warning: {w}")?;
                }
            }
            match report.halted {
                Some(e) => Err(anyhow::Error::new(e)
                    .context("generation stopped; the queue is kept for the next run")),
                None => Ok(ExitStatus::Clean),
            }
        }
    }
}

/// The Access Analyzer queue: the plan's principals that have an ARN, riskiest first, then each
/// `--principal` ARN the plan does not hold (no policies, so the fingerprint of none).
fn analyzer_targets(principals: &[Principal], arns: &[String]) -> Vec<GenerationTarget> {
    let mut targets: Vec<GenerationTarget> = riskiest_first(principals, Catalog::embedded())
        .into_iter()
        .filter_map(target_of)
        .collect();
    for arn in arns {
        if !targets.iter().any(|t| &t.principal_arn == arn) {
            targets.push(GenerationTarget {
                principal_arn: arn.clone(),
                address: arn.clone(),
                policy_fingerprint: fingerprint(std::iter::empty()),
            });
        }
    }
    targets
}

/// One line per target (what happened to it), then the number of jobs started.
fn render_generation(out: &mut impl Write, report: &GenerateReport) -> std::io::Result<()> {
    for o in &report.outcomes {
        let what = match &o.status {
            TargetStatus::Cached => "cached (fresh entry, no call made)".to_string(),
            TargetStatus::Generated {
                job_id,
                resumed,
                complete,
                ..
            } => format!(
                "generated by job {job_id}{}{}",
                if *resumed { " (resumed)" } else { "" },
                if *complete { "" } else { ", incomplete" }
            ),
            TargetStatus::Failed { job_id, code } => format!("FAILED job {job_id}: {code}"),
            TargetStatus::Cancelled { job_id } => format!("cancelled job {job_id}"),
            TargetStatus::Pending => "pending (queued for the next run)".to_string(),
        };
        writeln!(out, "{}  {what}", o.address)?;
    }
    writeln!(
        out,
        "{} job{} started",
        report.jobs_started,
        if report.jobs_started == 1 { "" } else { "s" }
    )
}

/// The principals in queue order: riskiest first by the catalog ranking
/// ([`crate::minimize::RiskProfile`], which counts what wildcards and `NotAction` really grant), ties
/// in discovery order. Generation is slow and rate-limited, so the principals that matter most go first.
fn riskiest_first<'p>(principals: &'p [Principal], catalog: &Catalog) -> Vec<&'p Principal> {
    let risks = RiskProfile::of_each(
        principals
            .iter()
            .map(|p| p.policies.iter().filter_map(|s| s.document.as_deref())),
        catalog,
    );
    let mut ranked: Vec<(&Principal, RiskProfile)> = principals.iter().zip(risks).collect();
    ranked.sort_by_key(|(_, risk)| std::cmp::Reverse(risk.rank()));
    ranked.into_iter().map(|(p, _)| p).collect()
}

fn target_of(p: &Principal) -> Option<GenerationTarget> {
    Some(GenerationTarget {
        principal_arn: p.arn.clone()?,
        address: p.address.clone(),
        policy_fingerprint: principal_fingerprint(p),
    })
}

/// One spinner per job, on a terminal only.
struct Bars {
    multi: Option<MultiProgress>,
    jobs: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(enabled: bool) -> Self {
        Bars {
            multi: enabled.then(MultiProgress::new),
            jobs: Mutex::new(HashMap::new()),
        }
    }
}

impl Progress for Bars {
    fn on_event(&self, event: &ProgressEvent) {
        let Some(multi) = &self.multi else { return };
        let Ok(mut jobs) = self.jobs.lock() else {
            return;
        };
        match event {
            ProgressEvent::JobStarted {
                principal_arn,
                job_id,
                position,
                total,
                resumed,
            } => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {prefix} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("{position}/{total}"));
                bar.set_message(format!(
                    "{principal_arn}{}",
                    if *resumed { " (resumed)" } else { "" }
                ));
                bar.enable_steady_tick(Duration::from_millis(200));
                jobs.insert(job_id.clone(), bar);
            }
            ProgressEvent::JobFinished { job_id, status } => {
                if let Some(bar) = jobs.remove(job_id) {
                    bar.finish_with_message(format!("{} {status}", bar.message()));
                }
            }
            ProgressEvent::Throttled { operation, wait } => {
                let _ = multi.println(format!(
                    "throttled on {operation}; retrying in {}s",
                    wait.as_secs()
                ));
            }
            ProgressEvent::WaitingForOther {
                job_id,
                principal_arn,
            } => {
                let _ = multi.println(format!(
                    "waiting for job {job_id} ({principal_arn}): one generation at a time"
                ));
            }
            ProgressEvent::Queued { .. } | ProgressEvent::JobPolled { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::PolicyDocument;
    use crate::iam::principal::{PolicyKind, PolicySource, PrincipalKind};

    fn principal(address: &str, policy: &str) -> Principal {
        let doc = PolicyDocument::parse_str(policy).unwrap();
        Principal {
            address: address.into(),
            block_address: address.into(),
            kind: PrincipalKind::Role,
            name: Some(address.into()),
            arn: Some(format!("arn:aws:iam::123456789012:role/{address}")),
            account: Some("123456789012".into()),
            plan_action: "no-op".into(),
            policies: vec![PolicySource {
                address: format!("{address}_policy"),
                kind: PolicyKind::Inline,
                name: None,
                arn: None,
                attachment: None,
                via_group: None,
                document: Some(std::sync::Arc::new(doc.clone())),
                before: Some(std::sync::Arc::new(doc)),
                unknown_reason: None,
                origin: None,
            }],
            flags: Vec::new(),
            trusted_services: Vec::new(),
        }
    }

    #[test]
    fn the_queue_is_riskiest_first_by_what_wildcards_grant() {
        // Neither has a syntactic risk flag, so discovery leaves them in address order; the catalog
        // knows `iam:Pass*` grants `iam:PassRole` (privilege escalation) and `ssm:GetParameter*`
        // hands out secrets, while `sqs:List*` grants nothing risky.
        let principals = vec![
            principal(
                "a_lister",
                r#"{"Statement":[{"Effect":"Allow","Action":"sqs:List*","Resource":"*"}]}"#,
            ),
            principal(
                "b_secrets",
                r#"{"Statement":[{"Effect":"Allow","Action":"ssm:GetParameter*","Resource":"*"}]}"#,
            ),
            principal(
                "c_passer",
                r#"{"Statement":[{"Effect":"Allow","Action":"iam:Pass*","Resource":"*"}]}"#,
            ),
        ];
        let order: Vec<&str> = riskiest_first(&principals, Catalog::embedded())
            .into_iter()
            .map(|p| p.address.as_str())
            .collect();
        assert_eq!(order, ["c_passer", "b_secrets", "a_lister"]);
    }
}
