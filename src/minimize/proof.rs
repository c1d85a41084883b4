//! The containment proof: a suggested document never allows what the current one does not.
//!
//! Statement-wise, because the minimizer only shrinks `Action` lists: every suggested `Allow` must
//! match a current `Allow` with the same Effect, Principal, Resource, Condition and unknown keys,
//! and each of its action patterns must be covered by that statement's `Action` (or escape its
//! `NotAction`); every current `Deny` must still be there unchanged. Coverage is syntactic, so it
//! holds for actions the catalog does not know too; the catalog only supplies a concrete
//! counterexample action when a pattern is not covered.

use crate::iam::action::{ActionPattern, Caseless, has_wildcard};
use crate::iam::catalog::Catalog;
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, Statement};
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;

/// Why a suggested document may grant more than the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterexample {
    /// Index of the offending statement (in the suggested document; in the current one for a
    /// Deny that went missing).
    pub statement: usize,
    /// The pattern not covered, when the problem is an action.
    pub pattern: Option<String>,
    /// A concrete catalog action the suggestion allows and the current statement does not.
    pub action: Option<String>,
    /// What is wrong, as a sentence.
    pub reason: String,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement {}: {}", self.statement, self.reason)?;
        if let Some(a) = &self.action {
            write!(f, " (e.g. `{a}`)")?;
        }
        Ok(())
    }
}

/// Proves `suggested` allows nothing `current` does not, or returns a counterexample.
pub fn grants_no_more(
    suggested: &PolicyDocument,
    current: &PolicyDocument,
    catalog: &Catalog,
) -> Result<(), Counterexample> {
    // Removing a Deny can only grant more; adding one can only grant less.
    for (i, deny) in current
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Deny)
    {
        if !suggested.statements.iter().any(|s| s == deny) {
            return Err(Counterexample {
                statement: i,
                pattern: None,
                action: None,
                reason: "a Deny statement of the current policy is missing or changed".to_string(),
            });
        }
    }
    // The current Allow statements grouped by scope. A suggested statement may take each pattern
    // from any statement of its scope (they share it, so their union is what the current document
    // allows there), so each group's action elements are prepared together, once.
    let mut groups: Vec<Group<'_>> = Vec::new();
    // Sized once for every literal: growing the sets as statements come would rehash them.
    let literals: usize = current
        .statements
        .iter()
        .map(|s| match &s.action {
            Some(ActionSpec::Action(l)) => l.values.len(),
            _ => 0,
        })
        .sum();
    for c in current
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        match groups.iter_mut().find(|g| same_scope(g.statements[0], c)) {
            Some(group) => group.add(c),
            None => {
                let mut group = Group {
                    literals: HashSet::with_capacity_and_hasher(literals, Default::default()),
                    ..Group::default()
                };
                group.add(c);
                groups.push(group);
            }
        }
    }
    for (i, st) in suggested
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Allow)
    {
        let Some(group) = groups.iter().find(|g| same_scope(st, g.statements[0])) else {
            return Err(Counterexample {
                statement: i,
                pattern: None,
                action: None,
                reason: "no current Allow statement has the same Principal, Resource and Condition"
                    .to_string(),
            });
        };
        if group.statements.iter().any(|c| c.action == st.action) {
            continue;
        }
        let Some(ActionSpec::Action(list)) = &st.action else {
            return Err(Counterexample {
                statement: i,
                pattern: None,
                action: None,
                reason: "a changed statement must use an explicit Action list".to_string(),
            });
        };
        for text in &list.values {
            if !group.covers(text) {
                let pattern = ActionPattern::new(text);
                let action = catalog
                    .expand(&pattern)
                    .into_iter()
                    .find(|info| {
                        !group.statements.iter().any(|c| {
                            c.action
                                .as_ref()
                                .is_some_and(|a| spec_allows(a, info.name()))
                        })
                    })
                    .map(|info| info.name().to_string());
                return Err(Counterexample {
                    statement: i,
                    pattern: Some(text.clone()),
                    action,
                    reason: format!("`{text}` is not covered by the current statement's actions"),
                });
            }
        }
    }
    Ok(())
}

/// Current `Allow` statements of one scope, with their action elements ready for many coverage
/// questions.
#[derive(Default)]
struct Group<'a> {
    statements: Vec<&'a Statement>,
    /// Literal patterns of their `Action` lists.
    literals: HashSet<Caseless<'a>, foldhash::fast::RandomState>,
    /// Wildcard patterns of their `Action` lists.
    wildcards: Vec<ActionPattern>,
    /// Their `NotAction` lists.
    not_actions: Vec<Vec<ActionPattern>>,
}

impl<'a> Group<'a> {
    fn add(&mut self, st: &'a Statement) {
        self.statements.push(st);
        match &st.action {
            Some(ActionSpec::Action(l)) => {
                for text in &l.values {
                    if has_wildcard(text) {
                        self.wildcards.push(ActionPattern::new(text));
                    } else {
                        self.literals.insert(Caseless(text));
                    }
                }
            }
            Some(ActionSpec::NotAction(l)) => self
                .not_actions
                .push(l.values.iter().map(|t| ActionPattern::new(t)).collect()),
            None => {}
        }
    }

