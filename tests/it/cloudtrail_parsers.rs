//! The hand-written record scanner against the serde reader: the same `CloudTrailScan` on the
//! generated benchmark corpus and on every CloudTrail fixture.

use crate::support::ct_corpus;

use iamtrim::usage::cloudtrail::{RecordParser, ScanOptions, scan_path_with_parser};
use std::path::{Path, PathBuf};

fn assert_same_scan(root: &Path, opts: &ScanOptions<'_>) {
    let fast = scan_path_with_parser(root, opts, RecordParser::Skim).expect("scan");
    let serde = scan_path_with_parser(root, opts, RecordParser::Serde).expect("scan");
    assert!(fast.stats.records > 0, "{} has records", root.display());
    assert_eq!(fast, serde, "{}", root.display());
}

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn generated_corpus_scans_the_same() {
    let corpus = ct_corpus::corpus(2);
    assert!(corpus.files.len() > 3);
    let known = |action: &str| (!action.starts_with("kms:")).then(|| action.to_string());
    for opts in [
        ScanOptions::default(),
        ScanOptions {
            window: Some(("2024-03-01T12:00:00Z", "2024-03-06")),
            threads: 2,
            known_action: Some(&known),
            progress: None,
            principals: None,
        },
    ] {
        assert_same_scan(&corpus.root, &opts);
    }
}

#[test]
fn testdata_and_shared_fixtures_scan_the_same() {
    for rel in [
        "testdata/cloudtrail/layout",
        "testdata/cloudtrail/corrupt",
        "testdata/cloudtrail/public",
        "../shared/fixtures/cloudtrail",
    ] {
        let root = manifest(rel);
        assert_same_scan(&root, &ScanOptions::default());
        // Files named one by one are read whatever their layout.
        for entry in std::fs::read_dir(&root).expect("fixture folder") {
            let path = entry.expect("entry").path();
            let name = path.to_string_lossy();
            if path.is_file()
                && (name.ends_with(".json") || name.ends_with(".gz") || name.ends_with(".jsonl"))
            {
                assert_same_scan(&path, &ScanOptions::default());
            }
        }
    }
}
