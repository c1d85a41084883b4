//! The status line drawn on a terminal while usage is gathered: the indicatif spinner, driven by
//! the progress callback of `crate::usage::gather`.

use crate::usage::gather::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// A spinner on stderr, started by the first [`Progress`] of a read and cleared when it is over.
#[derive(Default)]
pub struct StatusLine {
    bar: Mutex<Option<ProgressBar>>,
}

impl StatusLine {
    /// Draws `progress`.
    pub fn show(&self, progress: Progress<'_>) {
        let Ok(mut bar) = self.bar.lock() else {
            return;
        };
        match progress {
            Progress::LogsStarted { location } => {
                *bar = Some(spinner(
                    "{spinner} [{elapsed_precise}] {msg}",
                    format!("reading CloudTrail logs in {location}"),
                ));
            }
            Progress::Logs { location, progress } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_message(format!(
                        "reading CloudTrail logs in {location}: {} of {} files, {:.1} MB",
                        progress.files_read,
                        progress.files_listed,
                        progress.bytes_read as f64 / 1e6
                    ));
                }
            }
            Progress::QueryStarted { label } => {
                *bar = Some(spinner(
                    "{spinner} {msg}",
                    format!("{label}: starting the query"),
                ));
            }
            Progress::Query { label, progress } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_message(format!(
                        "{label}: query {} {} [{}s], {:.2} GB scanned",
                        progress.query_id,
                        progress.state,
                        progress.elapsed.as_secs(),
                        progress.bytes_scanned as f64 / 1e9
                    ));
                }
            }
            Progress::Finished => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

fn spinner(template: &str, message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
