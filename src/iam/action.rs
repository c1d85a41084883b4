//! Action patterns: `service:Name` with `*` and `?` wildcards, matched case-insensitively as IAM does.

use std::fmt;
use std::hash::{Hash, Hasher};

/// An action name (or pattern) hashed and compared ignoring ASCII case, so set lookups need no
/// lower-cased copy.
#[derive(Debug, Clone, Copy)]
pub struct Caseless<'a>(pub &'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}
impl Eq for Caseless<'_> {}
impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Lower-cased a chunk at a time: one `write` per chunk instead of one per byte.
        let mut buf = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(buf.len()) {
            let lower = &mut buf[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
        state.write_u8(0xff);
    }
}

/// One pattern from an `Action` / `NotAction` list, e.g. `s3:Get*`, `*`, `ec2:Describe?nstances`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionPattern {
    /// Lower-cased text, the form every comparison uses.
    lower: String,
    /// The author's spelling, for printing.
    original: String,
}

impl ActionPattern {
    /// Wraps a pattern as written in a policy.
    pub fn new(text: &str) -> Self {
        ActionPattern {
            lower: text.to_ascii_lowercase(),
            original: text.to_string(),
        }
    }

    /// The pattern as the author wrote it.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lower-cased pattern.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// True when the pattern has a `*` or `?`.
    pub fn is_wildcard(&self) -> bool {
        has_wildcard(&self.lower)
    }

    /// The service prefix (`s3` for `s3:Get*`); `None` for `*` or a pattern without a colon.
    pub fn service(&self) -> Option<&str> {
        let (service, _) = self.lower.split_once(':')?;
        (!service.contains(['*', '?'])).then_some(service)
    }

    /// True when this pattern matches the concrete action `action` (any case).
    pub fn matches(&self, action: &str) -> bool {
        glob_match_ci(self.lower.as_bytes(), action.as_bytes())
    }

    /// True when every action this pattern matches is also matched by `other` (a sound, syntactic check).
    ///
    /// Exact for patterns without wildcards; for wildcards it answers true only when `other` is `*`,
    /// equal, or a prefix glob (`svc:Get*`) that covers this pattern's literal prefix and the pattern
    /// is itself a prefix glob. Callers that need more precision expand against the catalog.
    pub fn is_covered_by(&self, other: &ActionPattern) -> bool {
        if !self.is_wildcard() {
            return other.matches(&self.lower);
        }
        if other.lower == "*" || other.lower == self.lower {
            return true;
        }
        match (prefix_glob(&other.lower), prefix_glob(&self.lower)) {
            (Some(op), Some(sp)) => sp.starts_with(op),
            _ => false,
        }
    }
}

/// `abc*` -> `Some("abc")` when the only wildcard is one trailing `*`.
fn prefix_glob(p: &str) -> Option<&str> {
    let head = p.strip_suffix('*')?;
    (!head.contains(['*', '?'])).then_some(head)
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// Calls `f` with `text` lower-cased (ASCII), without allocating for text of usual length.
pub fn with_ascii_lowercase<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 128];
    match buf.get_mut(..text.len()) {
        Some(lower) => {
            lower.copy_from_slice(text.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid.
            f(std::str::from_utf8(lower).expect("ASCII lower-casing keeps UTF-8 valid"))
        }
        None => f(&text.to_ascii_lowercase()),
    }
}

/// True when `text` has a `*` or `?`: a pattern rather than one action. (A byte scan: faster than
/// `str::contains` with a char set for these short strings.)
pub fn has_wildcard(text: &str) -> bool {
    text.bytes().any(|b| b == b'*' || b == b'?')
}

/// Glob match where `pattern` is already lower case and `text` is compared case-insensitively.
/// Iterative with one backtrack point, so it is linear-ish and never recurses.
pub fn glob_match_ci(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                c if c == text[t].to_ascii_lowercase() => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_case_insensitively_with_wildcards() {
        assert!(ActionPattern::new("s3:Get*").matches("s3:GetObject"));
        assert!(ActionPattern::new("S3:get*").matches("s3:GETOBJECT"));
        assert!(ActionPattern::new("*").matches("iam:PassRole"));
        assert!(ActionPattern::new("ec2:Describe?nstances").matches("ec2:DescribeInstances"));
        assert!(!ActionPattern::new("ec2:Describe?nstances").matches("ec2:DescribeInstance"));
        assert!(!ActionPattern::new("s3:Get*").matches("s3:PutObject"));
        assert!(ActionPattern::new("s3:*Object*").matches("s3:PutObjectAcl"));
        assert!(!ActionPattern::new("s3:*Object").matches("s3:PutObjectAcl"));
        assert!(ActionPattern::new("*:Get*").matches("dynamodb:GetItem"));
    }

    #[test]
    fn coverage_is_sound() {
        let p = ActionPattern::new;
        assert!(p("s3:GetObject").is_covered_by(&p("s3:Get*")));
        assert!(p("s3:GetObject*").is_covered_by(&p("s3:Get*")));
        assert!(!p("s3:Get*").is_covered_by(&p("s3:GetObject*")));
        assert!(p("s3:Get*").is_covered_by(&p("*")));
        assert!(!p("s3:*Object").is_covered_by(&p("s3:Get*")));
    }

    #[test]
    fn service_prefix() {
        assert_eq!(ActionPattern::new("S3:Get*").service(), Some("s3"));
        assert_eq!(ActionPattern::new("*").service(), None);
        assert_eq!(ActionPattern::new("s*:Get").service(), None);
    }
}
