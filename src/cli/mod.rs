//! The command line: clap structs ([`args`]), resolved into validated [`settings::Settings`], one file
//! per command. Commands receive resolved settings, never raw flags.

mod analyze;
mod apply;
pub mod args;
mod check;
mod generate;
mod output;
mod progress;
mod scan;
pub mod settings;
mod suggest;

use clap::Parser;
use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether commands free their plan and results before returning; see [`leave_memory_at_exit`].
static FREE_BEFORE_EXIT: AtomicBool = AtomicBool::new(true);

/// Called by the `iamtrim` binary, which exits right after the command: `scan`, `suggest` and
/// `check` then leave their plan, discovery and report for the operating system to reclaim at exit
/// instead of freeing them one allocation at a time (for a 100 MB plan, a few hundred thousand
/// allocations: 5-15 ms, about a fifth of parsing it), and a large plan file's map
/// ([`crate::plan::leave_maps_at_exit`]: 5-8 ms to unmap). A program that calls [`run`] and goes on keeps
/// the default and gets everything freed.
pub fn leave_memory_at_exit() {
    FREE_BEFORE_EXIT.store(false, Ordering::Relaxed);
    crate::plan::leave_maps_at_exit();
}

/// Drops `value`, or leaves it to the process's exit (see [`leave_memory_at_exit`]).
fn release<T>(value: T) {
    if FREE_BEFORE_EXIT.load(Ordering::Relaxed) {
        drop(value);
    } else {
        std::mem::forget(value);
    }
}

/// Starts decoding the action catalog, and the AWS-managed policy snapshot if `snapshot`, each on a
/// thread of its own (each takes milliseconds: a small plan's whole run otherwise waits for one and
/// then the other); their first use waits for them.
fn decode_embedded_data(snapshot: bool) {
    std::thread::spawn(crate::iam::catalog::Catalog::embedded);
    if snapshot {
        std::thread::spawn(crate::iam::aws_managed::AwsManagedPolicies::embedded);
    }
}

/// How a successful run ended, as `diff` does: clean (0) or with findings (1). Errors are 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Nothing to report.
    Clean,
    /// Something to report (pending suggestions for `check`).
    Findings,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Clean => std::process::ExitCode::SUCCESS,
            ExitStatus::Findings => std::process::ExitCode::from(1),
        }
    }
}

/// Parses `args` and runs the command.
pub fn run<I, T>(args: I) -> anyhow::Result<ExitStatus>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; clap prints them itself.
            let code = e.exit_code();
            e.print()?;
            if code == 0 {
                return Ok(ExitStatus::Clean);
            }
            std::process::exit(2);
        }
    };
    let settings = settings::Settings::resolve(&cli)?;
    use settings::CommandSettings as C;
    match C::resolve(cli.command)? {
        C::Scan(a) => scan::run(&settings, &a),
        C::Generate(a) => generate::run(&settings, &a),
        C::Suggest(a) => suggest::run(&settings, &a),
        C::Check(a) => check::run(&settings, &a),
        C::Apply(a) => apply::run(&settings, &a),
    }
}
