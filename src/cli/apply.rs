//! `iamtrim apply [PATCH ...]`: applies the patches `suggest` wrote, refusing changed targets.

use super::ExitStatus;
use super::settings::{ApplySettings, Settings};
use crate::emit::apply_patches;
use crate::emit::patch::FileApply;
use std::io::Write;

/// Runs `apply`.
pub fn run(settings: &Settings, args: &ApplySettings) -> anyhow::Result<ExitStatus> {
    let report = apply_patches(&settings.repo_root, &args.patches)?;
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
