//! `.iamtrim.toml`: per-principal rules read from the Terraform root.
//!
//! It owns the file format (documented in `docs/configuration.md`) and its resolution for one
//! principal: [`Config`] (loaded with [`Config::load`], missing file = defaults), [`PrincipalRule`]
//! (one `[[principal]]` table, matched by Terraform address glob or ARN glob) and [`PrincipalRules`]
//! (what applies to one principal once every matching table is folded in).
//!
//! It does not decide what to keep: `crate::minimize` reads [`PrincipalRules`].

use crate::iam::action::ActionPattern;
use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The configuration file's name, looked up at the Terraform root.
pub const FILE_NAME: &str = ".iamtrim.toml";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read ({source}); make it a readable file or remove it")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key (the message names it).
    #[error("{path}:{line}:{column}: {message}; fix it (see docs/configuration.md)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column (in characters) of the problem.
        column: usize,
        /// What is wrong, from the TOML parser, on one line (without its source snippet).
        message: String,
    },
    /// A `match` glob does not compile.
    #[error("{path}: principal[{index}].match: invalid glob `{glob}`: {message}")]
    Glob {
        /// The file.
        path: PathBuf,
        /// Index of the `[[principal]]` table.
        index: usize,
        /// The glob as written.
        glob: String,
        /// Why it does not compile.
        message: String,
    },
    /// An allowlisted action or a service name is not of the expected shape.
    #[error("{path}: {place}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// Where, e.g. `principal[0].allow[2]`.
        place: String,
        /// What is wrong.
        message: String,
    },
}

/// The file as written; unknown keys are rejected by serde and named in the error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    principal: Vec<RawPrincipal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    dir: Option<String>,
    ttl_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    leave_alone: Vec<String>,
    min_usage_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrincipal {
    #[serde(rename = "match")]
    globs: OneOrMany,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    exclude: bool,
    #[serde(default)]
    leave_alone: Vec<String>,
    min_usage_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// One `[[principal]]` table, its globs compiled.
#[derive(Debug, Clone)]
pub struct PrincipalRule {
    /// The globs as written.
    pub globs: Vec<String>,
    matchers: Vec<GlobMatcher>,
    /// Actions (patterns allowed) the minimizer must keep when the current policy grants them.
    pub allow: Vec<ActionPattern>,
    /// True when the principal must not be minimized at all.
    pub exclude: bool,
    /// Service prefixes (lower case) whose actions are never removed.
    pub leave_alone: BTreeSet<String>,
    /// Usage shorter than this many days is not enough to minimize.
    pub min_usage_days: Option<u32>,
}

impl PrincipalRule {
    /// True when any glob matches the instance address, the block address or the ARN.
    pub fn matches(&self, address: &str, block_address: &str, arn: Option<&str>) -> bool {
        self.matchers.iter().any(|m| {
            m.is_match(address) || m.is_match(block_address) || arn.is_some_and(|a| m.is_match(a))
        })
    }
}

/// The loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where it was read from; `None` for the defaults.
    pub path: Option<PathBuf>,
    /// Services never minimized for any principal.
    pub leave_alone: BTreeSet<String>,
    /// Minimum usage window in days for every principal.
    pub min_usage_days: Option<u32>,
    /// The `[[principal]]` tables in file order.
    pub principals: Vec<PrincipalRule>,
    /// `[cache] dir`: the usage cache folder, relative to the Terraform root (default `.iamtrim/cache`).
    pub cache_dir: Option<String>,
    /// `[cache] ttl_days`: how long a cache entry stays fresh (default 7).
    pub cache_ttl_days: Option<u32>,
}

/// The default cache folder, relative to the Terraform root.
pub const DEFAULT_CACHE_DIR: &str = ".iamtrim/cache";

impl Config {
    /// The cache folder under `root`; an error when `[cache] dir` leaves the repository (`repo_root`).
    pub fn cache_dir(&self, root: &Path, repo_root: &Path) -> Result<PathBuf, ConfigError> {
        let rel = self.cache_dir.as_deref().unwrap_or(DEFAULT_CACHE_DIR);
        let escapes = Path::new(rel).is_absolute()
            || lexical_normalize(&root.join(rel)).is_none_or(|p| !p.starts_with(repo_root));
        if escapes {
            return Err(ConfigError::Value {
                path: self.path.clone().unwrap_or_else(|| root.join(FILE_NAME)),
                place: "cache.dir".into(),
                message: format!("`{rel}` leaves the repository; the cache must live inside it"),
            });
        }
        // A symlinked `.iamtrim` (or any folder on the way) leads where the lexical check cannot see;
        // under a root that does not exist nothing can be a link, and the lexical check is the truth.
        let Ok(repo) = crate::repo_root::RepoRoot::open(repo_root) else {
            return Ok(root.join(rel));
        };
        let dir = lexical_normalize(&root.join(rel)).unwrap_or_else(|| root.join(rel));
        repo.resolve(&dir).map_err(|e| ConfigError::Value {
            path: self.path.clone().unwrap_or_else(|| root.join(FILE_NAME)),
            place: "cache.dir".into(),
            message: match e {
                crate::repo_root::WriteError::OutsideRoot { real, .. } => format!(
                    "`{rel}` resolves to {}, outside the repository (a symbolic link); the cache must live inside it",
                    real.display()
                ),
                other => format!("`{rel}`: {other}"),
            },
        })
    }

