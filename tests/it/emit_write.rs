//! End to end for the Terraform writer: `testdata/emit/<case>/` trees are copied to a temp dir,
//! suggestions written, patches checked with real `git apply` and `patch -p1`, then applied.

use iamtrim::emit::json_text::apply_changes;
use iamtrim::emit::patch::FileApply;
use iamtrim::emit::write::{Outcome, WrittenKind};
use iamtrim::emit::{
    EmitError, PolicyEdit, PolicyForm, PolicyLocation, PolicyTarget, StatementChange,
    TerraformFileMut, WriteOptions, apply_patches, write_suggestions,
};
use iamtrim::iam::policy::PolicyDocument;
use iamtrim::plan::model::Plan;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every file under `dir` (symlinks not followed) and its contents.
fn snapshot_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                out.insert(
                    entry.path().strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(entry.path()).unwrap(),
                );
            }
        }
    }
    out
}

struct Case {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    plan: Plan,
}

fn case(name: &str) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/emit")
        .join(name);
    crate::support::repo::copy_all(&source, &base);
    let plan: Plan =
        serde_json::from_str(&std::fs::read_to_string(base.join("plan.json")).unwrap()).unwrap();
    let root = base.join("repo").canonicalize().unwrap();
    Case {
        _tmp: tmp,
        base,
        root,
        plan,
    }
}

fn set(actions: &[&str]) -> StatementChange {
    StatementChange::SetActions(actions.iter().map(|s| s.to_string()).collect())
}

fn edit(
    module_key: &str,
    resource: &str,
    is_data: bool,
    current: &str,
    statements: Vec<StatementChange>,
) -> PolicyEdit {
    let (resource_type, resource_name) = resource.split_once('.').unwrap();
    let current = PolicyDocument::parse_str(current).unwrap();
    let suggested = apply_changes(&current, &statements).unwrap();
    PolicyEdit {
        location: PolicyLocation {
            module_key: module_key.into(),
            resource_type: resource_type.into(),
            resource_name: resource_name.into(),
            is_data,
            target: PolicyTarget::PolicyAttribute,
        },
        current: current.into(),
        suggested,
        statements,
        inline_overflow: None,
    }
}

