//! Reading a policy document held in a resource attribute: known JSON, a policy document data source
//! referenced through configuration, or the reason it is unknown.

use crate::iam::discover::facts::DocumentFact;
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::discover::reference::{references_variable, resolve_reference};
use crate::iam::policy::PolicyDocument;
use crate::iam::principal::UnknownReason;
use crate::plan::Expr;
use serde_json::Value;
use std::sync::Arc;

/// The document in `value` (the attribute's value after the plan), with `before` and the config expression.
pub fn document_fact(
    inst: &Instance<'_>,
    index: &PlanIndex<'_>,
    after_value: Option<&Value>,
    before_value: Option<&Value>,
    expr: Option<&Expr>,
    sensitive: bool,
    attribute: &str,
) -> DocumentFact {
    let sources = resolve_reference(index, inst, expr, &["aws_iam_policy_document"]);
    let document_source = sources.first().cloned();
    if sensitive {
        return DocumentFact {
            after: Err(UnknownReason::Sensitive),
            before: None,
            document_source,
        };
    }
    if let Some((part, found)) = inst.malformed.first() {
        return DocumentFact {
            after: Err(UnknownReason::WrongType(format!(
                "`{part}` is {found}, not an object"
            ))),
            before: None,
            document_source,
        };
    }
    // A known value that is not a string (`policy = 42`, an object) is not "computed at apply":
    // the plan is wrong, and says so.
    if let Some(found) = after_value.and_then(wrong_type) {
        return DocumentFact {
            after: Err(UnknownReason::WrongType(format!(
                "`{attribute}` is {found}, not a JSON string"
            ))),
            before: None,
            document_source,
        };
    }
    let before_text = before_value.and_then(Value::as_str);
    let before = before_text.and_then(|t| PolicyDocument::parse_str(t).ok().map(Arc::new));
    if let Some(text) = after_value.and_then(Value::as_str) {
        // A document the plan leaves as it was (most of them, in a plan of existing resources) is
        // parsed once: the same text parses to the same document.
        let after = match &before {
            Some(doc) if before_text == Some(text) => Ok(Arc::clone(doc)),
            _ => PolicyDocument::parse_str(text)
                .map(Arc::new)
                .map_err(|e| UnknownReason::Invalid(e.to_string())),
        };
        return DocumentFact {
            after,
            before,
            document_source,
        };
    }
    if let Some(doc) = sources.iter().find_map(|a| index.documents.get(a)) {
        return DocumentFact {
            after: doc.after.clone(),
            before: before.or_else(|| doc.before.clone()),
            document_source,
        };
    }
    let reason = if references_variable(expr) && sources.is_empty() {
        UnknownReason::FromVariable
    } else {
        UnknownReason::ComputedAtApply
    };
    DocumentFact {
        after: Err(reason),
        before,
        document_source,
    }
}

/// The document of an instance's top-level `policy`-like attribute.
pub fn attribute_document(inst: &Instance<'_>, index: &PlanIndex<'_>, attr: &str) -> DocumentFact {
    let after = inst.after.as_ref().and_then(|v| v.get(attr));
    let before = inst.before.as_ref().and_then(|v| v.get(attr));
    document_fact(
        inst,
        index,
        after.as_ref(),
        before.as_ref(),
        inst.expr(attr),
        inst.is_sensitive(attr),
        attr,
    )
}

/// What a known document value is, when it is not a string (`null` is no value: unknown or unset).
pub fn wrong_type(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null | Value::String(_) => None,
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::Array(_) => Some("a list"),
        Value::Object(_) => Some("an object"),
    }
}
