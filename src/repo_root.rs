//! The only tree iamtrim writes to, and the one way it writes files.
//!
//! [`RepoRoot`] owns a real (canonical) directory: the repository root, or the `--out` folder the user
//! named. Every file the tool writes (patches, `iamtrim.suggested.tf`, patched `.tf` and `.json` files,
//! cache entries, the job ledger) goes through [`RepoRoot::write`] or a [`Staged`] set of writes:
//!
//! - [`RepoRoot::resolve`] turns a path into its real path: the existing ancestors are canonicalized
//!   (so a symlinked `.iamtrim` or module folder is seen for what it is), a final symlink is followed,
//!   and anything whose real path leaves the root is refused ([`WriteError::OutsideRoot`]).
//! - A write creates its temporary file exclusively (`O_CREAT|O_EXCL`, and `O_NOFOLLOW` where known)
//!   under an unpredictable name in the target's own real directory, fsyncs it and renames it over
//!   the target; on any failure the temporary is removed.
//! - [`Staged`] writes several files all or nothing: every temporary is written first, then all are
//!   renamed; if a rename fails, the files already renamed get their previous content back (or are
//!   removed when they are new) and the error names what could not be restored.
//! - [`remove_stale_temporaries`] deletes what an interrupted run left: only regular files whose
//!   names match [`is_temporary_name`], never through a link.
//!
//! It does not decide what to write or where: callers (`emit`, `usage::cache`) do.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A write refused or failed; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The real path of a file to write is not under the root.
    #[error(
        "{path}: resolves to {real}, outside the repository root {root} (a symbolic link?); refusing to write"
    )]
    OutsideRoot {
        /// The path as asked for.
        path: PathBuf,
        /// Where it really leads.
        real: PathBuf,
        /// The root.
        root: PathBuf,
    },
    /// A path that cannot be resolved safely: `..` below a missing folder, or a dangling link.
    #[error("{path}: {why}; refusing to write")]
    Unresolvable {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Creating, writing or renaming failed; nothing of this write is left behind.
    // The cause is in the message and not a `source`: the error stays one line however it is printed.
    #[error("cannot write {path}: {cause}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A set of writes failed while being put in place; the others were rolled back.
    #[error("cannot write {path}: {cause}; {}", rollback_summary(.restored, .left_changed))]
    Incomplete {
        /// The file whose rename failed.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
        /// Files already written and then restored to what they were.
        restored: Vec<PathBuf>,
        /// Files written that could not be restored: they are changed on disk.
        left_changed: Vec<PathBuf>,
    },
}

fn rollback_summary(restored: &[PathBuf], left_changed: &[PathBuf]) -> String {
    let list = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (restored.is_empty(), left_changed.is_empty()) {
        (_, false) => format!(
            "these files were changed and could not be restored: {}",
            list(left_changed)
        ),
        (false, true) => format!(
            "nothing changed: undid the writes of {} in this run",
            list(restored)
        ),
        (true, true) => "nothing changed".to_string(),
    }
}

fn io_error(path: &Path, cause: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

/// The root of the only tree a run writes to, as a real path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRoot {
    real: PathBuf,
}

impl RepoRoot {
    /// The root at `path` (which must exist), resolved to its real path.
    pub fn open(path: &Path) -> Result<RepoRoot, WriteError> {
        let real = path.canonicalize().map_err(|e| io_error(path, e))?;
        Ok(RepoRoot { real })
    }

    /// The real path of the root.
    pub fn path(&self) -> &Path {
        &self.real
    }

