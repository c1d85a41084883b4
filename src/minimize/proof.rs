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
use std::cell::OnceCell;
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
    for c in current
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        match groups.iter_mut().find(|g| same_scope(g.statements[0], c)) {
            Some(group) => group.add(c),
            None => {
                let mut group = Group::default();
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
        let Some(group) = groups.iter_mut().find(|g| same_scope(st, g.statements[0])) else {
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
            if !group.covers_next(text) {
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
    /// The texts of their `Action` lists, in order, statement after statement.
    texts: Vec<&'a str>,
    /// Where in `texts` the last literal [`Group::covers_next`] found sits, plus one.
    cursor: usize,
    /// Literal patterns of their `Action` lists; built on first need (see `covers_next`).
    literals: OnceCell<HashSet<Caseless<'a>, foldhash::fast::RandomState>>,
    /// Wildcard patterns of their `Action` lists.
    wildcards: Vec<ActionPattern>,
    /// Their `NotAction` lists.
    not_actions: Vec<Vec<ActionPattern>>,
}

/// How far past the last literal found [`Group::covers_next`] looks for the next one.
const LOOK_AHEAD: usize = 16;

impl<'a> Group<'a> {
    fn add(&mut self, st: &'a Statement) {
        self.statements.push(st);
        match &st.action {
            Some(ActionSpec::Action(l)) => {
                for text in &l.values {
                    self.texts.push(text);
                    if has_wildcard(text) {
                        self.wildcards.push(ActionPattern::new(text));
                    }
                }
            }
            Some(ActionSpec::NotAction(l)) => self
                .not_actions
                .push(l.values.iter().map(|t| ActionPattern::new(t)).collect()),
            None => {}
        }
    }

    /// [`Group::covers`], asked for the texts of the suggested statements in order.
    ///
    /// A suggestion keeps the literals it keeps in their authors' order and spelling, so the next
    /// literal asked is usually a little further on in the group's texts: found there, it is
    /// covered by an equal literal, the first way [`Group::covers`] allows, without hashing every
    /// literal of the document into a set. Anything else is decided by [`Group::covers`] itself.
    fn covers_next(&mut self, text: &str) -> bool {
        if !has_wildcard(text) {
            let ahead = &self.texts[self.cursor.min(self.texts.len())..];
            if let Some(k) = ahead.iter().take(LOOK_AHEAD).position(|t| *t == text) {
                self.cursor += k + 1;
                return true;
            }
        }
        self.covers(text)
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
        // none of whose patterns match it. The set of literals is asked last: a literal a
        // wildcard expanded to is settled by the wildcard, and the set is then never built.
        self.wildcards.iter().any(|q| q.matches(text))
            || self
                .not_actions
                .iter()
                .any(|excluded| !excluded.iter().any(|q| q.matches(text)))
            || self
                .literals
                .get_or_init(|| {
                    let literals = self.texts.iter().filter(|t| !has_wildcard(t));
                    let mut set = HashSet::with_capacity_and_hasher(
                        literals.clone().count(),
                        Default::default(),
                    );
                    set.extend(literals.map(|t| Caseless(t)));
                    set
                })
                .contains(&Caseless(text))
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

    /// Literals are found ahead of the last one found, or else in the whole scope: out of order,
    /// in another case, in another statement of the scope, or far past the look-ahead; a literal
    /// no statement of the scope has is refused wherever the search stands.
    #[test]
    fn literals_are_covered_in_any_order_and_case_and_nothing_else_is() {
        let c = Catalog::embedded();
        let many: Vec<String> = (0..3 * LOOK_AHEAD)
            .map(|i| format!("a:Action{i}"))
            .collect();
        let current = doc(&format!(
            r#"{{"Statement":[
                {{"Effect":"Allow","Action":{},"Resource":"*"}},
                {{"Effect":"Allow","Action":["b:Other","c:*"],"Resource":"*"}},
                {{"Effect":"Allow","Action":["d:Elsewhere"],"Resource":"arn:aws:s3:::x"}}]}}"#,
            serde_json::json!(many)
        ));
        let suggested = |actions: &[&str]| {
            doc(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":{},"Resource":"*"}}]}}"#,
                serde_json::json!(actions)
            ))
        };
        let last = many.last().unwrap().as_str();
        for ok in [
            vec!["a:Action0", last],
            vec![last, "a:Action0", "b:Other"],
            vec!["b:Other", "A:ACTION3", "a:Action2", "c:Anything"],
            vec!["a:Action1", "a:Action1"],
        ] {
            assert_eq!(
                grants_no_more(&suggested(&ok), &current, c),
                Ok(()),
                "{ok:?}"
            );
        }
        for (bad, pattern) in [
            (vec!["a:Action0", "a:Action1", "a:Missing"], "a:Missing"),
            (vec![last, "d:Elsewhere"], "d:Elsewhere"),
            (vec!["a:Action0", "a:Action0x"], "a:Action0x"),
        ] {
            let err = grants_no_more(&suggested(&bad), &current, c).unwrap_err();
            assert_eq!(err.pattern.as_deref(), Some(pattern), "{bad:?}");
        }
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
