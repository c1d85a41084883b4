//! `iamtrim suggest PLAN`: the whole pipeline, written back as Terraform patches and reported.

use super::ExitStatus;
use super::analyze::analyze;
use super::settings::{Settings, SuggestSettings};
use crate::emit::report::{Report, ReportCommand};
use crate::emit::{PolicyEdit, PolicyLocation, WriteOptions, write_suggestions_and_replacements};
use crate::iam::discover::strip_instance_keys;
use crate::iam::{PolicySource, PolicyTarget, Principal};
use crate::minimize::Analysis;
use std::collections::BTreeSet;

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
    let (address, target) = match &origin.document_source {
        Some(doc) => (doc.as_str(), PolicyTarget::DocumentStatements),
        None => (origin.resource.as_str(), origin.target.clone()),
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
        target,
    })
}
