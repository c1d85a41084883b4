//! CloudTrail logs in S3: list `s3://bucket/prefix`, keep the keys the layout and window allow,
//! download a bounded number at a time and parse them in parallel.
//!
//! Owns [`scan_s3`] and the classification of SDK errors into [`CloudTrailError`]. Listing errors
//! stop the scan; a failed download is a per-file error that marks the usage incomplete.

use super::tally::Tally;
use super::{CloudTrailError, CloudTrailScan, FileError, ScanOptions, SdkErrorBox, admit};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rayon::prelude::*;
use tokio::task::JoinSet;

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

    let mut skipped = Tally::default();
    let mut keys = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| classify(err, url, bucket))?;
        for object in page.contents() {
            if let Some(key) = object.key()
                && admit(key, ctx.window.as_ref(), skipped.stats_mut())
            {
                keys.push(key.to_string());
            }
        }
    }

    let pool = opts.pool()?;
    // Enough downloads in flight to keep every parsing thread busy, few enough to bound memory.
    let batch_size = pool.current_num_threads() * 4;
    let mut tally = skipped;
    let mut pending = keys.into_iter();
    let mut downloads = JoinSet::new();
    loop {
        while downloads.len() < batch_size * 2 {
            let Some(key) = pending.next() else { break };
            let (client, bucket) = (client.clone(), bucket.to_string());
            downloads.spawn(async move {
                let name = format!("s3://{bucket}/{key}");
                let body = match client.get_object().bucket(&bucket).key(&key).send().await {
                    Ok(out) => out
                        .body
                        .collect()
                        .await
                        .map(|b| b.into_bytes())
                        .map_err(|e| e.to_string()),
                    Err(err) => Err(DisplayErrorContext(&err).to_string()),
                };
                (name, body)
            });
        }
        let mut batch = Vec::with_capacity(batch_size);
        while batch.len() < batch_size {
            let Some(joined) = downloads.join_next().await else {
                break;
            };
            match joined {
                Ok(done) => batch.push(done),
                Err(err) => batch.push((String::from("(download task)"), Err(err.to_string()))),
            }
        }
        if batch.is_empty() {
            break;
        }
        let parse = || {
            pool.install(|| {
                batch
                    .par_iter()
                    .fold(Tally::default, |mut t, (name, body)| {
                        match body {
                            Ok(bytes) => t.read_bytes(name, bytes, &ctx),
                            Err(message) => t.stats_mut().file_errors.push(FileError {
                                file: name.clone(),
                                message: format!("cannot download: {message}"),
                            }),
                        }
                        t
                    })
                    .reduce(Tally::default, Tally::merge)
            })
        };
        // Parsing is CPU work: on a multi-threaded runtime let the other workers keep downloading.
        let part = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(parse),
            _ => parse(),
        };
        tally = tally.merge(part);
    }
    Ok(tally.finish(&ctx))
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
