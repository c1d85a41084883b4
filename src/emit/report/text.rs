//! The text format: a table for people, riskiest principal first.

use super::{Report, Verdict};
use std::io::{self, Write};

/// Styling options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// ANSI colors.
    pub color: bool,
    /// List each policy source under its principal.
    pub verbose: bool,
}

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Renders the scan table.
pub fn render_scan(report: &Report, style: TextStyle, out: &mut impl Write) -> io::Result<()> {
    if report.principals.is_empty() {
        writeln!(out, "No IAM principals in {}.", report.plan.path)?;
        return Ok(());
    }
    let headers = ["PRINCIPAL", "KIND", "ARN", "POLICIES", "GRANTED", "FLAGS"];
    let rows: Vec<[String; 6]> = report
        .principals
        .iter()
        .map(|p| {
            [
                p.address.clone(),
                p.kind.to_string(),
                p.arn.clone().unwrap_or_else(|| "new".to_string()),
                p.policies.len().to_string(),
                p.granted_actions.to_string(),
                if p.flags.is_empty() {
                    "-".to_string()
                } else {
                    join_flags(&p.flags)
                },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", paint(style.color, "1", &line(headers)))?;
    for (p, r) in report.principals.iter().zip(&rows) {
        let mut text = line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
        if style.color && !p.flags.is_empty() {
            let flags_at = text.len() - r[5].len();
            text = format!("{}{}", &text[..flags_at], paint(true, "31", &r[5]));
        }
        writeln!(out, "{text}")?;
        if style.verbose {
            for s in &p.policies {
                let what = match (&s.document, &s.unknown_reason) {
                    (Some(doc), _) => {
                        let n = doc.statement_count();
                        format!("{n} statement{}", if n == 1 { "" } else { "s" })
                    }
                    (None, Some(why)) => format!("document unknown: {why}"),
                    (None, None) => "document unknown".to_string(),
                };
                let via = match (&s.via_group, &s.attachment) {
                    (Some(g), _) => format!(" via {g}"),
                    (None, Some(a)) if a != &s.address && a != &p.address => format!(" via {a}"),
                    _ => String::new(),
                };
                // Display ignores width: pad the kind's word.
                let kind = s.kind.to_string();
                writeln!(out, "    {kind:<21} {}{}  ({})", s.address, via, what)?;
            }
        }
    }
    let s = &report.summary;
    writeln!(
        out,
        "\n{} principal{} ({} new), {} polic{} ({} unknown), {} flagged",
        s.principals,
        if s.principals == 1 { "" } else { "s" },
        s.new_principals,
        s.policies,
        if s.policies == 1 { "y" } else { "ies" },
        s.unknown_documents,
        s.flagged
    )?;
    Ok(())
}

fn join_flags(flags: &[crate::iam::RiskFlag]) -> String {
    flags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Diff lines shown per suggestion without -v.
const DIFF_LINES: usize = 60;

/// A unified diff of two policy documents' pretty JSON (for the reports; patches come from the writer).
pub fn document_diff(current: &serde_json::Value, suggested: Option<&serde_json::Value>) -> String {
    let old = serde_json::to_string_pretty(current).unwrap_or_default() + "\n";
    let new = suggested.map_or(String::new(), |s| {
        serde_json::to_string_pretty(s).unwrap_or_default() + "\n"
    });
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(2)
        .header(
            "current",
            if suggested.is_some() {
                "suggested"
            } else {
                "detached"
            },
        )
        .to_string()
}

/// [`document_diff`] of every suggestion, per principal, in report order. Diffing is most of the
/// rendering time of a large report, and each diff stands alone: they are computed in parallel.
pub(super) fn suggestion_diffs(report: &Report) -> Vec<Vec<String>> {
    use rayon::prelude::*;
    report
        .principals
        .par_iter()
        .map(|p| {
            p.suggestions
                .iter()
                .map(|s| document_diff(&s.current, s.suggested.as_ref()))
                .collect()
        })
        .collect()
}

fn percent_removed(granted: usize, kept: usize) -> usize {
    (granted.saturating_sub(kept) * 100)
        .checked_div(granted)
        .unwrap_or(0)
}

/// Renders `suggest`/`check`: per principal, riskiest first, counts, reasons and the diff.
pub fn render_suggest(report: &Report, style: TextStyle, out: &mut impl Write) -> io::Result<()> {
    let mut total_granted = 0;
    let mut total_kept = 0;
    let diffs = suggestion_diffs(report);
    for (p, diffs) in report.principals.iter().zip(&diffs) {
        let status = p.status.map_or_else(|| "-".to_string(), |s| s.to_string());
        let arn = p.arn.as_deref().unwrap_or("new");
        writeln!(
            out,
            "{}  {} {}  [{}]",
            paint(style.color, "1", &p.address),
            p.kind,
            arn,
            status
        )?;
        for note in &p.notes {
            writeln!(out, "  {note}")?;
        }
        for (s, diff) in p.suggestions.iter().zip(diffs) {
            total_granted += s.granted;
            total_kept += s.kept;
            let after = if s.suggested.is_some() {
                format!("{} actions", s.kept)
            } else {
                "detach".to_string()
            };
            writeln!(
                out,
                "  {}: {} -> {} ({}% removed, {})",
                s.policy_address,
                s.granted,
                after,
                percent_removed(s.granted, s.kept),
                s.applicability
            )?;
            let mut kept: std::collections::BTreeMap<&str, usize> =
                std::collections::BTreeMap::new();
            for a in s.actions.iter().filter(|a| a.verdict == Verdict::Keep) {
                *kept.entry(a.reason.as_str()).or_default() += 1;
            }
            for (reason, n) in &kept {
                writeln!(out, "    kept {n}: {reason}")?;
            }
            if style.verbose {
                for a in &s.actions {
                    let verdict = a.verdict.as_str();
                    writeln!(out, "    {verdict:<6} {}  ({})", a.action, a.reason)?;
                }
            }
            for note in &s.notes {
                writeln!(out, "    note: {note}")?;
            }
            let total = diff.lines().count();
            // A whole AWS-managed policy diff runs to thousands of lines: show the head, -v shows all.
            let shown = if style.verbose {
                total
            } else {
                total.min(DIFF_LINES)
            };
            for line in diff.lines().take(shown) {
                let colored = match line.as_bytes().first() {
                    Some(b'+') if !line.starts_with("+++") => paint(style.color, "32", line),
                    Some(b'-') if !line.starts_with("---") => paint(style.color, "31", line),
                    _ => line.to_string(),
                };
                writeln!(out, "    {colored}")?;
            }
            if shown < total {
                writeln!(
                    out,
                    "    ... {} more diff lines (-v shows them; the patch has the change)",
                    total - shown
                )?;
            }
        }
        writeln!(out)?;
    }
    for f in &report.files {
        writeln!(
            out,
            "{} {}",
            if f.written { "wrote" } else { "would write" },
            f.path
        )?;
    }
    let minimized = report
        .principals
        .iter()
        .filter(|p| !p.suggestions.is_empty())
        .count();
    writeln!(
        out,
        "{} principal{} with suggestions: {} granted actions -> {} ({}% removed)",
        minimized,
        if minimized == 1 { "" } else { "s" },
        total_granted,
        total_kept,
        percent_removed(total_granted, total_kept)
    )?;
    Ok(())
}
