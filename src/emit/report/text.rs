//! The text format: a table for people, riskiest principal first.

use super::Report;
use std::fmt::Write;

/// Styling options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// ANSI colors.
    pub color: bool,
    /// List each policy source under its principal.
    pub verbose: bool,
}

fn paint(on: bool, code: &str, s: &str) -> String {
    if on { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
}

/// Renders the scan table.
pub fn render_scan(report: &Report, style: TextStyle) -> String {
    let mut out = String::new();
    if report.principals.is_empty() {
        let _ = writeln!(out, "No IAM principals in {}.", report.plan.path);
        return out;
    }
    let headers = ["PRINCIPAL", "KIND", "ARN", "POLICIES", "FLAGS"];
    let rows: Vec<[String; 5]> = report
        .principals
        .iter()
        .map(|p| {
            [
                p.address.clone(),
                p.kind.clone(),
                p.arn.clone().unwrap_or_else(|| "new".to_string()),
                p.policies.len().to_string(),
                if p.flags.is_empty() { "-".to_string() } else { p.flags.join(", ") },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| -> String {
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
    let _ = writeln!(out, "{}", paint(style.color, "1", &line(headers)));
    for (p, r) in report.principals.iter().zip(&rows) {
        let mut text = line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
        if style.color && !p.flags.is_empty() {
            let flags_at = text.len() - r[4].len();
            text = format!("{}{}", &text[..flags_at], paint(true, "31", &r[4]));
        }
        let _ = writeln!(out, "{text}");
        if style.verbose {
            for s in &p.policies {
                let what = match (&s.document, &s.unknown_reason) {
                    (Some(doc), _) => {
                        let n = doc.get("Statement").map_or(0, |v| v.as_array().map_or(1, Vec::len));
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
                let _ = writeln!(out, "    {:<21} {}{}  ({})", s.kind, s.address, via, what);
            }
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} principal{} ({} new), {} polic{} ({} unknown), {} flagged",
        s.principals,
        if s.principals == 1 { "" } else { "s" },
        s.new_principals,
        s.policies,
        if s.policies == 1 { "y" } else { "ies" },
        s.unknown_documents,
        s.flagged
    );
    out
}
