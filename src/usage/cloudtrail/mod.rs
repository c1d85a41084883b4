//! CloudTrail logs as a usage source: a local folder or `s3://bucket/prefix` in, one
//! [`ObservedUsage`] per principal out.
//!
//! Reads the S3 delivery layout (`AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`),
//! `.json` and `.json.gz`, skips digest files, and leaves out date folders outside the window (and
//! digest folders) before they are even listed. Files are parsed in parallel (rayon), one at a
//! time per thread, so memory stays flat in the corpus size. User-facing: `docs/cloudtrail.md`.
//!
//! Main entry points: [`scan_path`], [`scan_s3`], with [`ScanOptions`] in and [`CloudTrailScan`] out.
//! The event -> action tables are in [`mapping`]. This module does not know the action catalog: the
//! caller validates actions through [`ScanOptions::known_action`].

mod fields;
mod gunzip;
pub mod layout;
pub mod mapping;
pub mod record;
pub mod request;
mod s3;
mod skim;
mod structure;
mod tally;

pub(crate) use tally::{MAX_UNMAPPED_NAMES, MappedEvent, map_event};

/// The run's note on events that map to no IAM action (`(eventSource, eventName)` -> calls), the
/// most frequent named first; `None` when there are none. Each principal's suggestion names its own.
pub fn unmapped_events_note(unmapped: &BTreeMap<(String, String), u64>) -> Option<String> {
    let total: u64 = unmapped.values().sum();
    if total == 0 {
        return None;
    }
    let mut top: Vec<_> = unmapped.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let names: Vec<String> = top
        .iter()
        .take(5)
        .map(|((src, name), n)| format!("{src} {name} ({n})"))
        .collect();
    Some(format!(
        "{total} CloudTrail events map to no IAM action in the catalog: {}{}",
        names.join(", "),
        if top.len() > 5 { ", ..." } else { "" }
    ))
}

pub use s3::{s3_client, scan_s3};

use crate::usage::ObservedUsage;
use layout::{FolderKind, KeyKind, ScanWindow};
use rayon::prelude::*;
pub use record::RecordParser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tally::{ScanContext, Tally};

/// The catalog hook: the canonical spelling of a known `service:Action`, `None` for an unknown one.
pub type KnownAction = dyn Fn(&str) -> Option<String> + Sync;

/// Called as a scan goes on (from any of its threads), e.g. to draw a status line.
pub type ProgressHook<'a> = dyn Fn(ScanProgress) + Sync + 'a;

/// How far a scan is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanProgress {
    /// Log files found so far that will be read.
    pub files_listed: u64,
    /// Of those, files read (parsed, or failed).
    pub files_read: u64,
    /// Bytes of those files as stored (compressed).
    pub bytes_read: u64,
}

/// How to scan.
#[derive(Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// `(start, end)`, each `YYYY-MM-DD` or RFC 3339 UTC; start inclusive, end exclusive.
    pub window: Option<(&'a str, &'a str)>,
    /// Parsing threads; 0 means one per core.
    pub threads: usize,
    /// Validates candidate actions against the catalog; without it every mapped event counts.
    pub known_action: Option<&'a KnownAction>,
    /// Told of the progress after each listing and each file (or batch of downloaded files).
    pub progress: Option<&'a ProgressHook<'a>>,
    /// Count only these principals' calls; the others' records are counted in
    /// [`ScanStats::records_other_principals`] and nothing more. Memory then grows with these
    /// principals' usage, not with every principal of the logs (an organization trail holds
    /// thousands).
    pub principals: Option<&'a PrincipalFilter>,
}

/// The principal ARNs a scan counts (see [`ScanOptions::principals`]): IAM users' and roles'
/// ARNs, as the plan has them (paths included).
///
/// A record matches by account and name, whatever the path in its ARN: a role's or user's name
/// is unique in its account, and a record without `sessionIssuer` names the role only through
/// its session ARN, which has no path. Without this, such records of a role with a path would be
/// lost, and a suggestion could remove an action they prove the role used.
#[derive(Debug, Default, Clone)]
pub struct PrincipalFilter {
    /// The counted ARNs by their last `/` segment: a role's or user's name (or the whole ARN).
    /// One lookup of a short key rules out most records, which are other principals'.
    by_name: foldhash::HashMap<String, Vec<String>>,
}

