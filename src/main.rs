//! The `iamtrim` binary: parse arguments, run, map the outcome to an exit code (0 clean, 1 findings, 2 error).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The process ends with the command: freeing its plan and results first would only cost time.
    iamtrim::cli::leave_memory_at_exit();
    match iamtrim::cli::run(std::env::args_os()) {
        Ok(status) => status.into(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr().lock(), "error: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, as the README promises: a cause whose text the message
/// already quotes (most wrap an I/O error and print it) is not repeated, and any line break inside
/// a message (a parser's source snippet) is folded. An AWS error ends the line: it already names the
/// operation and quotes the service's code and message, and the SDK errors below it only repeat
/// them in debug form.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        if cause.is::<iamtrim::usage::aws::AwsError>() {
            break;
        }
    }
    line.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
