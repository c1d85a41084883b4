//! `iamtrim suggest` and `apply` end to end on `testdata/e2e/multi/`, a multi-module project (a nested
//! local module, a module instantiated with `for_each`, a `count` resource) whose existing principals
//! carry over-broad policies in every form the writer rewrites: `jsonencode` literals, a
//! `data "aws_iam_policy_document"`, heredocs (`<<EOF`, `<<-EOF`), a quoted JSON string, `file()`, a
//! role's `inline_policy` block, a managed policy with its attachment, and one computed policy that can
//! only go to `iamtrim.suggested.tf`. The plan and CloudTrail logs come from `scripts/make-e2e-plan`.
//!
//! Checked: the patches apply with `git apply` and `patch -p1`, `iamtrim apply` applies them, every
//! `.tf` still parses, the patched Terraform evaluates to exactly the suggested documents, comments and
//! odd formatting survive, and the plan terraform would make after applying suggests nothing.

use crate::support::repo;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use repo::{find_block, git, iamtrim, suggest};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CASE: &str = "testdata/e2e/multi";
const QUICKSTART: &str = "examples/quickstart";

/// A copy of a project (relative to the crate) as its own git repository.
fn case_repo(case: &str) -> tempfile::TempDir {
    repo::project_repo(case, |_| {})
}

fn report_json(repo: &Path, plan: &str) -> Value {
    let (code, stdout, stderr) = suggest(repo, plan, &["--format", "json", "--dry-run"]);
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Every suggestion of the report, by policy address.
fn suggestions(report: &Value) -> BTreeMap<String, Value> {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["suggestions"].as_array().cloned().unwrap_or_default())
        .map(|s| (s["policy_address"].as_str().unwrap().to_string(), s))
        .collect()
}

/// A statement reduced to what matters here: its sid (or position), effect, whether it lists `Action`
/// or `NotAction`, the set of actions, and the set of resources (policy variables must survive).
type Shape = Vec<(
    String,
    String,
    &'static str,
    BTreeSet<String>,
    BTreeSet<String>,
)>;

fn string_set(v: &Value, what: &str) -> BTreeSet<String> {
    match v {
        Value::String(a) => BTreeSet::from([a.clone()]),
        Value::Array(list) => list
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect(),
        Value::Null => BTreeSet::new(),
        other => panic!("{what} is {other}"),
    }
}

/// The shape of an IAM JSON policy document.
fn shape(doc: &Value) -> Shape {
    let statements = match &doc["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    };
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (key, actions) = if s.get("NotAction").is_some() {
                ("NotAction", &s["NotAction"])
            } else {
                ("Action", &s["Action"])
            };
            let actions = string_set(actions, &format!("statement {i}: {key}"));
            (
                s["Sid"].as_str().map_or(i.to_string(), str::to_string),
                s["Effect"].as_str().unwrap_or("Allow").to_string(),
                key,
                actions,
                string_set(&s["Resource"], &format!("statement {i}: Resource")),
            )
        })
        .collect()
}

fn jsonencode(args: FuncArgs) -> Result<hcl::Value, String> {
    serde_json::to_string(&args[0])
        .map(hcl::Value::from)
        .map_err(|e| e.to_string())
}

fn file(args: FuncArgs) -> Result<hcl::Value, String> {
    let path = args[0].as_str().ok_or("file() takes a path")?;
    std::fs::read_to_string(path)
        .map(hcl::Value::from)
        .map_err(|e| format!("{path}: {e}"))
}

/// What Terraform evaluates policy expressions with: `jsonencode`, `file`, `path.module`, and the
/// variables the literal forms interpolate into resources (never into actions).
fn context(module_dir: &Path) -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    ctx.declare_func(
        "file",
        FuncDef::builder().param(ParamType::String).build(file),
    );
    ctx.declare_var(
        "path",
        hcl::value!({ module = (module_dir.display().to_string()) }),
    );
    ctx.declare_var("var", hcl::value!({ name = "blue" }));
    ctx.declare_var("count", hcl::value!({ index = 0 }));
    ctx
}

fn eval(expr: &hcl::Expression, ctx: &Context<'_>) -> hcl::Value {
    expr.evaluate(ctx)
        .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"))
}

