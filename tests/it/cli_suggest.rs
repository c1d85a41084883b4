//! `iamtrim suggest`, `check` and `apply` end to end on the quickstart, in a temporary git repository.

use crate::support::repo;

use iamtrim::iam::PolicyDocument;
use iamtrim::iam::aws_managed::AwsManagedPolicies;
use iamtrim::iam::catalog::Catalog;
use iamtrim::minimize::grants_no_more;
use repo::{copy_dir, git, iamtrim};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A copy of the quickstart as its own git repository.
fn quickstart_repo() -> tempfile::TempDir {
    repo::project_repo("examples/quickstart", |_| {})
}

/// `suggest` on the quickstart's plan: (exit code, stdout, stderr).
fn suggest(repo: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    repo::suggest(repo, "plan.json", extra)
}

fn report_json(repo: &Path) -> Value {
    let (code, stdout, stderr) = suggest(repo, &["--format", "json", "--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn suggestions(report: &Value) -> Vec<Value> {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["suggestions"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn suggest_writes_patches_that_git_applies_and_iamtrim_applies() {
    let repo = quickstart_repo();
    let (code, stdout, stderr) = suggest(repo.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let filtered = stdout.replace(&repo.path().display().to_string(), "[REPO]");
    insta::assert_snapshot!("suggest_text_quickstart", filtered);
    for patch in ["iamtrim.patch", "modules/worker/iamtrim.patch"] {
        assert!(repo.path().join(patch).is_file(), "{patch} written");
        git(repo.path(), &["apply", "--check", patch]);
    }
    let before_tf = std::fs::read_to_string(repo.path().join("modules/worker/main.tf")).unwrap();
    let out = iamtrim(repo.path()).arg("apply").output().unwrap();
    crate::support::repo::assert_success(&out);
    let after_tf = std::fs::read_to_string(repo.path().join("modules/worker/main.tf")).unwrap();
    assert_ne!(before_tf, after_tf);
    assert!(!after_tf.contains("\"iam:*\""), "the IAM wildcard is gone");
    assert!(
        after_tf.contains("# Written for the first prototype"),
        "comments survive"
    );
    for tf in ["main.tf", "modules/worker/main.tf"] {
        let text = std::fs::read_to_string(repo.path().join(tf)).unwrap();
        hcl_edit::parser::parse_body(&text)
            .unwrap_or_else(|e| panic!("{tf} does not parse after apply: {e}"));
    }
    // Applying again is a no-op with a message.
    let again = iamtrim(repo.path()).arg("apply").output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already applied"));
}

#[test]
fn every_suggestion_grants_no_more_than_today_and_keeps_what_was_used() {
    let repo = quickstart_repo();
    let report = report_json(repo.path());
    let all = suggestions(&report);
    assert!(
        !all.is_empty(),
        "the quickstart has over-broad policies to shrink"
    );
    let catalog = Catalog::embedded();
    for s in &all {
        let current = PolicyDocument::from_value(&s["current"]).unwrap();
        if s["suggested"].is_null() {
            continue; // detach: grants nothing
        }
        let suggested = PolicyDocument::from_value(&s["suggested"]).unwrap();
        grants_no_more(&suggested, &current, catalog)
            .unwrap_or_else(|c| panic!("{} grants more: {c:?}", s["policy_address"]));
        for a in s["actions"].as_array().unwrap() {
            if a["reason"].as_str().unwrap().starts_with("used") {
                assert_eq!(a["verdict"], "keep", "{a}");
            }
        }
    }
    // What the worker really called stays; what it never called goes.
    let worker = all
        .iter()
        .find(|s| s["policy_address"] == "module.worker.aws_iam_role_policy.this")
        .unwrap();
    let verdict = |name: &str| {
        worker["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == name)
            .map(|a| a["verdict"].clone())
    };
    for used in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "logs:PutLogEvents",
    ] {
        assert_eq!(verdict(used), Some(Value::from("keep")), "{used}");
    }
    for unused in [
        "sqs:DeleteQueue",
        "logs:DeleteLogGroup",
        "iam:CreateUser",
        "s3:DeleteBucket",
    ] {
        assert_eq!(verdict(unused), Some(Value::from("remove")), "{unused}");
    }
    // sqs:PurgeQueue was denied, never used.
    assert_eq!(verdict("sqs:PurgeQueue"), Some(Value::from("remove")));
    // The CI role's cloudfront:UpdateDistribution was granted by this very plan.
    let ci = all
        .iter()
        .find(|s| s["policy_address"] == "aws_iam_role_policy.ci_deploy")
        .unwrap();
    let update = ci["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "cloudfront:UpdateDistribution")
        .unwrap();
    assert_eq!(update["verdict"], "keep");
}

#[test]
fn aws_managed_read_only_access_gets_a_trimmed_customer_managed_replacement() {
    let repo = quickstart_repo();
    let report = report_json(repo.path());
    let address =
        "aws_iam_user_policy_attachment.auditor_readonly (arn:aws:iam::aws:policy/ReadOnlyAccess)";
    let all = suggestions(&report);
    let replacement = all
        .iter()
        .find(|s| s["policy_address"] == address)
        .unwrap_or_else(|| panic!("no replacement suggestion among {all:#?}"));
    let catalog = Catalog::embedded();
    let read_only = AwsManagedPolicies::embedded()
        .get("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .unwrap();
    let suggested = PolicyDocument::from_value(&replacement["suggested"]).unwrap();
    grants_no_more(&suggested, &read_only, catalog)
        .unwrap_or_else(|c| panic!("the replacement grants more than ReadOnlyAccess: {c:?}"));
    // What the auditor called stays granted, and most of ReadOnlyAccess goes.
    let json = suggested.to_json();
    for used in [
        "iam:ListRoles",
        "ec2:DescribeInstances",
        "cloudwatch:GetMetricData",
    ] {
        let verdict = replacement["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == used)
            .map(|a| (a["verdict"].clone(), a["reason"].clone()));
        assert_eq!(
            verdict.as_ref().map(|v| &v.0),
            Some(&Value::from("keep")),
            "{used}: {verdict:?}"
        );
        assert!(json.contains(&format!("\"{used}\"")), "{used} in {json}");
    }
    let granted = replacement["granted"].as_u64().unwrap();
    let kept = replacement["kept"].as_u64().unwrap();
    assert!(kept * 5 < granted, "kept {kept} of {granted}");
    // The auditor never read S3 objects nor listed users.
    for unused in ["s3:GetObject", "iam:ListUsers"] {
        let verdict = replacement["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == unused)
            .map(|a| a["verdict"].clone());
        assert_eq!(verdict, Some(Value::from("remove")), "{unused}");
        assert!(
            !json.contains(&format!("\"{unused}\"")),
            "{unused} in {json}"
        );
    }
    let auditor = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "aws_iam_user.auditor")
        .unwrap();
    assert_eq!(auditor["status"], "minimized");

    // Written: a policy document, a policy made from it and how to attach it, in the root module.
    let (code, _, stderr) = suggest(repo.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let tf = std::fs::read_to_string(repo.path().join("iamtrim.suggested.tf")).unwrap();
    hcl_edit::parser::parse_body(&tf).unwrap_or_else(|e| panic!("{e}\n{tf}"));
    // Trimmed to what the auditor used (permission-only actions no longer ride along),
    // ReadOnlyAccess fits in one policy within IAM's 6,144 characters.
    let name = "auditor_readonly_ReadOnlyAccess_iamtrim";
    assert!(
        tf.contains(&format!(r#"data "aws_iam_policy_document" "{name}""#)),
        "{tf}"
    );
    assert!(tf.contains(&format!(r#"resource "aws_iam_policy" "{name}""#)));
    assert!(
        !tf.contains("auditor_readonly_ReadOnlyAccess_iamtrim_1"),
        "{tf}"
    );
    assert!(
        tf.contains("set `policy_arn = aws_iam_policy.auditor_readonly_ReadOnlyAccess_iamtrim.arn` on aws_iam_user_policy_attachment.auditor_readonly"),
        "{tf}"
    );
    assert!(stderr.contains("ReadOnlyAccess is AWS-managed"), "{stderr}");

    // Off: AWS-managed policies stay unresolved and no replacement is suggested.
    let (code, stdout, stderr) = suggest(
        repo.path(),
        &["--format", "json", "--dry-run", "--aws-managed", "off"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let off: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        suggestions(&off)
            .iter()
            .all(|s| s["policy_address"] != address)
    );
}

/// The plan terraform would make after the patches are applied to the .tf files (before apply in
/// AWS): each suggested document is the planned value, the deployed one stays `before`.
fn replanned(repo: &Path, report: &Value) -> PathBuf {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap()).unwrap();
    for s in suggestions(report) {
        let text = serde_json::to_string(&s["suggested"]).unwrap();
        for rc in plan["resource_changes"].as_array_mut().unwrap() {
            if rc["address"] == s["policy_address"] {
                rc["change"]["after"]["policy"] = Value::from(text.clone());
                rc["change"]["actions"] = serde_json::json!(["update"]);
            }
        }
    }
    let path = repo.join("replanned.json");
    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
    path
}

#[test]
fn a_rerun_after_applying_suggests_nothing() {
    let repo = quickstart_repo();
    let report = report_json(repo.path());
    let replan = replanned(repo.path(), &report);
    let out = iamtrim(repo.path())
        .arg("suggest")
        .arg(&replan)
        .args([
            "--cloudtrail",
            "cloudtrail",
            "--format",
            "json",
            "--dry-run",
            // replanned() applies the patches only; replacing an AWS-managed attachment is a
            // change by hand that it does not model.
            "--aws-managed",
            "off",
        ])
        .output()
        .unwrap();
    crate::support::repo::assert_success(&out);
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        suggestions(&again),
        Vec::<Value>::new(),
        "nothing left to remove"
    );
}

#[test]
fn check_reads_only_the_cache_and_exits_1_on_unused_permissions() {
    let repo = quickstart_repo();
    // No cache yet: nothing known, nothing to report.
    let out = iamtrim(repo.path())
        .args(["check", "plan.json"])
        .output()
        .unwrap();
    crate::support::repo::assert_success(&out);
    // suggest --cloudtrail fills the cache (not with --dry-run, which writes nothing); check then
    // finds the unused permissions without the logs.
    let (code, _, stderr) = suggest(repo.path(), &["--out", "suggested"]);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::remove_dir_all(repo.path().join("cloudtrail")).unwrap();
    let out = iamtrim(repo.path())
        .args(["check", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = iamtrim(repo.path())
        .args(["check", "plan.json", "--max-unused", "100000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !repo.path().join("iamtrim.patch").exists(),
        "check and --dry-run write no patch"
    );
}

#[test]
fn markdown_report_is_a_pr_comment() {
    let repo = quickstart_repo();
    let (code, stdout, stderr) = suggest(repo.path(), &["--format", "markdown"]);
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!("suggest_markdown_quickstart", stdout);
}

#[test]
fn json_report_snapshot() {
    let repo = quickstart_repo();
    let report = report_json(repo.path());
    insta::assert_json_snapshot!("suggest_json_quickstart", report);
}

#[test]
fn apply_refuses_a_patch_whose_target_changed() {
    let repo = quickstart_repo();
    let (code, _, stderr) = suggest(repo.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let tf = repo.path().join("modules/worker/main.tf");
    let text = std::fs::read_to_string(&tf).unwrap();
    std::fs::write(
        &tf,
        text.replace("Sid      = \"Queue\"", "Sid      = \"Queues\""),
    )
    .unwrap();
    let out = iamtrim(repo.path())
        .args(["apply", "modules/worker/iamtrim.patch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("main.tf"), "{stderr}");
    assert!(
        std::fs::read_to_string(&tf).unwrap().contains("\"Queues\""),
        "nothing half-written"
    );
}

#[test]
fn terraform_root_in_a_subdirectory_of_the_repository_gets_its_patches() {
    // Regression: with --chdir below the git top level, modules were looked up from the top level
    // and nothing was patched.
    let repo = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        &repo.path().join("infra"),
    );
    git(repo.path(), &["init", "-q"]);
    let out = iamtrim(repo.path())
        .args([
            "suggest",
            "infra/plan.json",
            "--chdir",
            "infra",
            "--cloudtrail",
            "infra/cloudtrail",
        ])
        .output()
        .unwrap();
    crate::support::repo::assert_success(&out);
    for patch in ["infra/iamtrim.patch", "infra/modules/worker/iamtrim.patch"] {
        assert!(repo.path().join(patch).is_file(), "{patch} written");
        git(repo.path(), &["apply", "--check", patch]);
    }
    assert!(
        !repo.path().join("iamtrim.suggested.tf").exists(),
        "nothing written at the repository top"
    );
}

#[test]
fn unreadable_log_files_are_named_up_to_ten_then_counted() {
    let repo = quickstart_repo();
    let day = repo
        .path()
        .join("cloudtrail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/26");
    for i in 0..12 {
        std::fs::write(
            day.join(format!(
                "111122223333_CloudTrail_eu-west-1_20261126T12{i:02}Z_broken{i}.json"
            )),
            "{\"Records\": [",
        )
        .unwrap();
    }
    let (code, stdout, stderr) = suggest(repo.path(), &["--format", "json", "--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let warnings = repo::warnings(&report);
    let named = warnings
        .iter()
        .filter(|w| w.contains("_broken") && w.contains("malformed CloudTrail JSON"))
        .count();
    assert_eq!(named, 10, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("2 more CloudTrail files could not be read")),
        "{warnings:#?}"
    );
}
