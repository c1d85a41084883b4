//! Test repositories for the CLI end-to-end tests: copy a tree, run git in it, run the binary there.

use assert_cmd::Command;
use std::path::Path;

/// Copies the files of `from` that git does not ignore into `to`, so what a run of README command 1
/// left in the example (patches, `iamtrim.suggested.tf`, the `.iamtrim/` cache, all git-ignored)
/// never reaches a test. Outside a git checkout (an unpacked source archive) every file is copied.
pub fn copy_dir(from: &Path, to: &Path) {
    let listed = std::process::Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            ".",
        ])
        .current_dir(from)
        .output();
    match listed {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            for rel in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
                let rel = Path::new(std::str::from_utf8(rel).unwrap());
                let target = to.join(rel);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(from.join(rel), target).unwrap();
            }
        }
        _ => copy_all(from, to),
    }
}

/// Copies `from` into `to`, recursively (every file, ignored or not).
pub fn copy_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_all(&e.path(), &target);
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

/// A copy of a project (a folder of this crate) as its own git repository, changed by `edit`
/// before its one commit.
pub fn project_repo(project: &str, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(project),
        dir.path(),
    );
    edit(dir.path());
    commit_all(dir.path(), project);
    dir
}

/// Runs `suggest` on `plan` in `repo` with the logs in its `cloudtrail/`, and returns (exit code,
/// stdout, stderr).
pub fn suggest(repo: &Path, plan: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = iamtrim(repo)
        .args(["suggest", plan, "--cloudtrail", "cloudtrail"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Fails the test, with the run's stderr, unless it exited 0.
pub fn assert_success(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `git init` in `dir`, then one commit of everything in it.
pub fn commit_all(dir: &Path, message: &str) {
    git(dir, &["init", "-q"]);
    git(dir, &["config", "core.autocrlf", "false"]);
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            message,
        ],
    );
}

/// The iamtrim binary, run in `repo`, without color or an AWS endpoint override.
pub fn iamtrim(repo: &Path) -> Command {
    let mut cmd = Command::cargo_bin("iamtrim").unwrap();
    cmd.current_dir(repo)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL");
    cmd
}

/// The `warnings` of a JSON report, as text.
pub fn warnings(report: &serde_json::Value) -> Vec<&str> {
    report["warnings"]
        .as_array()
        .expect("a report's warnings")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect()
}

/// The block `kind "label" ...` at the top of a parsed `.tf` body; panics naming it when there is
/// none.
pub fn find_block<'a>(body: &'a hcl::Body, kind: &str, labels: &[&str]) -> &'a hcl::Block {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels().iter().map(|l| l.as_str()).collect::<Vec<_>>() == labels
        })
        .unwrap_or_else(|| panic!("no {kind} {labels:?}"))
}
