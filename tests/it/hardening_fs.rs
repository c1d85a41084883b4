//! Issue 13, the file-system items, end to end on copies of `examples/quickstart`: nothing is
//! written outside the repository (planted temporary links, a symlinked `.iamtrim` or cache folder,
//! a symlinked `.tf`), `apply` and `suggest` write all or nothing, a path with a space survives the
//! patch format, a cache entry from the future is stale, and an interrupted run's temporaries are
//! cleaned up. A symlink test points at a second temp dir, "outside", and checks nothing lands there.

use crate::support::repo::{self, git, iamtrim, suggest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const QUICKSTART: &str = "examples/quickstart";
const PLAN: &str = "plan.json";

fn quickstart(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    repo::project_repo(QUICKSTART, edit)
}

/// Every regular file under `dir` (links not followed) and its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let ft = entry.file_type().unwrap();
            if ft.is_dir() && entry.file_name() != ".git" {
                stack.push(entry.path());
            } else if ft.is_file() {
                let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// Asserts exit code 2 and exactly one line on stderr; returns that line.
fn one_line_error(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn is_symlink(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

/// Regular files under `dir` named like this tool's temporaries.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(iamtrim::repo_root::is_temporary_name)
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn suggest_and_apply_write_nothing_through_planted_temporary_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    let repo = quickstart(|_| {});
    let root = repo.path();
    // The old writer named its temporaries `.<name>.iamtrim-<pid>.tmp`; pids come one after another,
    // so links under the next few thousand names caught the run's writes.
    let plant = |names: &[&str]| {
        let mut probe = std::process::Command::new("true").spawn().unwrap();
        let base = probe.id();
        probe.wait().unwrap();
        let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(32_768);
        for dir in [root.to_path_buf(), root.join("modules/worker")] {
            for name in names {
                for i in 0..3000 {
                    let pid = (base + i) % pid_max;
                    let link = dir.join(format!(".{name}.iamtrim-{pid}.tmp"));
                    if link.symlink_metadata().is_err() {
                        symlink(&outside.path().join(format!("{name}-{pid}")), &link);
                    }
                }
            }
        }
    };
    plant(&["iamtrim.patch", "iamtrim.suggested.tf"]);
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(files(outside.path()).is_empty(), "written outside the root");
    for patch in ["iamtrim.patch", "modules/worker/iamtrim.patch"] {
        let path = root.join(patch);
        assert!(path.is_file() && !is_symlink(&path), "{patch}");
        git(root, &["apply", "--check", patch]);
    }
    // `apply` writes the patched `.tf` files the same way.
    plant(&["main.tf"]);
    let out = iamtrim(root).arg("apply").output().unwrap();
    repo::assert_success(&out);
    assert!(files(outside.path()).is_empty(), "written outside the root");
    for tf in ["main.tf", "modules/worker/main.tf"] {
        assert!(!is_symlink(&root.join(tf)), "{tf} is still a regular file");
    }
}

#[cfg(unix)]
#[test]
fn a_symlinked_iamtrim_folder_leading_out_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_path_buf();
    let repo = quickstart(|root| symlink(&target, &root.join(".iamtrim")));
    let out = iamtrim(repo.path())
        .args(["suggest", PLAN, "--cloudtrail", "cloudtrail"])
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(line.contains("`.iamtrim/cache` resolves to"), "{line}");
    assert!(line.contains("cache.dir"), "{line}");
    assert!(files(outside.path()).is_empty(), "cache written outside");
    assert!(!repo.path().join("iamtrim.patch").exists());
}

#[cfg(unix)]
#[test]
fn a_symlinked_component_of_the_cache_dir_leading_out_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_path_buf();
    let repo = quickstart(|root| {
        std::fs::write(
            root.join(".iamtrim.toml"),
            "[cache]\ndir = \"usage/cache\"\n",
        )
        .unwrap();
        symlink(&target, &root.join("usage"));
    });
    let out = iamtrim(repo.path())
        .args(["suggest", PLAN, "--cloudtrail", "cloudtrail"])
        .output()
        .unwrap();
    let line = one_line_error(&out);
    assert!(line.contains(".iamtrim.toml: cache.dir"), "{line}");
    assert!(line.contains("`usage/cache` resolves to"), "{line}");
    assert!(files(outside.path()).is_empty(), "cache written outside");
}

#[test]
fn apply_writes_nothing_when_a_later_patch_is_refused() {
    let repo = quickstart(|_| {});
    let root = repo.path();
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let worker = root.join("modules/worker/main.tf");
    let edited = format!(
        "{}\n# edited by hand\n",
        std::fs::read_to_string(&worker).unwrap()
    );
    std::fs::write(&worker, &edited).unwrap();
    let before = files(root);
    // `iamtrim.patch` comes first and is fine; the worker's patch is refused.
    let out = iamtrim(root).arg("apply").output().unwrap();
    let line = one_line_error(&out);
    assert!(
        line.contains("modules/worker/main.tf changed since the patch was written"),
        "{line}"
    );
    let after = files(root);
    let changed: Vec<_> = after
        .keys()
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty() && after.len() == before.len(),
        "nothing of any patch is applied: {changed:?}"
    );
}

