//! What a set of policy documents grants, expanded over the action catalog.

use super::action::ActionPattern;
use super::catalog::Catalog;
use super::policy::{ActionSpec, Effect, PolicyDocument};
use std::collections::BTreeSet;

/// Distinct actions the `Allow` statements of `docs` grant (Deny and conditions are not subtracted):
/// catalog actions by name, patterns the catalog does not know counted once each.
pub fn granted_actions<'a>(
    docs: impl IntoIterator<Item = &'a PolicyDocument>,
    catalog: &Catalog,
) -> usize {
    let mut known: BTreeSet<&str> = BTreeSet::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for doc in docs {
        for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
            match &st.action {
                Some(ActionSpec::Action(list)) => {
                    for p in &list.values {
                        let pattern = ActionPattern::new(p);
                        let hits = catalog.expand(&pattern);
                        if hits.is_empty() {
                            unknown.insert(pattern.lower().to_string());
                        }
                        known.extend(hits.into_iter().map(|a| a.name()));
                    }
                }
                Some(ActionSpec::NotAction(list)) => {
                    let patterns: Vec<ActionPattern> =
                        list.values.iter().map(|p| ActionPattern::new(p)).collect();
                    known.extend(
                        catalog
                            .expand_not_action(&patterns)
                            .into_iter()
                            .map(|a| a.name()),
                    );
                }
                None => {}
            }
        }
    }
    known.len() + unknown.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_expanded_actions() {
        let c = Catalog::embedded();
        let doc = |t: &str| PolicyDocument::parse_str(t).unwrap();
        let a = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:getobject","x:Unknown"],"Resource":"*"}]}"#,
        );
        assert_eq!(granted_actions([&a], c), 2);
        let all = doc(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#);
        assert_eq!(granted_actions([&all, &a], c), c.len() + 1);
        let not = doc(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#);
        assert_eq!(
            granted_actions([&not], c),
            c.len() - c.service_actions("iam").len()
        );
        let deny = doc(r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#);
        assert_eq!(granted_actions([&deny], c), 0);
    }
}
