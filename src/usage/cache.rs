//! The usage cache: one reviewable JSON file per principal and usage source, under `.iamtrim/cache/`.
//!
//! Owns [`Cache`] (open, get, put, list), its [`CacheKey`] and [`CacheEntry`], the policy [`fingerprint`],
//! and the [`JobLedger`] (`.iamtrim/jobs.json`) that remembers Access Analyzer job ids across runs.
//! Files are pretty JSON with a stable key order so a team can commit them and review usage changes in a
//! pull request; a pre-commit hook then needs no AWS credentials. Every write goes through
//! [`crate::repo_root`] (exclusive temp file + rename, never through a link that leads out of the
//! boundary) so parallel runs never leave a torn file; a corrupt or foreign-version file is a warning
//! and a miss; what an interrupted run left (temporaries) is never read and is removed on the next write.
//! It does not decide what to do with a stale entry: callers get [`Lookup::Stale`] with the reason.

use crate::iam::policy::PolicyDocument;
use crate::repo_root::{RepoRoot, WriteError, is_temporary_name, remove_stale_temporaries};
use crate::usage::{ObservedUsage, UsageSourceKind, Window};
use aws_sdk_accessanalyzer::primitives::{DateTime, DateTimeFormat};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The on-disk format written by this version; files with another value are ignored.
pub const CACHE_FORMAT: &str = "iamtrim-usage-cache/1";
/// The job ledger's format.
pub const LEDGER_FORMAT: &str = "iamtrim-jobs/1";
/// Default time to live of an entry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default cache folder, relative to the Terraform root.
pub const DEFAULT_DIR: &str = ".iamtrim/cache";
/// How far in the future an entry's `generated_at` may be (clocks of two machines differ) before the
/// entry is stale.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// A cache failure that is not just a miss: the folder or a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A write refused: it would lead outside the repository (a symlinked folder or file).
    #[error(transparent)]
    Refused(#[from] WriteError),
    /// Reading the folder failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A file that was skipped, and why; shown to the user as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheWarning {
    /// The skipped file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for CacheWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ignoring cache file {}: {}",
            self.path.display(),
            self.reason
        )
    }
}

/// What identifies a cached observation: principal, source and the source's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CacheKey {
    /// The principal's ARN.
    pub principal_arn: String,
    /// The usage source.
    pub source: UsageSourceKind,
    /// Source parameters (trail, regions, window...), sorted by name.
    pub params: BTreeMap<String, String>,
}

impl CacheKey {
    /// A key with arbitrary parameters.
    pub fn new(
        principal_arn: &str,
        source: UsageSourceKind,
        params: BTreeMap<String, String>,
    ) -> Self {
        CacheKey {
            principal_arn: principal_arn.to_string(),
            source,
            params,
        }
    }

    /// The key of an Access Analyzer generation over `trail_arn`, `regions` (any order) and `window_days`.
    pub fn access_analyzer(
        principal_arn: &str,
        trail_arn: &str,
        regions: &[String],
        window_days: u32,
    ) -> Self {
        let mut regions: Vec<&str> = regions.iter().map(String::as_str).collect();
        regions.sort_unstable();
        regions.dedup();
        let params = BTreeMap::from([
            ("trail".to_string(), trail_arn.to_string()),
            ("regions".to_string(), regions.join(",")),
            ("window_days".to_string(), window_days.to_string()),
        ]);
        CacheKey::new(principal_arn, UsageSourceKind::AccessAnalyzer, params)
    }

    /// Short hex digest of the whole key, stable across runs and platforms.
    pub fn digest(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        hex(&Sha256::digest(text.as_bytes()))[..12].to_string()
    }

    /// `<principal-name>--<source>--<digest>.json`, readable and safe on every file system.
    pub fn file_name(&self) -> String {
        let name = self
            .principal_arn
            .rsplit(['/', ':'])
            .next()
            .unwrap_or("principal");
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '=' | '@') {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let source = match self.source {
            UsageSourceKind::Cloudtrail => "cloudtrail",
            UsageSourceKind::AccessAnalyzer => "access-analyzer",
        };
        format!("{safe}--{source}--{}.json", self.digest())
    }
}

