//! Test repositories for the CLI end-to-end tests: copy a tree, run git in it, run the binary there.

use assert_cmd::Command;
use std::path::Path;

/// Copies `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Runs git in `dir` and fails the test when it fails.
pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The iamtrim binary, run in `repo`, without color or an AWS endpoint override.
pub fn iamtrim(repo: &Path) -> Command {
    let mut cmd = Command::cargo_bin("iamtrim").unwrap();
    cmd.current_dir(repo)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL");
    cmd
}
