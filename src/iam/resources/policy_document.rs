//! `data "aws_iam_policy_document"`: the rendered `json` when known, else a document built from its
//! `statement` blocks when every part of them is known.

use super::document::wrong_type;
use crate::iam::discover::facts::{DocumentFact, Facts};
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::iam::policy::PolicyDocument;
use crate::iam::principal::UnknownReason;
use crate::plan::model::Attributes;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Records the data source's document.
pub fn visit(inst: &Instance<'_>, _index: &PlanIndex<'_>, facts: &mut Facts) {
    let after = document(inst, inst.after.as_ref(), true).map(Arc::new);
    let before = inst.before.as_ref().and_then(|b| {
        // The same rendered `json` text as after the plan (as good as always for a data source read
        // again): the same document, without parsing it again.
        match (&after, inst.after.as_ref().and_then(rendered_json)) {
            (Ok(doc), Some(text)) if rendered_json(b) == Some(text) => Some(Arc::clone(doc)),
            _ => document(inst, Some(b), false).ok().map(Arc::new),
        }
    });
    facts.documents.insert(
        inst.address.to_string(),
        DocumentFact {
            after,
            before,
            document_source: Some(inst.address.to_string()),
        },
    );
}

/// The raw text of the `json` attribute when it is a JSON string.
fn rendered_json<'p>(values: &Attributes<'p>) -> Option<&'p str> {
    values
        .raw("json")
        .map(|r| r.get())
        .filter(|t| t.starts_with('"'))
}

fn document(
    inst: &Instance<'_>,
    values: Option<&Attributes<'_>>,
    is_after: bool,
) -> Result<PolicyDocument, UnknownReason> {
    // The rendered JSON holds what the statements and merged documents hold: a mark on any of
    // them, before or after, hides the document.
    let parts = [
        "json",
        "statement",
        "source_json",
        "override_json",
        "source_policy_documents",
        "override_policy_documents",
    ];
    if parts.iter().any(|p| inst.is_sensitive(p)) {
        return Err(UnknownReason::Sensitive);
    }
    if let Some((part, found)) = inst.malformed.first() {
        return Err(UnknownReason::WrongType(format!(
            "`{part}` is {found}, not an object"
        )));
    }
    let values = values.ok_or(UnknownReason::ComputedAtApply)?;
    // A rendered `json` that is not a string is a wrong value, not one computed at apply.
    let json_kind = values
        .raw("json")
        .and_then(|r| match r.get().as_bytes().first() {
            Some(b'"' | b'n') | None => None,
            Some(_) => serde_json::from_str::<Value>(r.get()).ok(),
        });
    if let Some(found) = json_kind.as_ref().and_then(wrong_type) {
        return Err(UnknownReason::WrongType(format!(
            "`json` is {found}, not a JSON string"
        )));
    }
    // Attributes are decoded one at a time: the rendered `json` is usually all that is needed.
    if let Some(text) = values.get_str("json") {
        return PolicyDocument::parse_str(&text).map_err(|e| UnknownReason::Invalid(e.to_string()));
    }
    // Not rendered yet (read deferred to apply): build from the statements if all of them are known.
    let merges = [
        "source_json",
        "override_json",
        "source_policy_documents",
        "override_policy_documents",
    ];
    let has_merge = merges.iter().any(|k| match values.get(k).as_ref() {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }) || (is_after && merges.iter().any(|k| inst.is_unknown(k)));
    if has_merge || (is_after && inst.is_unknown("statement")) {
        return Err(UnknownReason::ComputedAtApply);
    }
    let statement_value = values.get("statement");
    let statements = statement_value
        .as_ref()
        .and_then(Value::as_array)
        .ok_or(UnknownReason::ComputedAtApply)?;
    let mut out = Vec::with_capacity(statements.len());
    for st in statements {
        out.push(statement_json(st).ok_or(UnknownReason::ComputedAtApply)?);
    }
    let mut doc = Map::new();
    doc.insert(
        "Version".into(),
        json!(
            values
                .get_str("version")
                .unwrap_or_else(|| "2012-10-17".to_string())
        ),
    );
    if let Some(id) = values.get_str("policy_id") {
        doc.insert("Id".into(), json!(id));
    }
    doc.insert("Statement".into(), Value::Array(out));
    PolicyDocument::from_value(&Value::Object(doc))
        .map_err(|e| UnknownReason::Invalid(e.to_string()))
}

/// One `statement` block as IAM JSON, in the provider's key order; `None` when a part is unknown.
fn statement_json(st: &Value) -> Option<Value> {
    let mut out = Map::new();
    let strings = |k: &str| -> Option<Option<Vec<String>>> {
        match st.get(k) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Array(a)) => {
                let v: Option<Vec<String>> =
                    a.iter().map(|x| x.as_str().map(str::to_string)).collect();
                v.map(Some)
            }
            Some(_) => None,
        }
    };
    if let Some(sid) = st
        .get("sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        out.insert("Sid".into(), json!(sid));
    }
    out.insert(
        "Effect".into(),
        json!(st.get("effect").and_then(Value::as_str).unwrap_or("Allow")),
    );
    let one_or_many = |v: Vec<String>| if v.len() == 1 { json!(v[0]) } else { json!(v) };
    for (key, name) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(v) = strings(key)? {
            if !v.is_empty() {
                out.insert(name.into(), one_or_many(v));
            }
        }
    }
    for (key, name) in [
        ("principals", "Principal"),
        ("not_principals", "NotPrincipal"),
    ] {
        let Some(blocks) = st.get(key).and_then(Value::as_array) else {
            continue;
        };
        if blocks.is_empty() {
            continue;
        }
        let mut p = Map::new();
        for b in blocks {
            let t = b.get("type")?.as_str()?;
            let ids: Option<Vec<String>> = b
                .get("identifiers")?
                .as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect();
            p.insert(t.to_string(), one_or_many(ids?));
        }
        out.insert(name.into(), Value::Object(p));
    }
    if let Some(conds) = st
        .get("condition")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    {
        let mut c = Map::new();
        for cond in conds {
            let test = cond.get("test")?.as_str()?;
            let variable = cond.get("variable")?.as_str()?;
            let values: Option<Vec<String>> = cond
                .get("values")?
                .as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect();
            let entry = c
                .entry(test.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            entry
                .as_object_mut()?
                .insert(variable.to_string(), one_or_many(values?));
        }
        out.insert("Condition".into(), Value::Object(c));
    }
    Some(Value::Object(out))
}