fn attribute<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// The IAM JSON a `data "aws_iam_policy_document"` block renders (the parts a rewrite may change).
fn policy_document(block: &hcl::Block, ctx: &Context<'_>) -> Value {
    let statements: Vec<Value> = block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
        .map(|s| {
            let mut out = serde_json::Map::new();
            for (hcl_key, json_key) in [
                ("sid", "Sid"),
                ("effect", "Effect"),
                ("actions", "Action"),
                ("not_actions", "NotAction"),
                ("resources", "Resource"),
            ] {
                if let Some(expr) = attribute(s.body(), hcl_key) {
                    out.insert(
                        json_key.to_string(),
                        serde_json::to_value(eval(expr, ctx)).unwrap(),
                    );
                }
            }
            Value::Object(out)
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Where one policy is written in the case, and the policy addresses (instances) it serves.
struct Place {
    file: &'static str,
    kind: &'static str,
    labels: &'static [&'static str],
    /// The `name` of a role's `inline_policy` block holding the document.
    inline: Option<&'static str>,
    addresses: &'static [&'static str],
}

const PLACES: &[Place] = &[
    // <<EOF heredoc in a role's inline_policy block.
    Place {
        file: "main.tf",
        kind: "resource",
        labels: &["aws_iam_role", "reporting"],
        inline: Some("cache"),
        addresses: &["aws_iam_role.reporting"],
    },
    // jsonencode literal: a bare Action string, a statement removed, comments everywhere.
    Place {
        file: "main.tf",
        kind: "resource",
        labels: &["aws_iam_role_policy", "app"],
        inline: None,
        addresses: &["aws_iam_role_policy.app"],
    },
    // file("${path.module}/policies/shared.json"), attached to the app role.
    Place {
        file: "main.tf",
        kind: "resource",
        labels: &["aws_iam_policy", "shared"],
        inline: None,
        addresses: &["aws_iam_policy.shared"],
    },
    // count = 2: one block, two instances with different usage.
    Place {
        file: "main.tf",
        kind: "resource",
        labels: &["aws_iam_role_policy", "worker"],
        inline: None,
        addresses: &[
            "aws_iam_role_policy.worker[0]",
            "aws_iam_role_policy.worker[1]",
        ],
    },
    // Quoted JSON string.
    Place {
        file: "main.tf",
        kind: "resource",
        labels: &["aws_iam_user_policy", "deployer"],
        inline: None,
        addresses: &["aws_iam_user_policy.deployer"],
    },
    // Policy document statements: one shrinks, one goes, one NotAction stays (too many actions).
    Place {
        file: "modules/pipeline/main.tf",
        kind: "data",
        labels: &["aws_iam_policy_document", "this"],
        inline: None,
        addresses: &["module.pipeline.aws_iam_role_policy.this"],
    },
    // <<-EOF heredoc with a policy variable.
    Place {
        file: "modules/pipeline/main.tf",
        kind: "resource",
        labels: &["aws_iam_role_policy", "logs"],
        inline: None,
        addresses: &["module.pipeline.aws_iam_role_policy.logs"],
    },
    // A module instantiated with for_each: instances of one block with different usage.
    Place {
        file: "modules/tenant/main.tf",
        kind: "resource",
        labels: &["aws_iam_role_policy", "this"],
        inline: None,
        addresses: &[
            "module.tenant[\"blue\"].aws_iam_role_policy.this",
            "module.tenant[\"green\"].aws_iam_role_policy.this",
        ],
    },
    // Computed (a `for` over a concat of a local and a variable): a suggestion file.
    Place {
        file: "modules/pipeline/builder/iamtrim.suggested.tf",
        kind: "data",
        labels: &["aws_iam_policy_document", "this_iamtrim"],
        inline: None,
        addresses: &["module.pipeline.module.builder.aws_iam_role_policy.this"],
    },
];

/// The policy document the Terraform at `place` evaluates to, in `repo`.
fn evaluate_place(repo: &Path, place: &Place) -> Value {
    let path = repo.join(place.file);
    let text = std::fs::read_to_string(&path).unwrap();
    let body: hcl::Body = hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", place.file));
    let ctx = context(path.parent().unwrap());
    let block = find_block(&body, place.kind, place.labels);
    if place.labels[0] == "aws_iam_policy_document" {
        return policy_document(block, &ctx);
    }
    let holder = match place.inline {
        Some(name) => block
            .body()
            .blocks()
            .find(|b| {
                b.identifier() == "inline_policy"
                    && attribute(b.body(), "name")
                        .is_some_and(|n| eval(n, &ctx) == hcl::Value::from(name))
            })
            .unwrap()
            .body(),
        None => block.body(),
    };
    let value = eval(attribute(holder, "policy").unwrap(), &ctx);
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{}: policy is not a string: {value}", place.file));
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{}: policy JSON: {e}\n{text}", place.file))
}

/// At every place, the patched Terraform evaluates to the suggested document: one document per
/// place (instances of one block get the same one, minimized against the union of their usage), and
/// it grants less than what is deployed today.
fn assert_places_hold_the_suggestions(
    root: &Path,
    places: &[Place],
    by_address: &BTreeMap<String, Value>,
) {
    for place in places {
        let suggested: Vec<&Value> = place
            .addresses
            .iter()
            .map(|a| &by_address[*a]["suggested"])
            .collect();
        for s in &suggested[1..] {
            assert_eq!(
                shape(s).into_iter().map(|t| t.3).collect::<Vec<_>>(),
                shape(suggested[0])
                    .into_iter()
                    .map(|t| t.3)
                    .collect::<Vec<_>>(),
                "{:?}",
                place.addresses
            );
        }
        let patched = evaluate_place(root, place);
        assert_eq!(
            shape(&patched),
            shape(suggested[0]),
            "{} {:?}",
            place.file,
            place.labels
        );
        let current = &by_address[place.addresses[0]]["current"];
        assert_ne!(shape(current), shape(&patched), "{:?}", place.labels);
    }
}

/// Line ranges (0-based, inclusive) of the policy expressions of `places` in one file's text: the
/// `policy` value, or the whole `aws_iam_policy_document` block.
fn policy_lines(text: &str, file: &str, places: &[Place]) -> Vec<(usize, usize)> {
    use hcl_edit::Span;
    let body = hcl_edit::parser::parse_body(text).unwrap();
    let line = |byte: usize| text[..byte].matches('\n').count();
    places
        .iter()
        .filter(|p| p.file == file)
        .map(|p| {
            let block = body
                .get_blocks(p.kind)
                .find(|b| b.has_exact_labels(p.labels))
                .unwrap();
            let span = if p.labels[0] == "aws_iam_policy_document" {
                block.span()
            } else {
                let holder = match p.inline {
                    Some(name) => {
                        &block
                            .body
                            .get_blocks("inline_policy")
                            .find(|b| {
                                b.body.get_attribute("name").and_then(|a| a.value.as_str())
                                    == Some(name)
                            })
                            .unwrap()
                            .body
                    }
                    None => &block.body,
                };
                holder.get_attribute("policy").unwrap().value.span()
            };
            let span = span.unwrap();
            (line(span.start), line(span.end))
        })
        .collect()
}

/// Every line a patch changed in a `.tf` file lies inside one of its policy expressions.
fn assert_changes_stay_inside_policies(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
    places: &[Place],
) {
    let mut checked = 0;
    for (path, old) in before {
        if !path.ends_with(".tf") || after.get(path) == Some(old) {
            continue;
        }
        let old = std::str::from_utf8(old).unwrap();
        let new = std::str::from_utf8(&after[path]).unwrap();
        let allowed = policy_lines(old, path, places);
        let diff = similar::TextDiff::from_lines(old, new);
        for op in diff.ops() {
            if op.tag() == similar::DiffTag::Equal {
                continue;
            }
            let r = op.old_range();
            // An insertion sits between two lines: it may touch the closing line of an expression.
            let (first, last) = (r.start, r.end.max(r.start + 1) - 1);
            assert!(
                allowed.iter().any(|&(a, b)| a <= first && last <= b),
                "{path}: lines {}..={} changed outside every policy expression {allowed:?}",
                first + 1,
                last + 1
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no .tf file was changed");
}

/// Every `.tf`, `.json` and `.patch` file under `root` (hidden directories skipped), by relative path,
/// with its bytes.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_string();
            if e.file_type().unwrap().is_dir() {
                if !name.starts_with('.') {
                    stack.push(e.path());
                }
            } else if name.ends_with(".tf") || name.ends_with(".json") || name.ends_with(".patch") {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn patches(root: &Path) -> Vec<String> {
    tree(root)
        .into_keys()
        .filter(|p| p.ends_with("iamtrim.patch"))
        .collect()
}

fn filtered(repo: &Path, text: &str) -> String {
    text.replace(&repo.display().to_string(), "[REPO]")
}

#[test]
fn suggest_patches_every_form_and_apply_yields_the_suggested_documents() {
    let repo = case_repo(CASE);
    let root = repo.path();
    let before = tree(root);
    let report = report_json(root, "plan.json");
    let by_address = suggestions(&report);

    // Every suggestion is one of the places above, and every place has one.
    let placed: BTreeSet<&str> = PLACES
        .iter()
        .flat_map(|p| p.addresses.iter().copied())
        .collect();
    let reported: BTreeSet<&str> = by_address.keys().map(String::as_str).collect();
    assert_eq!(reported, placed, "suggestions and places differ");

    let (code, stdout, stderr) = suggest(root, "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    insta::assert_snapshot!("e2e_suggest_text", filtered(root, &stdout));
    let patch_files = patches(root);
    assert_eq!(
        patch_files,
        [
            "iamtrim.patch",
            "modules/pipeline/iamtrim.patch",
            "modules/tenant/iamtrim.patch"
        ]
    );
    for patch in &patch_files {
        let text = std::fs::read_to_string(root.join(patch)).unwrap();
        insta::assert_snapshot!(format!("e2e_{}", patch.replace('/', "__")), text);
        git(root, &["apply", "--check", patch]);
        let out = std::process::Command::new("patch")
            .current_dir(root)
            .args(["-p1", "--dry-run", "--batch", "-i", patch])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "patch -p1 --dry-run {patch}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let suggestion_file = "modules/pipeline/builder/iamtrim.suggested.tf";
    insta::assert_snapshot!(
        "e2e_builder_suggested_tf",
        std::fs::read_to_string(root.join(suggestion_file)).unwrap()
    );
    let out = iamtrim(root).arg("apply").output().unwrap();
    crate::support::repo::assert_success(&out);
    let after = tree(root);

    // Every .tf parses again; files no patch touches are byte-identical.
    let touched: BTreeSet<&str> = [
        "main.tf",
        "policies/shared.json",
        "modules/pipeline/main.tf",
        "modules/tenant/main.tf",
    ]
    .into();
    for (path, bytes) in &after {
        if path.ends_with(".tf") {
            let text = std::str::from_utf8(bytes).unwrap();
            hcl_edit::parser::parse_body(text)
                .unwrap_or_else(|e| panic!("{path} does not parse after apply: {e}"));
        }
        match before.get(path) {
            Some(old) if touched.contains(path.as_str()) => {
                assert_ne!(old, bytes, "{path} was patched")
            }
            Some(old) => assert_eq!(old, bytes, "{path} is not in any patch"),
            None => assert!(path.contains("iamtrim."), "{path} is new"),
        }
    }

    // The patched Terraform evaluates to the suggested documents, and changed only their lines.
    assert_places_hold_the_suggestions(root, PLACES, &by_address);
    assert_changes_stay_inside_policies(&before, &after, PLACES);

    // What the logs show, spelled out for the forms where it matters.
    let actions = |place: usize, sid: &str| -> BTreeSet<String> {
        let doc = evaluate_place(root, &PLACES[place]);
        shape(&doc)
            .into_iter()
            .find(|(s, ..)| s == sid)
            .map(|t| t.3)
            .unwrap_or_default()
    };
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // count: worker 0 received and deleted, worker 1 sent; PurgeQueue was never called.
    assert_eq!(
        actions(3, "Queue"),
        set(&["sqs:DeleteMessage", "sqs:ReceiveMessage", "sqs:SendMessage"])
    );
    // for_each module: blue queried, green wrote; both read.
    assert_eq!(
        actions(7, "Tables"),
        set(&["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"])
    );
    // The denied DeleteRepository is not kept, because it was denied; GetObject, seen only as a data
    // event, is used.
    let verdict = |address: &str, action: &str| -> (String, String) {
        let a = by_address[address]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == action)
            .unwrap_or_else(|| panic!("{address}: no {action}"));
        (a["verdict"].to_string(), a["reason"].to_string())
    };
    let (v, why) = verdict("aws_iam_user_policy.deployer", "ecr:DeleteRepository");
    assert_eq!(v, "\"remove\"");
    assert!(why.contains("denied"), "{why}");
    let (v, why) = verdict("aws_iam_role_policy.app", "s3:GetObject");
    assert_eq!(v, "\"keep\"");
    assert!(why.starts_with("\"used"), "{why}");
    assert_eq!(
        actions(4, "Push"),
        set(&["ecr:GetAuthorizationToken", "ecr:PutImage"])
    );
    // `Action = "sqs:*"` became the two calls the app made; the unused Mail statement is gone.
    assert_eq!(
        actions(1, "Queues"),
        set(&["sqs:ReceiveMessage", "sqs:SendMessage"])
    );
    assert!(actions(1, "Mail").is_empty());
    // The unused Repo statement block is gone. Regression (issue 14): the NotAction allow was
    // kept whole; it becomes the explicit list of what was used plus what no log can show.
    assert!(actions(5, "Repo").is_empty());
    assert_eq!(shape(&evaluate_place(root, &PLACES[5]))[1].2, "Action");
    assert_eq!(
        actions(5, "Build"),
        set(&[
            "codebuild:BatchGetBuilds",
            "codebuild:StartBuild",
            "logs:CreateLogStream",
            "logs:FilterLogEvents",
            "logs:GetLogEvents",
            "logs:PutLogEvents"
        ])
    );

    // Bytes outside the edited expressions survive: comments, odd layouts, escapes.
    let main = String::from_utf8(after["main.tf"].clone()).unwrap();
    for kept in [
        "/*\n  The orders service: an application role, its workers, a deploy user,\n",
        "  name               = \"orders-app\"\n  assume_role_policy = data.aws_iam_policy_document.ecs_trust.json\n",
        "  # TODO(orders#118): narrow the bucket once the uploader is gone.\n",
        "      { # one object per line is how the first author liked it\n        Sid    = \"Objects\",\n",
        "        # Each user writes under their own prefix.\n        Resource = \"arn:aws:s3:::orders-data/home/$${aws:username}/*\"\n",
        "// every queue action, for now\n",
        "      }\n    ]\n  })\n}\n\n# Shared KMS",
        "# The deploy user pushes images from the release laptop (yes, really).\n",
        "  source   = \"./modules/tenant\"\n  for_each = toset([\"blue\", \"green\"])\n",
    ] {
        assert!(main.contains(kept), "main.tf lost {kept:?}\n{main}");
    }
    let pipeline = String::from_utf8(after["modules/pipeline/main.tf"].clone()).unwrap();
    for kept in [
        "  # Indented heredoc; the log group is per team.\n  policy = <<-EOF\n    {\n",
        "log-group:/pipeline/$${aws:PrincipalTag/team}:*\"",
        "    ]\n    }\n  EOF\n}\n",
    ] {
        assert!(
            pipeline.contains(kept),
            "pipeline lost {kept:?}\n{pipeline}"
        );
    }
    assert!(
        !pipeline.contains("# Left over from the CodeCommit days."),
        "a removed statement's comment goes with it"
    );
    let tenant = String::from_utf8(after["modules/tenant/main.tf"].clone()).unwrap();
    assert!(tenant.contains("      Sid = \"Tables\",\n      Effect = \"Allow\",\n"));
    let shared = String::from_utf8(after["policies/shared.json"].clone()).unwrap();
    assert!(shared.contains(
        "            \"Resource\": \"arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders/${aws:PrincipalTag/team}/*\"\n"
    ));

    // Applying again changes nothing.
    let again = iamtrim(root).arg("apply").output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(tree(root), after);
}

#[test]
fn computed_policy_warning_names_the_policy_once() {
    let repo = case_repo(CASE);
    let report = report_json(repo.path(), "plan.json");
    let suggestion_file = "modules/pipeline/builder/iamtrim.suggested.tf";
    // The computed policy is reported with a note naming its place and what to change.
    let note = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.starts_with("module.pipeline.module.builder.aws_iam_role_policy.this"))
        .expect("a note for the computed policy");
    assert!(note.contains("modules/pipeline/builder/main.tf:"), "{note}");
    assert_eq!(
        note.matches("module.pipeline.module.builder.aws_iam_role_policy.this")
            .count(),
        1,
        "the warning names the policy once: {note}"
    );
    assert!(
        note.contains("data.aws_iam_policy_document.this_iamtrim.json"),
        "{note}"
    );
    assert!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == suggestion_file && f["kind"] == "suggestion"),
        "{}",
        report["files"]
    );
}

#[test]
fn a_stale_plan_after_applying_patches_nothing_again() {
    let repo = case_repo(CASE);
    let root = repo.path();
    let (code, _, stderr) = suggest(root, "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = iamtrim(root).arg("apply").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    for patch in patches(root) {
        std::fs::remove_file(root.join(patch)).unwrap();
    }
    // Same plan again (not re-planned): the applied policies are already as suggested, and the ones
    // that lost a statement no longer match the plan: both forms say so and write nothing.
    let report = report_json(root, "plan.json");
    let warnings = repo::warnings(&report);
    for expected in [
        "aws_iam_role_policy.app (policy): not written: main.tf:",
        "module.pipeline.data.aws_iam_policy_document.this: not written: modules/pipeline/main.tf:",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(expected)),
            "{expected} in {warnings:#?}"
        );
    }
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["modules/pipeline/builder/iamtrim.suggested.tf"]);
}

