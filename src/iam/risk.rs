//! Risk flags and ranking from a principal's known policy documents.
//!
//! Syntactic for now (patterns, not the catalog): full admin, IAM write, `iam:PassRole` on `*`,
//! `NotAction` allows.

use super::action::ActionPattern;
use super::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec};
use super::principal::{Principal, RiskFlag};
use std::collections::BTreeSet;

/// IAM action name prefixes that write identities, policies or credentials.
const IAM_WRITE_PREFIXES: &[&str] = &[
    "iam:create",
    "iam:put",
    "iam:attach",
    "iam:update",
    "iam:delete",
    "iam:add",
    "iam:remove",
    "iam:set",
    "iam:detach",
    "iam:upload",
    "iam:tag",
    "iam:untag",
    "iam:enable",
    "iam:deactivate",
    "iam:resync",
    "iam:change",
    "iam:passrole",
    "iam:reset",
];

/// Flags from documents, most severe first.
pub fn flags<'a>(docs: impl Iterator<Item = &'a PolicyDocument>) -> Vec<RiskFlag> {
    let mut out = BTreeSet::new();
    for doc in docs {
        for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let any_resource = match &st.resource {
                Some(ResourceSpec::Resource(r)) => r.values.iter().any(|v| v == "*"),
                Some(ResourceSpec::NotResource(_)) | None => true,
            };
            match &st.action {
                Some(ActionSpec::NotAction(list)) => {
                    out.insert(RiskFlag::NotActionAllow);
                    let excluded: Vec<ActionPattern> =
                        list.values.iter().map(|a| ActionPattern::new(a)).collect();
                    // A NotAction grants IAM write unless its exclusions cover every IAM write
                    // prefix (`iam:*` does), and PassRole unless one of them matches it.
                    let grants_prefix = |prefix: &str| {
                        let all = ActionPattern::new(&format!("{prefix}*"));
                        !excluded.iter().any(|e| all.is_covered_by(e))
                    };
                    if IAM_WRITE_PREFIXES.iter().any(|w| grants_prefix(w)) {
                        out.insert(RiskFlag::IamWrite);
                    }
                    if any_resource && !excluded.iter().any(|e| e.matches("iam:PassRole")) {
                        out.insert(RiskFlag::PassRoleAny);
                    }
                }
                Some(ActionSpec::Action(list)) => {
                    for p in list
                        .values
                        .iter()
                        .filter(|a| may_raise_flag(a))
                        .map(|a| ActionPattern::new(a))
                    {
                        if p.lower() == "*" && any_resource {
                            out.insert(RiskFlag::FullAdmin);
                        }
                        if IAM_WRITE_PREFIXES
                            .iter()
                            .any(|w| p.matches(w) || pattern_overlaps_prefix(&p, w))
                        {
                            out.insert(RiskFlag::IamWrite);
                        }
                        if p.matches("iam:PassRole") && any_resource {
                            out.insert(RiskFlag::PassRoleAny);
                        }
                    }
                }
                None => {}
            }
        }
    }
    out.into_iter().collect()
}

/// False for an action that no check in [`flags`] can flag: a literal (no wildcard) outside `iam:`.
///
/// Such a pattern matches only itself, so it is never `*`, never matches an `iam:` name and overlaps an
/// `iam:` prefix only by starting with it; most actions in real policies are like that, and skipping them
/// saves building a pattern for each.
fn may_raise_flag(action: &str) -> bool {
    let literal = !action.bytes().any(|b| b == b'*' || b == b'?');
    let iam = action
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("iam:"));
    iam || !literal
}

/// True when some action starting with `prefix` matches `p` (e.g. `iam:*`, `iam:Create*`, `iam:CreateRole`).
fn pattern_overlaps_prefix(p: &ActionPattern, prefix: &str) -> bool {
    let lower = p.lower();
    // Compare up to the first wildcard: the literal head must agree with the prefix where both have characters.
    let head_len = lower.find(['*', '?']).unwrap_or(lower.len());
    let head = &lower[..head_len];
    let n = head.len().min(prefix.len());
    head[..n] == prefix[..n] && (head_len < lower.len() || head.len() >= prefix.len())
}

/// Sort key: higher is riskier.
pub fn rank(p: &Principal) -> (u8, u8, u8, u8, usize) {
    let has = |f| u8::from(p.flags.contains(&f));
    (
        has(RiskFlag::FullAdmin),
        has(RiskFlag::NotActionAllow),
        has(RiskFlag::PassRoleAny),
        has(RiskFlag::IamWrite),
        p.policies.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(doc: &str) -> Vec<RiskFlag> {
        flags(std::iter::once(&PolicyDocument::parse_str(doc).unwrap()))
    }

    #[test]
    fn flags_from_documents() {
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            vec![
                RiskFlag::FullAdmin,
                RiskFlag::IamWrite,
                RiskFlag::PassRoleAny
            ]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#),
            vec![]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":"iam:Create*","Resource":"arn:x"}}"#),
            vec![RiskFlag::IamWrite]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}}"#),
            vec![]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}"#),
            vec![RiskFlag::IamWrite, RiskFlag::PassRoleAny]
        );
        assert!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#)
                .contains(&RiskFlag::NotActionAllow)
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#),
            vec![]
        );
        assert_eq!(
            f(
                r#"{"Statement":{"Effect":"Allow","Action":["IAM:createRole","s3:Get*"],"Resource":"*"}}"#
            ),
            vec![RiskFlag::IamWrite]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","Action":["Iam:PassRole"],"Resource":"*"}}"#),
            vec![RiskFlag::IamWrite, RiskFlag::PassRoleAny]
        );
        assert!(!may_raise_flag("s3:GetObject"));
        assert!(!may_raise_flag("ia"));
        assert!(may_raise_flag("s3:Get*"));
        assert!(may_raise_flag("?am:CreateRole"));
        assert!(may_raise_flag("IAM:CreateRole"));
    }

    /// Regression: a `NotAction` that excludes `iam:*` was flagged `iam-write` and `passrole-any`.
    #[test]
    fn not_action_excluding_iam_grants_no_iam_write() {
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#),
            vec![RiskFlag::NotActionAllow]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":["IAM:*","s3:*"],"Resource":"*"}}"#),
            vec![RiskFlag::NotActionAllow]
        );
        // Excluding only part of IAM still grants the rest.
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:Create*","Resource":"*"}}"#),
            vec![
                RiskFlag::IamWrite,
                RiskFlag::PassRoleAny,
                RiskFlag::NotActionAllow
            ]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:PassRole","Resource":"*"}}"#),
            vec![RiskFlag::IamWrite, RiskFlag::NotActionAllow]
        );
        assert_eq!(
            f(r#"{"Statement":{"Effect":"Allow","NotAction":"*","Resource":"*"}}"#),
            vec![RiskFlag::NotActionAllow]
        );
    }
}
