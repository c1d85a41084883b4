//! Issue 14 end to end for the Terraform writer: a suggestion over IAM's size limit for its kind of
//! policy is written as managed policies in `iamtrim.suggested.tf` (never a patch), each within the
//! managed limit; one within its limit is still a patch.

use iamtrim::emit::write::{Outcome, WrittenKind};
use iamtrim::emit::{
    PolicyEdit, PolicyLocation, PolicyTarget, StatementChange, WriteOptions, write_suggestions,
};
use iamtrim::iam::catalog::Catalog;
use iamtrim::iam::policy::PolicyDocument;
use iamtrim::minimize::size::{
    MANAGED_POLICY_MAX_CHARS, USER_INLINE_MAX_CHARS, policy_size, split_for_size,
    split_long_statements,
};
use iamtrim::plan::model::Plan;

const MAIN_TF: &str = r#"resource "aws_iam_user" "ci" {
  name = "ci"
}

resource "aws_iam_user_policy" "ci" {
  name = "ci"
  user = aws_iam_user.ci.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:*", "ec2:*"]
      Resource = "*"
    }]
  })
}
"#;

const CURRENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"}]}"#;

/// `n` actions of `s3` and `ec2`, every other one in catalog order.
fn kept(n: usize) -> Vec<String> {
    let out: Vec<String> = Catalog::embedded()
        .actions()
        .iter()
        .filter(|a| matches!(a.service(), "s3" | "ec2"))
        .step_by(2)
        .take(n)
        .map(|a| a.name().to_string())
        .collect();
    assert_eq!(out.len(), n);
    out
}

fn user_policy_edit(actions: Vec<String>) -> PolicyEdit {
    let current = PolicyDocument::parse_str(CURRENT).unwrap();
    let suggested =
        current.with_statements(vec![current.statements[0].with_actions(actions.clone())]);
    PolicyEdit {
        location: PolicyLocation {
            module_key: String::new(),
            resource_type: "aws_iam_user_policy".into(),
            resource_name: "ci".into(),
            is_data: false,
            target: PolicyTarget::PolicyAttribute,
        },
        current: current.into(),
        suggested,
        statements: vec![StatementChange::SetActions(actions)],
        inline_overflow: None,
    }
}

fn repo() -> (tempfile::TempDir, std::path::PathBuf, Plan) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    std::fs::write(root.join("main.tf"), MAIN_TF).unwrap();
    let plan: Plan = serde_json::from_str(r#"{"format_version":"1.2"}"#).unwrap();
    (tmp, root, plan)
}

#[test]
fn inline_user_policy_over_2048_characters_becomes_managed_policies_not_a_patch() {
    // Regression (issue 14): a trimmed inline user policy over IAM's 2,048 characters was
    // written as a patch IAM would refuse.
    let actions = kept(300);
    let edit = user_policy_edit(actions.clone());
    // The expected truth, before running the writer: 300 names of ~30 characters are far over
    // the user's 2,048 and over one managed policy's 6,144, so at least two managed policies.
    let doc = split_long_statements(&edit.suggested);
    let size = policy_size(&doc);
    assert!(size > MANAGED_POLICY_MAX_CHARS, "{size}");
    let parts = split_for_size(&doc).len();
    assert!(parts >= 2, "{parts}");

    let (_tmp, root, plan) = repo();
    let report = write_suggestions(&root, &plan, &[edit], &WriteOptions::default()).unwrap();
    assert_eq!(report.files.len(), 1, "no patch, one suggestion file");
    let file = &report.files[0];
    assert_eq!(file.kind, WrittenKind::SuggestionFile);
    assert_eq!(
        std::fs::read_to_string(root.join("main.tf")).unwrap(),
        MAIN_TF
    );
    let Outcome::SuggestionFile { note, .. } = &report.outcomes[0].outcome else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert!(
        note.contains("over IAM's 2048 for a user's inline policies")
            && note.contains(&format!("{parts} managed policies"))
            && note.contains("aws_iam_user_policy_attachment"),
        "{note}"
    );
    let text = std::fs::read_to_string(&file.path).unwrap();
    assert_eq!(text, file.text);
    hcl_edit::parser::parse_body(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for i in 1..=parts {
        assert!(
            text.contains(&format!("resource \"aws_iam_policy\" \"ci_iamtrim_{i}\"")),
            "part {i}"
        );
        assert!(text.contains(&format!(
            "data \"aws_iam_policy_document\" \"ci_iamtrim_{i}\""
        )));
    }
    assert!(!text.contains(&format!("ci_iamtrim_{}\"", parts + 1)));
    // Every kept action once across the parts, nothing else from s3 or ec2.
    for a in &actions {
        assert_eq!(text.matches(&format!("\"{a}\"")).count(), 1, "{a}");
    }
    let listed = text.matches("\"s3:").count() + text.matches("\"ec2:").count();
    assert_eq!(listed, actions.len());
}

#[test]
fn inline_user_policy_within_2048_characters_is_still_a_patch() {
    let edit = user_policy_edit(kept(20));
    assert!(policy_size(&edit.suggested) <= USER_INLINE_MAX_CHARS);
    let (_tmp, root, plan) = repo();
    let report = write_suggestions(&root, &plan, &[edit], &WriteOptions::default()).unwrap();
    assert!(
        matches!(report.outcomes[0].outcome, Outcome::Patched { .. }),
        "{:?}",
        report.outcomes[0]
    );
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].kind, WrittenKind::Patch);
}

