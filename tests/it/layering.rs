//! Import layering of `src/iam`, read from the source text: no circle of imports between its files,
//! resource handlers never reach the join, and the address/ARN helpers stand below discovery.
//!
//! An edge `a.rs -> b.rs` is any path in `a.rs` (a `use` item, braces expanded, or a path written in
//! code such as `crate::iam::arn::is_aws_managed(..)`) that names an item of the module `b.rs` holds.
//! `crate::`, `super::`, `self::` and child-module paths are followed; inline modules (`mod direct {`)
//! shift `super::`. Test modules (`#[cfg(test)] mod tests`) are left out: they may import anything.
//! Rerun with `cargo test --test it layering::`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["iam", "discover", "index"]`) -> the file that holds it, for every file under `src`.
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            match parts.last().map(String::as_str) {
                Some("mod") => {
                    parts.pop();
                }
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("main") if parts.len() == 1 => continue,
                _ => {}
            }
            out.insert(parts, path);
        }
    }
    out
}

/// `a::{b, c::{d, self}}` -> `a::b`, `a::c::d`, `a::c`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.trim_end_matches("::*").to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    // Split the group at top-level commas.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand_use)
        .map(|p| match p.as_str() {
            "self" | "*" | "" => prefix.to_string(),
            _ if prefix.is_empty() => p,
            _ => format!("{prefix}::{p}"),
        })
        .collect()
}

/// The file a path written in module `at` names, if it is one of `modules`.
fn resolve(path: &str, at: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    let path = path.split(" as ").next().unwrap_or(path);
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (first, rest) = segs.split_first()?;
    let mut full: Vec<String> = match *first {
        "crate" => Vec::new(),
        "self" => at.to_vec(),
        "super" => {
            let mut base = at.to_vec();
            base.pop()?;
            let mut rest = rest;
            while let Some((&"super", more)) = rest.split_first() {
                base.pop()?;
                rest = more;
            }
            let mut full = base;
            full.extend(rest.iter().map(|s| s.to_string()));
            return longest_module(&full, modules);
        }
        child => {
            let mut base = at.to_vec();
            base.push(child.to_string());
            if !modules.contains_key(&base) {
                return None;
            }
            at.to_vec()
        }
    };
    if *first == "crate" || *first == "self" {
        full.extend(rest.iter().map(|s| s.to_string()));
    } else {
        full.extend(segs.iter().map(|s| s.to_string()));
    }
    longest_module(&full, modules)
}

