//! `iamtrim check PLAN`: cache only, no network, no writes; exit 1 when unused permissions are pending.

use super::ExitStatus;
use super::analyze::analyze;
use super::settings::{CheckSettings, Settings, check_usage};
use crate::emit::report::{Report, ReportCommand};

/// Runs `check`.
pub fn run(settings: &Settings, args: &CheckSettings) -> anyhow::Result<ExitStatus> {
    let analysis = analyze(settings, &args.plan, &check_usage(), false)?;
    let mut report = Report::from_analysis(ReportCommand::Check, &analysis);
    let over: Vec<(String, usize)> = report
        .principals
        .iter()
        .map(|p| {
            (
                p.address.clone(),
                p.suggestions
                    .iter()
                    .map(|s| s.granted.saturating_sub(s.kept))
                    .sum::<usize>(),
            )
        })
        .filter(|(_, unused)| *unused > args.max_unused)
        .collect();
    // Principals without findings make the check's report noise: keep the ones over the threshold.
    report
        .principals
        .retain(|p| over.iter().any(|(a, _)| *a == p.address));
    super::output::print_report(settings, args.format, &report)?;
    super::release((analysis, report));
    Ok(if over.is_empty() {
        ExitStatus::Clean
    } else {
        ExitStatus::Findings
    })
}
