//! Unified-diff patches with a sha256 header, and applying them.
//!
//! A patch starts with one `# iamtrim: sha256 <path> <before> <after>` line per target (paths relative
//! to the repository root), then a plain unified diff with `a/` and `b/` prefixes, so `git apply` and
//! `patch -p1` take it as it is (both skip text before the first `---`). [`apply_patches`] checks the
//! hashes: a target that equals the post-image is already patched (a no-op), one that equals neither
//! image changed since the patch was written and is refused. Each file is written atomically.

use crate::emit::edit::EmitError;
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};

/// The file name `iamtrim suggest` writes in each module directory.
pub const PATCH_FILE_NAME: &str = "iamtrim.patch";

const HASH_PREFIX: &str = "# iamtrim: sha256 ";

/// One file's text before and after, path relative to the repository root (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the root.
    pub path: String,
    /// The text now.
    pub before: String,
    /// The text wanted.
    pub after: String,
}

/// Lowercase hex sha256 of a text.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The patch text for some file changes (unchanged files are left out); empty when nothing changes.
pub fn render_patch(changes: &[FileChange]) -> String {
    let changed: Vec<&FileChange> = changes.iter().filter(|c| c.before != c.after).collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "# iamtrim: least-privilege suggestion; apply with `iamtrim apply`, `git apply` or `patch -p1`.\n",
    );
    for change in &changed {
        out.push_str(&format!(
            "{HASH_PREFIX}{} {} {}\n",
            change.path,
            sha256_hex(&change.before),
            sha256_hex(&change.after)
        ));
    }
    for change in &changed {
        let diff = similar::TextDiff::from_lines(change.before.as_str(), change.after.as_str());
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{}", change.path), &format!("b/{}", change.path))
            .to_string();
        out.push_str(&text);
    }
    out
}

/// What happened to one target of a patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileApply {
    /// The patch was applied.
    Applied,
    /// The target already equals the patched text: nothing to do.
    AlreadyApplied,
}

/// The outcome for one patch file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PatchOutcome {
    /// The patch file.
    pub patch: PathBuf,
    /// Each target, relative to the root, and what happened to it.
    pub files: Vec<(String, FileApply)>,
}

/// What [`apply_patches`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// One entry per patch file, in the order applied.
    pub patches: Vec<PatchOutcome>,
}

/// One target in a parsed patch.
#[derive(Debug)]
struct FilePatch {
    path: String,
    before_hash: String,
    after_hash: String,
    hunks: Vec<Hunk>,
}

#[derive(Debug)]
struct Hunk {
    old_start: usize,
    lines: Vec<(char, String)>,
    line_no: usize,
}

