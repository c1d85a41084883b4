//! The output layer of the commands: a report goes to stdout in the chosen format, its warnings to
//! stderr (text only; `--format json|markdown` carry them inside).

use super::args::Format;
use super::settings::Settings;
use crate::emit::report::{self, Report};
use std::io::Write;

/// Prints `report`: warnings first on stderr for text, then the report streamed to stdout.
pub fn print_report(settings: &Settings, format: Format, report: &Report) -> anyhow::Result<()> {
    if !settings.quiet && format == Format::Text {
        let mut err = std::io::stderr().lock();
        for w in &report.warnings {
            writeln!(err, "warning: {w}")?;
        }
    }
    let format = match format {
        Format::Json => report::Format::Json,
        Format::Markdown => report::Format::Markdown,
        Format::Text => report::Format::Text(report::text::TextStyle {
            color: settings.color,
            verbose: settings.verbose > 0,
        }),
    };
    // Buffered: the renderers write many small pieces, and a large plan's report is tens of MB.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    report::render(report, format, &mut out)?;
    out.flush()?;
    Ok(())
}
