//! Every real plan in the shared corpus parses, and discovery finds exactly the principals an
//! independent count over `resource_changes` (plain JSON, no iamtrim types) says are there.

use iamtrim::plan::parse_plan_bytes;
use serde_json::Value;
use std::path::PathBuf;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("IAMTRIM_PLAN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/plans")
        });
    dir.is_dir().then_some(dir)
}

/// Decodes the text without iamtrim's loader: BOM, UTF-16LE.
fn independent_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).expect("utf-16");
    }
    String::from_utf8(
        bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(bytes)
            .to_vec(),
    )
    .expect("utf-8")
}

/// Roles, users and groups in resource_changes that still exist after the plan.
fn independent_principal_count(plan: &Value) -> usize {
    plan["resource_changes"]
        .as_array()
        .map(|rcs| {
            rcs.iter()
                .filter(|rc| {
                    matches!(
                        rc["type"].as_str(),
                        Some("aws_iam_role" | "aws_iam_user" | "aws_iam_group")
                    )
                })
                .filter(|rc| rc["mode"] == "managed" && rc.get("deposed").is_none())
                .filter(|rc| {
                    let actions = &rc["change"]["actions"];
                    actions != &serde_json::json!(["delete"])
                        && actions != &serde_json::json!(["forget"])
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn every_corpus_plan_parses_and_principals_match_an_independent_count() {
    let Some(dir) = corpus_dir() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the plan corpus is missing under CI"
        );
        panic!(
            "plan corpus not found: set IAMTRIM_PLAN_CORPUS or check out ../shared beside the repository"
        );
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the whole corpus, found {} plans in {}",
        files.len(),
        dir.display()
    );
    let mut total = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let shown = path.display().to_string();
        let loaded = parse_plan_bytes(&bytes, &shown).unwrap_or_else(|e| panic!("{e}"));
        let discovery = iamtrim::iam::discover(&loaded.plan);
        let raw: Value = serde_json::from_str(&independent_text(&bytes)).unwrap();
        let expected = independent_principal_count(&raw);
        assert_eq!(discovery.principals.len(), expected, "{shown}");
        total += expected;
    }
    // The corpus has dozens of roles, users and groups; a count of zero would mean this test checks nothing.
    assert!(total > 40, "only {total} principals over the corpus");
}