impl PrincipalFilter {
    /// The counted ARN that `arn` names (itself, or the same principal under its path), if any.
    pub fn resolve(&self, arn: &str) -> Option<&str> {
        let candidates = self.by_name.get(last_segment(arn))?;
        if let Some(same) = candidates.iter().find(|c| c.as_str() == arn) {
            return Some(same);
        }
        let (head, _) = iam_name(arn)?;
        candidates
            .iter()
            .find(|c| iam_name(c).is_some_and(|(h, _)| h == head))
            .map(String::as_str)
    }

    /// Whether `arn` names a counted principal.
    pub fn contains(&self, arn: &str) -> bool {
        self.resolve(arn).is_some()
    }
}

impl FromIterator<String> for PrincipalFilter {
    fn from_iter<I: IntoIterator<Item = String>>(arns: I) -> Self {
        let mut filter = PrincipalFilter::default();
        for arn in arns {
            let names = filter
                .by_name
                .entry(last_segment(&arn).to_string())
                .or_default();
            if !names.contains(&arn) {
                names.push(arn);
            }
        }
        filter
    }
}

/// What follows an ARN's last `/` (all of it when it has none).
fn last_segment(arn: &str) -> &str {
    match memchr::memrchr(b'/', arn.as_bytes()) {
        Some(at) => &arn[at + 1..],
        None => arn,
    }
}

/// Moves the usage under a role ARN without a path (`role/app`, rebuilt from a session ARN when a
/// record has no `sessionIssuer`) to the one role of the same account and name that has a path
/// (`role/service-role/app`), when the scan found exactly one: names are unique in an account, so
/// both are that role.
fn fold_pathless_roles(usage: &mut BTreeMap<String, ObservedUsage>) {
    let mut with_path: foldhash::HashMap<(&str, &str), Vec<&str>> = Default::default();
    for arn in usage.keys() {
        if let Some((head, name)) = iam_name(arn)
            && head.ends_with(":role/")
            && arn.len() > head.len() + name.len()
        {
            with_path.entry((head, name)).or_default().push(arn);
        }
    }
    let moves: Vec<(String, String)> = with_path
        .into_iter()
        .filter_map(|((head, name), arns)| match arns[..] {
            [only] => Some((format!("{head}{name}"), only.to_string())),
            _ => None,
        })
        .filter(|(pathless, _)| usage.contains_key(pathless))
        .collect();
    for (pathless, full) in moves {
        if let Some(found) = usage.remove(&pathless)
            && let Some(role) = usage.get_mut(&full)
        {
            role.merge(&found);
        }
    }
}

/// `arn:aws:iam::1:role/a/b/Name` -> (`arn:aws:iam::1:role/`, `Name`), likewise for `user/`;
/// `None` for any other ARN.
fn iam_name(arn: &str) -> Option<(&str, &str)> {
    let at = arn.find(":role/").or_else(|| arn.find(":user/"))?;
    let (head, rest) = arn.split_at(at + ":role/".len());
    let name = rest.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((head, name))
}

/// The counters behind [`ScanProgress`], shared by a scan's threads.
#[derive(Default)]
struct ProgressCounters {
    listed: AtomicU64,
    read: AtomicU64,
    bytes: AtomicU64,
}

impl ProgressCounters {
    /// Adds to the counters and tells `hook`, if any.
    fn add(&self, hook: Option<&ProgressHook<'_>>, listed: u64, read: u64, bytes: u64) {
        let listed = self.listed.fetch_add(listed, Ordering::Relaxed) + listed;
        let read = self.read.fetch_add(read, Ordering::Relaxed) + read;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(hook) = hook {
            hook(ScanProgress {
                files_listed: listed,
                files_read: read,
                bytes_read: bytes,
            });
        }
    }
}

