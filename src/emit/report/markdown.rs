//! The Markdown format: a summary table for a pull-request comment or chat message.

use super::{FileKind, Report};
use crate::minimize::Applicability;
use std::io::{self, Write};

/// Renders the scan summary as Markdown.
pub fn render_scan(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let s = &report.summary;
    writeln!(
        out,
        "### iamtrim: {} IAM principal{} in `{}`\n",
        s.principals,
        if s.principals == 1 { "" } else { "s" },
        report.plan.path
    )?;
    if report.principals.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "| Principal | Kind | ARN | Policies | Granted actions | Flags |"
    )?;
    writeln!(out, "|---|---|---|---:|---:|---|")?;
    for p in &report.principals {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            p.address.replace('|', "\\|"),
            p.kind,
            p.arn
                .as_deref()
                .map_or("new".to_string(), |a| format!("`{a}`")),
            p.policies.len(),
            p.granted_actions,
            if p.flags.is_empty() {
                "".to_string()
            } else {
                p.flags
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        )?;
    }
    Ok(())
}

/// Diff lines per suggestion: PR comments have a size limit (GitHub: 65,536 characters).
const MAX_DIFF_LINES: usize = 150;

/// Renders `suggest`/`check` as a pull-request comment: a summary table, then a collapsible diff per
/// principal, pointing at the patch files.
pub fn render_suggest(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let with: Vec<_> = report
        .principals
        .iter()
        .filter(|p| !p.suggestions.is_empty())
        .collect();
    let removed: usize = with
        .iter()
        .flat_map(|p| &p.suggestions)
        .map(|s| s.granted.saturating_sub(s.kept))
        .sum();
    writeln!(
        out,
        "### iamtrim: {} principal{} can drop {} unused action{}\n",
        with.len(),
        if with.len() == 1 { "" } else { "s" },
        removed,
        if removed == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "| Principal | Status | Granted | Suggested | Removed | |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---|")?;
    for p in &report.principals {
        let granted: usize = p.suggestions.iter().map(|s| s.granted).sum();
        let kept: usize = p.suggestions.iter().map(|s| s.kept).sum();
        let review = p
            .suggestions
            .iter()
            .any(|s| s.applicability != Applicability::Safe);
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            p.address.replace('|', "\\|"),
            p.status.map_or_else(|| "-".to_string(), |s| s.to_string()),
            if p.suggestions.is_empty() {
                "-".to_string()
            } else {
                granted.to_string()
            },
            if p.suggestions.is_empty() {
                "-".to_string()
            } else {
                kept.to_string()
            },
            (granted.saturating_sub(kept) * 100)
                .checked_div(granted)
                .map_or("-".to_string(), |pct| format!("{pct}%")),
            if review { "review needed" } else { "" }
        )?;
    }
    let diffs = super::text::suggestion_diffs(report);
    let with_diffs = report
        .principals
        .iter()
        .zip(&diffs)
        .filter(|(p, _)| !p.suggestions.is_empty());
    for (p, diffs) in with_diffs {
        writeln!(
            out,
            "\n<details><summary><code>{}</code></summary>\n",
            p.address
        )?;
        for (s, diff) in p.suggestions.iter().zip(diffs) {
            writeln!(
                out,
                "`{}`: {} -> {} actions ({})\n",
                s.policy_address, s.granted, s.kept, s.applicability
            )?;
            // Why a suggestion needs review (and other notes) belong in the comment a reviewer reads.
            for note in &s.notes {
                writeln!(out, "- {}", note.replace('|', "\\|"))?;
            }
            if !s.notes.is_empty() {
                writeln!(out)?;
            }
            let total = diff.lines().count();
            let head: Vec<&str> = diff.lines().take(MAX_DIFF_LINES).collect();
            writeln!(out, "```diff\n{}\n```\n", head.join("\n"))?;
            if total > MAX_DIFF_LINES {
                writeln!(
                    out,
                    "_{} more diff lines: see the patch or `--format json`._\n",
                    total - MAX_DIFF_LINES
                )?;
            }
        }
        writeln!(out, "</details>")?;
    }
    let patches: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Patch)
        .collect();
    if !patches.is_empty() {
        writeln!(out, "\nApply with `iamtrim apply` or `git apply`:")?;
        for f in patches {
            writeln!(out, "- `{}`", f.path)?;
        }
    }
    Ok(())
}
