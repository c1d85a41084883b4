//! Every error a user can meet is one line naming the file, the place and what to do (exit 2),
//! snapshotted with the temporary paths filtered; and the `--help` of every command.

use crate::support::repo::{self, iamtrim};
use std::path::Path;

/// A copy of the quickstart to break, as its own git repository.
fn quickstart_repo(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    repo::project_repo("examples/quickstart", edit)
}

/// Runs iamtrim in `repo` with `args`, checks it failed with exit 2, one line on stderr and nothing
/// on stdout, and returns that line with the repository path replaced by `[REPO]`.
fn one_line_error(repo: &Path, args: &[&str]) -> String {
    let out = iamtrim(repo)
        // No AWS credentials anywhere: a run that needs them fails at once.
        .env("HOME", repo)
        .env("AWS_CONFIG_FILE", repo.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            repo.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "eu-west-1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    // The repository is a temporary folder; macOS reaches it through /private.
    let canonical = repo.canonicalize().unwrap();
    stderr
        .replace(&canonical.display().to_string(), "[REPO]")
        .replace(&repo.display().to_string(), "[REPO]")
}

macro_rules! snapshot {
    ($name:literal, $text:expr) => {
        insta::with_settings!({
            filters => vec![(r"os error \d+", "os error [N]")],
        }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

#[test]
fn the_plan_file_is_missing() {
    let repo = quickstart_repo(|_| {});
    snapshot!(
        "plan_missing",
        one_line_error(repo.path(), &["scan", "missing.json"])
    );
}

#[test]
fn the_plan_is_not_json() {
    let repo = quickstart_repo(|r| {
        std::fs::write(
            r.join("broken.json"),
            "{\n  \"format_version\": \"1.2\",\n  oops\n}\n",
        )
        .unwrap()
    });
    snapshot!(
        "plan_not_json",
        one_line_error(repo.path(), &["scan", "broken.json"])
    );
}

#[test]
fn chdir_is_not_a_directory() {
    let repo = quickstart_repo(|_| {});
    snapshot!(
        "chdir_not_a_directory",
        one_line_error(repo.path(), &["--chdir", "main.tf", "scan", "plan.json"])
    );
}

#[test]
fn the_configuration_is_not_toml() {
    // The TOML parser's own message is a five-line snippet; ours is one line with line:column.
    let repo = quickstart_repo(|r| {
        std::fs::write(
            r.join(".iamtrim.toml"),
            "[defaults]\nleave_alone = [\"kms\"\n\n[cache]\n",
        )
        .unwrap()
    });
    snapshot!(
        "config_not_toml",
        one_line_error(repo.path(), &["check", "plan.json"])
    );
}

#[test]
fn the_configuration_has_an_unknown_key() {
    let repo =
        quickstart_repo(|r| std::fs::write(r.join(".iamtrim.toml"), "[cache]\nttl = 3\n").unwrap());
    snapshot!(
        "config_unknown_key",
        one_line_error(repo.path(), &["check", "plan.json"])
    );
}

#[test]
fn the_configuration_cannot_be_read() {
    // An I/O error used to print its cause twice.
    let repo = quickstart_repo(|r| std::fs::create_dir(r.join(".iamtrim.toml")).unwrap());
    snapshot!(
        "config_unreadable",
        one_line_error(repo.path(), &["check", "plan.json"])
    );
}

#[test]
fn the_cache_folder_leaves_the_repository() {
    let repo = quickstart_repo(|r| {
        std::fs::write(r.join(".iamtrim.toml"), "[cache]\ndir = \"../elsewhere\"\n").unwrap()
    });
    snapshot!(
        "cache_outside_the_repository",
        one_line_error(repo.path(), &["check", "plan.json"])
    );
}

#[test]
fn the_cache_cannot_be_read() {
    let repo = quickstart_repo(|r| {
        std::fs::create_dir(r.join(".iamtrim")).unwrap();
        std::fs::write(r.join(".iamtrim/cache"), "").unwrap();
    });
    snapshot!(
        "cache_unreadable",
        one_line_error(repo.path(), &["check", "plan.json"])
    );
}

#[test]
fn the_cloudtrail_folder_is_missing() {
    let repo = quickstart_repo(|_| {});
    snapshot!(
        "cloudtrail_missing",
        one_line_error(
            repo.path(),
            &[
                "suggest",
                "plan.json",
                "--dry-run",
                "--cloudtrail",
                "no-such-logs"
            ]
        )
    );
}

#[test]
fn no_aws_credentials() {
    // Three lines before: the message, then two "caused by" of the SDK's chain.
    let repo = quickstart_repo(|_| {});
    snapshot!(
        "no_credentials",
        one_line_error(
            repo.path(),
            &[
                "suggest",
                "plan.json",
                "--dry-run",
                "--cloudtrail",
                "s3://some-bucket/logs"
            ]
        )
    );
}

/// A broken copy of the quickstart's plan, written as `name` by `broken` from the plan's text.
fn broken_plan(name: &'static str, broken: fn(&str) -> String) -> tempfile::TempDir {
    quickstart_repo(move |r| {
        let plan = std::fs::read_to_string(r.join("plan.json")).unwrap();
        std::fs::write(r.join(name), broken(&plan)).unwrap();
    })
}

#[test]
fn the_plan_is_truncated() {
    let repo = broken_plan("cut.json", |plan| plan[..plan.len() / 2].to_string());
    snapshot!(
        "plan_truncated",
        one_line_error(repo.path(), &["scan", "cut.json"])
    );
}

#[test]
fn the_plan_file_holds_two_json_documents() {
    let repo = broken_plan("two.json", |plan| format!("{plan}{plan}"));
    snapshot!(
        "plan_two_documents",
        one_line_error(repo.path(), &["check", "two.json"])
    );
}

#[test]
fn the_plan_format_version_is_unknown() {
    let repo = broken_plan("future.json", |plan| {
        let mut v: serde_json::Value = serde_json::from_str(plan).unwrap();
        v["format_version"] = "9.0".into();
        v.to_string()
    });
    snapshot!(
        "plan_format_version_unknown",
        one_line_error(repo.path(), &["scan", "future.json"])
    );
}

#[test]
fn the_plan_is_not_an_object() {
    let repo = broken_plan("list.json", |_| "[]\n".to_string());
    snapshot!(
        "plan_not_an_object",
        one_line_error(repo.path(), &["scan", "list.json"])
    );
}

#[test]
fn the_plan_is_empty() {
    let repo = broken_plan("empty.json", |_| String::new());
    snapshot!(
        "plan_empty",
        one_line_error(repo.path(), &["suggest", "empty.json", "--dry-run"])
    );
}

#[test]
fn a_patch_names_a_file_outside_the_repository() {
    let repo = quickstart_repo(|r| {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        std::fs::write(
            r.join("iamtrim.patch"),
            format!(
                "# iamtrim: sha256 ../evil.tf {empty} {empty}\n--- a/../evil.tf\n+++ b/../evil.tf\n@@ -0,0 +1 @@\n+x\n"
            ),
        )
        .unwrap();
    });
    snapshot!(
        "patch_outside_the_repository",
        one_line_error(repo.path(), &["apply"])
    );
    assert!(!repo.path().join("../evil.tf").exists());
}

#[test]
fn a_patch_has_no_checksum_line() {
    let repo = quickstart_repo(|r| {
        std::fs::write(
            r.join("iamtrim.patch"),
            "--- a/main.tf\n+++ b/main.tf\n@@ -1 +1 @@\n-x\n+y\n",
        )
        .unwrap();
    });
    snapshot!(
        "patch_without_checksum",
        one_line_error(repo.path(), &["apply"])
    );
}

#[test]
fn help_of_every_command() {
    let repo = quickstart_repo(|_| {});
    for command in ["", "scan", "suggest", "check", "apply", "generate"] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let out = iamtrim(repo.path())
            .env("COLUMNS", "100")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let name = if command.is_empty() {
            "iamtrim"
        } else {
            command
        };
        insta::assert_snapshot!(
            format!("help_{name}"),
            String::from_utf8(out.stdout).unwrap()
        );
    }
}
