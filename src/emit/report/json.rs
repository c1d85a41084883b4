//! The JSON format: the serialized [`Report`], pretty-printed.

use super::Report;
use std::io::{self, Write};

/// Writes the report as JSON text (with a trailing newline), streamed: a large plan's report runs to
/// tens of megabytes, never held whole in memory.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Reads a report back from its JSON text.
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}
