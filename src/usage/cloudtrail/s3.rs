//! CloudTrail logs in S3: list `s3://bucket/prefix` folder by folder, leaving out the date folders
//! outside the window, keep the keys the layout and window allow, download many at a time (bounded
//! in number and bytes) as soon as they are listed, and parse what has arrived in parallel while
//! the rest lists and downloads.
//!
//! Owns [`scan_s3`] and the classification of SDK errors into [`CloudTrailError`]. Listing errors
//! stop the scan, and so does a download refused for access, credentials or throttling (every other
//! download would fail the same way); any other failed download is a per-file error that marks the
//! usage incomplete.

use super::tally::{ScanContext, Tally};
use super::{
    CloudTrailError, CloudTrailScan, FileError, ProgressCounters, ScanOptions, SdkErrorBox, admit,
    admit_folder,
};
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::AggregatedBytes;
use aws_types::service_config::ServiceConfigKey;
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use tokio::task::JoinSet;

/// The S3 client that reads logs for `config`.
///
/// Against AWS it addresses a bucket by host name (`bucket.s3.region.amazonaws.com`), the SDK's
/// default and the only style AWS keeps for every bucket. When an endpoint is configured for S3
/// (`--endpoint-url`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, a profile's `endpoint_url`), it
/// puts the bucket in the path instead: such endpoints are S3-compatible servers (moto, MinIO,
/// LocalStack) that have no host name per bucket.
pub fn s3_client(config: &SdkConfig) -> Client {
    let s3_endpoint = ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every part of the key is set");
    let custom_endpoint = config.endpoint_url().is_some()
        || config
            .service_config()
            .and_then(|c| c.load_config(s3_endpoint))
            .is_some();
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint)
            .build(),
    )
}

