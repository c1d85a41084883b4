//! Scanning CloudTrail logs in S3 through the real SDK, against the moto emulator.

use crate::cloudtrail_folder::MARCH;
use crate::support::moto;
use crate::support::s3_emulator;

use aws_sdk_s3::primitives::ByteStream;
use iamtrim::usage::cloudtrail::{CloudTrailError, ScanOptions, scan_path, scan_s3};
use std::path::{Path, PathBuf};

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
        principals: None,
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

/// Records the URI of each request and stops it before it is sent: shows how the client addresses
/// a bucket without any server.
#[derive(Debug, Default, Clone)]
struct SentTo(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_s3::config::Intercept for SentTo {
    fn name(&self) -> &'static str {
        "SentTo"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        self.0
            .lock()
            .unwrap()
            .push(context.request().uri().to_string());
        Err("stopped before sending".into())
    }
}

/// An SDK config with test credentials, for `region`, and `endpoint` when given.
fn test_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("AKIDTEST", "secret", None, None, "test"),
        ));
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    config.build()
}

/// The URI `s3_client` sends a `HeadBucket` of `bucket` to, for an SDK config with `endpoint`.
async fn addressed(endpoint: Option<&str>, bucket: &str) -> String {
    let client = iamtrim::usage::cloudtrail::s3_client(&test_config("eu-west-1", endpoint));
    let sent = SentTo::default();
    let client = aws_sdk_s3::Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(sent.clone())
            .build(),
    );
    let err = client.head_bucket().bucket(bucket).send().await;
    assert!(err.is_err(), "the interceptor stops every request");
    let uris = sent.0.lock().unwrap().clone();
    assert_eq!(uris.len(), 1, "{uris:?}");
    uris[0].clone()
}

#[tokio::test]
async fn buckets_are_addressed_by_host_on_aws_and_by_path_on_a_configured_endpoint() {
    // AWS: the bucket's own host name (buckets created since 2020 may not answer path-style).
    assert_eq!(
        addressed(None, "trail-logs").await,
        "https://trail-logs.s3.eu-west-1.amazonaws.com/"
    );
    // An S3-compatible server (moto, MinIO): one host, the bucket in the path. A host name, not an
    // IP address, so the SDK's own rules would otherwise put the bucket in the host.
    assert_eq!(
        addressed(Some("http://s3.emulator.test:9000"), "trail-logs").await,
        "http://s3.emulator.test:9000/trail-logs/"
    );
}

/// Every file of `dir` uploaded under `prefix`.
async fn upload_dir(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, dir: &Path) {
    let mut found = Vec::new();
    files(dir, dir, &mut found);
    assert!(!found.is_empty(), "{} has files", dir.display());
    for (key, path) in found {
        let body = std::fs::read(&path).expect("read example file");
        put(client, bucket, &format!("{prefix}{key}"), body).await;
    }
}

/// `iamtrim suggest --format json --dry-run` in `repo` with `cloudtrail` and extra arguments and
/// environment; the report's suggestions, and the principals' statuses.
fn suggest_report(
    repo: &Path,
    cloudtrail: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Vec<serde_json::Value>, Vec<String>) {
    let mut cmd = assert_cmd::Command::cargo_bin("iamtrim").unwrap();
    cmd.current_dir(repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", repo)
        .env("NO_COLOR", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["suggest", "plan.json", "--cloudtrail", cloudtrail])
        .args(["--format", "json", "--dry-run"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    crate::support::repo::assert_success(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let principals = report["principals"].as_array().unwrap();
    let suggestions = principals
        .iter()
        .flat_map(|p| p["suggestions"].as_array().cloned().unwrap_or_default())
        .collect();
    let statuses = principals
        .iter()
        .map(|p| format!("{} {}", p["address"], p["status"]))
        .collect();
    (suggestions, statuses)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggest_reads_logs_from_s3_as_it_reads_them_from_a_folder() {
    let bucket = "quickstart-trail";
    let (moto, client) = moto_bucket(bucket).await;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    upload_dir(&client, bucket, "org/", &example.join("cloudtrail")).await;

    let repo = tempfile::tempdir().unwrap();
    std::fs::copy(example.join("plan.json"), repo.path().join("plan.json")).unwrap();
    let (from_disk, disk_statuses) = suggest_report(
        repo.path(),
        &example.join("cloudtrail").display().to_string(),
        &[],
        &[],
    );
    assert!(!from_disk.is_empty(), "the quickstart has suggestions");

    // `localhost`, not an IP address: the bucket would be looked up as `quickstart-trail.localhost`
    // if the client addressed it by host name, and that name does not resolve here.
    let endpoint = moto.endpoint().replace("127.0.0.1", "localhost");
    let url = format!("s3://{bucket}/org/");
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    for (how, args, env) in [
        (
            "AWS_ENDPOINT_URL_S3",
            vec![],
            vec![("AWS_ENDPOINT_URL_S3", endpoint.as_str())],
        ),
        (
            "--endpoint-url",
            vec!["--endpoint-url", endpoint.as_str()],
            vec![],
        ),
    ] {
        let env: Vec<_> = credentials.iter().copied().chain(env).collect();
        let fresh = tempfile::tempdir().unwrap();
        std::fs::copy(example.join("plan.json"), fresh.path().join("plan.json")).unwrap();
        let (from_s3, s3_statuses) = suggest_report(fresh.path(), &url, &args, &env);
        assert_eq!(s3_statuses, disk_statuses, "endpoint from {how}");
        assert_eq!(from_s3, from_disk, "endpoint from {how}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_object_refused_for_access_stops_the_scan_naming_it_and_kms() {
    let mut layout = Vec::new();
    files(&layout_dir(), &layout_dir(), &mut layout);
    let objects: std::collections::BTreeMap<String, Vec<u8>> = layout
        .iter()
        .map(|(key, path)| {
            let body = std::fs::read(path).expect("read testdata file");
            (format!("trails/{key}"), body)
        })
        .collect();
    let emulator = s3_emulator::start("kms-trail", objects.clone(), std::time::Duration::ZERO);
    let config = test_config("us-east-1", Some(&emulator.endpoint));
    let client = iamtrim::usage::cloudtrail::s3_client(&config);
    // Every object of the window is read when none is refused.
    let read = scan_s3(&client, "s3://kms-trail/trails/", &MARCH)
        .await
        .expect("s3 scan");
    assert!(read.stats.files_read > 1);
    assert!(read.stats.file_errors.is_empty());

    // An object whose KMS key the caller may not use: S3 answers 403 AccessDenied.
    let refused = objects
        .keys()
        .find(|k| k.contains("/CloudTrail/") && k.contains("/2024/03/0"))
        .expect("a log file of the window");
    emulator.deny_get(refused);
    let err = scan_s3(&client, "s3://kms-trail/trails/", &MARCH)
        .await
        .expect_err("refused object stops the scan");
    assert!(
        matches!(err, CloudTrailError::ObjectAccessDenied { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&format!("s3://kms-trail/{refused}")) && message.contains("kms:Decrypt"),
        "{message}"
    );
}
