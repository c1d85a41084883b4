//! Unified-diff patches with a sha256 header, and applying them.
//!
//! A patch starts with one `# iamtrim: sha256 <path> <before> <after>` line per target (paths relative
//! to the repository root), then a plain unified diff with `a/` and `b/` prefixes, so `git apply` and
//! `patch -p1` take it as it is (both skip text before the first `---`). A path with a space, a quote,
//! a backslash or a control character is written the way git quotes it (`"a/my dir/x.tf"`, C escapes),
//! in the header and the `---`/`+++` lines alike. [`apply_patches`] checks the hashes: a target that
//! equals the post-image is already patched (a no-op), one that equals neither image changed since the
//! patch was written and is refused. Every patch is checked before anything is written, then all files
//! are written together through [`crate::repo_root`]: all of them, or none.

use crate::emit::terraform::edit::EmitError;
use crate::repo_root::RepoRoot;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
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
            quote_path(&change.path),
            sha256_hex(&change.before),
            sha256_hex(&change.after)
        ));
    }
    for change in &changed {
        let diff = similar::TextDiff::from_lines(change.before.as_str(), change.after.as_str());
        let text = diff
            .unified_diff()
            .context_radius(3)
            .header(
                &quote_path(&format!("a/{}", change.path)),
                &quote_path(&format!("b/{}", change.path)),
            )
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

/// The targets (paths relative to the root) of a patch written by [`render_patch`], or the error
/// naming the patch's line: the patch reader on its own, without touching any file.
pub fn read_patch(path: &Path, text: &str) -> Result<Vec<String>, EmitError> {
    Ok(parse_patch(path, text)?
        .into_iter()
        .map(|f| f.path)
        .collect())
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
            let Some((target, before, after)) = parse_hash_line(rest) else {
                return Err(patch_error(
                    path,
                    i + 1,
                    "expected `# iamtrim: sha256 <path> <before> <after>`",
                ));
            };
            files.push(FilePatch {
                path: target,
                before_hash: before.to_string(),
                after_hash: after.to_string(),
                hunks: Vec::new(),
            });
            i += 1;
        } else if let Some(old) = content
            .strip_prefix("--- ")
            .and_then(|name| diff_name(name, "a/"))
        {
            let new = lines
                .get(i + 1)
                .map(|l| l.trim_end_matches(['\n', '\r']))
                .and_then(|l| l.strip_prefix("+++ "))
                .and_then(|name| diff_name(name, "b/"));
            if new.as_deref() != Some(old.as_str()) {
                return Err(patch_error(
                    path,
                    i + 2,
                    format!("expected `+++ {}`", quote_path(&format!("b/{old}"))),
                ));
            }
            let Some(file) = files.iter_mut().find(|f| f.path == old) else {
                return Err(patch_error(
                    path,
                    i + 1,
                    format!("no `# iamtrim: sha256` line for {}", quote_path(&old)),
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

/// A path as git writes it in a diff: in double quotes with C escapes when it has a space, a quote,
/// a backslash or a control character (git itself leaves spaces bare, but reads them quoted too, and
/// quoting keeps our own `sha256` line one unambiguous token).
pub fn quote_path(path: &str) -> String {
    let needs = path
        .chars()
        .any(|c| c == ' ' || c == '"' || c == '\\' || c.is_ascii_control());
    if !needs {
        return path.to_string();
    }
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads a path quoted by [`quote_path`] (or git) at the start of `text`: the path and what follows
/// the closing quote. `None` when `text` does not start with a well-formed quoted path.
fn unquote_path(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('"')?;
    let mut bytes = Vec::with_capacity(body.len());
    let mut iter = body.char_indices();
    while let Some((i, c)) = iter.next() {
        match c {
            '"' => {
                let path = String::from_utf8(bytes).ok()?;
                return Some((path, &body[i + 1..]));
            }
            '\\' => {
                let (_, e) = iter.next()?;
                let byte = match e {
                    '"' => b'"',
                    '\\' => b'\\',
                    'a' => 7,
                    'b' => 8,
                    't' => b'\t',
                    'n' => b'\n',
                    'v' => 11,
                    'f' => 12,
                    'r' => b'\r',
                    '0'..='3' => {
                        let (_, d2) = iter.next()?;
                        let (_, d3) = iter.next()?;
                        let digits: String = [e, d2, d3].iter().collect();
                        u8::from_str_radix(&digits, 8).ok()?
                    }
                    _ => return None,
                };
                bytes.push(byte);
            }
            c => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    None
}

/// `<path> <before> <after>` of a `sha256` line, the path quoted or bare.
fn parse_hash_line(rest: &str) -> Option<(String, &str, &str)> {
    let (target, before, after) = if rest.starts_with('"') {
        let (target, hashes) = unquote_path(rest)?;
        let (before, after) = hashes.strip_prefix(' ')?.split_once(' ')?;
        (target, before, after)
    } else {
        // Hashes have no space; a bare path (written before paths were quoted) may.
        let mut parts = rest.rsplitn(3, ' ');
        let (after, before, target) = (parts.next()?, parts.next()?, parts.next()?);
        (target.to_string(), before, after)
    };
    let hex = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(before) && hex(after) && !target.is_empty()).then_some((target, before, after))
}

/// The path of a `---`/`+++` line without its `a/`/`b/` prefix; a trailing tab (git's marker
/// after a bare name with a space) ends the name.
fn diff_name(name: &str, prefix: &str) -> Option<String> {
    let path = if name.starts_with('"') {
        unquote_path(name)?.0
    } else {
        name.split('\t').next().unwrap_or(name).to_string()
    };
    path.strip_prefix(prefix).map(str::to_string)
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

/// A relative, `..`-free path under the root, as its real path (symlinks followed); a path that
/// is not plain, or whose real path leaves the root, is refused.
pub(crate) fn inside_root(root: &RepoRoot, relative: &str) -> Result<PathBuf, EmitError> {
    let rel = Path::new(relative);
    let plain = rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain || relative.is_empty() {
        return Err(EmitError::OutsideRoot {
            path: root.path().join(rel),
            root: root.path().to_path_buf(),
        });
    }
    Ok(root.resolve(rel)?)
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

/// Applies iamtrim patches (default: every `iamtrim.patch` under `root`), all or nothing.
///
/// Every patch is checked first, each against the files as the patches before it leave them: a
/// target changed since its patch was written is refused before anything is written; a target
/// already patched is left alone. Then every changed file is written in one [`Staged`] set, so a
/// failure while writing puts back what was written. A symlinked target is patched where the link
/// points, when that is inside the root.
///
/// [`Staged`]: crate::repo_root::Staged
pub fn apply_patches(root: &Path, patches: &[PathBuf]) -> Result<ApplyReport, EmitError> {
    let repo = RepoRoot::open(root)?;
    let patches = if patches.is_empty() {
        find_patches(repo.path())?
    } else {
        patches.to_vec()
    };
    let mut report = ApplyReport::default();
    // Real path -> the text it will have, and whether a patch changes it.
    let mut texts: BTreeMap<PathBuf, (String, bool)> = BTreeMap::new();
    let mut order: Vec<PathBuf> = Vec::new();
    for patch in patches {
        let text = std::fs::read_to_string(&patch).map_err(|e| EmitError::io(&patch, e))?;
        let files = parse_patch(&patch, &text)?;
        let mut outcome = PatchOutcome {
            patch: patch.clone(),
            files: Vec::new(),
        };
        for file in &files {
            let target = inside_root(&repo, &file.path)?;
            let current = match texts.get(&target) {
                Some((text, _)) => text.clone(),
                None => std::fs::read_to_string(&target).map_err(|e| EmitError::io(&target, e))?,
            };
            let hash = sha256_hex(&current);
            if hash == file.after_hash {
                outcome
                    .files
                    .push((file.path.clone(), FileApply::AlreadyApplied));
                texts.entry(target).or_insert((current, false));
            } else if hash == file.before_hash {
                let patched = apply_hunks(&patch, &current, &file.hunks)?;
                if sha256_hex(&patched) != file.after_hash {
                    return Err(patch_error(
                        &patch,
                        1,
                        format!(
                            "applying to {} does not give the recorded result",
                            quote_path(&file.path)
                        ),
                    ));
                }
                outcome.files.push((file.path.clone(), FileApply::Applied));
                if !order.contains(&target) {
                    order.push(target.clone());
                }
                texts.insert(target, (patched, true));
            } else {
                return Err(EmitError::TargetChanged {
                    patch: patch.clone(),
                    target: file.path.clone(),
                    expected: file.before_hash.clone(),
                    found: hash,
                });
            }
        }
        report.patches.push(outcome);
    }
    let mut staged = repo.stage();
    for target in &order {
        if let Some(dir) = target.parent() {
            crate::repo_root::remove_stale_temporaries(dir)?;
        }
        if let Some((text, true)) = texts.get(target) {
            staged.add(target, text.as_bytes())?;
        }
    }
    staged.commit()?;
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
        let root = RepoRoot::open(tmp.path()).unwrap();
        assert!(inside_root(&root, "../x.tf").is_err());
        assert!(inside_root(&root, "/etc/passwd").is_err());
        assert!(inside_root(&root, "ok/x.tf").is_ok());
    }

    #[test]
    fn paths_with_spaces_quotes_and_controls_round_trip_quoted() {
        for path in [
            "my modules/app/main.tf",
            "a\"b.tf",
            "back\\slash.tf",
            "tab\there.tf",
            "bell\u{7}.tf",
            "plain/main.tf",
            "ünï code.tf",
        ] {
            let text = render_patch(&[FileChange {
                path: path.into(),
                before: "a\n".into(),
                after: "b\n".into(),
            }]);
            let files =
                parse_patch(Path::new("p"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(files[0].path, path, "{text}");
            assert_eq!(files[0].hunks.len(), 1, "{text}");
        }
        assert_eq!(quote_path("a b/c"), "\"a b/c\"");
        assert_eq!(quote_path("x\u{1}"), "\"x\\001\"");
        assert_eq!(
            unquote_path("\"x\\001\" rest"),
            Some(("x\u{1}".to_string(), " rest"))
        );
        assert_eq!(quote_path("plain/x.tf"), "plain/x.tf");
    }

    #[test]
    fn a_space_in_a_path_is_one_header_token_regression() {
        // Split on spaces, `modules/my app/main.tf` was three tokens and the patch was refused.
        let text = render_patch(&[FileChange {
            path: "modules/my app/main.tf".into(),
            before: "a\n".into(),
            after: "b\n".into(),
        }]);
        assert!(
            text.contains("--- \"a/modules/my app/main.tf\"\n"),
            "{text}"
        );
        let files = parse_patch(Path::new("p"), &text).unwrap();
        assert_eq!(files[0].path, "modules/my app/main.tf");
        assert_eq!(
            read_patch(Path::new("p"), &text).unwrap(),
            ["modules/my app/main.tf"]
        );
        let broken = text.replace(" \"modules/my app/main.tf\" ", " \"modules/my app ");
        assert!(read_patch(Path::new("p"), &broken).is_err());
    }
}