/// One cached observation, as stored in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// [`CACHE_FORMAT`].
    pub format: String,
    /// What the entry is for.
    pub key: CacheKey,
    /// When the usage was generated, RFC 3339 UTC.
    pub generated_at: String,
    /// The window the usage covers.
    pub window: Window,
    /// [`fingerprint`] of the principal's policies when the usage was generated.
    pub policy_fingerprint: String,
    /// The usage itself.
    pub usage: ObservedUsage,
}

impl CacheEntry {
    /// An entry generated at `generated_at`.
    pub fn new(
        key: CacheKey,
        usage: ObservedUsage,
        policy_fingerprint: &str,
        generated_at: SystemTime,
    ) -> Self {
        CacheEntry {
            format: CACHE_FORMAT.to_string(),
            key,
            generated_at: rfc3339(generated_at),
            window: usage.window.clone(),
            policy_fingerprint: policy_fingerprint.to_string(),
            usage,
        }
    }
}

/// Why a usable entry is not fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    /// The principal's policies changed since; actions granted since then have no usage and must be kept.
    PoliciesChanged,
    /// Older than the time to live.
    Expired {
        /// Age in seconds.
        age_secs: u64,
    },
    /// Generated after now (beyond [`CLOCK_SKEW`]): a wrong clock or a hand-edited file, whose age,
    /// and so whose freshness, cannot be known.
    FromTheFuture {
        /// How far ahead of now, in seconds.
        ahead_secs: u64,
    },
}

impl std::fmt::Display for StaleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaleReason::PoliciesChanged => write!(
                f,
                "policies changed since its usage was cached; refresh with --cloudtrail or `iamtrim generate`"
            ),
            StaleReason::Expired { age_secs } => {
                write!(f, "cached usage is {} days old", age_secs / 86_400)
            }
            StaleReason::FromTheFuture { ahead_secs } => write!(
                f,
                "cached usage is dated {} in the future (a wrong clock or an edited file); refresh with --cloudtrail or `iamtrim generate`",
                if *ahead_secs >= 2 * 86_400 {
                    format!("{} days", ahead_secs / 86_400)
                } else {
                    format!("{} minutes", ahead_secs / 60)
                }
            ),
        }
    }
}

/// The answer of [`Cache::get`].
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Within its TTL and generated for the same policies.
    Fresh(CacheEntry),
    /// Usable (the old usage still holds) but should be regenerated.
    Stale {
        /// The entry.
        entry: CacheEntry,
        /// Why it is stale.
        why: StaleReason,
    },
    /// Nothing usable; `warning` says why when a file existed but was unreadable.
    Miss(Option<CacheWarning>),
}

/// The cache folder.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    ttl: Duration,
    /// The tree writes must stay in; `None`: the cache folder itself.
    root: Option<RepoRoot>,
    /// Set once this cache removed an interrupted run's temporaries.
    swept: OnceLock<()>,
}