fn longest_module(full: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<PathBuf> {
    (0..=full.len())
        .rev()
        .find_map(|n| modules.get(&full[..n]))
        .cloned()
}

/// Text without comments, string literals and character literals (their braces would mislead).
fn code_of(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => in_str = true,
            '\'' => {
                // A character literal ('{', '\\', '\'') or a lifetime ('a): skip only the former.
                let ahead: String = chars.clone().take(3).collect();
                if ahead.starts_with('\\') {
                    let mut esc = chars.clone();
                    esc.next();
                    esc.next();
                    chars = esc;
                    // Skip to the closing quote (`'\u{7f}'` is longer).
                    for d in chars.by_ref() {
                        if d == '\'' {
                            break;
                        }
                    }
                } else if ahead.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                } else {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every path-like run (`a::b::C`) in a line of code.
fn paths_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if is_ident(bytes[i]) && (i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            let start = i;
            while i < bytes.len() && (is_ident(bytes[i]) || bytes[i] == b':') {
                i += 1;
            }
            let run = code[start..i].trim_end_matches(':');
            if run.contains("::") {
                out.push(run.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The files each file of `modules` under `within` imports (itself left out).
fn imports(
    modules: &BTreeMap<Vec<String>, PathBuf>,
    within: &Path,
) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut edges = BTreeMap::new();
    for (module, file) in modules.iter().filter(|(_, f)| f.starts_with(within)) {
        let text = std::fs::read_to_string(file).expect("reading a source file");
        let mut targets = BTreeSet::new();
        // Inline modules open at a brace depth: (name, depth before its `{`).
        let mut inline: Vec<(String, i64)> = Vec::new();
        let mut depth = 0i64;
        let mut pending_use = String::new();
        let mut after_cfg_test = false;
        for line in text.lines() {
            let code = code_of(line);
            let trimmed = code.trim();
            if after_cfg_test && trimmed.starts_with("mod ") {
                break;
            }
            after_cfg_test = trimmed == "#[cfg(test)]";
            let mut at = module.clone();
            at.extend(inline.iter().map(|(n, _)| n.clone()));
            // `use` items, possibly over several lines.
            let use_start = trimmed
                .strip_prefix("pub ")
                .or(trimmed.strip_prefix("pub(crate) "))
                .unwrap_or(trimmed)
                .strip_prefix("use ");
            if let Some(rest) = use_start {
                pending_use = rest.to_string();
            } else if !pending_use.is_empty() {
                pending_use.push_str(trimmed);
            }
            if !pending_use.is_empty() {
                if let Some(done) = pending_use.strip_suffix(';') {
                    for p in expand_use(done) {
                        targets.extend(resolve(&p, &at, modules));
                    }
                    pending_use.clear();
                }
            } else {
                for p in paths_in(&code) {
                    targets.extend(resolve(&p, &at, modules));
                }
            }
            if let Some(name) = trimmed
                .strip_prefix("pub ")
                .unwrap_or(trimmed)
                .strip_prefix("mod ")
                .and_then(|r| r.strip_suffix('{'))
            {
                inline.push((name.trim().to_string(), depth));
            }
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            while inline.last().is_some_and(|(_, d)| depth <= *d) {
                inline.pop();
            }
        }
        targets.remove(file);
        edges.insert(file.clone(), targets);
    }
    edges
}

/// The circles (strongly connected sets of more than one file), each sorted, found by Tarjan's walk.
fn circles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Walk<'e> {
        edges: &'e BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'e PathBuf, usize>,
        low: BTreeMap<&'e PathBuf, usize>,
        stack: Vec<&'e PathBuf>,
        on_stack: BTreeSet<&'e PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    impl<'e> Walk<'e> {
        fn visit(&mut self, v: &'e PathBuf) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                // Edges leaving the files checked cannot close a circle among them.
                let Some((w, _)) = self.edges.get_key_value(w) else {
                    continue;
                };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    set.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    set.sort();
                    self.out.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn iam_imports() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let src = src();
    imports(&module_files(&src), &src.join("iam"))
}

fn show(files: &[PathBuf]) -> String {
    let src = src();
    files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap_or(f).display().to_string())
        .collect::<Vec<_>>()
        .join(" <-> ")
}

#[test]
fn no_import_circle_between_files_of_src_iam() {
    let edges = iam_imports();
    assert!(edges.len() > 20, "src/iam read: {} files", edges.len());
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "import circles in src/iam:\n{}",
        found.iter().map(|c| show(c)).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn resource_handlers_never_import_the_join_or_discovery_as_a_whole() {
    let src = src();
    let forbidden = [
        src.join("iam/discover/resolve.rs"),
        src.join("iam/discover/mod.rs"),
        src.join("iam/discover.rs"),
    ];
    for (file, targets) in iam_imports() {
        if !file.starts_with(src.join("iam/resources")) {
            continue;
        }
        for f in &forbidden {
            assert!(
                !targets.contains(f),
                "{} imports {}",
                show(std::slice::from_ref(&file)),
                show(std::slice::from_ref(f))
            );
        }
    }
}

#[test]
fn address_and_arn_helpers_import_nothing_of_discovery() {
    let src = src();
    let edges = iam_imports();
    for helper in ["iam/address.rs", "iam/arn.rs"] {
        let targets = edges
            .get(&src.join(helper))
            .unwrap_or_else(|| panic!("{helper} exists"));
        let below: Vec<_> = targets
            .iter()
            .filter(|t| t.starts_with(src.join("iam")))
            .cloned()
            .collect();
        assert!(below.is_empty(), "{helper} imports {}", show(&below));
    }
}

/// The checker finds a circle it is shown (so the tests above can fail), through `super::`, a
/// `use` group over several lines, a path in code and an inline module.
#[test]
fn the_checker_finds_circles_of_every_spelling() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write("lib.rs", "pub mod a;\n");
    write(
        "a/mod.rs",
        "//! Docs: crate::a::c::X\nmod b;\nmod c;\npub use b::{\n    B,\n};\n",
    );
    write("a/b.rs", "use super::c::C;\n");
    write(
        "a/c.rs",
        "mod inner {\n    use super::super::b::B;\n}\nfn f() { let s = \"{\"; let c = '{'; }\n",
    );
    write("a/d.rs", "fn g() { crate::a::e::h() }\n");
    write(
        "a/e.rs",
        "#[cfg(test)]\nmod tests {\n    use crate::a::d;\n}\n",
    );
    let modules = module_files(src);
    let edges = imports(&modules, &src.join("a"));
    let found = circles(&edges);
    assert_eq!(
        found,
        vec![vec![src.join("a/b.rs"), src.join("a/c.rs")]],
        "{edges:#?}"
    );
    // `mod.rs` reaches `b.rs` through its re-export, and not `c.rs` through a comment.
    assert_eq!(
        edges[&src.join("a/mod.rs")],
        BTreeSet::from([src.join("a/b.rs")])
    );
    // A path in code is an edge; a test module's import is not.
    assert_eq!(
        edges[&src.join("a/d.rs")],
        BTreeSet::from([src.join("a/e.rs")])
    );
    assert!(edges[&src.join("a/e.rs")].is_empty());
}