#[test]
fn a_modules_manifest_from_terraform_init_gives_the_same_patches() {
    let plain = case_repo(CASE);
    let (code, _, stderr) = suggest(plain.path(), "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let inited = repo::project_repo(CASE, |root| {
        let dir = root.join(".terraform/modules");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("modules.json"),
            r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"pipeline","Source":"./modules/pipeline","Dir":"modules/pipeline"},{"Key":"pipeline.builder","Source":"./builder","Dir":"modules/pipeline/builder"},{"Key":"tenant","Source":"./modules/tenant","Dir":"modules/tenant"}]}"#,
        )
        .unwrap();
    });
    let (code, _, stderr) = suggest(inited.path(), "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let written = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        tree(root)
            .into_iter()
            .filter(|(p, _)| p.contains("iamtrim."))
            .collect()
    };
    assert_eq!(written(inited.path()).len(), 4);
    assert_eq!(written(inited.path()), written(plain.path()));
}

/// The plan terraform would make after the patches are applied (before apply in AWS): each suggested
/// document is the planned value of its resource (or inline block), the deployed one stays `before`,
/// and the policy document data source is read again with the new statements.
fn replanned(repo: &Path, report: &Value) -> PathBuf {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(repo.join("plan.json")).unwrap()).unwrap();
    let by_address = suggestions(report);
    for rc in plan["resource_changes"].as_array_mut().unwrap() {
        let address = rc["address"].as_str().unwrap().to_string();
        let Some(s) = by_address.get(&address) else {
            continue;
        };
        let text = serde_json::to_string(&s["suggested"]).unwrap();
        if rc["type"] == "aws_iam_role" {
            // The document is the role's own inline_policy block.
            for b in rc["change"]["after"]["inline_policy"]
                .as_array_mut()
                .unwrap()
            {
                b["policy"] = Value::from(text.clone());
            }
        } else {
            rc["change"]["after"]["policy"] = Value::from(text);
        }
        rc["change"]["actions"] = serde_json::json!(["update"]);
    }
    let pipeline = serde_json::to_string_pretty(
        &by_address["module.pipeline.aws_iam_role_policy.this"]["suggested"],
    )
    .unwrap();
    for child in plan["prior_state"]["values"]["root_module"]["child_modules"]
        .as_array_mut()
        .unwrap()
    {
        for r in child["resources"].as_array_mut().unwrap() {
            if r["address"] == "module.pipeline.data.aws_iam_policy_document.this" {
                r["values"]["json"] = Value::from(pipeline.clone());
                r["values"]["minified_json"] = Value::from(
                    serde_json::to_string(&serde_json::from_str::<Value>(&pipeline).unwrap())
                        .unwrap(),
                );
            }
        }
    }
    let path = repo.join("replanned.json");
    std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
    path
}