impl Cache {
    /// Opens (creating lazily on first write) the cache in `dir`, with the default TTL. Writes stay
    /// inside `dir` (a symlinked entry leading out is refused); [`Cache::open_in`] also confines
    /// `dir` itself to a repository.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Cache {
            dir: dir.into(),
            ttl: DEFAULT_TTL,
            root: None,
            swept: OnceLock::new(),
        }
    }

    /// Opens the cache in `dir`, refused when its real path (symlinked folders followed) leaves
    /// `root`; every later write is confined to `root` too.
    pub fn open_in(root: &RepoRoot, dir: &Path) -> Result<Self, CacheError> {
        let real = root.resolve(dir)?;
        let mut cache = Cache::open(real);
        cache.root = Some(root.clone());
        Ok(cache)
    }

    /// The same cache with another time to live.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the file holding `key`.
    pub fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    /// Looks `key` up for a principal whose policies now have `fingerprint`, at time `now`.
    pub fn get(&self, key: &CacheKey, fingerprint: &str, now: SystemTime) -> Lookup {
        let path = self.path_of(key);
        let entry = match read_entry(&path) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Lookup::Miss(None),
            Err(reason) => return Lookup::Miss(Some(CacheWarning { path, reason })),
        };
        if entry.key != *key {
            // A digest collision or a hand-edited file: never serve another principal's usage.
            let reason = "its key does not match the file name".to_string();
            return Lookup::Miss(Some(CacheWarning { path, reason }));
        }
        let Some(generated) = parse_rfc3339(&entry.generated_at) else {
            let reason = format!("bad generated_at {:?}", entry.generated_at);
            return Lookup::Miss(Some(CacheWarning { path, reason }));
        };
        if entry.policy_fingerprint != fingerprint {
            return Lookup::Stale {
                entry,
                why: StaleReason::PoliciesChanged,
            };
        }
        // Without this an entry from 2999 would never expire.
        if let Ok(ahead) = generated.duration_since(now) {
            if ahead > CLOCK_SKEW {
                return Lookup::Stale {
                    entry,
                    why: StaleReason::FromTheFuture {
                        ahead_secs: ahead.as_secs(),
                    },
                };
            }
        }
        let age = now.duration_since(generated).unwrap_or_default();
        if age > self.ttl {
            return Lookup::Stale {
                entry,
                why: StaleReason::Expired {
                    age_secs: age.as_secs(),
                },
            };
        }
        Lookup::Fresh(entry)
    }

    /// Stores `entry` under its key, atomically, and the first time removes what interrupted runs
    /// left in the folder.
    pub fn put(&self, entry: &CacheEntry) -> Result<PathBuf, CacheError> {
        let path = self.path_of(&entry.key);
        let real = write_json(
            self.root.as_ref(),
            &path,
            &serde_json::to_value(entry).unwrap_or(Value::Null),
        )?;
        if self.swept.get().is_none() {
            // The real folder the entry went to: inside the boundary, never through a link.
            if let Some(dir) = real.parent() {
                remove_stale_temporaries(dir)?;
            }
            let _ = self.swept.set(());
        }
        Ok(path)
    }

    /// Every readable entry, sorted by file name, and a warning for every unreadable file.
    pub fn list(&self) -> Result<(Vec<CacheEntry>, Vec<CacheWarning>), CacheError> {
        let read_dir = match fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(source) => {
                return Err(CacheError::Read {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut paths: Vec<PathBuf> = read_dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            // An interrupted run's temporary is never an entry, whatever its name ends with.
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(is_temporary_name)
            })
            .collect();
        paths.sort();
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        for path in paths {
            match read_entry(&path) {
                Ok(Some(entry)) => entries.push(entry),
                Ok(None) => {}
                Err(reason) => warnings.push(CacheWarning { path, reason }),
            }
        }
        Ok((entries, warnings))
    }
}

/// Reads one entry: `Ok(None)` when absent, `Err(reason)` when present but unusable.
fn read_entry(path: &Path) -> Result<Option<CacheEntry>, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("not valid JSON ({e})"))?;
    match value.get("format").and_then(Value::as_str) {
        Some(CACHE_FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "format {other:?} is not {CACHE_FORMAT:?} (written by another iamtrim version)"
            ));
        }
        None => return Err("no \"format\" field: not an iamtrim cache file".into()),
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| format!("unexpected content ({e})"))
}