    /// True when every action the pattern `text` can match (known to the catalog or not) is
    /// allowed by one of the statements.
    fn covers(&self, text: &str) -> bool {
        if has_wildcard(text) {
            // Only a wildcard can cover a wildcard (`pattern_within` never lets a literal do it);
            // under a NotAction a wildcard might overlap an excluded pattern in ways not worth
            // deciding, so it is refused.
            let pattern = ActionPattern::new(text);
            return self.wildcards.iter().any(|q| pattern_within(&pattern, q));
        }
        // A literal is covered by an equal literal, a matching wildcard, or a NotAction list
        // none of whose patterns match it.
        self.literals.contains(&Caseless(text))
            || self.wildcards.iter().any(|q| q.matches(text))
            || self
                .not_actions
                .iter()
                .any(|excluded| !excluded.iter().any(|q| q.matches(text)))
    }
}

/// Same Effect, Principal, Resource, Condition and unknown keys (Sid does not change what is allowed).
fn same_scope(a: &Statement, b: &Statement) -> bool {
    a.effect == b.effect
        && a.principal == b.principal
        && a.resource == b.resource
        && a.condition == b.condition
        && a.extra == b.extra
}

/// True when the action element allows the concrete action `action`.
fn spec_allows(spec: &ActionSpec, action: &str) -> bool {
    match spec {
        ActionSpec::Action(l) => l
            .values
            .iter()
            .any(|p| ActionPattern::new(p).matches(action)),
        ActionSpec::NotAction(l) => !l
            .values
            .iter()
            .any(|p| ActionPattern::new(p).matches(action)),
    }
}

/// True when every string `p` matches is matched by `q` (sound, not complete).
fn pattern_within(p: &ActionPattern, q: &ActionPattern) -> bool {
    if !p.is_wildcard() {
        return q.matches(p.lower());
    }
    if p.is_covered_by(q) {
        return true;
    }
    // `q` = `head*`: every match of `p` starts with `p`'s literal head, which starts with `head`.
    let (Some(q_head), p_lower) = (q.lower().strip_suffix('*'), p.lower()) else {
        return false;
    };
    if q_head.contains(['*', '?']) {
        return false;
    }
    let p_head = &p_lower[..p_lower.find(['*', '?']).unwrap_or(p_lower.len())];
    p_head.starts_with(q_head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse_str(text).unwrap()
    }

    #[test]
    fn pattern_containment_is_sound() {
        let p = ActionPattern::new;
        assert!(pattern_within(&p("s3:*Object"), &p("s3:*")));
        assert!(pattern_within(&p("s3:Get*Acl"), &p("s3:Get*")));
        assert!(!pattern_within(&p("s3:*Object"), &p("s3:Get*")));
        assert!(!pattern_within(&p("s3*:Get"), &p("s3:*")));
        assert!(pattern_within(&p("S3:GETOBJECT"), &p("s3:get*")));
        assert!(!pattern_within(&p("*"), &p("s3:*")));
    }

    #[test]
    fn counterexample_names_an_action() {
        let c = Catalog::embedded();
        let current =
            doc(r#"{"Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#);
        let wider = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#,
        );
        let err = grants_no_more(&wider, &current, c).unwrap_err();
        assert_eq!(err.pattern.as_deref(), Some("s3:PutObject"));
        assert_eq!(err.action.as_deref(), Some("s3:PutObject"));

        let wildcard =
            doc(r#"{"Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#);
        let err = grants_no_more(&wildcard, &current, c).unwrap_err();
        assert!(err.action.is_some_and(|a| !a.starts_with("s3:Get")));
    }

    #[test]
    fn scope_and_denies_must_survive() {
        let c = Catalog::embedded();
        let current = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
        );
        let other_resource = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
        );
        assert!(
            grants_no_more(&other_resource, &current, c)
                .unwrap_err()
                .reason
                .contains("same Principal")
        );
        let no_deny = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        assert!(
            grants_no_more(&no_deny, &current, c)
                .unwrap_err()
                .reason
                .contains("Deny")
        );
        let ok = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#,
        );
        assert_eq!(grants_no_more(&ok, &current, c), Ok(()));
    }

    #[test]
    fn not_action_covers_only_escaping_literals() {
        let c = Catalog::embedded();
        let current =
            doc(r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}]}"#);
        let ok = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","custom:Thing"],"Resource":"*"}]}"#,
        );
        assert_eq!(grants_no_more(&ok, &current, c), Ok(()));
        let bad =
            doc(r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole"],"Resource":"*"}]}"#);
        assert!(grants_no_more(&bad, &current, c).is_err());
        let wildcard =
            doc(r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*"],"Resource":"*"}]}"#);
        assert!(
            grants_no_more(&wildcard, &current, c).is_err(),
            "wildcards under NotAction are refused"
        );
    }
}
