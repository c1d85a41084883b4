//! `iamtrim suggest PLAN`: the whole pipeline, written back as Terraform patches and reported:
//! analyze, locate and write the edits (`crate::emit`), render the report.

use super::ExitStatus;
use super::analyze::analyze;
use super::settings::{Settings, SuggestSettings};
use crate::emit::report::{Report, ReportCommand};
use crate::emit::{WriteOptions, policy_edits, write_suggestions_and_replacements};

/// Runs `suggest`.
pub fn run(settings: &Settings, args: &SuggestSettings) -> anyhow::Result<ExitStatus> {
    let analysis = analyze(settings, &args.plan, &args.usage, true)?;
    let edits = policy_edits(&analysis);
    let out_dir = args.out.prepare(args.dry_run)?;
    let written = write_suggestions_and_replacements(
        &settings.repo_root,
        &analysis.loaded.plan,
        &edits,
        &analysis.replacements,
        &WriteOptions {
            out_dir,
            dry_run: args.dry_run,
            module_root: Some(settings.root_module.clone()),
        },
    )?;
    let mut report = Report::from_analysis(ReportCommand::Suggest, &analysis);
    report.record_written(&written, &settings.repo_root, args.dry_run);
    super::output::print_report(settings, args.format, &report)?;
    super::release((analysis, edits, written, report));
    Ok(ExitStatus::Clean)
}