/// Writes pretty JSON to `path` through [`RepoRoot::write`], confined to `root`, or when there is
/// none to `path`'s folder (created if missing).
///
/// Rename is atomic on one file system, so a reader or a parallel writer sees either the old or the new file.
fn write_json(root: Option<&RepoRoot>, path: &Path, value: &Value) -> Result<PathBuf, CacheError> {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    let boundary = match root {
        Some(root) => root.clone(),
        None => {
            let dir = path.parent().unwrap_or(Path::new("."));
            fs::create_dir_all(dir).map_err(|source| CacheError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
            RepoRoot::open(dir)?
        }
    };
    Ok(boundary.write(path, text.as_bytes())?)
}

/// `sha256:<hex>` over the documents' canonical JSON (keys sorted, no whitespace), order-independent.
pub fn fingerprint<'d>(documents: impl IntoIterator<Item = &'d PolicyDocument>) -> String {
    let mut texts: Vec<String> = documents
        .into_iter()
        .map(|d| canonical(&d.to_value()).to_string())
        .collect();
    texts.sort_unstable();
    let mut hasher = Sha256::new();
    for t in &texts {
        hasher.update(t.as_bytes());
        hasher.update([0u8]);
    }
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// The value with every object's keys sorted (the crate keeps insertion order otherwise).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 UTC with seconds precision, e.g. `2026-11-30T16:53:17Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp (any offset).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let dt = DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset).ok()?;
    SystemTime::try_from(dt).ok()
}

/// One Access Analyzer job this tool started or adopted and has not finished with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The Access Analyzer job id.
    pub job_id: String,
    /// The cache key the job's result is for.
    pub key: CacheKey,
    /// Fingerprint of the principal's policies when the job was started.
    pub policy_fingerprint: String,
    /// Window requested, so the cached entry records it even if the job reports none.
    pub window: Window,
    /// When the job was started, RFC 3339.
    pub started_at: String,
    /// True when found by listing rather than started by iamtrim: its trail and window must be checked.
    #[serde(default)]
    pub adopted: bool,
}

/// `.iamtrim/jobs.json`: the jobs in flight, so an interrupted run is resumed rather than repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLedger {
    /// [`LEDGER_FORMAT`].
    pub format: String,
    /// Jobs in flight, oldest first.
    pub jobs: Vec<JobRecord>,
}

impl JobLedger {
    /// Default ledger path for a cache folder: `<cache>/../jobs.json`.
    pub fn path_for(cache_dir: &Path) -> PathBuf {
        cache_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join("jobs.json")
    }

