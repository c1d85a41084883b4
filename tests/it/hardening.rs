//! Issue 13's pipeline items, end to end on copies of the quickstart: an unreadable cache fails
//! `check` (7), `--dry-run` writes nothing, the cache included (8), `check` right after `suggest`
//! finds no principal stale (9), and a gzip bomb among the logs is skipped and named (15).

use crate::support::repo::{self, git, iamtrim};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

fn quickstart_repo() -> tempfile::TempDir {
    repo::project_repo("examples/quickstart", |_| {})
}

/// Every file git sees as changed, new or ignored in `repo`.
fn changed_files(repo: &Path) -> String {
    let out = git(
        repo,
        &[
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ],
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn check_fails_with_one_line_when_the_cache_folder_is_a_file() {
    // Tests run as root, for whom a mode-000 folder is readable: a file where the folder should be
    // fails the listing for anyone.
    let repo = quickstart_repo();
    std::fs::create_dir_all(repo.path().join(".iamtrim")).unwrap();
    std::fs::write(repo.path().join(".iamtrim/cache"), "not a folder").unwrap();
    let out = iamtrim(repo.path())
        .args(["check", "plan.json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(".iamtrim/cache"), "{stderr}");
    assert!(stderr.contains("cannot read the usage cache"), "{stderr}");
    assert!(out.stdout.is_empty(), "no report on an error");
}

#[test]
fn check_fails_when_the_cache_folder_is_a_symlink_loop() {
    let repo = quickstart_repo();
    std::fs::create_dir_all(repo.path().join(".iamtrim")).unwrap();
    std::os::unix::fs::symlink("cache", repo.path().join(".iamtrim/cache")).unwrap();
    let out = iamtrim(repo.path())
        .args(["check", "plan.json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn suggest_dry_run_with_cloudtrail_writes_no_file_not_even_the_cache() {
    let repo = quickstart_repo();
    assert_eq!(changed_files(repo.path()), "", "a clean copy to start");
    let (code, _, stderr) = repo::suggest(repo.path(), "plan.json", &["--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(changed_files(repo.path()), "", "--dry-run wrote files");
}

#[test]
fn suggest_dry_run_with_out_creates_no_out_folder() {
    let repo = quickstart_repo();
    let (code, _, stderr) = repo::suggest(
        repo.path(),
        "plan.json",
        &["--dry-run", "--out", "suggested"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !repo.path().join("suggested").exists(),
        "--dry-run created the --out folder"
    );
    assert_eq!(changed_files(repo.path()), "", "--dry-run wrote files");
}

#[test]
fn check_right_after_suggest_finds_no_principal_stale_aws_managed_ones_included() {
    let repo = quickstart_repo();
    let (code, _, stderr) = repo::suggest(repo.path(), "plan.json", &["--out", "suggested"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        repo.path().join(".iamtrim/cache").is_dir(),
        "suggest --cloudtrail fills the cache"
    );
    let out = iamtrim(repo.path())
        .args(["check", "plan.json", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let warnings = repo::warnings(&report);
    assert!(
        !warnings.iter().any(|w| w.contains("policies changed")),
        "nothing changed between suggest and check: {warnings:#?}"
    );
    // The quickstart's auditor has only the AWS-managed ReadOnlyAccess: its usage must reach check.
    let cached = std::fs::read_dir(repo.path().join(".iamtrim/cache"))
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("auditor--"));
    assert!(cached, "the auditor's usage is cached");
}

/// A gzip of `n` spaces made of 64 MiB members (only one member is compressed, then repeated).
fn gzip_bomb(total: usize) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    let gzip = |data: &[u8]| {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    };
    let chunk = vec![b' '; 1 << 20];
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    for _ in 0..64 {
        enc.write_all(&chunk).unwrap();
    }
    let member = enc.finish().unwrap();
    [
        gzip(b"{\"Records\":["),
        member.repeat(total / (64 << 20)),
        gzip(b"]}"),
    ]
    .concat()
}

#[test]
fn a_gzip_bomb_among_the_logs_is_skipped_and_named() {
    let repo = quickstart_repo();
    let day = repo
        .path()
        .join("cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/26");
    let name = "111122223333_CloudTrail_eu-west-1_20261126T2105Z_b0mbb0mbb0mbb0mb.json.gz";
    // 1 GiB of valid JSON (spaces inside an empty `Records`), about 1 MB compressed.
    let bomb = gzip_bomb(1 << 30);
    assert!(bomb.len() < 2 << 20);
    std::fs::write(day.join(name), bomb).unwrap();
    let (code, stdout, stderr) =
        repo::suggest(repo.path(), "plan.json", &["--dry-run", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let warnings = repo::warnings(&report);
    let named: Vec<&&str> = warnings
        .iter()
        .filter(|w| w.contains(name) && w.contains("gzip bomb"))
        .collect();
    assert_eq!(named.len(), 1, "{warnings:#?}");
    // The other files are still read: the worker's suggestion is still there.
    let suggestions = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["suggestions"].as_array().cloned().unwrap_or_default())
        .count();
    assert!(suggestions > 0, "{stdout}");
}
