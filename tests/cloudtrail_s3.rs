//! Scanning CloudTrail logs in S3 through the real SDK, against the moto emulator.

#[path = "support/moto.rs"]
mod moto;
#[path = "support/s3_emulator.rs"]
mod s3_emulator;

use aws_sdk_s3::primitives::ByteStream;
use iamtrim::usage::cloudtrail::{CloudTrailError, ScanOptions, scan_path, scan_s3};
use std::path::{Path, PathBuf};

const MARCH: ScanOptions<'static> = ScanOptions {
    window: Some(("2024-03-01", "2024-03-06")),
    threads: 2,
    known_action: None,
    progress: None,
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

/// A new bucket in moto and a client for it; the handle keeps moto running.
async fn moto_bucket(bucket: &str) -> (std::sync::Arc<moto::Moto>, aws_sdk_s3::Client) {
    let moto = moto::moto();
    let client = moto.s3_client();
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
    (moto, client)
}

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_scan_matches_the_same_files_on_disk() {
    let bucket = "iamtrim-cloudtrail-logs";
    let (_moto, client) = moto_bucket(bucket).await;
    let mut layout = Vec::new();
    files(&layout_dir(), &layout_dir(), &mut layout);
    assert!(layout.len() >= 7, "testdata present");
    for (key, path) in &layout {
        let body = std::fs::read(path).expect("read testdata file");
        put(&client, bucket, &format!("trails/{key}"), body).await;
    }
    // A neighbour prefix that must not be read.
    let stray = std::fs::read(&layout[0].1).expect("read");
    put(&client, bucket, "other/AWSLogs/x.json", stray).await;

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

/// One small log file whose only record calls `s3:<action>` as `role`, at `time`.
fn log_file(role: &str, action: &str, time: &str) -> Vec<u8> {
    format!(
        r#"{{"Records":[{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/{role}/s","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111122223333:role/{role}"}}}}}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"{action}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}]}}"#
    )
    .into_bytes()
}

/// A bucket of many days, regions and both account layouts, with digest and insight folders and
/// files at odd levels: the folder-by-folder listing, which leaves out the day folders outside the
/// window, must read exactly the files a listing of every key would (counted here from the keys
/// alone), and the same as the folder walk on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_listing_by_folder_reads_every_file_a_full_listing_would() {
    use iamtrim::usage::cloudtrail::layout::{KeyKind, ScanWindow, classify_key};

    let window = ("2024-02-28", "2024-03-03T06:00:00Z");
    let parsed = ScanWindow::parse(window.0, window.1).expect("window");
    let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
    let roots = [
        "AWSLogs/111122223333/CloudTrail",
        "AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail",
    ];
    let days = [
        "2023-12-31",
        "2024-01-15",
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
    ]
    .into_iter()
    .chain([
        "2024-03-01",
        "2024-03-02",
        "2024-03-03",
        "2024-03-04",
        "2024-04-01",
    ]);
    let days: Vec<&str> = days.collect();
    let mut n = 0;
    for root in roots {
        for region in ["us-east-1", "eu-west-1"] {
            for day in &days {
                let (y, m, d) = (&day[..4], &day[5..7], &day[8..]);
                for part in 0..2 {
                    n += 1;
                    let key = format!("{root}/{region}/{y}/{m}/{d}/f{part}_{n}.json.gz");
                    let time = format!("{day}T00:30:00Z");
                    keys.push((key, log_file("reader", &format!("GetObjectV{n}"), &time)));
                }
            }
            // Files at other levels: no day in their path, so always read.
            n += 1;
            let loose = format!("{root}/{region}/2024/02/loose_{n}.json");
            keys.push((
                loose,
                log_file("reader", &format!("GetObjectV{n}"), "2024-03-01T01:00:00Z"),
            ));
        }
    }
    for (i, folder) in [
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01",
        "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/01",
    ]
    .into_iter()
    .enumerate()
    {
        keys.push((
            format!("{folder}/x{i}.json.gz"),
            log_file("digest", "PutObject", "2024-03-01T01:00:00Z"),
        ));
    }
    // Below an out-of-window day folder: its own path still names that day.
    keys.push((
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/20/sub/deep.json".to_string(),
        log_file("reader", "DeleteBucket", "2024-02-20T01:00:00Z"),
    ));

    // What a listing of every key, judged key by key, would read.
    let expected = keys
        .iter()
        .filter(|(key, _)| match classify_key(key) {
            KeyKind::Log { day: Some(day) } => parsed.may_hold_day(&day),
            KeyKind::Log { day: None } => true,
            _ => false,
        })
        .count() as u64;

    let dir = tempfile::tempdir().expect("temp dir");
    let bucket = "iamtrim-listing-by-folder";
    let (_moto, client) = moto_bucket(bucket).await;
    for (key, body) in &keys {
        let path = dir.path().join("logs").join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
        let gz = key.ends_with(".gz").then(|| {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(body).expect("gzip");
            enc.finish().expect("gzip")
        });
        if let Some(gz) = &gz {
            std::fs::write(&path, gz).expect("write gzip");
        }
        put(
            &client,
            bucket,
            &format!("logs/{key}"),
            gz.unwrap_or_else(|| body.clone()),
        )
        .await;
    }
    let seen = std::sync::Mutex::new(Vec::new());
    let hook = |p: iamtrim::usage::cloudtrail::ScanProgress| seen.lock().expect("lock").push(p);
    let opts = ScanOptions {
        window: Some(window),
        threads: 2,
        known_action: None,
        progress: Some(&hook),
    };
    let from_s3 = scan_s3(&client, &format!("s3://{bucket}/logs/"), &opts)
        .await
        .expect("s3 scan");
    let progress = seen
        .lock()
        .expect("lock")
        .last()
        .copied()
        .expect("progress told");
    assert_eq!(progress.files_listed, expected);
    assert_eq!(progress.files_read, expected);
    let from_disk = scan_path(&dir.path().join("logs"), &opts).expect("disk scan");
    let s = &from_s3.stats;
    assert_eq!(s.files_read, expected, "{s:?}");
    assert!(s.file_errors.is_empty(), "{s:?}");
    // 2 roots x 2 regions x 5 out-of-window days, plus the 2024/02/20 folder.
    assert_eq!(s.folders_skipped_window, 21, "{s:?}");
    assert_eq!(s.folders_skipped_digest, 2, "{s:?}");
    assert_eq!(s.files_skipped_window, 0, "{s:?}");
    assert_eq!(from_s3.stats, from_disk.stats);
    assert_eq!(from_s3.usage, from_disk.usage);
    // Every read file's action is there: none was missed.
    let role = "arn:aws:iam::111122223333:role/reader";
    let actions = from_s3.usage[role].actions.len() as u64;
    assert_eq!(actions, expected, "one distinct action per file read");

    // Without a window every log file is read.
    let all = scan_s3(
        &client,
        &format!("s3://{bucket}/logs"),
        &ScanOptions::default(),
    )
    .await
    .expect("s3 scan");
    let logs = keys
        .iter()
        .filter(|(key, _)| matches!(classify_key(key), KeyKind::Log { .. }))
        .count() as u64;
    assert_eq!(all.stats.files_read, logs);
    assert_eq!(all.stats.folders_skipped_window, 0);
}