    /// The real path `path` leads to, refused when it leaves the root.
    ///
    /// Existing ancestors are canonicalized (symlinks followed), so does an existing final symlink:
    /// a write then replaces the link's target, keeping the link. The missing rest must be plain
    /// names. A relative `path` is taken relative to the root.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, WriteError> {
        let full = self.real.join(path);
        let mut existing = full.as_path();
        let mut missing: Vec<&std::ffi::OsStr> = Vec::new();
        let real_existing = loop {
            match existing.canonicalize() {
                Ok(real) => break real,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if existing.symlink_metadata().is_ok() {
                        return Err(WriteError::Unresolvable {
                            path: full.clone(),
                            why: "a symbolic link whose target does not exist",
                        });
                    }
                    let (Some(parent), Some(Component::Normal(name))) =
                        (existing.parent(), existing.components().next_back())
                    else {
                        return Err(WriteError::Unresolvable {
                            path: full.clone(),
                            why: "`..` or `.` below a folder that does not exist",
                        });
                    };
                    missing.push(name);
                    existing = parent;
                }
                Err(e) => return Err(io_error(existing, e)),
            }
        };
        let mut real = real_existing;
        real.extend(missing.iter().rev());
        if !real.starts_with(&self.real) {
            return Err(WriteError::OutsideRoot {
                path: full,
                real,
                root: self.real.clone(),
            });
        }
        Ok(real)
    }

    /// Writes `bytes` to `path` atomically, inside the root; returns the real path written.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<PathBuf, WriteError> {
        let mut staged = self.stage();
        let real = staged.add(path, bytes)?;
        staged.commit()?;
        Ok(real)
    }

    /// An empty set of writes to put in place together with [`Staged::commit`].
    pub fn stage(&self) -> Staged<'_> {
        Staged {
            root: self,
            writes: Vec::new(),
            created_dirs: Vec::new(),
        }
    }

    /// Creates `dir` and its missing parents inside the root; returns the real path and the
    /// folders created, deepest last.
    fn create_dirs(&self, dir: &Path) -> Result<(PathBuf, Vec<PathBuf>), WriteError> {
        let real = self.resolve(dir)?;
        let mut created = Vec::new();
        let mut to_create: Vec<&Path> = real
            .ancestors()
            .take_while(|d| d.symlink_metadata().is_err())
            .collect();
        to_create.reverse();
        for d in to_create {
            match std::fs::create_dir(d) {
                Ok(()) => created.push(d.to_path_buf()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(io_error(d, e)),
            }
        }
        // A folder swapped for a link while it was made must not lead out either.
        let again = self.resolve(&real)?;
        if again != real {
            return Err(WriteError::OutsideRoot {
                path: dir.to_path_buf(),
                real: again,
                root: self.real.clone(),
            });
        }
        Ok((real, created))
    }
}

/// One file written to its temporary, waiting for its rename.
#[derive(Debug)]
struct StagedWrite {
    target: PathBuf,
    temp: Option<PathBuf>,
    /// The target's content before, to restore it; `None` when the target did not exist.
    previous: Option<Vec<u8>>,
}

/// Writes put in place together: see the module docs. Dropped without [`Staged::commit`], it
/// removes its temporaries and the folders it created, so nothing of it is left behind.
#[derive(Debug)]
pub struct Staged<'r> {
    root: &'r RepoRoot,
    writes: Vec<StagedWrite>,
    created_dirs: Vec<PathBuf>,
}

impl Staged<'_> {
    /// Writes `bytes` to a temporary next to `path`'s real path; returns that real path.
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<PathBuf, WriteError> {
        let real = self.root.resolve(path)?;
        let Some(dir) = real.parent().filter(|_| real != *self.root.path()) else {
            return Err(WriteError::Unresolvable {
                path: path.to_path_buf(),
                why: "not a file path",
            });
        };
        let (_, created) = self.root.create_dirs(dir)?;
        self.created_dirs.extend(created);
        let previous = match std::fs::read(&real) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&real, e)),
        };
        let permissions = std::fs::metadata(&real).ok().map(|m| m.permissions());
        let temp = write_temporary(&real, bytes, permissions)?;
        // A second write of the same file in one set replaces the first.
        if let Some(old) = self.writes.iter_mut().find(|w| w.target == real) {
            if let Some(t) = old.temp.replace(temp) {
                let _ = std::fs::remove_file(t);
            }
        } else {
            self.writes.push(StagedWrite {
                target: real.clone(),
                temp: Some(temp),
                previous,
            });
        }
        Ok(real)
    }

    /// Renames every temporary over its target; on a failure, puts back what was renamed.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, WriteError> {
        let mut done: Vec<usize> = Vec::new();
        let mut failure = None;
        for (i, w) in self.writes.iter_mut().enumerate() {
            let Some(temp) = w.temp.take() else { continue };
            match std::fs::rename(&temp, &w.target) {
                Ok(()) => done.push(i),
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    failure = Some((w.target.clone(), e));
                    break;
                }
            }
        }
        let Some((path, cause)) = failure else {
            self.created_dirs.clear();
            return Ok(self.writes.iter().map(|w| w.target.clone()).collect());
        };
        let mut restored = Vec::new();
        let mut left_changed = Vec::new();
        for i in done {
            let w = &self.writes[i];
            let back = match &w.previous {
                Some(bytes) => write_temporary(
                    &w.target,
                    bytes,
                    std::fs::metadata(&w.target).ok().map(|m| m.permissions()),
                )
                .and_then(|t| {
                    std::fs::rename(&t, &w.target).map_err(|e| {
                        let _ = std::fs::remove_file(&t);
                        io_error(&w.target, e)
                    })
                })
                .is_ok(),
                None => std::fs::remove_file(&w.target).is_ok(),
            };
            if back {
                restored.push(w.target.clone());
            } else {
                left_changed.push(w.target.clone());
            }
        }
        Err(WriteError::Incomplete {
            path,
            cause,
            restored,
            left_changed,
        })
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        for w in &mut self.writes {
            if let Some(temp) = w.temp.take() {
                let _ = std::fs::remove_file(temp);
            }
        }
        // Deepest first; a folder something else put a file in stays.
        for dir in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// `O_NOFOLLOW` for the platforms whose value is known; `O_EXCL` alone already refuses any