/// The result of a scan: usage per principal ARN, and what was read.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudTrailScan {
    /// Principal ARN (IAM user, role, root) -> usage.
    pub usage: BTreeMap<String, ObservedUsage>,
    /// Counts and per-file problems.
    pub stats: ScanStats,
}

/// What a scan read, skipped and could not place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Log files opened.
    pub files_read: u64,
    /// `CloudTrail-Digest` files skipped.
    pub files_skipped_digest: u64,
    /// Files skipped because their delivery day is outside the window.
    pub files_skipped_window: u64,
    /// Files skipped as not JSON logs (other extensions, CloudTrail Insights).
    pub files_skipped_other: u64,
    /// Year, month and day folders of the delivery layout outside the window, not listed at all.
    pub folders_skipped_window: u64,
    /// `CloudTrail-Digest` and `CloudTrail-Insight` folders, not listed at all.
    pub folders_skipped_digest: u64,
    /// Uncompressed bytes parsed.
    pub bytes_decompressed: u64,
    /// Records parsed.
    pub records: u64,
    /// Records whose `eventTime` is outside the window.
    pub records_outside_window: u64,
    /// Events made by AWS services.
    pub service_events: u64,
    /// Unauthenticated (anonymous) events.
    pub anonymous_events: u64,
    /// Events whose caller is no IAM principal of a known kind (other accounts, web identities).
    pub unattributed_events: u64,
    /// Events refused with `AccessDenied` / `UnauthorizedOperation`.
    pub denied_events: u64,
    /// Events of principals left out by [`ScanOptions::principals`]: not mapped, not counted.
    pub records_other_principals: u64,
    /// Console and sign-in events (`ConsoleLogin`, `SwitchRole`...): no permission of the
    /// principal authorizes them, so they keep nothing.
    pub console_events: u64,
    /// Records refused because a field is longer than the limits of [`record::MAX_FIELD_LEN`] and
    /// [`record::MAX_ARN_LEN`]; their files are named in [`ScanStats::file_errors`].
    pub records_oversized: u64,
    /// `(eventSource, eventName)` -> count for events that map to no known action (successful or
    /// not, of counted principals). Each principal's successful ones are also in its
    /// [`ObservedUsage::unmapped_events`], under the event's real IAM prefix.
    pub unmapped: BTreeMap<(String, String), u64>,
    /// Files that could not be read, decompressed or parsed.
    pub file_errors: Vec<FileError>,
}

impl ScanStats {
    fn add(&mut self, other: ScanStats) {
        self.files_read += other.files_read;
        self.files_skipped_digest += other.files_skipped_digest;
        self.files_skipped_window += other.files_skipped_window;
        self.files_skipped_other += other.files_skipped_other;
        self.folders_skipped_window += other.folders_skipped_window;
        self.folders_skipped_digest += other.folders_skipped_digest;
        self.bytes_decompressed += other.bytes_decompressed;
        self.records += other.records;
        self.records_outside_window += other.records_outside_window;
        self.service_events += other.service_events;
        self.anonymous_events += other.anonymous_events;
        self.unattributed_events += other.unattributed_events;
        self.denied_events += other.denied_events;
        self.records_other_principals += other.records_other_principals;
        self.console_events += other.console_events;
        self.records_oversized += other.records_oversized;
        for (key, n) in other.unmapped {
            *self.unmapped.entry(key).or_default() += n;
        }
        self.file_errors.extend(other.file_errors);
    }
}

/// A file that could not be used; the usage is then marked incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// Path or `s3://` URL.
    pub file: String,
    /// What went wrong.
    pub message: String,
}