    /// Loads the ledger; absent means empty, unreadable means empty plus a warning.
    pub fn load(path: &Path) -> (JobLedger, Option<CacheWarning>) {
        let empty = JobLedger {
            format: LEDGER_FORMAT.to_string(),
            jobs: Vec::new(),
        };
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (empty, None),
            Err(e) => {
                return (
                    empty,
                    Some(CacheWarning {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    }),
                );
            }
        };
        match serde_json::from_str::<JobLedger>(&text) {
            Ok(l) if l.format == LEDGER_FORMAT => (l, None),
            Ok(l) => {
                let reason = format!("format {:?} is not {LEDGER_FORMAT:?}", l.format);
                (
                    empty,
                    Some(CacheWarning {
                        path: path.to_path_buf(),
                        reason,
                    }),
                )
            }
            Err(e) => (
                empty,
                Some(CacheWarning {
                    path: path.to_path_buf(),
                    reason: format!("not valid ({e})"),
                }),
            ),
        }
    }

    /// Writes the ledger atomically (never through a link leading out of its folder), and removes
    /// what interrupted runs left next to it.
    pub fn save(&self, path: &Path) -> Result<(), CacheError> {
        let mut copy = self.clone();
        copy.format = LEDGER_FORMAT.to_string();
        let real = write_json(
            None,
            path,
            &serde_json::to_value(&copy).unwrap_or(Value::Null),
        )?;
        if let Some(dir) = real.parent() {
            remove_stale_temporaries(dir)?;
        }
        Ok(())
    }

    /// The recorded job for `key`, if any.
    pub fn job_for(&self, key: &CacheKey) -> Option<&JobRecord> {
        self.jobs.iter().find(|j| j.key == *key)
    }

    /// Records a job, replacing any earlier one for the same key.
    pub fn record(&mut self, job: JobRecord) {
        self.jobs.retain(|j| j.key != job.key);
        self.jobs.push(job);
    }

    /// Forgets a job.
    pub fn remove(&mut self, job_id: &str) {
        self.jobs.retain(|j| j.job_id != job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CacheKey {
        CacheKey::access_analyzer(
            "arn:aws:iam::123456789012:role/app/worker",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
            &["us-west-2".into(), "us-east-1".into()],
            90,
        )
    }

    fn entry(fp: &str, at: SystemTime) -> CacheEntry {
        let window = Window {
            start: "2026-09-01T00:00:00Z".into(),
            end: "2026-11-30T00:00:00Z".into(),
        };
        let mut usage = ObservedUsage::empty(
            &key().principal_arn,
            UsageSourceKind::AccessAnalyzer,
            window,
        );
        usage
            .actions
            .insert("s3:GetObject".into(), Default::default());
        CacheEntry::new(key(), usage, fp, at)
    }

    #[test]
    fn file_name_is_readable_and_region_order_does_not_matter() {
        let other = CacheKey::access_analyzer(
            "arn:aws:iam::123456789012:role/app/worker",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
            &["us-east-1".into(), "us-west-2".into()],
            90,
        );
        assert_eq!(key().file_name(), other.file_name());
        assert!(
            key().file_name().starts_with("worker--access-analyzer--"),
            "{}",
            key().file_name()
        );
    }

    #[test]
    fn fresh_stale_expired_and_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).with_ttl(Duration::from_secs(3600));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(cache.get(&key(), "sha256:a", t0), Lookup::Miss(None));
        cache.put(&entry("sha256:a", t0)).unwrap();
        assert!(matches!(
            cache.get(&key(), "sha256:a", t0 + Duration::from_secs(60)),
            Lookup::Fresh(_)
        ));
        assert!(matches!(
            cache.get(&key(), "sha256:b", t0),
            Lookup::Stale {
                why: StaleReason::PoliciesChanged,
                ..
            }
        ));
        assert!(matches!(
            cache.get(&key(), "sha256:a", t0 + Duration::from_secs(7200)),
            Lookup::Stale {
                why: StaleReason::Expired { age_secs: 7200 },
                ..
            }
        ));
    }

    #[test]
    fn an_entry_from_the_future_is_stale_not_fresh_forever() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).with_ttl(Duration::from_secs(3600));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let year_2999 = parse_rfc3339("2999-01-01T00:00:00Z").unwrap();
        cache.put(&entry("sha256:a", year_2999)).unwrap();
        let Lookup::Stale {
            why: why @ StaleReason::FromTheFuture { ahead_secs },
            ..
        } = cache.get(&key(), "sha256:a", now)
        else {
            panic!("an entry from 2999 must be stale");
        };
        assert!(ahead_secs > 900 * 365 * 86_400, "{ahead_secs}");
        assert!(why.to_string().contains("in the future"), "{why}");
        // Within the clock-skew allowance it is fresh.
        cache
            .put(&entry("sha256:a", now + Duration::from_secs(60)))
            .unwrap();
        assert!(matches!(
            cache.get(&key(), "sha256:a", now),
            Lookup::Fresh(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_cache_folder_leading_out_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(&repo).unwrap();
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, repo.join(".iamtrim")).unwrap();
        let root = RepoRoot::open(&repo).unwrap();
        let err = Cache::open_in(&root, &repo.join(".iamtrim/cache")).unwrap_err();
        assert!(
            matches!(err, CacheError::Refused(WriteError::OutsideRoot { .. })),
            "{err}"
        );
        // A link to a folder inside the repository is followed.
        fs::remove_file(repo.join(".iamtrim")).unwrap();
        fs::create_dir_all(repo.join("kept")).unwrap();
        std::os::unix::fs::symlink(repo.join("kept"), repo.join(".iamtrim")).unwrap();
        let cache = Cache::open_in(&root, &repo.join(".iamtrim/cache")).unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let written = cache.put(&entry("sha256:a", at)).unwrap();
        assert!(
            written.starts_with(root.path().join("kept/cache")),
            "{written:?}"
        );
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn an_entry_file_linked_out_of_the_cache_is_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        fs::create_dir_all(&dir).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let cache = Cache::open(&dir);
        std::os::unix::fs::symlink(&victim, cache.path_of(&key())).unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(cache.put(&entry("sha256:a", at)).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn put_removes_an_interrupted_runs_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        // Left by a run that was killed: its process (a pid above any pid_max) is gone.
        let legacy = dir
            .path()
            .join(".w--cloudtrail--0123456789ab.json.4194999.0.12345.tmp");
        let current = dir
            .path()
            .join(".w--cloudtrail--0123456789ab.json.iamtrim-4194999-0123456789abcdef.tmp");
        fs::write(&legacy, "{\"format\":").unwrap();
        fs::write(&current, "{\"format\":").unwrap();
        let (entries, warnings) = cache.list().unwrap();
        assert!(entries.is_empty() && warnings.is_empty(), "{warnings:?}");
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        cache.put(&entry("sha256:a", at)).unwrap();
        assert!(!legacy.exists() && !current.exists());
        let (entries, warnings) = cache.list().unwrap();
        assert_eq!((entries.len(), warnings.len()), (1, 0));
    }

    #[test]
    fn corrupt_and_foreign_files_are_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        fs::write(cache.path_of(&key()), "{ not json").unwrap();
        let now = SystemTime::now();
        assert!(
            matches!(cache.get(&key(), "x", now), Lookup::Miss(Some(w)) if w.reason.contains("not valid JSON"))
        );
        fs::write(
            cache.path_of(&key()),
            r#"{"format":"iamtrim-usage-cache/99"}"#,
        )
        .unwrap();
        assert!(
            matches!(cache.get(&key(), "x", now), Lookup::Miss(Some(w)) if w.reason.contains("another iamtrim"))
        );
        let (entries, warnings) = cache.list().unwrap();
        assert!(entries.is_empty());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn file_is_pretty_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path());
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let path = cache.put(&entry("sha256:a", at)).unwrap();
        let first = fs::read_to_string(&path).unwrap();
        cache.put(&entry("sha256:a", at)).unwrap();
        assert_eq!(first, fs::read_to_string(&path).unwrap());
        assert!(
            first.starts_with("{\n  \"format\": \"iamtrim-usage-cache/1\",\n  \"key\""),
            "{first}"
        );
        assert!(
            first.contains("\"generated_at\": \"2027-01-15T08:00:00Z\""),
            "{first}"
        );
    }

    #[test]
    fn fingerprint_ignores_key_order_and_document_order() {
        let a = PolicyDocument::parse_str(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#).unwrap();
        let a2 = PolicyDocument::parse_str(r#"{"Statement":[{"Resource":"*","Action":"s3:*","Effect":"Allow"}],"Version":"2012-10-17"}"#).unwrap();
        let b = PolicyDocument::parse_str(
            r#"{"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(
            fingerprint(&[a.clone(), b.clone()]),
            fingerprint(&[b.clone(), a2])
        );
        assert_ne!(fingerprint(std::slice::from_ref(&a)), fingerprint(&[a, b]));
    }

    #[test]
    fn ledger_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = JobLedger::path_for(&dir.path().join("cache"));
        let (mut ledger, warning) = JobLedger::load(&path);
        assert!(warning.is_none());
        let window = Window {
            start: "a".into(),
            end: "b".into(),
        };
        ledger.record(JobRecord {
            job_id: "j1".into(),
            key: key(),
            policy_fingerprint: "fp".into(),
            window,
            started_at: "2026-11-30T00:00:00Z".into(),
            adopted: false,
        });
        ledger.save(&path).unwrap();
        let (back, _) = JobLedger::load(&path);
        assert_eq!(back.job_for(&key()).map(|j| j.job_id.as_str()), Some("j1"));
    }
}
