//! Policies attached outside the configuration (issue 15, case 4) end to end: `suggest` counts them
//! and says what to do in words, and never writes them into a patch or `iamtrim.suggested.tf`.

use crate::support::repo;
use serde_json::{Value, json};
use std::path::Path;

/// Only in the outside policy's document.
const OUTSIDE_SID: &str = "HandMadeOutsideQ3";

/// The quickstart, with an inline policy on the worker's role that no resource manages (as the
/// provider's refreshed `inline_policy` shows one made by hand in the console).
fn with_outside_policy(dir: &Path) {
    let path = dir.join("plan.json");
    let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let outside = json!({
        "name": "hand-made",
        "policy": json!({"Version": "2012-10-17", "Statement": [
            {"Sid": OUTSIDE_SID, "Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"}
        ]}).to_string(),
    });
    let change = plan["resource_changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|rc| rc["address"] == "module.worker.aws_iam_role.this")
        .unwrap()
        .get_mut("change")
        .unwrap();
    for side in ["before", "after"] {
        change[side]["inline_policy"]
            .as_array_mut()
            .unwrap()
            .push(outside.clone());
    }
    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
}

#[test]
fn a_policy_attached_outside_the_configuration_is_counted_and_never_patched() {
    let repo = repo::project_repo("examples/quickstart", with_outside_policy);
    let dir = repo.path();
    let (code, stdout, stderr) = repo::suggest(dir, "plan.json", &["--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let worker = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == "module.worker.aws_iam_role.this")
        .unwrap();
    let kinds: Vec<(&str, &str)> = worker["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["address"].as_str().unwrap(), s["kind"].as_str().unwrap()))
        .collect();
    // The aws_iam_role_policy the role's list mirrors is there once; the hand-made one is its own kind.
    assert_eq!(
        kinds,
        [
            (
                "module.worker.aws_iam_role.this (inline policy hand-made)",
                "outside-configuration"
            ),
            ("module.worker.aws_iam_role_policy.this", "inline"),
        ]
    );
    // Counted: the outside policy's actions are among those granted (dynamodb:* is hundreds).
    let granted = worker["granted_actions"].as_u64().unwrap();
    assert!(granted > 300, "granted {granted}");
    // The worker's own policy is still patched; nothing of the outside one is written anywhere.
    let patch = std::fs::read_to_string(dir.join("modules/worker/iamtrim.patch")).unwrap();
    assert!(patch.contains("iam:*"), "{patch}");
    for file in [
        "modules/worker/iamtrim.patch",
        "iamtrim.patch",
        "iamtrim.suggested.tf",
    ] {
        if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
            assert!(
                !text.contains(OUTSIDE_SID),
                "{file} patches an outside policy"
            );
            assert!(
                !text.contains("hand-made"),
                "{file} names an outside policy"
            );
        }
    }
    // What to do is said in words.
    let said = serde_json::to_string(worker).unwrap();
    assert!(
        said.contains("attached outside this configuration"),
        "{worker:#}"
    );
}