/// Boxed SDK error kept as the source of [`CloudTrailError`] variants.
pub type SdkErrorBox = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a scan could not run at all (per-file problems go to [`ScanStats::file_errors`] instead).
#[derive(Debug, thiserror::Error)]
pub enum CloudTrailError {
    /// The folder or file could not be read.
    #[error("cannot read CloudTrail logs at {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The window bounds are malformed.
    #[error(
        "invalid window {start:?} to {end:?}: expected YYYY-MM-DD or RFC 3339 UTC (ending in Z) bounds, start before end"
    )]
    InvalidWindow {
        /// Start as given.
        start: String,
        /// End as given.
        end: String,
    },
    /// The URL is not `s3://bucket/prefix`.
    #[error("invalid S3 URL {url:?}: expected s3://bucket/prefix")]
    InvalidS3Url {
        /// The URL as given.
        url: String,
    },
    /// The thread pool could not be started.
    #[error("cannot start {threads} CloudTrail scan threads")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The cause.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// No AWS credentials were found.
    #[error("no AWS credentials to read {url}")]
    NoCredentials {
        /// The S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
    /// The credentials may not read a log object the listing showed.
    #[error(
        "access denied reading {url}: reading logs needs s3:GetObject on them, and kms:Decrypt on the trail's KMS key when they are encrypted with SSE-KMS"
    )]
    ObjectAccessDenied {
        /// The object's S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
    /// The credentials may not list or read the bucket.
    #[error("access denied to {url}")]
    AccessDenied {
        /// The S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
    /// The bucket does not exist.
    #[error("no such bucket {bucket:?} (reading {url})")]
    NoSuchBucket {
        /// The bucket name.
        bucket: String,
        /// The S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
    /// S3 kept throttling after the SDK's retries.
    #[error("throttled by S3 while reading {url}")]
    Throttled {
        /// The S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
    /// Any other S3 failure.
    #[error("S3 request failed for {url}")]
    S3 {
        /// The S3 URL.
        url: String,
        /// The SDK error.
        #[source]
        source: SdkErrorBox,
    },
}

impl ScanOptions<'_> {
    /// The parsed window and the catalog hook, shared by the workers.
    fn context(&self, parser: RecordParser) -> Result<ScanContext<'_>, CloudTrailError> {
        let window = match self.window {
            Some((start, end)) => Some(ScanWindow::parse(start, end).ok_or_else(|| {
                CloudTrailError::InvalidWindow {
                    start: start.to_string(),
                    end: end.to_string(),
                }
            })?),
            None => None,
        };
        Ok(ScanContext {
            window,
            known_action: self.known_action,
            parser,
            principals: self.principals,
        })
    }

    /// A pool with the asked number of threads.
    fn pool(&self) -> Result<rayon::ThreadPool, CloudTrailError> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("iamtrim-cloudtrail-{i}"))
            .build()
            .map_err(|source| CloudTrailError::ThreadPool {
                threads: self.threads,
                source,
            })
    }
}

/// Decides from its path whether a folder is listed; counts the ones left out.
fn admit_folder(path: &str, window: Option<&ScanWindow>, stats: &mut ScanStats) -> bool {
    match layout::classify_folder(path, window) {
        FolderKind::List => return true,
        FolderKind::OutsideWindow => stats.folders_skipped_window += 1,
        FolderKind::NoEvents => stats.folders_skipped_digest += 1,
    }
    false
}

/// Decides from its key whether a file is read; counts the ones left out.
fn admit(key: &str, window: Option<&ScanWindow>, stats: &mut ScanStats) -> bool {
    match layout::classify_key(key) {
        KeyKind::Digest => stats.files_skipped_digest += 1,
        KeyKind::Insight | KeyKind::Other => stats.files_skipped_other += 1,
        KeyKind::Log { day: Some(day) } if window.is_some_and(|w| !w.may_hold_day(&day)) => {
            stats.files_skipped_window += 1
        }
        KeyKind::Log { .. } => return true,
    }
    false
}

/// Scans a local folder (recursively) or a single log file.
pub fn scan_path(root: &Path, opts: &ScanOptions<'_>) -> Result<CloudTrailScan, CloudTrailError> {
    scan_path_with_parser(root, opts, RecordParser::default())
}

