//! Scanning CloudTrail logs in S3 through the real SDK, against the moto emulator.

#[path = "support/moto.rs"]
mod moto;

use aws_sdk_s3::primitives::ByteStream;
use iamtrim::usage::cloudtrail::{CloudTrailError, ScanOptions, scan_path, scan_s3};
use std::path::{Path, PathBuf};

const MARCH: ScanOptions<'static> = ScanOptions {
    window: Some(("2024-03-01", "2024-03-06")),
    threads: 2,
    known_action: None,
};

fn layout_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/cloudtrail/layout")
}

/// Every file under `dir` with its `/`-separated relative key.
fn files(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("read testdata") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files(&path, root, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((key, path));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_scan_matches_the_same_files_on_disk() {
    let moto = moto::moto();
    let client = moto.s3_client();
    let bucket = "iamtrim-cloudtrail-logs";
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
    let mut layout = Vec::new();
    files(&layout_dir(), &layout_dir(), &mut layout);
    assert!(layout.len() >= 7, "testdata present");
    for (key, path) in &layout {
        let body = ByteStream::from(std::fs::read(path).expect("read testdata file"));
        client
            .put_object()
            .bucket(bucket)
            .key(format!("trails/{key}"))
            .body(body)
            .send()
            .await
            .expect("upload");
    }
    // A neighbour prefix that must not be read.
    let stray = std::fs::read(&layout[0].1).expect("read");
    client
        .put_object()
        .bucket(bucket)
        .key("other/AWSLogs/x.json")
        .body(ByteStream::from(stray))
        .send()
        .await
        .expect("upload");

    let from_s3 = scan_s3(&client, &format!("s3://{bucket}/trails/"), &MARCH)
        .await
        .expect("s3 scan");
    let from_disk = scan_path(&layout_dir(), &MARCH).expect("disk scan");
    assert!(from_s3.stats.files_read > 0);
    assert_eq!(from_s3.usage, from_disk.usage);
    assert_eq!(from_s3.stats, from_disk.stats);

    let whole = scan_s3(
        &client,
        &format!("s3://{bucket}/trails"),
        &ScanOptions::default(),
    )
    .await
    .expect("s3 scan");
    let whole_disk = scan_path(&layout_dir(), &ScanOptions::default()).expect("disk scan");
    assert_eq!(whole.usage, whole_disk.usage);
    assert_eq!(whole.stats.files_read, 5);
}

#[tokio::test]
async fn missing_bucket_is_a_named_error() {
    let moto = moto::moto();
    let client = moto.s3_client();
    let err = scan_s3(
        &client,
        "s3://iamtrim-no-such-bucket/AWSLogs/",
        &ScanOptions::default(),
    )
    .await
    .expect_err("fails");
    match &err {
        CloudTrailError::NoSuchBucket { bucket, .. } => {
            assert_eq!(bucket, "iamtrim-no-such-bucket")
        }
        other => panic!("expected NoSuchBucket, got {other:?}"),
    }
    assert!(err.to_string().contains("iamtrim-no-such-bucket"), "{err}");
}

#[tokio::test]
async fn malformed_url_is_rejected_before_any_request() {
    let moto = moto::moto();
    let err = scan_s3(&moto.s3_client(), "bucket/prefix", &ScanOptions::default())
        .await
        .expect_err("fails");
    assert!(
        matches!(err, CloudTrailError::InvalidS3Url { .. }),
        "{err:?}"
    );
}