/// existing name, a link included, so this is a second lock on the same door.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "riscv64")
))]
const O_NOFOLLOW: i32 = 0o400_000;
#[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
const O_NOFOLLOW: i32 = 0o100_000;
#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd"
))]
const O_NOFOLLOW: i32 = 0x100;
#[cfg(not(any(
    all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "riscv64",
            target_arch = "aarch64",
            target_arch = "arm"
        )
    ),
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd"
)))]
const O_NOFOLLOW: i32 = 0;

/// The marker in every temporary's name, between the target's name and `<pid>-<random>.tmp`.
const TEMP_MARKER: &str = ".iamtrim-";
const TEMP_SUFFIX: &str = ".tmp";
/// Longest part of the target's name kept in a temporary's name, so it fits in 255 bytes.
const TEMP_NAME_BYTES: usize = 200;
/// A temporary older than this is stale even when its process id is in use again.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// `.<name>.iamtrim-<pid>-<16 hex>.tmp`: 64 bits from a per-process random hasher key, the time and
/// a counter, so a repository cannot ship links under the names a run will use.
fn temporary_name(target_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let mut end = target_name.len().min(TEMP_NAME_BYTES);
    while !target_name.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        ".{}{TEMP_MARKER}{}-{:016x}{TEMP_SUFFIX}",
        &target_name[..end],
        std::process::id(),
        hasher.finish()
    )
}

/// True for names this tool gives its temporaries (and those of versions before it:
/// `.<name>.iamtrim-<pid>.tmp` and the cache's `.<name>.<pid>.<n>.<nanos>.tmp`).
pub fn is_temporary_name(name: &str) -> bool {
    temporary_pid(name).is_some()
}

/// The process id in a temporary's name.
fn temporary_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((_, tail)) = inner.rsplit_once(TEMP_MARKER) {
        let (pid, random) = match tail.split_once('-') {
            Some((pid, random)) => (pid, Some(random)),
            None => (tail, None),
        };
        let random_ok =
            random.is_none_or(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()));
        if digits(pid) && random_ok {
            return pid.parse().ok();
        }
    }
    // The old cache writer: `.<name>.json.<pid>.<counter>.<nanos>.tmp`.
    let mut parts = inner.rsplitn(4, '.');
    let (nanos, counter, pid, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (digits(nanos) && digits(counter) && digits(pid) && rest.ends_with(".json"))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether the process that made a temporary is gone, or it is old enough to be abandoned anyway.
fn is_stale(pid: u32, modified: Option<SystemTime>) -> bool {
    let old = modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age > STALE_AFTER);
    let proc = Path::new("/proc");
    let dead = pid != std::process::id()
        && proc.join("self").exists()
        && !proc.join(pid.to_string()).exists();
    old || dead
}

/// Removes this tool's stale temporaries directly in `dir`: regular files only (a link or folder
/// under such a name is left alone), never following a link. Returns the paths removed. A folder
/// that does not exist has none.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>, WriteError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir, e)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_pid) else {
            continue;
        };
        // `DirEntry::metadata` does not follow links.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.file_type().is_file() || !is_stale(pid, meta.modified().ok()) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, e)),
        }
    }
    Ok(removed)
}

