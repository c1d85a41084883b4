//! Fetching AWS-managed policy documents through the real IAM SDK, against the moto emulator
//! (which ships the AWS-managed policies).

use crate::support::moto;
use crate::support::repo;

use iamtrim::iam::aws_managed::AwsManagedPolicies;
use iamtrim::iam::policy::ActionSpec;
use iamtrim::minimize::grants_no_more;
use iamtrim::usage::iam_policies::{fetch_policy_document, fetch_policy_documents};

fn iam_client(moto: &moto::Moto) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&moto.sdk_config())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_managed_documents_come_from_get_policy_version() {
    let moto = moto::moto();
    let client = iam_client(&moto);
    let admin = fetch_policy_document(&client, "arn:aws:iam::aws:policy/AdministratorAccess")
        .await
        .expect("AdministratorAccess from moto");
    assert!(admin.version_id.starts_with('v'), "{}", admin.version_id);
    assert!(
        matches!(&admin.document.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["*"]),
        "{}",
        admin.document.to_json()
    );

    // moto's copy and the bundled snapshot are different dumps of the same policy: each grants
    // what the other does for a policy that has not changed in years.
    let arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    let fetched = fetch_policy_document(&client, arn)
        .await
        .expect("from moto");
    let bundled = AwsManagedPolicies::embedded()
        .get(arn)
        .expect("in snapshot");
    let catalog = iamtrim::iam::catalog::Catalog::embedded();
    assert!(grants_no_more(&fetched.document, &bundled, catalog).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_policy_is_not_found_and_the_others_still_come() {
    let moto = moto::moto();
    let client = iam_client(&moto);
    let arns = vec![
        "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere".to_string(),
        "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
    ];
    let (found, failed) = fetch_policy_documents(&client, &arns).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].is_not_found(), "{}", failed[0]);
    assert!(failed[0].to_string().contains("NoSuchPolicyAnywhere"));
    let read_only = &found["arn:aws:iam::aws:policy/ReadOnlyAccess"].document;
    assert!(read_only.to_json().contains("ec2:Describe*"));
}

#[test]
fn suggest_online_fetches_read_only_access_from_iam_and_suggests_its_replacement() {
    let moto = moto::moto();
    let repo = tempfile::tempdir().unwrap();
    repo::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        repo.path(),
    );
    let run = |endpoint: &str| {
        let out = assert_cmd::Command::cargo_bin("iamtrim")
            .unwrap()
            .current_dir(repo.path())
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .args(["suggest", "plan.json", "--cloudtrail", "cloudtrail"])
            .args(["--format", "json", "--dry-run", "--aws-managed", "online"])
            .args(["--region", "us-east-1", "--endpoint-url", endpoint])
            .output()
            .unwrap();
        crate::support::repo::assert_success(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let has_replacement = |report: &serde_json::Value| {
        report["principals"].as_array().unwrap().iter().any(|p| {
            p["suggestions"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s["policy_address"]
                        == "aws_iam_user_policy_attachment.auditor_readonly (arn:aws:iam::aws:policy/ReadOnlyAccess)"
                })
            })
        })
    };
    let report = run(moto.endpoint());
    let warnings = report["warnings"].to_string();
    assert!(!warnings.contains("not fetched"), "{warnings}");
    assert!(has_replacement(&report));

    // IAM unreachable: a warning, and the snapshot stands in.
    let report = run("http://127.0.0.1:9");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("AWS-managed policy not fetched, using the bundled snapshot"),
        "{warnings}"
    );
    assert!(has_replacement(&report));
}