fn patch_error(path: &Path, line: usize, message: impl Into<String>) -> EmitError {
    EmitError::Patch {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Parses a patch written by [`render_patch`].
fn parse_patch(path: &Path, text: &str) -> Result<Vec<FilePatch>, EmitError> {
    let mut files: Vec<FilePatch> = Vec::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = content.strip_prefix(HASH_PREFIX) {
            let parts: Vec<&str> = rest.split(' ').collect();
            let [target, before, after] = parts[..] else {
                return Err(patch_error(
                    path,
                    i + 1,
                    "expected `# iamtrim: sha256 <path> <before> <after>`",
                ));
            };
            files.push(FilePatch {
                path: target.to_string(),
                before_hash: before.to_string(),
                after_hash: after.to_string(),
                hunks: Vec::new(),
            });
            i += 1;
        } else if let Some(old) = content.strip_prefix("--- a/") {
            let new = lines
                .get(i + 1)
                .map(|l| l.trim_end_matches(['\n', '\r']))
                .unwrap_or("");
            if new.strip_prefix("+++ b/") != Some(old) {
                return Err(patch_error(path, i + 2, format!("expected `+++ b/{old}`")));
            }
            let Some(file) = files.iter_mut().find(|f| f.path == old) else {
                return Err(patch_error(
                    path,
                    i + 1,
                    format!("no `# iamtrim: sha256` line for {old}"),
                ));
            };
            i += 2;
            while let Some(header) = lines.get(i).and_then(|l| l.strip_prefix("@@ -")) {
                let (old_start, old_count, new_count) = parse_hunk_header(header)
                    .ok_or_else(|| patch_error(path, i + 1, "malformed hunk header"))?;
                let mut hunk = Hunk {
                    old_start,
                    lines: Vec::new(),
                    line_no: i + 1,
                };
                i += 1;
                let (mut seen_old, mut seen_new) = (0, 0);
                while seen_old < old_count
                    || seen_new < new_count
                    || lines.get(i).is_some_and(|l| l.starts_with('\\'))
                {
                    let Some(l) = lines.get(i) else {
                        return Err(patch_error(path, i + 1, "hunk ends early"));
                    };
                    let mut chars = l.chars();
                    let kind = chars.next().unwrap_or(' ');
                    let body = chars.as_str().to_string();
                    match kind {
                        ' ' | '-' | '+' => {
                            if kind != '+' {
                                seen_old += 1;
                            }
                            if kind != '-' {
                                seen_new += 1;
                            }
                            hunk.lines.push((kind, body));
                        }
                        '\\' => {
                            // "\ No newline at end of file" belongs to the line before it.
                            if let Some((_, prev)) = hunk.lines.last_mut() {
                                if prev.ends_with('\n') {
                                    prev.pop();
                                }
                            }
                        }
                        _ => return Err(patch_error(path, i + 1, "unexpected line in hunk")),
                    }
                    i += 1;
                }
                file.hunks.push(hunk);
            }
        } else {
            i += 1;
        }
    }
    if files.is_empty() {
        return Err(patch_error(
            path,
            1,
            "no `# iamtrim: sha256` line: not a patch written by iamtrim",
        ));
    }
    Ok(files)
}

/// `-a,b +c,d @@` -> (a, b, d).
fn parse_hunk_header(rest: &str) -> Option<(usize, usize, usize)> {
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(usize, usize)> {
        match r.split_once(',') {
            Some((s, c)) => Some((s.parse().ok()?, c.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (old_start, old_count) = range(old)?;
    let (_, new_count) = range(new)?;
    Some((old_start, old_count, new_count))
}

/// Applies the hunks to `before`; fails on any context mismatch.
fn apply_hunks(patch: &Path, before: &str, hunks: &[Hunk]) -> Result<String, EmitError> {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let mut out = String::with_capacity(before.len());
    let mut next = 0;
    for hunk in hunks {
        // An empty old range (`-0,0`) inserts before line 1.
        let start = hunk.old_start.saturating_sub(1).max(next);
        let start = if hunk.lines.iter().all(|(k, _)| *k == '+') && hunk.old_start == 0 {
            0
        } else {
            start
        };
        if start > old.len() {
            return Err(patch_error(
                patch,
                hunk.line_no,
                "hunk starts past the end of the file",
            ));
        }
        old[next..start].iter().for_each(|l| out.push_str(l));
        next = start;
        for (kind, text) in &hunk.lines {
            match kind {
                '+' => out.push_str(text),
                _ => {
                    if old.get(next) != Some(&text.as_str()) {
                        return Err(patch_error(
                            patch,
                            hunk.line_no,
                            format!("context does not match line {}", next + 1),
                        ));
                    }
                    if *kind == ' ' {
                        out.push_str(text);
                    }
                    next += 1;
                }
            }
        }
    }
    old[next..].iter().for_each(|l| out.push_str(l));
    Ok(out)
}

/// A relative, `..`-free path joined to the root; anything else is refused.
pub(crate) fn inside_root(root: &Path, relative: &str) -> Result<PathBuf, EmitError> {
    let rel = Path::new(relative);
    let plain = rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let joined = root.join(rel);
    if !plain || relative.is_empty() {
        return Err(EmitError::OutsideRoot {
            path: joined,
            root: root.to_path_buf(),
        });
    }
    // Symlinked directories on the way must not lead out either.
    if let (Ok(canonical_root), Some(Ok(parent))) =
        (root.canonicalize(), joined.parent().map(Path::canonicalize))
    {
        if !parent.starts_with(&canonical_root) {
            return Err(EmitError::OutsideRoot {
                path: joined,
                root: root.to_path_buf(),
            });
        }
    }
    Ok(joined)
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), EmitError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| EmitError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.iamtrim-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        EmitError::io(path, e)
    })
}

/// Every `iamtrim.patch` under `root` (hidden directories such as `.git` and `.terraform` skipped).
pub fn find_patches(root: &Path) -> Result<Vec<PathBuf>, EmitError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| EmitError::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| EmitError::io(&dir, e))?;
            let name = entry.file_name();
            let file_type = entry
                .file_type()
                .map_err(|e| EmitError::io(entry.path(), e))?;
            if file_type.is_dir() && !name.to_string_lossy().starts_with('.') {
                stack.push(entry.path());
            } else if file_type.is_file() && name == PATCH_FILE_NAME {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Applies iamtrim patches (default: every `iamtrim.patch` under `root`).
///
/// A patch whose target changed since it was written is refused before anything of it is written;
/// a target already patched is left alone; each file is replaced atomically.
pub fn apply_patches(root: &Path, patches: &[PathBuf]) -> Result<ApplyReport, EmitError> {
    let patches = if patches.is_empty() {
        find_patches(root)?
    } else {
        patches.to_vec()
    };
    let mut report = ApplyReport::default();
    for patch in patches {
        let text = std::fs::read_to_string(&patch).map_err(|e| EmitError::io(&patch, e))?;
        let files = parse_patch(&patch, &text)?;
        let mut planned = Vec::with_capacity(files.len());
        for file in &files {
            let target = inside_root(root, &file.path)?;
            let current =
                std::fs::read_to_string(&target).map_err(|e| EmitError::io(&target, e))?;
            let hash = sha256_hex(&current);
            if hash == file.after_hash {
                planned.push((file.path.clone(), target, None));
            } else if hash == file.before_hash {
                let patched = apply_hunks(&patch, &current, &file.hunks)?;
                if sha256_hex(&patched) != file.after_hash {
                    return Err(patch_error(
                        &patch,
                        1,
                        format!(
                            "applying to {} does not give the recorded result",
                            file.path
                        ),
                    ));
                }
                planned.push((file.path.clone(), target, Some(patched)));
            } else {
                return Err(EmitError::TargetChanged {
                    patch: patch.clone(),
                    target: file.path.clone(),
                    expected: file.before_hash.clone(),
                    found: hash,
                });
            }
        }
        let mut outcome = PatchOutcome {
            patch: patch.clone(),
            files: Vec::new(),
        };
        for (path, target, patched) in planned {
            match patched {
                Some(text) => {
                    write_atomic(&target, &text)?;
                    outcome.files.push((path, FileApply::Applied));
                }
                None => outcome.files.push((path, FileApply::AlreadyApplied)),
            }
        }
        report.patches.push(outcome);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: &str, after: &str) -> FileChange {
        FileChange {
            path: "m/main.tf".into(),
            before: before.into(),
            after: after.into(),
        }
    }

    fn round_trip(before: &str, after: &str) {
        let text = render_patch(&[change(before, after)]);
        let files = parse_patch(Path::new("p"), &text).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            apply_hunks(Path::new("p"), before, &files[0].hunks).unwrap(),
            after,
            "{text}"
        );
    }

    #[test]
    fn hunks_apply_back_to_the_new_text() {
        let before: String = (1..40).map(|i| format!("line {i}\n")).collect();
        let after = before
            .replace("line 5\n", "line five\n")
            .replace("line 30\n", "")
            .replace("line 39\n", "line 39\nextra\n");
        round_trip(&before, &after);
        round_trip("a\nb", "a\nc");
        round_trip("a\nb\n", "a\nb");
        round_trip("a\r\nb\r\n", "a\r\nB\r\n");
    }

    #[test]
    fn header_records_both_hashes() {
        let text = render_patch(&[change("a\n", "b\n")]);
        let hash_line = text.lines().find(|l| l.starts_with(HASH_PREFIX)).unwrap();
        assert_eq!(
            hash_line,
            format!(
                "{HASH_PREFIX}m/main.tf {} {}",
                sha256_hex("a\n"),
                sha256_hex("b\n")
            )
        );
        assert!(
            text.contains("--- a/m/main.tf\n+++ b/m/main.tf\n@@ -1 +1 @@\n-a\n+b\n"),
            "{text}"
        );
        assert_eq!(render_patch(&[change("same\n", "same\n")]), "");
    }

    #[test]
    fn paths_leaving_the_root_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(inside_root(tmp.path(), "../x.tf").is_err());
        assert!(inside_root(tmp.path(), "/etc/passwd").is_err());
        assert!(inside_root(tmp.path(), "ok/x.tf").is_ok());
    }
}