/// [`scan_path`] with the record reader chosen (to compare the fast reader with serde).
pub fn scan_path_with_parser(
    root: &Path,
    opts: &ScanOptions<'_>,
    parser: RecordParser,
) -> Result<CloudTrailScan, CloudTrailError> {
    let ctx = opts.context(parser)?;
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CloudTrailError::Read { path, source }
    };
    let meta = std::fs::metadata(root).map_err(read_err(root))?;
    let mut skipped = Tally::default();
    let mut files = Vec::new();
    if meta.is_dir() {
        let mut folder = |key: &str| admit_folder(key, ctx.window.as_ref(), skipped.stats_mut());
        collect_files(root, root, &mut folder, &mut files)
            .map_err(|(path, source)| CloudTrailError::Read { path, source })?;
        files.sort();
        files.retain(|(_, key)| admit(key, ctx.window.as_ref(), skipped.stats_mut()));
    } else {
        // A file named on purpose is read whatever its name.
        let key = root.to_string_lossy().into_owned();
        files.push((root.to_path_buf(), key));
    }

    let pool = opts.pool()?;
    let progress = ProgressCounters::default();
    progress.add(opts.progress, files.len() as u64, 0, 0);
    let tally = pool.install(|| {
        files
            .par_iter()
            .fold(Tally::default, |mut tally, (path, _)| {
                let name = path.display().to_string();
                let size = match std::fs::read(path) {
                    Ok(bytes) => {
                        tally.read_bytes(&name, &bytes, &ctx);
                        bytes.len() as u64
                    }
                    Err(err) => {
                        tally.stats_mut().file_errors.push(FileError {
                            file: name,
                            message: format!("cannot read: {err}"),
                        });
                        0
                    }
                };
                progress.add(opts.progress, 0, 1, size);
                tally
            })
            .reduce(Tally::default, Tally::merge)
            .merge(skipped)
            .finish(&ctx)
    });
    Ok(tally)
}

/// Every file under `dir`, with its `/`-separated path relative to `root`, not entering the
/// folders `list` refuses (given their relative path ending in `/`).
fn collect_files(
    root: &Path,
    dir: &Path,
    list: &mut dyn FnMut(&str) -> bool,
    out: &mut Vec<(PathBuf, String)>,
) -> Result<(), (PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let key_of = |path: &Path| {
        let rel = path.strip_prefix(root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    };
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_path_buf(), e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| (path.clone(), e))?;
        if kind.is_dir() {
            if list(&format!("{}/", key_of(&path))) {
                collect_files(root, &path, list, out)?;
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            out.push((path.clone(), key_of(&path)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_matches_roles_and_users_by_account_and_name() {
        let filter: PrincipalFilter = [
            "arn:aws:iam::1:role/service-role/app",
            "arn:aws:iam::1:user/ops/deployer",
            "arn:aws:iam::1:role/plain",
            "arn:aws:iam::1:root",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for (arn, counted) in [
            (
                "arn:aws:iam::1:role/service-role/app",
                Some("arn:aws:iam::1:role/service-role/app"),
            ),
            (
                "arn:aws:iam::1:role/app",
                Some("arn:aws:iam::1:role/service-role/app"),
            ),
            (
                "arn:aws:iam::1:role/other/app",
                Some("arn:aws:iam::1:role/service-role/app"),
            ),
            (
                "arn:aws:iam::1:user/deployer",
                Some("arn:aws:iam::1:user/ops/deployer"),
            ),
            (
                "arn:aws:iam::1:role/plain",
                Some("arn:aws:iam::1:role/plain"),
            ),
            ("arn:aws:iam::1:root", Some("arn:aws:iam::1:root")),
            // Another account, kind, partition or name.
            ("arn:aws:iam::2:role/service-role/app", None),
            ("arn:aws:iam::1:user/app", None),
            ("arn:aws-cn:iam::1:role/app", None),
            ("arn:aws:iam::1:role/app-2", None),
            ("arn:aws:iam::1:role/", None),
            ("arn:aws:iam::2:root", None),
            ("arn:aws:sts::1:assumed-role/app/session", None),
        ] {
            assert_eq!(filter.resolve(arn), counted, "{arn}");
            assert_eq!(filter.contains(arn), counted.is_some(), "{arn}");
        }
    }
}
