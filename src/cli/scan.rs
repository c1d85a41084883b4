//! `iamtrim scan PLAN`: every principal with the policies that reach it.

use super::ExitStatus;
use super::args::{Format, ScanArgs};
use super::settings::Settings;
use crate::emit::report::{self, PlanInfo, Report};
use crate::plan::load_plan;
use std::io::Write;

/// Runs `scan`.
pub fn run(settings: &Settings, args: &ScanArgs) -> anyhow::Result<ExitStatus> {
    let loaded = load_plan(&args.plan)?;
    let mut discovery = crate::iam::discover(&loaded.plan);
    // The snapshot's documents count towards granted actions and risk flags like any other.
    let resolution = crate::iam::aws_managed::resolve(
        &mut discovery.principals,
        &Default::default(),
        Some(crate::iam::aws_managed::AwsManagedPolicies::embedded()),
    );
    let info = PlanInfo {
        path: loaded.path.clone(),
        format_version: loaded.plan.format_version.clone(),
        terraform_version: loaded.plan.terraform_version.clone(),
    };
    let mut report = Report::from_discovery("scan", info, &discovery, &loaded.warnings);
    report.warnings.extend(
        resolution
            .missing
            .iter()
            .map(|arn| format!("{arn}: AWS-managed policy not in the bundled snapshot")),
    );
    let text = match args.format {
        Format::Json => report::json::render(&report),
        Format::Markdown => report::markdown::render_scan(&report),
        Format::Text => report::text::render_scan(
            &report,
            report::text::TextStyle {
                color: settings.color,
                verbose: settings.verbose > 0,
            },
        ),
    };
    if !settings.quiet && args.format == Format::Text {
        let mut err = std::io::stderr().lock();
        for w in &report.warnings {
            writeln!(err, "warning: {w}")?;
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    super::release((loaded, discovery, report, text));
    Ok(ExitStatus::Clean)
}
