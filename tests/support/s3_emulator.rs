//! A small S3 for what moto does not do: `HeadBucket`, `ListObjectsV2` (prefix, delimiter,
//! continuation) and `GetObject` over HTTP/1.1 on loopback, path-style, from objects held in
//! memory, with
//! - a fixed delay before every answer, as a real bucket's first byte comes tens of milliseconds
//!   after the request (moto answers one request at a time, so it cannot show what many requests
//!   in flight gain; this one answers every connection at once);
//! - the bucket's own region: a request signed for another region gets S3's answer, `301
//!   PermanentRedirect` with the bucket's region in `x-amz-bucket-region`, which the Rust SDK does
//!   not follow by itself.
//!
//! - `GetObject` refused with `403 AccessDenied` for the keys given to [`S3Emulator::deny_get`], as
//!   S3 answers when the caller may not use the KMS key that encrypts an object (SSE-KMS).
//!
//! It checks nothing else of the signature. Used by `benches/s3_scan.rs` and `tests/it/cloudtrail_s3.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A running emulator; it stops with the process.
pub struct S3Emulator {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// `ListObjectsV2` pages answered.
    pub lists: Arc<AtomicU64>,
    /// `GetObject` requests answered.
    pub gets: Arc<AtomicU64>,
    state: Arc<State>,
}

impl S3Emulator {
    /// `GetObject` of `key` is refused from now on, as for an object whose KMS key the caller may
    /// not use.
    pub fn deny_get(&self, key: &str) {
        self.state
            .denied
            .lock()
            .expect("emulator state")
            .insert(key.to_string());
    }
}

struct State {
    bucket: String,
    region: String,
    objects: BTreeMap<String, Vec<u8>>,
    latency: Duration,
    lists: Arc<AtomicU64>,
    gets: Arc<AtomicU64>,
    denied: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Serves `objects` as bucket `bucket` of `us-east-1`, each answer `latency` after its request.
pub fn start(bucket: &str, objects: BTreeMap<String, Vec<u8>>, latency: Duration) -> S3Emulator {
    start_in("us-east-1", bucket, objects, latency)
}

/// [`start`] for a bucket of `region`.
pub fn start_in(
    region: &str,
    bucket: &str,
    objects: BTreeMap<String, Vec<u8>>,
    latency: Duration,
) -> S3Emulator {
    let lists = Arc::new(AtomicU64::new(0));
    let gets = Arc::new(AtomicU64::new(0));
    let state = Arc::new(State {
        region: region.to_string(),
        bucket: bucket.to_string(),
        objects,
        latency,
        lists: lists.clone(),
        gets: gets.clone(),
        denied: Default::default(),
    });
    let state_handle = state.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("emulator runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, state).await;
                });
            }
        });
    });
    let addr = rx.recv().expect("emulator address");
    S3Emulator {
        endpoint: format!("http://{addr}"),
        lists,
        gets,
        state: state_handle,
    }
}

async fn serve(socket: tokio::net::TcpStream, state: Arc<State>) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or("GET").to_string();
        let target = words.next().unwrap_or("/").to_string();
        // Headers up to the blank line; requests here have no body.
        let mut signed_for = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await? == 0 || header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("authorization")
            {
                // `Credential=AKID/20240301/<region>/s3/aws4_request`
                signed_for = value
                    .split("Credential=")
                    .nth(1)
                    .and_then(|c| c.split('/').nth(2))
                    .map(str::to_string);
            }
        }
        tokio::time::sleep(state.latency).await;
        let (status, content_type, body) = match signed_for {
            Some(region) if region != state.region => (
                "301 Moved Permanently",
                "application/xml",
                error("PermanentRedirect"),
            ),
            _ if method == "HEAD" => {
                let bucket = target.trim_start_matches('/').split(['/', '?']).next();
                match bucket == Some(state.bucket.as_str()) {
                    true => ("200 OK", "application/xml", Vec::new()),
                    false => ("404 Not Found", "application/xml", Vec::new()),
                }
            }
            _ => answer(&state, &target),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amz-bucket-region: {}\r\nETag: \"0\"\r\nLast-Modified: Fri, 01 Mar 2024 00:00:00 GMT\r\n\r\n",
            body.len(),
            state.region
        );
        // One write, so that no answer waits on Nagle's algorithm and a delayed ACK.
        let mut answer = head.into_bytes();
        if method != "HEAD" {
            answer.extend_from_slice(&body);
        }
        write.write_all(&answer).await?;
    }
}

fn answer(state: &State, target: &str) -> (&'static str, &'static str, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let path = decode(path);
    let rest = path.trim_start_matches('/');
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket != state.bucket {
        return ("404 Not Found", "application/xml", error("NoSuchBucket"));
    }
    if params.get("list-type").map(String::as_str) == Some("2") {
        state.lists.fetch_add(1, Ordering::Relaxed);
        return ("200 OK", "application/xml", list(state, &params));
    }
    state.gets.fetch_add(1, Ordering::Relaxed);
    if state.denied.lock().expect("emulator state").contains(key) {
        return ("403 Forbidden", "application/xml", error("AccessDenied"));
    }
    match state.objects.get(key) {
        Some(body) => ("200 OK", "application/octet-stream", body.clone()),
        None => ("404 Not Found", "application/xml", error("NoSuchKey")),
    }
}

/// One `ListObjectsV2` page: keys and folders (prefixes up to the delimiter) in key order.
fn list(state: &State, params: &BTreeMap<String, String>) -> Vec<u8> {
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let delimiter = params.get("delimiter").cloned().unwrap_or_default();
    let max = params
        .get("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000usize);
    // The first key still to list; a continuation token is that key, in hex.
    let mut cursor = params
        .get("continuation-token")
        .map(|t| unhex(t))
        .unwrap_or_else(|| prefix.clone());
    let (mut contents, mut folders, mut count) = (String::new(), String::new(), 0);
    let mut next = None;
    while let Some((key, body)) = state.objects.range(cursor.clone()..).next() {
        if !key.starts_with(&prefix) {
            break;
        }
        if count == max {
            next = Some(cursor);
            break;
        }
        count += 1;
        let rest = &key[prefix.len()..];
        match rest.find(&delimiter).filter(|_| !delimiter.is_empty()) {
            Some(at) => {
                let folder = &key[..prefix.len() + at + delimiter.len()];
                folders.push_str(&format!(
                    "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                    escape(folder)
                ));
                // Past every key in the folder: its last byte (the delimiter's) plus one.
                let mut past = folder.as_bytes().to_vec();
                *past.last_mut().expect("non-empty") += 1;
                cursor = String::from_utf8(past).expect("ASCII delimiter");
            }
            None => {
                contents.push_str(&format!(
                    "<Contents><Key>{}</Key><LastModified>2024-03-01T00:00:00.000Z</LastModified><ETag>\"0\"</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                    escape(key),
                    body.len()
                ));
                cursor = format!("{key}\u{0}");
            }
        }
    }
    let token = next.map_or(String::new(), |t| {
        let hex: String = t.bytes().map(|b| format!("{b:02x}")).collect();
        format!("<NextContinuationToken>{hex}</NextContinuationToken>")
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>{max}</MaxKeys><IsTruncated>{}</IsTruncated>{contents}{folders}{token}</ListBucketResult>",
        state.bucket,
        escape(&prefix),
        !token.is_empty(),
    )
    .into_bytes()
}

fn unhex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn error(code: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>").into_bytes()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Percent-decoding of a URL path or query part.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
