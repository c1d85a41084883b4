//! What a plan marks sensitive in one instance ([`Marks`]), and the path of a value inside it
//! ([`Step`]) that [`Marks::covers`] answers for.

use crate::plan::model;
use serde_json::Value;
use serde_json::value::RawValue;

/// One step into a value: an object key or a list position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// An attribute or object key.
    Key(&'a str),
    /// A position in a list (or a set, in the plan's order).
    Index(usize),
}

/// What the plan marks sensitive in one instance: each of `after_sensitive` and `before_sensitive`
/// (or a values tree's `sensitive_values`), decoded.
///
/// A mark is a tree shaped like the value: `true` at a node makes everything under it sensitive,
/// whatever the depth (`true` for the whole object, `{"inline_policy": true}`,
/// `{"inline_policy": [true]}`, `{"inline_policy": [{"policy": true}]}` all cover an inline
/// policy's document). One walk ([`Marks::covers`]) answers for every shape; a mark that does not
/// line up with the path (a list where an object was expected, a position past its end) covers
/// the whole node, so a misread shape hides a value rather than showing it.
#[derive(Debug, Default, Clone)]
pub struct Marks(Vec<Value>);

impl Marks {
    /// Marks from raw sensitivity values (`null`, `false` and absent ones mark nothing).
    pub fn of<'a>(raws: impl IntoIterator<Item = &'a Option<Box<RawValue>>>) -> Self {
        Marks(
            raws.into_iter()
                .filter_map(model::decode)
                .filter(any_true)
                .collect(),
        )
    }

    /// True when the value at `path`, or anything under it, is marked sensitive.
    pub fn covers(&self, path: &[Step<'_>]) -> bool {
        self.0.iter().any(|mark| covers(mark, path))
    }

    /// Adds `other`'s marks: what either marks stays marked.
    pub(super) fn extend(&mut self, other: Marks) {
        self.0.extend(other.0);
    }
}

/// True when `mark` (a tree shaped like the value) marks the value at `path` or anything under it.
pub(super) fn covers(mark: &Value, path: &[Step<'_>]) -> bool {
    let mut node = mark;
    for step in path {
        if node == &Value::Bool(true) {
            return true;
        }
        node = match (step, node) {
            (Step::Key(k), Value::Object(o)) => match o.get(*k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(i), Value::Array(a)) => match a.get(*i) {
                Some(v) => v,
                None => return any_true(node),
            },
            // `false`, `null`, `{}` mark nothing; any other mismatch is a shape not understood.
            _ => return any_true(node),
        };
    }
    any_true(node)
}

/// True when any leaf of `v` is `true`.
pub(super) fn any_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(any_true),
        Value::Object(o) => o.values().any(any_true),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sensitive_mark_covers_everything_under_it_whatever_its_shape() {
        let path = [
            Step::Key("inline_policy"),
            Step::Index(1),
            Step::Key("policy"),
        ];
        let marks = |v: Value| Marks(vec![v]);
        for (mark, covered) in [
            (serde_json::json!(true), true),
            (serde_json::json!({"inline_policy": true}), true),
            (serde_json::json!({"inline_policy": [false, true]}), true),
            (
                serde_json::json!({"inline_policy": [{}, {"policy": true}]}),
                true,
            ),
            // A mark that does not line up hides rather than shows.
            (serde_json::json!({"inline_policy": [{}]}), false),
            (serde_json::json!({"inline_policy": [true]}), true),
            (serde_json::json!({"inline_policy": {"policy": true}}), true),
            // Marks elsewhere cover nothing here.
            (
                serde_json::json!({"inline_policy": [true, {"name": true}]}),
                false,
            ),
            (serde_json::json!({"tags": true}), false),
            (serde_json::json!({}), false),
        ] {
            assert_eq!(marks(mark.clone()).covers(&path), covered, "{mark}");
        }
        // An attribute covers what is marked anywhere inside it.
        assert!(
            marks(serde_json::json!({"inline_policy": [{}, {"policy": true}]}))
                .covers(&[Step::Key("inline_policy")])
        );
        // Either side's mark counts.
        let both = Marks(vec![
            serde_json::json!({}),
            serde_json::json!({"policy": true}),
        ]);
        assert!(both.covers(&[Step::Key("policy")]));
    }
}