#[test]
fn a_kept_list_over_the_cap_in_a_json_file_is_patched_as_several_statements() {
    // Regression (issue 14): a `file()` policy was patched with its 160 kept actions in one
    // statement, while the suggestion lists them as statements of at most 150.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    std::fs::write(
        root.join("main.tf"),
        "resource \"aws_iam_policy\" \"p\" {\n  name   = \"p\"\n  policy = file(\"${path.module}/p.json\")\n}\n",
    )
    .unwrap();
    let json = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Sid\": \"Everything\",\n            \"Effect\": \"Allow\",\n            \"Action\": [\"s3:*\", \"ec2:*\"],\n            \"Resource\": \"*\"\n        }\n    ]\n}\n";
    std::fs::write(root.join("p.json"), json).unwrap();
    let plan: Plan = serde_json::from_str(r#"{"format_version":"1.2"}"#).unwrap();
    let actions = kept(160);
    let current = PolicyDocument::parse_str(json).unwrap();
    let suggested = current.with_statements(iamtrim::minimize::size::split_statement(
        &current.statements[0],
        &actions,
    ));
    let edit = PolicyEdit {
        location: PolicyLocation {
            module_key: String::new(),
            resource_type: "aws_iam_policy".into(),
            resource_name: "p".into(),
            is_data: false,
            target: PolicyTarget::PolicyAttribute,
        },
        current: current.clone().into(),
        suggested: suggested.clone(),
        statements: vec![StatementChange::SetActions(actions.clone())],
        inline_overflow: None,
    };
    let report = write_suggestions(&root, &plan, &[edit], &WriteOptions::default()).unwrap();
    assert!(
        matches!(report.outcomes[0].outcome, Outcome::Patched { .. }),
        "{:?}",
        report.outcomes[0]
    );
    let patched_before = std::fs::read_to_string(root.join("p.json")).unwrap();
    assert_eq!(patched_before, json, "suggest only writes the patch");
    iamtrim::emit::apply_patches(&root, &[root.join("iamtrim.patch")]).unwrap();
    let patched =
        PolicyDocument::parse_str(&std::fs::read_to_string(root.join("p.json")).unwrap()).unwrap();
    // The expected truth: 160 actions are two statements, 150 then 10, the second's Sid numbered.
    let sids: Vec<Option<&str>> = patched
        .statements
        .iter()
        .map(|s| s.sid.as_deref())
        .collect();
    assert_eq!(sids, [Some("Everything"), Some("EverythingPart2")]);
    assert_eq!(patched.statements, suggested.statements);
    assert_eq!(
        iamtrim::minimize::grants_no_more(&patched, &current, Catalog::embedded()),
        Ok(())
    );
}