/// Scans every log object under `s3://bucket/prefix`.
pub async fn scan_s3(
    client: &Client,
    url: &str,
    opts: &ScanOptions<'_>,
) -> Result<CloudTrailScan, CloudTrailError> {
    let ctx = opts.context(super::RecordParser::default())?;
    let (bucket, prefix) = parse_s3_url(url).ok_or_else(|| CloudTrailError::InvalidS3Url {
        url: url.to_string(),
    })?;

    let client = &client_for_bucket(client, bucket).await;
    let pool = opts.pool()?;
    let window = ctx.window.as_ref();
    let mut tally = Tally::default();
    let progress = ProgressCounters::default();
    // Folders still to list, and log objects listed and still to download.
    let mut folders = vec![prefix.to_string()];
    let mut objects: VecDeque<LogObject> = VecDeque::new();
    let mut listings = JoinSet::new();
    let mut downloads = JoinSet::new();
    // Bytes of the objects downloading or downloaded and not parsed yet.
    let mut held = 0u64;
    // The name and size of each download task, so even a task that panicked is accounted for.
    let mut in_flight: HashMap<tokio::task::Id, (String, u64)> = HashMap::new();
    loop {
        // Listing waits while many listed objects wait for their download: memory stays flat.
        while listings.len() < LISTINGS_IN_FLIGHT && objects.len() < QUEUED_OBJECTS {
            let Some(folder) = folders.pop() else { break };
            let (client, url, bucket) = (client.clone(), url.to_string(), bucket.to_string());
            listings.spawn(async move { list_folder(&client, &url, &bucket, folder).await });
        }
        // Downloads start as soon as their folder is listed, while other folders are.
        while downloads.len() < DOWNLOADS_IN_FLIGHT
            && (held < BYTES_IN_FLIGHT || downloads.is_empty())
        {
            let Some(object) = objects.pop_front() else {
                break;
            };
            held += object.size;
            let name = format!("s3://{bucket}/{}", object.key);
            let size = object.size;
            let task = downloads.spawn(download(client.clone(), bucket.to_string(), object));
            in_flight.insert(task.id(), (name, size));
        }
        if listings.is_empty() && downloads.is_empty() {
            break;
        }
        tokio::select! {
            Some(listed) = listings.join_next(), if !listings.is_empty() => {
                let (found, subfolders) = listed.map_err(|err| CloudTrailError::S3 {
                    url: url.to_string(),
                    source: Box::new(err),
                })??;
                let before = objects.len();
                objects.extend(
                    found
                        .into_iter()
                        .filter(|object| admit(&object.key, window, tally.stats_mut())),
                );
                progress.add(opts.progress, (objects.len() - before) as u64, 0, 0);
                folders.extend(
                    subfolders
                        .into_iter()
                        .filter(|folder| admit_folder(folder, window, tally.stats_mut())),
                );
            }
            Some(first) = downloads.join_next_with_id(), if !downloads.is_empty() => {
                // Whatever else has arrived too.
                let mut batch = vec![first];
                while let Some(done) = downloads.try_join_next_with_id() {
                    batch.push(done);
                }
                let batch = batch
                    .into_iter()
                    .map(|joined| {
                        let id = joined.as_ref().map_or_else(|err| err.id(), |(id, _)| *id);
                        let (name, size) = in_flight.remove(&id).unwrap_or_default();
                        let body = match joined {
                            Ok((_, Ok(body))) => Ok(body),
                            Ok((_, Err(DownloadError::File(message)))) => Err(message),
                            // What would fail every other download too stops the scan.
                            Ok((_, Err(DownloadError::Scan(err)))) => return Err(err),
                            Err(err) => Err(err.to_string()),
                        };
                        Ok(Downloaded { name, size, body })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let parse = || parse_batch(&pool, &batch, &ctx);
                // Parsing is CPU work: on a multi-threaded runtime the other workers keep
                // listing and downloading.
                let part = match tokio::runtime::Handle::current().runtime_flavor() {
                    tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(parse),
                    _ => parse(),
                };
                let bytes = batch.iter().map(|got| got.size).sum::<u64>();
                held -= bytes;
                progress.add(opts.progress, 0, batch.len() as u64, bytes);
                tally = tally.merge(part);
            }
        }
    }
    Ok(pool.install(|| tally.finish(&ctx)))
}

/// Parses downloaded files on the scan's threads; a failed download is a file error.
fn parse_batch(pool: &rayon::ThreadPool, batch: &[Downloaded], ctx: &ScanContext<'_>) -> Tally {
    pool.install(|| {
        batch
            .par_iter()
            .fold(Tally::default, |mut tally, got| {
                match &got.body {
                    Ok(body) => {
                        // One contiguous copy only when the body came in parts.
                        let bytes = body.clone().into_bytes();
                        tally.read_bytes(&got.name, &bytes, ctx)
                    }
                    Err(message) => tally.stats_mut().file_errors.push(FileError {
                        file: got.name.clone(),
                        message: format!("cannot download: {message}"),
                    }),
                }
                tally
            })
            .reduce(Tally::default, Tally::merge)
    })
}

/// The client to read `bucket` with: `client`, or one for the bucket's own region when S3 says the
/// bucket lives in another (`x-amz-bucket-region`, answered to `HeadBucket` whether it succeeds or
/// is redirected). The Rust SDK does not follow S3's region redirects, and a trail's bucket often
/// lives in a logging account's region, not the caller's. Any other outcome leaves `client` as it
/// is: the listing then reports what is wrong.
async fn client_for_bucket(client: &Client, bucket: &str) -> Client {
    let region = match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => out.bucket_region().map(str::to_string),
        Err(err) => err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_string),
    };
    let current = client.config().region().map(|r| r.as_ref().to_string());
    match region {
        Some(region) if !region.is_empty() && Some(&region) != current.as_ref() => {
            let config = client
                .config()
                .to_builder()
                .region(Region::new(region))
                .build();
            Client::from_conf(config)
        }
        _ => client.clone(),
    }
}

/// Downloads at once, at most: S3 answers each in tens of milliseconds whatever its size, so many
/// small log files need many requests in flight to keep the parsing threads busy.
const DOWNLOADS_IN_FLIGHT: usize = 64;

/// Bytes (compressed, as listed) downloading or waiting to be parsed, at most (one object may be
/// larger on its own): bounds memory whatever the trail's file sizes.
const BYTES_IN_FLIGHT: u64 = 64 << 20;