/// A trail bucket in another region than the caller's: S3 answers `301 PermanentRedirect`, which
/// the Rust SDK does not follow; the scan asks the bucket's region and reads it from there. moto
/// serves every region alike, so this runs against the local S3 in `support/s3_emulator.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_in_another_region_is_read_from_its_region() {
    let mut layout = Vec::new();
    files(&layout_dir(), &layout_dir(), &mut layout);
    let objects = layout
        .iter()
        .map(|(key, path)| {
            let body = std::fs::read(path).expect("read testdata file");
            (format!("trails/{key}"), body)
        })
        .collect();
    let emulator = s3_emulator::start_in(
        "eu-west-1",
        "org-trail-logs",
        objects,
        std::time::Duration::ZERO,
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .endpoint_url(&emulator.endpoint)
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    // The emulator does refuse the caller's region, as S3 does.
    let refused = client
        .list_objects_v2()
        .bucket("org-trail-logs")
        .send()
        .await
        .expect_err("signed for us-east-1");
    let status = refused.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(301));

    let from_s3 = scan_s3(&client, "s3://org-trail-logs/trails/", &MARCH)
        .await
        .expect("s3 scan");
    let from_disk = scan_path(&layout_dir(), &MARCH).expect("disk scan");
    assert!(from_s3.stats.files_read > 0);
    assert_eq!(from_s3.stats, from_disk.stats);
    assert_eq!(from_s3.usage, from_disk.usage);
}