#[test]
fn a_failed_suggest_leaves_no_patch_behind_when_a_module_file_cannot_be_written() {
    let repo = quickstart(|_| {});
    let root = repo.path();
    // Root-proof "unwritable": a folder stands where the worker's patch goes. The root module's
    // files come first in the run's order.
    std::fs::create_dir_all(root.join("modules/worker/iamtrim.patch/in-the-way")).unwrap();
    let before = files(root);
    let out = iamtrim(root)
        .args(["suggest", PLAN, "--cloudtrail", "cloudtrail"])
        .output()
        .unwrap();
    let mut after = files(root);
    // The usage cache is not part of the patch set.
    after.retain(|p, _| !p.starts_with(".iamtrim"));
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "nothing of the patch set is left"
    );
    assert!(after == before, "no file changed");
    assert!(temporaries(root).is_empty());
    let line = one_line_error(&out);
    assert!(line.contains("modules/worker/iamtrim.patch"), "{line}");
}

#[test]
fn a_failed_suggest_with_out_leaves_nothing_when_a_folder_is_a_file() {
    let repo = quickstart(|_| {});
    let root = repo.path();
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        out_dir.path().join("modules"),
        "a file where a folder is needed",
    )
    .unwrap();
    let out = iamtrim(root)
        .args(["suggest", PLAN, "--cloudtrail", "cloudtrail", "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(
        files(out_dir.path()).into_keys().collect::<Vec<_>>(),
        [PathBuf::from("modules")],
        "nothing but what was there"
    );
    let line = one_line_error(&out);
    assert!(line.contains("modules"), "{line}");
}

#[test]
fn a_space_in_a_module_path_survives_suggest_git_apply_and_apply() {
    let repo = quickstart(|root| {
        std::fs::rename(root.join("modules/worker"), root.join("modules/my worker")).unwrap();
        for file in ["main.tf", PLAN] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let text = text.replace("./modules/worker", "./modules/my worker");
            std::fs::write(root.join(file), text).unwrap();
        }
    });
    let root = repo.path();
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let patch = "modules/my worker/iamtrim.patch";
    let text = std::fs::read_to_string(root.join(patch)).unwrap();
    assert!(
        text.contains("# iamtrim: sha256 \"modules/my worker/main.tf\" "),
        "{text}"
    );
    assert!(
        text.contains("--- \"a/modules/my worker/main.tf\"\n+++ \"b/modules/my worker/main.tf\"\n"),
        "{text}"
    );
    git(root, &["apply", "--check", patch]);
    let before = std::fs::read_to_string(root.join("modules/my worker/main.tf")).unwrap();
    let out = iamtrim(root).arg("apply").output().unwrap();
    repo::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("modules/my worker/main.tf: patched"),
        "{stdout}"
    );
    assert_ne!(
        std::fs::read_to_string(root.join("modules/my worker/main.tf")).unwrap(),
        before
    );
}