/// Folder listings at once, at most.
const LISTINGS_IN_FLIGHT: usize = 32;

/// Listed objects waiting for their download beyond which no new folder is listed.
const QUEUED_OBJECTS: usize = 20_000;

/// A log object to read.
struct LogObject {
    key: String,
    size: u64,
}

/// A log object's body, or why it could not be downloaded, with what the scan knew of it.
struct Downloaded {
    /// `s3://bucket/key`.
    name: String,
    /// Its size as listed.
    size: u64,
    body: Result<AggregatedBytes, String>,
}

/// Why a download failed.
enum DownloadError {
    /// This object only (gone since it was listed, a broken connection): a file error.
    File(String),
    /// Access denied, no credentials, throttled after the SDK's retries: the other objects would
    /// fail the same way, so the scan stops with this error.
    Scan(CloudTrailError),
}

async fn download(
    client: Client,
    bucket: String,
    object: LogObject,
) -> Result<AggregatedBytes, DownloadError> {
    let got = client.get_object().bucket(&bucket).key(&object.key).send();
    match got.await {
        Ok(out) => out
            .body
            .collect()
            .await
            .map_err(|e| DownloadError::File(e.to_string())),
        Err(err) => {
            let file = DownloadError::File(DisplayErrorContext(&err).to_string());
            let url = format!("s3://{bucket}/{}", object.key);
            Err(match classify(err, &url, &bucket) {
                CloudTrailError::AccessDenied { url, source } => {
                    DownloadError::Scan(CloudTrailError::ObjectAccessDenied { url, source })
                }
                err @ (CloudTrailError::NoCredentials { .. }
                | CloudTrailError::Throttled { .. }) => DownloadError::Scan(err),
                _ => file,
            })
        }
    }
}

/// The objects directly in `folder` (a key prefix) and its subfolders (prefixes ending in `/`).
///
/// The bucket is listed folder by folder (`/` as the delimiter), [`LISTINGS_IN_FLIGHT`] at a time,
/// and the caller never lists a date folder outside the window or a digest folder
/// ([`layout::classify_folder`](super::layout::classify_folder)): a bucket holding years of logs
/// costs a listing of the window's days, not of every key it holds.
async fn list_folder(
    client: &Client,
    url: &str,
    bucket: &str,
    folder: String,
) -> Result<(Vec<LogObject>, Vec<String>), CloudTrailError> {
    let (mut objects, mut folders) = (Vec::new(), Vec::new());
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&folder)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| classify(err, url, bucket))?;
        objects.extend(page.contents().iter().filter_map(|object| {
            Some(LogObject {
                key: object.key()?.to_string(),
                size: object.size().map_or(0, |size| size.max(0) as u64),
            })
        }));
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(str::to_string),
        );
    }
    Ok((objects, folders))
}

/// `s3://bucket/prefix` -> `("bucket", "prefix")`.
fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, prefix))
}

/// Sorts an SDK error into the cases a user can act on.
fn classify<E>(err: SdkError<E, HttpResponse>, url: &str, bucket: &str) -> CloudTrailError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .map(str::to_string);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let text = DisplayErrorContext(&err).to_string().to_ascii_lowercase();
    let url = url.to_string();
    let source: SdkErrorBox = Box::new(err);
    match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => CloudTrailError::NoSuchBucket {
            bucket: bucket.to_string(),
            url,
            source,
        },
        (
            Some(
                "AccessDenied"
                | "AllAccessDisabled"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken",
            ),
            _,
        )
        | (_, Some(403)) => CloudTrailError::AccessDenied { url, source },
        (
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequests",
            ),
            _,
        )
        | (_, Some(429 | 503)) => CloudTrailError::Throttled { url, source },
        (None, None) if text.contains("credential") => {
            CloudTrailError::NoCredentials { url, source }
        }
        _ => CloudTrailError::S3 { url, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        assert_eq!(parse_s3_url("s3://b/AWSLogs/1/"), Some(("b", "AWSLogs/1/")));
        assert_eq!(parse_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(parse_s3_url("s3:///x"), None);
        assert_eq!(parse_s3_url("https://b/x"), None);
    }
}