/// Writes `bytes` to a new temporary next to `target` (whose folder exists) and fsyncs it.
fn write_temporary(
    target: &Path,
    bytes: &[u8],
    permissions: Option<std::fs::Permissions>,
) -> Result<PathBuf, WriteError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NOFOLLOW).mode(0o644);
    }
    // An unpredictable name cannot be taken already but by chance; try a few.
    let mut attempt = 0;
    let (temp, mut file) = loop {
        let temp = dir.join(temporary_name(&name));
        match options.open(&temp) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(io_error(&temp, e)),
        }
    };
    let result = (|| {
        file.write_all(bytes)?;
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&temp);
            Err(io_error(target, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, RepoRoot) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("repo")).unwrap();
        let root = RepoRoot::open(&tmp.path().join("repo")).unwrap();
        (tmp, root)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_create_folders_and_leave_no_temporary() {
        let (_tmp, root) = root();
        let real = root.write(Path::new("a/b/c.txt"), b"hi").unwrap();
        assert_eq!(real, root.path().join("a/b/c.txt"));
        assert_eq!(std::fs::read(&real).unwrap(), b"hi");
        root.write(&real, b"again").unwrap();
        assert_eq!(std::fs::read(&real).unwrap(), b"again");
        assert_eq!(names(&root.path().join("a/b")), ["c.txt"]);
    }

    #[test]
    fn temporary_names_are_unpredictable_and_recognised() {
        let a = temporary_name("iamtrim.patch");
        let b = temporary_name("iamtrim.patch");
        assert_ne!(a, b);
        assert!(a.starts_with(".iamtrim.patch.iamtrim-"), "{a}");
        assert!(is_temporary_name(&a), "{a}");
        assert!(is_temporary_name(".main.tf.iamtrim-123.tmp"));
        assert!(is_temporary_name(
            ".w--cloudtrail--abc.json.77.0.123456.tmp"
        ));
        assert!(!is_temporary_name("main.tf"));
        assert!(!is_temporary_name(".main.tf.iamtrim-12x.tmp"));
        assert!(!is_temporary_name("w--cloudtrail--abc.json"));
        let long = "x".repeat(255);
        assert!(temporary_name(&long).len() <= 255);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_out_are_refused_and_inside_are_followed() {
        let (tmp, root) = root();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("out")).unwrap();
        let err = root.write(Path::new("out/x.json"), b"x").unwrap_err();
        assert!(matches!(err, WriteError::OutsideRoot { .. }), "{err}");
        std::os::unix::fs::symlink(outside.join("f.tf"), root.path().join("dangling.tf")).unwrap();
        let err = root.write(Path::new("dangling.tf"), b"x").unwrap_err();
        assert!(matches!(err, WriteError::Unresolvable { .. }), "{err}");
        std::fs::write(outside.join("t.tf"), "old").unwrap();
        std::os::unix::fs::symlink(outside.join("t.tf"), root.path().join("t.tf")).unwrap();
        assert!(root.write(Path::new("t.tf"), b"x").is_err());
        assert!(names(&outside) == ["t.tf"]);
        assert_eq!(
            std::fs::read_to_string(outside.join("t.tf")).unwrap(),
            "old"
        );

        std::fs::write(root.path().join("real.tf"), "old").unwrap();
        std::os::unix::fs::symlink("real.tf", root.path().join("link.tf")).unwrap();
        root.write(Path::new("link.tf"), b"new").unwrap();
        assert!(
            root.path()
                .join("link.tf")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("real.tf")).unwrap(),
            "new"
        );
        assert!(root.resolve(Path::new("nope/../x")).is_err());
    }

    #[test]
    fn a_failed_rename_restores_what_was_written() {
        let (_tmp, root) = root();
        std::fs::write(root.path().join("old.txt"), "before").unwrap();
        let mut staged = root.stage();
        staged.add(Path::new("old.txt"), b"after").unwrap();
        staged.add(Path::new("new/new.txt"), b"new").unwrap();
        staged.add(Path::new("blocked"), b"x").unwrap();
        // The last target turns into a folder before the commit: its rename fails.
        std::fs::create_dir(root.path().join("blocked")).unwrap();
        std::fs::write(root.path().join("blocked/keep"), "").unwrap();
        let err = staged.commit().unwrap_err();
        let WriteError::Incomplete {
            restored,
            left_changed,
            ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(restored.len(), 2, "{err}");
        assert!(left_changed.is_empty());
        assert!(err.to_string().contains("nothing changed"), "{err}");
        assert_eq!(
            std::fs::read_to_string(root.path().join("old.txt")).unwrap(),
            "before"
        );
        assert_eq!(names(root.path()), ["blocked", "old.txt"]);
    }

    #[test]
    fn a_dropped_stage_leaves_nothing() {
        let (_tmp, root) = root();
        let mut staged = root.stage();
        staged.add(Path::new("d/e/f.txt"), b"x").unwrap();
        drop(staged);
        assert!(names(root.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn stale_temporaries_are_removed_but_not_links_folders_or_live_ones() {
        let (tmp, root) = root();
        let dir = root.path();
        let old = dir.join(".x.json.iamtrim-4194999-0123456789abcdef.tmp");
        std::fs::write(&old, "partial").unwrap();
        let legacy = dir.join(".x.json.4194999.0.12345.tmp");
        std::fs::write(&legacy, "partial").unwrap();
        let live = dir.join(temporary_name("y.json"));
        std::fs::write(&live, "in use").unwrap();
        let target = tmp.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.join(".z.tf.iamtrim-4194999-0123456789abcdef.tmp");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        std::fs::create_dir(dir.join(".w.tf.iamtrim-4194999.tmp")).unwrap();
        std::fs::write(dir.join("entry.json"), "{}").unwrap();
        let mut removed = remove_stale_temporaries(dir).unwrap();
        removed.sort();
        let mut want = vec![legacy, old];
        want.sort();
        assert_eq!(removed, want);
        assert!(live.exists() && link.symlink_metadata().is_ok());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(dir.join("entry.json").exists());
    }
}
