//! The floor that `iamtrim scan` is measured against as a whole process: read a plan file and
//! validate it as JSON (`serde::de::IgnoredAny`), nothing else. See docs/benchmarks.md.
//!
//! `cargo build --release --example json_floor && target/release/examples/json_floor PLAN`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        return ExitCode::from(2);
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return ExitCode::from(2);
    };
    match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
