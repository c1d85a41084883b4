//! The Markdown format: a summary table for a pull-request comment or chat message.

use super::Report;
use std::fmt::Write;

/// Renders the scan summary as Markdown.
pub fn render_scan(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(out, "### iamtrim: {} IAM principal{} in `{}`\n", s.principals, if s.principals == 1 { "" } else { "s" }, report.plan.path);
    if report.principals.is_empty() {
        return out;
    }
    let _ = writeln!(out, "| Principal | Kind | ARN | Policies | Flags |");
    let _ = writeln!(out, "|---|---|---|---:|---|");
    for p in &report.principals {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            p.address.replace('|', "\\|"),
            p.kind,
            p.arn.as_deref().map_or("new".to_string(), |a| format!("`{a}`")),
            p.policies.len(),
            if p.flags.is_empty() { "".to_string() } else { p.flags.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(" ") }
        );
    }
    out
}
