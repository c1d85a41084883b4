//! `iamtrim apply [PATCH ...]`: applies the patches `suggest` wrote, refusing changed targets.

use super::ExitStatus;
use super::args::ApplyArgs;
use super::settings::Settings;
use crate::emit::apply_patches;
use crate::emit::patch::FileApply;
use anyhow::Context;
use std::io::Write;

/// Runs `apply`.
pub fn run(settings: &Settings, args: &ApplyArgs) -> anyhow::Result<ExitStatus> {
    let patches: Vec<_> = args
        .patches
        .iter()
        .map(|p| {
            p.canonicalize()
                .with_context(|| format!("{}: cannot read patch", p.display()))
        })
        .collect::<Result<_, _>>()?;
    let report = apply_patches(&settings.repo_root, &patches)?;
    let mut out = std::io::stdout().lock();
    if report.patches.is_empty() {
        writeln!(
            out,
            "No iamtrim.patch under {}.",
            settings.repo_root.display()
        )?;
    }
    for p in &report.patches {
        for (file, what) in &p.files {
            let what = match what {
                FileApply::Applied => "patched",
                FileApply::AlreadyApplied => "already applied, nothing to do",
            };
            writeln!(out, "{file}: {what}")?;
        }
    }
    Ok(ExitStatus::Clean)
}