#[test]
fn check_calls_a_cache_entry_from_the_future_stale() {
    let repo = quickstart(|_| {});
    let root = repo.path();
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let cache = root.join(".iamtrim/cache");
    let mut dated = 0;
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value["generated_at"] = "2999-01-01T00:00:00Z".into();
        std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        dated += 1;
    }
    assert!(dated > 0, "suggest --cloudtrail caches usage");
    let out = iamtrim(root)
        .args(["check", PLAN, "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let warnings = repo::warnings(&report);
    let future: Vec<&&str> = warnings
        .iter()
        .filter(|w| w.contains("in the future"))
        .collect();
    assert!(!future.is_empty(), "{warnings:?}");
    assert!(
        future.iter().any(|w| w.contains("days in the future")),
        "{future:?}"
    );
}

#[cfg(unix)]
#[test]
fn apply_patches_a_symlinked_tf_where_it_points_and_keeps_the_link() {
    let repo = quickstart(|root| {
        std::fs::create_dir_all(root.join("shared")).unwrap();
        std::fs::rename(
            root.join("modules/worker/main.tf"),
            root.join("shared/worker.tf"),
        )
        .unwrap();
        symlink(
            Path::new("../../shared/worker.tf"),
            &root.join("modules/worker/main.tf"),
        );
    });
    let root = repo.path();
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let before = std::fs::read_to_string(root.join("shared/worker.tf")).unwrap();
    let out = iamtrim(root).arg("apply").output().unwrap();
    repo::assert_success(&out);
    let link = root.join("modules/worker/main.tf");
    assert!(is_symlink(&link), "the link stays a link");
    let after = std::fs::read_to_string(root.join("shared/worker.tf")).unwrap();
    assert_ne!(after, before, "the link's target is patched");
    assert_eq!(std::fs::read_to_string(&link).unwrap(), after);
}

#[cfg(unix)]
#[test]
fn apply_refuses_a_symlinked_tf_pointing_outside_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("worker.tf");
    let repo = quickstart(|root| {
        std::fs::rename(root.join("modules/worker/main.tf"), &target).unwrap();
        symlink(&target, &root.join("modules/worker/main.tf"));
    });
    let root = repo.path();
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let outside_before = files(outside.path());
    let before = files(root);
    let out = iamtrim(root).arg("apply").output().unwrap();
    let line = one_line_error(&out);
    assert!(line.contains("outside the repository root"), "{line}");
    assert!(line.contains("modules/worker/main.tf"), "{line}");
    assert_eq!(files(outside.path()), outside_before);
    assert!(files(root) == before, "nothing applied");
    assert!(is_symlink(&root.join("modules/worker/main.tf")));
}

#[cfg(unix)]
#[test]
fn the_next_run_removes_an_interrupted_runs_temporaries_but_no_link() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let repo = quickstart(|_| {});
    let root = repo.path();
    let cache = root.join(".iamtrim/cache");
    std::fs::create_dir_all(&cache).unwrap();
    // Names the old and the new writer give temporaries, from a process that is gone (a pid above
    // any pid_max).
    let left = [
        cache.join(".auditor--cloudtrail--0123456789ab.json.4194999.3.123456.tmp"),
        cache.join(".auditor--cloudtrail--0123456789ab.json.iamtrim-4194999-0123456789abcdef.tmp"),
        root.join(".iamtrim.patch.iamtrim-4194999.tmp"),
        root.join("modules/worker/.iamtrim.patch.iamtrim-4194999-fedcba9876543210.tmp"),
    ];
    for path in &left {
        std::fs::write(path, "half a file").unwrap();
    }
    let link = root.join("modules/worker/.main.tf.iamtrim-4194999-0123456789abcdef.tmp");
    symlink(&victim, &link);
    let (code, _, stderr) = suggest(root, PLAN, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    for path in &left {
        assert!(!path.exists(), "{} left behind", path.display());
    }
    assert!(is_symlink(&link), "a link is never removed or followed");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(temporaries(root).is_empty(), "{:?}", temporaries(root));
}
