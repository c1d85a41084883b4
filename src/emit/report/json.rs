//! The JSON format: the serialized [`Report`], pretty-printed.

use super::Report;

/// Renders the report as JSON text (with a trailing newline).
pub fn render(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

/// Reads a report back from its JSON text.
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}
