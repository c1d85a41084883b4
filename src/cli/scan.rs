//! `iamtrim scan PLAN`: every principal with the policies that reach it.

use super::ExitStatus;
use super::settings::{ScanSettings, Settings};
use crate::emit::report::{PlanInfo, Report, ReportCommand};
use crate::plan::load_plan;

/// Runs `scan`.
pub fn run(settings: &Settings, args: &ScanSettings) -> anyhow::Result<ExitStatus> {
    // The catalog (for granted counts) and the AWS-managed policy snapshot decode on threads of
    // their own while the plan is read and parsed, as in `analyze`; their first use waits for them
    // (each is a `OnceLock`).
    super::decode_embedded_data(true);
    let loaded = load_plan(&args.plan)?;
    let mut discovery = crate::iam::discover(&loaded.plan);
    // The snapshot's documents count towards granted actions and risk flags like any other; a plan
    // without AWS-managed policies does not wait for it.
    let snapshot = crate::iam::aws_managed::any_unresolved(&discovery.principals)
        .then(crate::iam::aws_managed::AwsManagedPolicies::embedded);
    let resolution =
        crate::iam::aws_managed::resolve(&mut discovery.principals, &Default::default(), snapshot);
    let info = PlanInfo {
        path: loaded.path.clone(),
        format_version: loaded.plan.format_version.clone(),
        terraform_version: loaded.plan.terraform_version.clone(),
    };
    let mut report =
        Report::from_discovery(ReportCommand::Scan, info, &discovery, &loaded.warnings);
    report.warnings.extend(
        resolution
            .missing
            .iter()
            .map(|arn| format!("{arn}: AWS-managed policy not in the bundled snapshot")),
    );
    super::output::print_report(settings, args.format, &report)?;
    super::release((loaded, discovery, report));
    Ok(ExitStatus::Clean)
}