fn one_statement(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

fn local_edits() -> Vec<PolicyEdit> {
    vec![
        edit(
            "",
            "aws_iam_role_policy.app",
            false,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::app-data/*"},{"Sid":"Queues","Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
            vec![
                set(&["s3:GetObject"]),
                set(&["sqs:SendMessage", "sqs:ReceiveMessage"]),
            ],
        ),
        edit(
            "",
            "aws_iam_policy.heredoc",
            false,
            &one_statement(r#"["dynamodb:GetItem","dynamodb:PutItem","dynamodb:Scan"]"#),
            vec![set(&["dynamodb:GetItem"])],
        ),
        edit(
            "",
            "aws_iam_policy.quoted",
            false,
            &one_statement(r#"["logs:CreateLogStream","logs:PutLogEvents","logs:DeleteLogGroup"]"#),
            vec![set(&["logs:CreateLogStream", "logs:PutLogEvents"])],
        ),
        edit(
            "",
            "aws_iam_policy.from_file",
            false,
            &one_statement(r#"["ssm:GetParameter","ssm:GetParameters","ssm:PutParameter"]"#),
            vec![set(&["ssm:GetParameter"])],
        ),
        edit(
            "",
            "aws_iam_policy.computed",
            false,
            &one_statement(r#""ec2:*""#),
            vec![set(&["ec2:DescribeInstances"])],
        ),
        edit(
            "app",
            "aws_iam_policy_document.worker",
            true,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"},{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}"#,
            vec![set(&["s3:GetObject"]), set(&["sqs:SendMessage"])],
        ),
        // Two instances of one for_each'd resource: the block keeps what either needs.
        edit(
            "app",
            "aws_iam_role_policy.per_env",
            false,
            &one_statement(r#"["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"]"#),
            vec![set(&["kms:Decrypt"])],
        ),
        edit(
            "app",
            "aws_iam_role_policy.per_env",
            false,
            &one_statement(r#"["kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"]"#),
            vec![set(&["kms:GenerateDataKey", "kms:Decrypt"])],
        ),
        edit(
            "app.far",
            "aws_iam_policy.far",
            false,
            &one_statement(r#"["s3:*"]"#),
            vec![set(&["s3:GetObject"])],
        ),
        edit(
            "linked",
            "aws_iam_policy.linked",
            false,
            &one_statement(r#"["s3:*"]"#),
            vec![set(&["s3:GetObject"])],
        ),
        edit(
            "vendor",
            "aws_iam_policy.policy",
            false,
            &one_statement(r#"["sns:*"]"#),
            vec![set(&["sns:Publish"])],
        ),
    ]
}

/// The `local` case, with `modules/linked` a symlink to a directory outside the root.
fn local_case() -> Case {
    let c = case("local");
    #[cfg(unix)]
    std::os::unix::fs::symlink(c.base.join("outside/linked"), c.root.join("modules/linked"))
        .unwrap();
    c
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run tool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The `terraform fmt` rules the writer promises for new HCL: two-space indent per nesting level,
/// no tabs or trailing blanks, and `=` aligned one space after the longest key of each run of
/// attributes (a run ends at a blank line, a comment, or a block line).
fn fmt_violations(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut depth: usize = 0;
    let mut run: Vec<(usize, usize, usize, usize)> = Vec::new(); // (line, indent, key len, '=' column)
    let close = |run: &mut Vec<(usize, usize, usize, usize)>, problems: &mut Vec<String>| {
        if let Some(max) = run.iter().map(|r| r.2).max() {
            for (line, indent, _, eq) in run.iter() {
                if *eq != indent + max + 1 {
                    problems.push(format!(
                        "line {line}: `=` at column {eq}, want {}",
                        indent + max + 1
                    ));
                }
            }
        }
        run.clear();
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.contains('\t') {
            problems.push(format!("line {n}: tab"));
        }
        if line != line.trim_end() {
            problems.push(format!("line {n}: trailing whitespace"));
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            close(&mut run, &mut problems);
            continue;
        }
        if trimmed.starts_with('}') {
            depth = depth.saturating_sub(1);
        }
        let indent = line.len() - trimmed.len();
        if indent != 2 * depth {
            problems.push(format!("line {n}: indent {indent}, want {}", 2 * depth));
        }
        let key_len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(0);
        let after_key = &trimmed[key_len..];
        if key_len > 0 && after_key.trim_start().starts_with("= ") {
            let eq = indent + key_len + (after_key.len() - after_key.trim_start().len());
            if !after_key.trim_start().starts_with("= ")
                || after_key.trim_start()[2..].starts_with(' ')
            {
                problems.push(format!("line {n}: want exactly one space after `=`"));
            }
            run.push((n, indent, key_len, eq));
        } else {
            close(&mut run, &mut problems);
        }
        if trimmed.ends_with('{') {
            depth += 1;
        }
    }
    close(&mut run, &mut problems);
    if depth != 0 {
        problems.push("unbalanced braces".into());
    }
    problems
}

#[test]
fn fmt_checker_catches_misalignment() {
    assert!(
        fmt_violations("a {\n  x   = 1\n  yy = 2\n}\n")
            .iter()
            .any(|p| p.contains("`=` at column"))
    );
    assert!(
        fmt_violations("a {\n   x = 1\n}\n")
            .iter()
            .any(|p| p.contains("indent 3"))
    );
    assert!(fmt_violations("a {\n  x  = 1\n  yy = 2\n\n  zzz = 3\n}\n").is_empty());
}

#[test]
fn local_case_writes_patches_and_suggestions_only_inside_the_root() {
    let c = local_case();
    let outside_before = snapshot_tree(&c.base.join("outside"));
    let repo_before = snapshot_tree(&c.root);
    let edits = local_edits();
    let report = write_suggestions(&c.root, &c.plan, &edits, &WriteOptions::default()).unwrap();

    let outcomes: Vec<(&str, &Outcome)> = report
        .outcomes
        .iter()
        .map(|o| (o.address.as_str(), &o.outcome))
        .collect();
    let patched = |form| Outcome::Patched {
        files: vec!["main.tf".into()],
        form,
    };
    assert_eq!(outcomes[0].1, &patched(PolicyForm::JsonEncode));
    assert_eq!(outcomes[1].1, &patched(PolicyForm::Heredoc));
    assert_eq!(outcomes[2].1, &patched(PolicyForm::QuotedString));
    assert_eq!(
        outcomes[3].1,
        &Outcome::Patched {
            files: vec!["policies/read.json".into()],
            form: PolicyForm::JsonFile
        }
    );
    assert!(
        matches!(outcomes[4].1, Outcome::SuggestionFile { note, .. } if note.contains("main.tf:63:12: the policy comes from var.computed_policy")),
        "{:?}",
        outcomes[4]
    );
    let app_patched = |form| Outcome::Patched {
        files: vec!["modules/app/main.tf".into()],
        form,
    };
    assert_eq!(
        outcomes[5].1,
        &app_patched(PolicyForm::PolicyDocumentBlocks)
    );
    assert_eq!(outcomes[6].1, &app_patched(PolicyForm::JsonEncode));
    assert_eq!(outcomes[7].1, &app_patched(PolicyForm::JsonEncode));
    for (address, outcome) in &outcomes[8..10] {
        assert!(
            matches!(outcome, Outcome::Skipped { why } if why.contains("outside the repository root")),
            "{address}: {outcome:?}"
        );
    }
    assert!(
        matches!(outcomes[10].1, Outcome::SuggestionFile { note, .. } if note.contains("pass the document below to the input `policy` of module.vendor")),
        "{:?}",
        outcomes[10]
    );

    let written: Vec<(String, WrittenKind)> = report
        .files
        .iter()
        .map(|f| {
            (
                f.path.strip_prefix(&c.root).unwrap().display().to_string(),
                f.kind,
            )
        })
        .collect();
    assert_eq!(
        written,
        vec![
            ("iamtrim.patch".to_string(), WrittenKind::Patch),
            (
                "iamtrim.suggested.tf".to_string(),
                WrittenKind::SuggestionFile
            ),
            ("modules/app/iamtrim.patch".to_string(), WrittenKind::Patch),
        ]
    );
    for file in &report.files {
        assert_eq!(std::fs::read_to_string(&file.path).unwrap(), file.text);
        let name = file
            .path
            .strip_prefix(&c.root)
            .unwrap()
            .display()
            .to_string()
            .replace('/', "__");
        insta::assert_snapshot!(format!("local__{name}"), file.text);
        if file.kind == WrittenKind::SuggestionFile {
            assert_eq!(
                fmt_violations(&file.text),
                Vec::<String>::new(),
                "{}",
                file.text
            );
            TerraformFileMut::parse("iamtrim.suggested.tf", &file.text).unwrap();
        }
    }

    // Nothing outside the root changed, and inside it only the three new files appeared.
    assert_eq!(snapshot_tree(&c.base.join("outside")), outside_before);
    let mut repo_after = snapshot_tree(&c.root);
    for file in &report.files {
        repo_after.remove(file.path.strip_prefix(&c.root).unwrap());
    }
    repo_after.retain(|p, _| !p.starts_with("modules/linked"));
    let mut repo_before = repo_before;
    repo_before.retain(|p, _| !p.starts_with("modules/linked"));
    assert_eq!(repo_after, repo_before);

    // Real tools accept the patches.
    for file in report.files.iter().filter(|f| f.kind == WrittenKind::Patch) {
        let (ok, out) = run(Command::new("git")
            .arg("apply")
            .arg("--check")
            .arg("-v")
            .arg(&file.path)
            .current_dir(&c.root));
        assert!(ok, "git apply --check {}: {out}", file.path.display());
        let (ok, out) = run(Command::new("patch")
            .args(["-p1", "--dry-run", "-i"])
            .arg(&file.path)
            .current_dir(&c.root));
        assert!(ok, "patch -p1 --dry-run {}: {out}", file.path.display());
    }
}

#[test]
fn apply_patches_matches_git_apply_and_is_idempotent() {
    let ours = local_case();
    let theirs = local_case();
    let edits = local_edits();
    let report =
        write_suggestions(&ours.root, &ours.plan, &edits, &WriteOptions::default()).unwrap();
    write_suggestions(&theirs.root, &theirs.plan, &edits, &WriteOptions::default()).unwrap();

    let applied = apply_patches(&ours.root, &[]).unwrap();
    let files: Vec<(String, FileApply)> = applied
        .patches
        .iter()
        .flat_map(|p| p.files.clone())
        .collect();
    assert_eq!(
        files,
        vec![
            ("main.tf".to_string(), FileApply::Applied),
            ("policies/read.json".to_string(), FileApply::Applied),
            ("modules/app/main.tf".to_string(), FileApply::Applied),
        ]
    );
    for patch in report.files.iter().filter(|f| f.kind == WrittenKind::Patch) {
        let path = theirs
            .root
            .join(patch.path.strip_prefix(&ours.root).unwrap());
        let (ok, out) = run(Command::new("git")
            .arg("apply")
            .arg(&path)
            .current_dir(&theirs.root));
        assert!(ok, "{out}");
    }
    for rel in ["main.tf", "policies/read.json", "modules/app/main.tf"] {
        let a = std::fs::read_to_string(ours.root.join(rel)).unwrap();
        assert_eq!(
            a,
            std::fs::read_to_string(theirs.root.join(rel)).unwrap(),
            "{rel}"
        );
    }

    // The patched files re-parse and say what the edits asked for.
    let main = std::fs::read_to_string(ours.root.join("main.tf")).unwrap();
    TerraformFileMut::parse("main.tf", &main).unwrap();
    assert!(main.contains(r#"Action   = ["s3:GetObject"]"#), "{main}");
    assert!(
        main.contains(r#"Action   = ["sqs:SendMessage", "sqs:ReceiveMessage"]"#),
        "{main}"
    );
    assert!(
        main.contains("$${aws:username}"),
        "heredoc keeps its escape: {main}"
    );
    let app = std::fs::read_to_string(ours.root.join("modules/app/main.tf")).unwrap();
    TerraformFileMut::parse("app.tf", &app).unwrap();
    assert!(
        app.contains(r#"Action   = ["kms:Decrypt", "kms:GenerateDataKey"]"#),
        "{app}"
    );
    assert!(
        app.contains("    effect    = \"Allow\"\n    actions   = [\"sqs:SendMessage\"]\n"),
        "{app}"
    );
    let json = std::fs::read_to_string(ours.root.join("policies/read.json")).unwrap();
    let doc = PolicyDocument::parse_str(&json).unwrap();
    assert_eq!(
        doc.statements[0].action.as_ref().unwrap().patterns(),
        ["ssm:GetParameter"]
    );

    // Applied twice: a no-op.
    let before = snapshot_tree(&ours.root);
    let again = apply_patches(&ours.root, &[]).unwrap();
    assert!(
        again
            .patches
            .iter()
            .flat_map(|p| &p.files)
            .all(|(_, f)| *f == FileApply::AlreadyApplied),
        "{again:?}"
    );
    assert_eq!(snapshot_tree(&ours.root), before);
}

#[test]
fn apply_refuses_a_target_changed_since_the_patch_was_written() {
    let c = local_case();
    write_suggestions(&c.root, &c.plan, &local_edits(), &WriteOptions::default()).unwrap();
    let main = c.root.join("main.tf");
    let edited = format!(
        "{}\n# edited by hand\n",
        std::fs::read_to_string(&main).unwrap()
    );
    std::fs::write(&main, &edited).unwrap();
    let json_before = std::fs::read_to_string(c.root.join("policies/read.json")).unwrap();
    let err = apply_patches(&c.root, &[c.root.join("iamtrim.patch")]).unwrap_err();
    assert!(
        matches!(&err, EmitError::TargetChanged { target, .. } if target == "main.tf"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("main.tf changed since the patch was written"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&main).unwrap(), edited);
    assert_eq!(
        std::fs::read_to_string(c.root.join("policies/read.json")).unwrap(),
        json_before,
        "nothing of the patch is applied"
    );
}

#[test]
fn dry_run_writes_nothing_and_out_dir_writes_elsewhere() {
    let c = case("registry");
    let edits = vec![
        edit(
            "app",
            "aws_iam_policy.app",
            false,
            &one_statement(r#"["sns:Publish","sns:Subscribe"]"#),
            vec![set(&["sns:Publish"])],
        ),
        edit(
            "vendor",
            "aws_iam_policy.policy",
            false,
            &one_statement(r#"["sqs:*"]"#),
            vec![set(&["sqs:SendMessage"])],
        ),
    ];
    let before = snapshot_tree(&c.base);
    let dry = write_suggestions(
        &c.root,
        &c.plan,
        &edits,
        &WriteOptions {
            dry_run: true,
            out_dir: None,
            module_root: None,
        },
    )
    .unwrap();
    assert_eq!(snapshot_tree(&c.base), before);
    assert_eq!(dry.files.len(), 2);
    assert!(
        matches!(&dry.outcomes[1].outcome, Outcome::SuggestionFile { note, .. } if note.contains("the input `policy` of module.vendor"))
    );
    for file in &dry.files {
        let name = file
            .path
            .strip_prefix(&c.root)
            .unwrap()
            .display()
            .to_string()
            .replace('/', "__");
        insta::assert_snapshot!(format!("registry__{name}"), file.text);
    }

    let out = c.base.join("out");
    let report = write_suggestions(
        &c.root,
        &c.plan,
        &edits,
        &WriteOptions {
            dry_run: false,
            out_dir: Some(out.clone()),
            module_root: None,
        },
    )
    .unwrap();
    let written: Vec<PathBuf> = report
        .files
        .iter()
        .map(|f| f.path.strip_prefix(&out).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        written,
        vec![
            PathBuf::from("iamtrim.suggested.tf"),
            PathBuf::from("modules/app/iamtrim.patch")
        ]
    );
    let mut after = snapshot_tree(&c.base);
    after.retain(|p, _| !p.starts_with("out"));
    assert_eq!(after, before, "the repository is untouched with --out");
    // The patch in --out still applies to the repository.
    let (ok, log) = run(Command::new("git")
        .args(["apply", "--check"])
        .arg(out.join("modules/app/iamtrim.patch"))
        .current_dir(&c.root));
    assert!(ok, "{log}");
}

#[test]
fn templated_json_files_escaping_file_paths_and_missing_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("main.tf"),
        "resource \"aws_iam_policy\" \"tpl\" {\n  policy = templatefile(\"${path.module}/tpl.json\", { bucket = \"b\" })\n}\n\nresource \"aws_iam_policy\" \"escape\" {\n  policy = file(\"../secret.json\")\n}\n\nmodule \"gone\" {\n  source = \"./gone\"\n}\n",
    )
    .unwrap();
    let tpl = one_statement(r#"["s3:*"]"#).replace(r#""*"}"#, r#""arn:aws:s3:::${bucket}"}"#);
    std::fs::write(root.join("tpl.json"), &tpl).unwrap();
    let secret = one_statement(r#"["s3:*"]"#);
    std::fs::write(tmp.path().join("secret.json"), &secret).unwrap();
    let plan: Plan = serde_json::from_str(r#"{"format_version":"1.2","configuration":{"root_module":{"module_calls":{"gone":{"source":"./gone","module":{}}}}}}"#).unwrap();
    let edits = vec![
        edit(
            "",
            "aws_iam_policy.tpl",
            false,
            &one_statement(r#"["s3:*"]"#),
            vec![set(&["s3:GetObject"])],
        ),
        edit(
            "",
            "aws_iam_policy.escape",
            false,
            &one_statement(r#"["s3:*"]"#),
            vec![set(&["s3:GetObject"])],
        ),
        edit(
            "gone",
            "aws_iam_policy.x",
            false,
            &one_statement(r#"["s3:*"]"#),
            vec![set(&["s3:GetObject"])],
        ),
    ];
    let report = write_suggestions(&root, &plan, &edits, &WriteOptions::default()).unwrap();
    assert!(
        matches!(&report.outcomes[0].outcome, Outcome::SuggestionFile { note, .. } if note.contains("tpl.json is a template with interpolations")),
        "{:?}",
        report.outcomes[0]
    );
    assert!(
        matches!(&report.outcomes[1].outcome, Outcome::Skipped { why } if why.contains("main.tf:6:12: ../secret.json is outside the repository root")),
        "{:?}",
        report.outcomes[1]
    );
    assert!(
        matches!(&report.outcomes[2].outcome, Outcome::Skipped { why } if why.contains("does not exist")),
        "{:?}",
        report.outcomes[2]
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("secret.json")).unwrap(),
        secret
    );
    assert_eq!(std::fs::read_to_string(root.join("tpl.json")).unwrap(), tpl);
    let written: Vec<&str> = report
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(written, ["iamtrim.suggested.tf"]);
}
