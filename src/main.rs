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
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "error: {err}");
            for cause in err.chain().skip(1) {
                let _ = write!(stderr, "\n  caused by: {cause}");
            }
            let _ = writeln!(stderr);
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
