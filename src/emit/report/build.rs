//! Building a [`Report`] from a run: the scan report of the plan's principals
//! ([`Report::from_discovery`]), the analysis of `suggest` / `check` on top of it
//! ([`Report::from_analysis`]), and what the Terraform writer did ([`Report::record_written`]).

use super::{FileKind, FileReport, PlanInfo, Report, ReportCommand, SuggestionReport};
use crate::emit::write::{Outcome, WriteReport, WrittenKind};
use crate::minimize::Analysis;
use std::collections::HashMap;
use std::path::Path;

impl PlanInfo {
    /// What a report says about the plan it is about.
    pub fn of(loaded: &crate::plan::LoadedPlan) -> Self {
        PlanInfo {
            path: loaded.path.clone(),
            format_version: loaded.plan.format_version.clone(),
            terraform_version: loaded.plan.terraform_version.clone(),
        }
    }
}

impl Report {
    /// The report of an analysis: the scan report with each principal's status and suggestions,
    /// riskiest first, and the usage notes and stale cache entries as warnings.
    pub fn from_analysis(command: ReportCommand, analysis: &Analysis) -> Self {
        let mut report = Report::from_discovery(
            command,
            PlanInfo::of(&analysis.loaded),
            &analysis.discovery,
            &analysis.loaded.warnings,
        );
        report.warnings.extend(analysis.notes.iter().cloned());
        for (address, why) in &analysis.stale {
            report.warnings.push(format!("{address}: {why}"));
        }
        // Outcomes come riskiest first by the catalog's ranking: order the report the same way.
        let position: HashMap<&str, usize> = analysis
            .outcomes
            .iter()
            .enumerate()
            .rev()
            .map(|(i, o)| (o.address.as_str(), i))
            .collect();
        report.principals.sort_by_key(|p| {
            position
                .get(p.address.as_str())
                .copied()
                .unwrap_or(usize::MAX)
        });
        let outcome_of: HashMap<&str, &crate::minimize::PrincipalOutcome> = analysis
            .outcomes
            .iter()
            .rev()
            .map(|o| (o.address.as_str(), o))
            .collect();
        for p in &mut report.principals {
            let Some(outcome) = outcome_of.get(p.address.as_str()) else {
                continue;
            };
            p.status = Some(outcome.status);
            p.suggestions = outcome
                .suggestions
                .iter()
                .filter(|s| s.changes_anything())
                .map(SuggestionReport::from_suggestion)
                .collect();
            p.notes = outcome
                .unchanged_reason
                .iter()
                .chain(&outcome.notes)
                .cloned()
                .collect();
        }
        report
    }

    /// Adds what the Terraform writer wrote (or, with `dry_run`, would write): the files, relative
    /// to `repo_root`, and a warning per policy that went to a suggestion file or was not written.
    pub fn record_written(&mut self, written: &WriteReport, repo_root: &Path, dry_run: bool) {
        for f in &written.files {
            self.files.push(FileReport {
                path: relative(repo_root, &f.path),
                kind: match f.kind {
                    WrittenKind::Patch => FileKind::Patch,
                    WrittenKind::SuggestionFile => FileKind::Suggestion,
                },
                written: !dry_run,
            });
        }
        for o in &written.outcomes {
            match &o.outcome {
                // The note already begins with the policy and its place (it heads the suggestion file).
                Outcome::SuggestionFile { note, .. } if note.starts_with(&o.address) => {
                    self.warnings.push(note.clone())
                }
                Outcome::SuggestionFile { note, .. } => {
                    self.warnings.push(format!("{}: {note}", o.address))
                }
                Outcome::Skipped { why } => self
                    .warnings
                    .push(format!("{}: not written: {why}", o.address)),
                Outcome::Patched { .. } | Outcome::Unchanged => {}
            }
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