#[test]
fn a_rerun_after_applying_suggests_nothing() {
    let repo = case_repo(CASE);
    let root = repo.path();
    let report = report_json(root, "plan.json");
    assert!(!suggestions(&report).is_empty());
    let (code, _, stderr) = suggest(root, "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = iamtrim(root).arg("apply").output().unwrap();
    crate::support::repo::assert_success(&out);
    for patch in patches(root) {
        std::fs::remove_file(root.join(patch)).unwrap();
    }
    std::fs::remove_file(root.join("modules/pipeline/builder/iamtrim.suggested.tf")).unwrap();
    replanned(root, &report);
    let (code, stdout, stderr) = suggest(root, "replanned.json", &["--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let again: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        suggestions(&again),
        BTreeMap::new(),
        "nothing left to remove"
    );
    assert!(
        again["files"].as_array().is_none_or(Vec::is_empty),
        "nothing written: {}",
        again["files"]
    );
    assert!(
        !tree(root).keys().any(|p| p.contains("iamtrim.")),
        "nothing written"
    );
}

#[test]
fn out_dir_holds_the_same_patches_and_the_repository_is_left_alone() {
    let in_place = case_repo(CASE);
    let (code, _, stderr) = suggest(in_place.path(), "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let repo = case_repo(CASE);
    let before = tree(repo.path());
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let (code, _, stderr) = suggest(repo.path(), "plan.json", &["--out", &out_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        tree(repo.path()),
        before,
        "--out writes nothing in the repository"
    );
    let written: BTreeMap<String, Vec<u8>> = tree(out.path());
    let expected: BTreeMap<String, Vec<u8>> = tree(in_place.path())
        .into_iter()
        .filter(|(p, _)| p.contains("iamtrim."))
        .collect();
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert_eq!(written, expected);
}

/// Where the quickstart's two editable policies are written.
const QUICKSTART_PLACES: &[Place] = &[
    Place {
        file: "main.tf",
        kind: "data",
        labels: &["aws_iam_policy_document", "ci_deploy"],
        inline: None,
        addresses: &["aws_iam_role_policy.ci_deploy"],
    },
    Place {
        file: "modules/worker/main.tf",
        kind: "resource",
        labels: &["aws_iam_role_policy", "this"],
        inline: None,
        addresses: &["module.worker.aws_iam_role_policy.this"],
    },
];

#[test]
fn quickstart_patches_apply_with_patch_and_yield_the_suggested_documents() {
    let repo = case_repo(QUICKSTART);
    let root = repo.path();
    let before = tree(root);
    let report = report_json(root, "plan.json");
    let by_address = suggestions(&report);
    let (code, _, stderr) = suggest(root, "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let patch_files = patches(root);
    assert_eq!(
        patch_files,
        ["iamtrim.patch", "modules/worker/iamtrim.patch"]
    );
    for patch in &patch_files {
        let out = std::process::Command::new("patch")
            .current_dir(root)
            .args(["-p1", "--batch", "-i", patch])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "patch -p1 {patch}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let after = tree(root);
    assert_places_hold_the_suggestions(root, QUICKSTART_PLACES, &by_address);
    assert_changes_stay_inside_policies(&before, &after, QUICKSTART_PLACES);
    // Patched with `patch`, the files are what `iamtrim apply` would write: it finds them applied.
    let out = iamtrim(root).arg("apply").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already applied"));
}

#[test]
fn a_crlf_checkout_stays_crlf_and_yields_the_suggested_documents() {
    let repo = repo::project_repo(CASE, |root| {
        for (path, bytes) in tree(root) {
            if path.ends_with(".tf") || path.ends_with("shared.json") {
                let text = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
                std::fs::write(root.join(path), text).unwrap();
            }
        }
    });
    let root = repo.path();
    let before = tree(root);
    let report = report_json(root, "plan.json");
    let (code, _, stderr) = suggest(root, "plan.json", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    for patch in patches(root) {
        git(root, &["apply", "--check", &patch]);
    }
    let out = iamtrim(root).arg("apply").output().unwrap();
    crate::support::repo::assert_success(&out);
    let after = tree(root);
    let mut patched = 0;
    for (path, old) in &before {
        let new = std::str::from_utf8(&after[path]).unwrap();
        if old.ends_with(b"\r\n") {
            patched += usize::from(old != new.as_bytes());
            assert_eq!(
                new.matches('\n').count(),
                new.matches("\r\n").count(),
                "{path} keeps CRLF"
            );
        }
    }
    assert_eq!(patched, 4, "main.tf, shared.json, pipeline and tenant");
    assert_places_hold_the_suggestions(root, PLACES, &suggestions(&report));
}
