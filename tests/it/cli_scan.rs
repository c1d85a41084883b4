//! `iamtrim scan` end to end: snapshots of what a user reads, and one-line errors with exit 2 on bad input.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn iamtrim() -> Command {
    let mut cmd = Command::cargo_bin("iamtrim").unwrap();
    cmd.current_dir(root()).env("NO_COLOR", "1");
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let out = iamtrim().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn scan_text_on_the_quickstart() {
    insta::assert_snapshot!(stdout_of(&["scan", "examples/quickstart/plan.json"]));
}

#[test]
fn scan_verbose_lists_policy_sources() {
    insta::assert_snapshot!(stdout_of(&["scan", "-v", "examples/quickstart/plan.json"]));
}

#[test]
fn scan_json_on_the_quickstart() {
    let text = stdout_of(&["scan", "--format", "json", "examples/quickstart/plan.json"]);
    let report = iamtrim::emit::report::json::parse(&text).expect("the JSON report reads back");
    assert_eq!(report.schema_version, 1);
    insta::assert_snapshot!(text);
}

#[test]
fn scan_markdown_on_the_quickstart() {
    insta::assert_snapshot!(stdout_of(&[
        "scan",
        "--format",
        "markdown",
        "examples/quickstart/plan.json"
    ]));
}

#[test]
fn scan_reads_stdin() {
    let plan = std::fs::read(root().join("examples/quickstart/plan.json")).unwrap();
    let out = iamtrim()
        .args(["scan", "-", "--format", "json"])
        .write_stdin(plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report =
        iamtrim::emit::report::json::parse(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(report.plan.path, "<stdin>");
    assert_eq!(report.summary.principals, 3);
}

#[test]
fn help_shows_an_example() {
    insta::assert_snapshot!(stdout_of(&["scan", "--help"]));
}

/// Runs scan on `bytes` written to a temp file and returns (exit code, stderr).
fn scan_bytes(bytes: &[u8]) -> (Option<i32>, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, bytes).unwrap();
    let out = iamtrim().arg("scan").arg(&path).output().unwrap();
    let keep = dir.keep();
    (
        out.status.code(),
        String::from_utf8(out.stderr).unwrap(),
        keep.join("plan.json"),
    )
}

fn assert_one_line_error(code: Option<i32>, stderr: &str, path: &Path, want: &str) {
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains(want), "wanted {want:?} in {stderr}");
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_2() {
    let quickstart = std::fs::read(root().join("examples/quickstart/plan.json")).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "the plan is empty"),
        (quickstart[..quickstart.len() / 2].to_vec(), "the JSON ends early"),
        (br#"{"version":4,"terraform_version":"1.9.8","serial":3,"lineage":"abc","outputs":{},"resources":[]}"#.to_vec(), "state file"),
        (br#"{"format_version":"1.2","resource_changes":{"a":1}}"#.to_vec(), "resource_changes"),
        (br#"{"format_version":"3.0","resource_changes":[]}"#.to_vec(), "format_version 3.0 is not supported"),
        (vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe, 0x80], "not a JSON plan"),
        // Two plans joined (`terraform show -json a >> plan.json; ... b >> plan.json`).
        ([&quickstart[..], b"\n", &quickstart[..]].concat(), "the file holds more than one JSON document; the second begins here"),
    ];
    for (bytes, want) in cases {
        let (code, stderr, path) = scan_bytes(&bytes);
        assert_one_line_error(code, &stderr, &path, want);
    }
}

#[test]
fn a_directory_or_a_missing_file_is_an_error() {
    let out = iamtrim().args(["scan", "examples"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("examples: is a directory"));
    let out = iamtrim()
        .args(["scan", "no/such/plan.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/plan.json: cannot read plan"), "{err}");
}

#[test]
fn sensitive_values_are_never_printed() {
    // A policy marked sensitive, and a wrong-typed field holding a secret-looking value.
    let plan =
        std::fs::read_to_string(root().join("testdata/discovery/config_references.json")).unwrap();
    assert!(
        plan.contains("secretsmanager:GetSecretValue"),
        "the fixture carries the sensitive policy"
    );
    for format in ["text", "json", "markdown"] {
        let out = iamtrim()
            .args([
                "scan",
                "-v",
                "--format",
                format,
                "testdata/discovery/config_references.json",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let all = [out.stdout, out.stderr].concat();
        assert!(
            !String::from_utf8_lossy(&all).contains("secretsmanager"),
            "{format} leaked a sensitive policy"
        );
    }
    let bad = br#"{"format_version":"1.2","resource_changes":[{"address":"a","type":"t","name":"n","change":{"actions":["create"]},"mode":"hunter2"}]}"#;
    let (code, stderr, _) = scan_bytes(bad);
    assert_eq!(code, Some(2));
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn unknown_minor_version_warns_and_reads() {
    let plan = std::fs::read_to_string(root().join("examples/quickstart/plan.json")).unwrap();
    let newer = plan.replacen(r#""format_version":"1.2""#, r#""format_version":"1.7""#, 1);
    let out = iamtrim()
        .args(["scan", "-"])
        .write_stdin(newer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("format_version 1.7 is newer"));
}

#[test]
fn utf16_plans_from_powershell_read_like_utf8() {
    let plan = std::fs::read_to_string(root().join("examples/quickstart/plan.json")).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    // Pretty-printed with CRLF line ends, as a PowerShell redirect writes it.
    let value: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let pretty = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace('\n', "\r\n");
    utf16.extend(pretty.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let out = iamtrim()
        .args(["scan", "-", "--format", "json"])
        .write_stdin(utf16)
        .output()
        .unwrap();
    crate::support::repo::assert_success(&out);
    let report =
        iamtrim::emit::report::json::parse(std::str::from_utf8(&out.stdout).unwrap()).unwrap();
    assert_eq!(report.summary.principals, 3);
}