    /// The cache time to live.
    pub fn cache_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.cache_ttl_days.unwrap_or(7)) * 86_400)
    }
}

/// `a/b/../c` -> `a/c` without touching the file system; `None` when `..` climbs above the start.
fn lexical_normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// Everything the configuration says about one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalRules {
    /// True when a matching table excludes it.
    pub excluded: bool,
    /// Allowlisted action patterns from every matching table.
    pub allow: Vec<ActionPattern>,
    /// Services left alone (defaults and matching tables).
    pub leave_alone: BTreeSet<String>,
    /// The largest minimum usage window that applies.
    pub min_usage_days: Option<u32>,
}

impl Config {
    /// Reads `.iamtrim.toml` in `root`; a missing file gives the default configuration.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::from_toml(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses configuration text; `path` only names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = line_column(text, e.span().map_or(0, |span| span.start));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: one_line(e.message()),
            }
        })?;
        let value_error = |place: String, message: String| ConfigError::Value {
            path: path.to_path_buf(),
            place,
            message,
        };
        let mut config = Config {
            path: Some(path.to_path_buf()),
            leave_alone: services(
                &raw.defaults.leave_alone,
                "defaults.leave_alone",
                &value_error,
            )?,
            min_usage_days: raw.defaults.min_usage_days,
            principals: Vec::with_capacity(raw.principal.len()),
            cache_dir: raw.cache.dir,
            cache_ttl_days: raw.cache.ttl_days,
        };
        for (index, p) in raw.principal.into_iter().enumerate() {
            let globs = match p.globs {
                OneOrMany::One(g) => vec![g],
                OneOrMany::Many(gs) => gs,
            };
            if globs.is_empty() {
                return Err(value_error(
                    format!("principal[{index}].match"),
                    "needs at least one glob".into(),
                ));
            }
            let matchers = globs
                .iter()
                .map(|g| {
                    compile(g).map_err(|e| ConfigError::Glob {
                        path: path.to_path_buf(),
                        index,
                        glob: g.clone(),
                        message: e.kind().to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut allow = Vec::with_capacity(p.allow.len());
            for (i, a) in p.allow.iter().enumerate() {
                if a != "*"
                    && !a
                        .split_once(':')
                        .is_some_and(|(s, n)| !s.is_empty() && !n.is_empty())
                {
                    return Err(value_error(
                        format!("principal[{index}].allow[{i}]"),
                        format!("`{a}` is not an IAM action such as `s3:GetObject` or `s3:Get*`"),
                    ));
                }
                allow.push(ActionPattern::new(a));
            }
            config.principals.push(PrincipalRule {
                globs,
                matchers,
                allow,
                exclude: p.exclude,
                leave_alone: services(
                    &p.leave_alone,
                    &format!("principal[{index}].leave_alone"),
                    &value_error,
                )?,
                min_usage_days: p.min_usage_days,
            });
        }
        Ok(config)
    }

    /// Folds the defaults and every matching `[[principal]]` table for one principal.
    pub fn rules_for(
        &self,
        address: &str,
        block_address: &str,
        arn: Option<&str>,
    ) -> PrincipalRules {
        let mut rules = PrincipalRules {
            excluded: false,
            allow: Vec::new(),
            leave_alone: self.leave_alone.clone(),
            min_usage_days: self.min_usage_days,
        };
        for rule in self
            .principals
            .iter()
            .filter(|r| r.matches(address, block_address, arn))
        {
            rules.excluded |= rule.exclude;
            rules.allow.extend(rule.allow.iter().cloned());
            rules.leave_alone.extend(rule.leave_alone.iter().cloned());
            rules.min_usage_days = rules.min_usage_days.max(rule.min_usage_days);
        }
        rules
    }
}

/// Compiles a match glob: `*` crosses `/` and `.` so ARN and address globs read naturally.
/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The parser's message without line breaks (one error, one line).
fn one_line(message: &str) -> String {
    message
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn compile(glob: &str) -> Result<GlobMatcher, globset::Error> {
    let built: Glob = GlobBuilder::new(glob)
        .literal_separator(false)
        .backslash_escape(true)
        .build()?;
    Ok(built.compile_matcher())
}

/// Validates service prefixes and lower-cases them, as the catalog and usage spell them.
fn services(
    names: &[String],
    place: &str,
    value_error: &dyn Fn(String, String) -> ConfigError,
) -> Result<BTreeSet<String>, ConfigError> {
    let mut out = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(value_error(
                format!("{place}[{i}]"),
                format!("`{name}` is not a service prefix such as `s3` or `kms`"),
            ));
        }
        out.insert(name.to_ascii_lowercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/root/.iamtrim.toml"))
    }

    const SAMPLE: &str = r#"
[defaults]
leave_alone = ["KMS"]
min_usage_days = 30

[[principal]]
match = "module.app.aws_iam_role.worker"
allow = ["s3:PutObject", "sqs:Send*"]

[[principal]]
match = ["arn:aws:iam::*:role/break-glass*", "aws_iam_user.admin"]
exclude = true

[[principal]]
match = "module.app.*"
leave_alone = ["ssm"]
min_usage_days = 90
"#;

    #[test]
    fn resolves_every_matching_table() {
        let config = parse(SAMPLE).unwrap();
        let rules = config.rules_for(
            r#"module.app.aws_iam_role.worker["eu"]"#,
            "module.app.aws_iam_role.worker",
            None,
        );
        assert!(!rules.excluded);
        assert_eq!(
            rules.allow.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            ["s3:PutObject", "sqs:Send*"]
        );
        assert_eq!(
            rules
                .leave_alone
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["kms", "ssm"]
        );
        assert_eq!(rules.min_usage_days, Some(90));

        let by_arn = config.rules_for(
            "aws_iam_role.bg",
            "aws_iam_role.bg",
            Some("arn:aws:iam::123456789012:role/break-glass-1"),
        );
        assert!(by_arn.excluded);
        assert!(
            config
                .rules_for("aws_iam_user.admin", "aws_iam_user.admin", None)
                .excluded
        );

        let other = config.rules_for(
            "aws_iam_role.other",
            "aws_iam_role.other",
            Some("arn:aws:iam::1:role/other"),
        );
        assert_eq!(
            other,
            PrincipalRules {
                leave_alone: ["kms".to_string()].into(),
                min_usage_days: Some(30),
                ..Default::default()
            }
        );
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_key() {
        let err = parse("[[principal]]\nmatch = \"x\"\nalow = [\"s3:GetObject\"]\n").unwrap_err();
        assert!(err.to_string().contains("alow"), "{err}");
        let err = parse("bogus = 1\n").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn a_toml_error_is_one_line_with_line_and_column() {
        // The parser's own text is a five-line snippet of the file.
        let err = parse("[defaults]\nleave_alone = [\"kms\"\n\n[cache]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/root/.iamtrim.toml:4:1: missing comma between array elements, expected `,`; fix it (see docs/configuration.md)"
        );
        let err = parse("# é\n[cache]\n  ttl = 3\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/root/.iamtrim.toml:3:3: unknown field `ttl`"),
            "{err}"
        );
    }

    #[test]
    fn line_and_column_count_characters_and_survive_any_offset() {
        assert_eq!(line_column("ab\ncé\nd", 0), (1, 1));
        assert_eq!(line_column("ab\ncé\nd", 3), (2, 1));
        assert_eq!(line_column("ab\ncé\nd", 7), (3, 1));
        // Inside the two bytes of `é`, and past the end.
        assert_eq!(line_column("ab\ncé\nd", 5), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }

    #[test]
    fn bad_values_name_their_place() {
        let err =
            parse("[[principal]]\nmatch = \"x\"\nallow = [\"s3:GetObject\", \"GetObject\"]\n")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/root/.iamtrim.toml: principal[0].allow[1]: `GetObject` is not an IAM action such as `s3:GetObject` or `s3:Get*`"
        );
        let err = parse("[[principal]]\nmatch = \"a[\"\n").unwrap_err();
        assert!(matches!(err, ConfigError::Glob { index: 0, .. }), "{err}");
        let err = parse("[defaults]\nleave_alone = [\"s3:*\"]\n").unwrap_err();
        assert!(err.to_string().contains("defaults.leave_alone[0]"), "{err}");
    }

    #[test]
    fn missing_file_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(dir.path()).unwrap();
        assert!(config.path.is_none() && config.principals.is_empty());
        std::fs::write(dir.path().join(FILE_NAME), SAMPLE).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().principals.len(), 3);
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn cache_section_sets_dir_and_ttl_and_refuses_to_leave_the_repository() {
        let path = Path::new("/repo/infra/.iamtrim.toml");
        let c = Config::from_toml("[cache]\ndir = \"usage\"\nttl_days = 30\n", path).unwrap();
        assert_eq!(
            c.cache_dir(Path::new("/repo/infra"), Path::new("/repo"))
                .unwrap(),
            Path::new("/repo/infra/usage")
        );
        assert_eq!(c.cache_ttl(), std::time::Duration::from_secs(30 * 86_400));
        let d = Config::default();
        assert_eq!(
            d.cache_dir(Path::new("/repo"), Path::new("/repo")).unwrap(),
            Path::new("/repo/.iamtrim/cache")
        );
        assert_eq!(d.cache_ttl(), std::time::Duration::from_secs(7 * 86_400));
        let out = Config::from_toml("[cache]\ndir = \"../../elsewhere\"\n", path).unwrap();
        let err = out
            .cache_dir(Path::new("/repo/infra"), Path::new("/repo"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cache.dir") && err.contains("leaves the repository"),
            "{err}"
        );
        let bad = Config::from_toml("[cache]\nttl = 3\n", path)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("ttl"), "{bad}");
    }
}
