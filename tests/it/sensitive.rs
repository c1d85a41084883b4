//! Values the plan marks sensitive never reach an output: not stdout, not stderr, not a file
//! written (patches, `iamtrim.suggested.tf`, the cache), whatever shape the mark has.
//!
//! The quickstart, with its policies marked sensitive in the shapes Terraform writes and that a
//! hostile run found leaking: the whole object (`after_sensitive: true`), the whole attribute
//! (`{"inline_policy": true}`), and each block (`{"inline_policy": [true]}`). Each sensitive
//! document carries a marker that appears nowhere else in the repository.

use crate::support::repo::{self, iamtrim};
use serde_json::{Value, json};
use std::path::Path;

/// Appears only inside the sensitive documents of the plan.
const MARKER: &str = "LeakMarkerQ7Zx";

fn policy_with_marker(action: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": MARKER, "Effect": "Allow", "Action": [action], "Resource": "*"}]
    })
    .to_string()
}

fn change_mut<'a>(plan: &'a mut Value, address: &str) -> &'a mut Value {
    plan["resource_changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|rc| rc["address"] == address)
        .unwrap_or_else(|| panic!("no {address}"))
        .get_mut("change")
        .unwrap()
}

/// The quickstart's plan with three sensitive documents, each marked in a different shape.
fn sensitive_plan(dir: &Path) {
    let path = dir.join("plan.json");
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // The worker's inline policy resource: the whole object is sensitive.
    let c = change_mut(&mut plan, "module.worker.aws_iam_role_policy.this");
    for side in ["before", "after"] {
        let text = c[side]["policy"].as_str().unwrap().to_string();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        doc["Statement"][0]["Sid"] = json!(MARKER);
        c[side]["policy"] = json!(doc.to_string());
    }
    c["before_sensitive"] = json!(true);
    c["after_sensitive"] = json!(true);
    // The CI role gets two configured inline_policy blocks: the attribute is sensitive before,
    // each block after.
    let blocks = json!([
        {"name": "extra", "policy": policy_with_marker("s3:GetObject")},
        {"name": "more", "policy": policy_with_marker("sqs:SendMessage")},
    ]);
    let c = change_mut(&mut plan, "aws_iam_role.ci_deploy");
    c["before"]["inline_policy"] = blocks.clone();
    c["after"]["inline_policy"] = blocks;
    c["before_sensitive"]["inline_policy"] = json!(true);
    c["after_sensitive"]["inline_policy"] = json!([true, true]);
    let role = plan["configuration"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["address"] == "aws_iam_role.ci_deploy")
        .unwrap();
    role["expressions"]["inline_policy"] = json!([
        {"name": {"constant_value": "extra"}, "policy": {}},
        {"name": {"constant_value": "more"}, "policy": {}},
    ]);
    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
}

/// Every file under `dir` but `.git/` and the plan itself, with its text.
fn written_files(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if e.file_type().unwrap().is_dir() {
            if name != ".git" {
                written_files(&path, out);
            }
        } else if name != "plan.json" {
            let bytes = std::fs::read(&path).unwrap();
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).to_string(),
            ));
        }
    }
}

#[test]
fn a_sensitive_policy_reaches_no_output_in_any_shape_of_mark() {
    let repo = repo::project_repo("examples/quickstart", sensitive_plan);
    let dir = repo.path();
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert_eq!(plan.matches(MARKER).count(), 6, "the fixture carries it");
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for format in ["text", "json", "markdown"] {
        runs.push(vec!["scan", "plan.json", "-vv", "--format", format]);
    }
    // suggest writes its patches, iamtrim.suggested.tf and the cache; check reads the cache.
    for format in ["json", "markdown", "text"] {
        runs.push(vec![
            "suggest",
            "plan.json",
            "--cloudtrail",
            "cloudtrail",
            "-vv",
            "--format",
            format,
        ]);
        runs.push(vec!["check", "plan.json", "-vv", "--format", format]);
    }
    for args in &runs {
        let out = iamtrim(dir).args(args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !String::from_utf8_lossy(bytes).contains(MARKER),
                "{args:?} printed a sensitive document on {stream}"
            );
        }
    }
    let mut files = Vec::new();
    written_files(dir, &mut files);
    assert!(
        files.iter().any(|(p, _)| p.contains(".iamtrim")),
        "the runs wrote a cache: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, text) in &files {
        assert!(!text.contains(MARKER), "{path} holds a sensitive document");
    }
    // And the report says why those documents are missing.
    let out = iamtrim(dir)
        .args(["scan", "plan.json", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons: Vec<&str> = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["policies"].as_array().unwrap())
        .filter(|s| s["unknown_reason"] == "sensitive")
        .map(|s| s["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "aws_iam_role.ci_deploy",
            "aws_iam_role.ci_deploy",
            "module.worker.aws_iam_role_policy.this"
        ],
        "{report:#}"
    );
}
