//! `iamtrim suggest PLAN`: the whole pipeline, written back as Terraform patches and reported.

use super::ExitStatus;
use super::analyze::{Analysis, UsageInputs, analyze};
use super::args::{Format, SuggestArgs};
use super::settings::Settings;
use crate::emit::report::{self, FileReport, PlanInfo, Report};
use crate::emit::write::Outcome;
use crate::emit::{PolicyEdit, PolicyLocation, WriteOptions, write_suggestions_and_replacements};
use crate::iam::discover::strip_instance_keys;
use crate::iam::{PolicySource, Principal};
use crate::minimize::PolicySuggestion;
use anyhow::Context;
use std::collections::BTreeSet;
use std::io::Write;

/// Runs `suggest`.
pub fn run(settings: &Settings, args: &SuggestArgs) -> anyhow::Result<ExitStatus> {
    let inputs = UsageInputs {
        cloudtrail: args.cloudtrail.clone(),
        window_days: args.window_days,
        aws: args.aws.to_aws_args(),
        aws_managed: args.aws_managed,
        aggregate: super::generate::aggregate_inputs(&args.aggregate)?,
        write_cache: !args.dry_run,
    };
    let analysis = analyze(settings, &args.plan, &inputs, true)?;
    let edits = policy_edits(&analysis);
    let out_dir = match &args.out {
        // A dry run writes nothing, so the folder is neither created nor required to exist.
        Some(dir) if args.dry_run => {
            Some(std::path::absolute(dir).with_context(|| format!("--out {}", dir.display()))?)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
            Some(
                dir.canonicalize()
                    .with_context(|| format!("--out {}", dir.display()))?,
            )
        }
        None => None,
    };
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
    let mut report = build_report("suggest", &analysis);
    for f in &written.files {
        report.files.push(FileReport {
            path: relative(&settings.repo_root, &f.path),
            kind: match f.kind {
                crate::emit::write::WrittenKind::Patch => "patch".to_string(),
                crate::emit::write::WrittenKind::SuggestionFile => "suggestion".to_string(),
            },
            written: !args.dry_run,
        });
    }
    for o in &written.outcomes {
        match &o.outcome {
            // The note already begins with the policy and its place (it heads the suggestion file).
            Outcome::SuggestionFile { note, .. } if note.starts_with(&o.address) => {
                report.warnings.push(note.clone())
            }
            Outcome::SuggestionFile { note, .. } => {
                report.warnings.push(format!("{}: {note}", o.address))
            }
            Outcome::Skipped { why } => report
                .warnings
                .push(format!("{}: not written: {why}", o.address)),
            Outcome::Patched { .. } | Outcome::Unchanged => {}
        }
    }
    render(settings, args.format, &report)?;
    super::release((analysis, edits, written, report));
    Ok(ExitStatus::Clean)
}

/// Prints a report in the chosen format; warnings go to stderr for text.
pub fn render(settings: &Settings, format: Format, report: &Report) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => report::json::render(report),
        Format::Markdown => report::markdown::render_suggest(report),
        Format::Text => report::text::render_suggest(
            report,
            report::text::TextStyle {
                color: settings.color,
                verbose: settings.verbose > 0,
            },
        ),
    };
    if !settings.quiet && format == Format::Text {
        let mut err = std::io::stderr().lock();
        for w in &report.warnings {
            writeln!(err, "warning: {w}")?;
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The report of an analysis: the scan report with each principal's status and suggestions.
pub fn build_report(command: &str, analysis: &Analysis) -> Report {
    let info = PlanInfo {
        path: analysis.loaded.path.clone(),
        format_version: analysis.loaded.plan.format_version.clone(),
        terraform_version: analysis.loaded.plan.terraform_version.clone(),
    };
    let mut report = Report::from_discovery(
        command,
        info,
        &analysis.discovery,
        &analysis.loaded.warnings,
    );
    report.warnings.extend(analysis.notes.iter().cloned());
    for (address, why) in &analysis.stale {
        report.warnings.push(format!("{address}: {why}"));
    }
    // Outcomes come riskiest first by the catalog's ranking: order the report the same way.
    let order: Vec<&str> = analysis
        .outcomes
        .iter()
        .map(|o| o.address.as_str())
        .collect();
    report.principals.sort_by_key(|p| {
        order
            .iter()
            .position(|a| *a == p.address)
            .unwrap_or(usize::MAX)
    });
    for p in &mut report.principals {
        let Some(outcome) = analysis.outcomes.iter().find(|o| o.address == p.address) else {
            continue;
        };
        p.status = Some(outcome.status.to_string());
        p.suggestions = outcome
            .suggestions
            .iter()
            .filter(|s| s.changes_anything())
            .map(suggestion_report)
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

fn suggestion_report(s: &PolicySuggestion) -> report::SuggestionReport {
    report::SuggestionReport::from_suggestion(s)
}

/// One edit per policy document that changes (a shared policy once), located in Terraform.
fn policy_edits(analysis: &Analysis) -> Vec<PolicyEdit> {
    let mut seen = BTreeSet::new();
    let mut edits = Vec::new();
    for outcome in &analysis.outcomes {
        let Some(principal) = analysis
            .discovery
            .principals
            .iter()
            .find(|p| p.address == outcome.address)
        else {
            continue;
        };
        for s in &outcome.suggestions {
            let Some(suggested) = &s.suggested else {
                continue;
            };
            if !s.changes_anything() || !seen.insert(s.policy_address.clone()) {
                continue;
            }
            let Some(source) = source_of(principal, &s.policy_address) else {
                continue;
            };
            let Some(location) = location_of(source) else {
                continue;
            };
            edits.push(PolicyEdit {
                location,
                current: s.current.clone(),
                suggested: suggested.clone(),
                statements: s.statements.clone(),
            });
        }
    }
    edits
}

fn source_of<'a>(p: &'a Principal, policy_address: &str) -> Option<&'a PolicySource> {
    p.policies.iter().find(|s| s.address == policy_address)
}

/// Where a policy's document is written: the rendering data source when there is one.
fn location_of(source: &PolicySource) -> Option<PolicyLocation> {
    let origin = source.origin.as_ref()?;
    let (address, attribute, block_name) = match &origin.document_source {
        Some(doc) => (doc.as_str(), "statement".to_string(), None),
        None => (
            origin.resource.as_str(),
            origin.attribute.clone(),
            origin.block_name.clone(),
        ),
    };
    let block = strip_instance_keys(address);
    let mut parts: Vec<&str> = block.split('.').collect();
    let mut module = Vec::new();
    while parts.len() > 2 && parts[0] == "module" {
        module.push(parts[1]);
        parts.drain(..2);
    }
    let is_data = parts.first() == Some(&"data");
    if is_data {
        parts.remove(0);
    }
    let [resource_type, resource_name] = parts.as_slice() else {
        return None;
    };
    Some(PolicyLocation {
        module_key: module.join("."),
        resource_type: resource_type.to_string(),
        resource_name: resource_name.to_string(),
        is_data,
        attribute,
        block_name,
    })
}

fn relative(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
