//! Policy JSON text (heredocs, quoted strings, `.json` files) rewritten in the author's layout.
//!
//! The statements change as the edit says (a kept list over `STATEMENT_ACTION_CAP` as several
//! statements); the text is printed back compact when it was on one line,
//! otherwise pretty with the author's indent unit and base indentation. Key order is kept.

use crate::emit::terraform::edit::StatementChange;
use crate::iam::policy::{ActionSpec, PolicyDocument};
use crate::minimize::size::{STATEMENT_ACTION_CAP, split_statement};
use serde_json::Value;

/// Applies `changes` (one per statement) to a document; a `SetActions` of more than
/// [`STATEMENT_ACTION_CAP`] actions becomes several statements ([`split_statement`]).
pub fn apply_changes(
    doc: &PolicyDocument,
    changes: &[StatementChange],
) -> Result<PolicyDocument, String> {
    if doc.statements.len() != changes.len() {
        return Err(format!(
            "{} statements here, {} in the plan",
            doc.statements.len(),
            changes.len()
        ));
    }
    if !changes.is_empty() && changes.iter().all(|c| *c == StatementChange::Remove) {
        return Err("every statement would be removed; delete the policy instead".to_string());
    }
    let mut out = doc.clone();
    out.statements.clear();
    for (statement, change) in doc.statements.iter().zip(changes) {
        match change {
            StatementChange::Keep => out.statements.push(statement.clone()),
            StatementChange::Remove => {}
            // A kept list over the cap is written as several statements of the same scope,
            // exactly as the minimizer's suggestion lists them.
            StatementChange::SetActions(actions) if actions.len() > STATEMENT_ACTION_CAP => {
                out.statements.extend(split_statement(statement, actions));
                out.single_statement = false;
            }
            StatementChange::SetActions(actions) => {
                let was_single = match &statement.action {
                    Some(ActionSpec::Action(l) | ActionSpec::NotAction(l)) => l.single,
                    None => false,
                };
                let mut st = statement.clone();
                st.set_actions(actions.clone());
                // An author who wrote one bare string keeps that form while one action remains.
                if let Some(ActionSpec::Action(list)) = &mut st.action {
                    list.single = was_single && actions.len() == 1;
                }
                out.statements.push(st);
            }
        }
    }
    Ok(out)
}

/// Rewrites policy JSON `text`; returns the new text (equal to `text` when nothing changes).
pub fn rewrite(text: &str, changes: &[StatementChange]) -> Result<String, String> {
    if changes.iter().all(|c| *c == StatementChange::Keep) {
        return Ok(text.to_string());
    }
    let doc = PolicyDocument::parse_str(text).map_err(|e| format!("policy JSON: {e}"))?;
    let new = apply_changes(&doc, changes)?;
    Ok(render_like(text, &new))
}

/// Prints `doc` in the layout of `original`.
pub fn render_like(original: &str, doc: &PolicyDocument) -> String {
    let trimmed = original.trim_end_matches([' ', '\t']);
    let trailing_newline = if trimmed.ends_with("\r\n") {
        "\r\n"
    } else if trimmed.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    let body = original.trim();
    if !body.contains('\n') {
        return format!(
            "{}{}{trailing_newline}",
            leading_whitespace(original),
            doc.to_json()
        );
    }
    let crlf = original.contains("\r\n");
    let lines: Vec<&str> = original.lines().filter(|l| !l.trim().is_empty()).collect();
    let base = lines.first().map(|l| leading_whitespace(l)).unwrap_or("");
    // The indent unit: the first line indented deeper than the base, minus the base.
    let unit = lines
        .iter()
        .map(|l| leading_whitespace(l))
        .find(|ws| ws.len() > base.len() && ws.starts_with(base))
        .map(|ws| ws[base.len()..].to_string())
        .unwrap_or_else(|| "  ".to_string());
    let inline_lists = has_inline_string_list(original);
    let mut pretty = String::new();
    write_pretty(&doc.to_value(), &unit, 0, inline_lists, &mut pretty);
    let newline = if crlf { "\r\n" } else { "\n" };
    let mut out: Vec<String> = pretty.lines().map(|l| format!("{base}{l}")).collect();
    if let Some(first) = out.first_mut() {
        // Whatever preceded the first line (blank lines) stays.
        let lead_len = original.len() - original.trim_start().len();
        let lead = &original[..lead_len];
        let lead_lines = &lead[..lead.rfind('\n').map_or(0, |i| i + 1)];
        *first = format!("{lead_lines}{first}");
    }
    format!("{}{trailing_newline}", out.join(newline))
}

/// True when the author wrote a list of strings on one line, e.g. `"Action": ["a", "b"],`.
fn has_inline_string_list(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        t.contains("[\"") && (t.ends_with(']') || t.ends_with("],"))
    })
}

/// Pretty JSON with `unit` indentation; lists of scalars on one line when `inline_lists`.
fn write_pretty(value: &Value, unit: &str, level: usize, inline_lists: bool, out: &mut String) {
    let pad = |n: usize| unit.repeat(n);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, v)) in map.iter().enumerate() {
                out.push_str(&pad(level + 1));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_pretty(v, unit, level + 1, inline_lists, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            let scalars = items.iter().all(|v| !v.is_array() && !v.is_object());
            if scalars && inline_lists {
                let parts: Vec<String> = items.iter().map(Value::to_string).collect();
                out.push_str(&format!("[{}]", parts.join(", ")));
                return;
            }
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad(level + 1));
                write_pretty(v, unit, level + 1, inline_lists, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn leading_whitespace(line: &str) -> &str {
    let end = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(actions: &[&str]) -> StatementChange {
        StatementChange::SetActions(actions.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn keeps_compact_text_compact() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#;
        let out = rewrite(text, &[set(&["s3:GetObject"])]).unwrap();
        assert_eq!(
            out,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}"#
        );
    }

    #[test]
    fn keeps_four_space_indent_and_base_indent() {
        let text = "    {\n        \"Statement\": [\n            {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"},\n            {\"Effect\": \"Allow\", \"Action\": \"ec2:*\", \"Resource\": \"*\"}\n        ]\n    }\n";
        let out = rewrite(text, &[set(&["s3:GetObject"]), StatementChange::Remove]).unwrap();
        assert_eq!(
            out,
            "    {\n        \"Statement\": [\n            {\n                \"Effect\": \"Allow\",\n                \"Action\": \"s3:GetObject\",\n                \"Resource\": \"*\"\n            }\n        ]\n    }\n"
        );
    }

    #[test]
    fn refuses_statement_count_mismatch_and_removing_everything() {
        let text = r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}]}"#;
        assert!(
            rewrite(text, &[StatementChange::Keep, StatementChange::Remove])
                .unwrap_err()
                .contains("1 statements here, 2")
        );
        assert!(
            rewrite(text, &[StatementChange::Remove])
                .unwrap_err()
                .contains("every statement")
        );
    }

    #[test]
    fn a_kept_list_over_the_cap_is_written_as_statements_after_its_own() {
        // Regression (issue 14): heredoc and JSON-file patches set 151 actions on one statement.
        let actions: Vec<String> = (0..151).map(|i| format!("s3:Act{i:03}")).collect();
        let text = "{\n  \"Statement\": {\"Sid\": \"All\", \"Effect\": \"Allow\", \"NotAction\": \"iam:*\", \"Resource\": \"*\"}\n}\n";
        let out = rewrite(text, &[StatementChange::SetActions(actions.clone())]).unwrap();
        // The author wrote no inline list, so lists are one item a line.
        let quoted = |list: &[String]| {
            let lines: Vec<String> = list.iter().map(|a| format!("        {a:?}")).collect();
            format!("\n{}\n      ", lines.join(",\n"))
        };
        assert_eq!(
            out,
            format!(
                "{{\n  \"Statement\": [\n    {{\n      \"Sid\": \"All\",\n      \"Effect\": \"Allow\",\n      \"Action\": [{}],\n      \"Resource\": \"*\"\n    }},\n    {{\n      \"Sid\": \"AllPart2\",\n      \"Effect\": \"Allow\",\n      \"Action\": [{}],\n      \"Resource\": \"*\"\n    }}\n  ]\n}}\n",
                quoted(&actions[..150]),
                quoted(&actions[150..])
            )
        );
    }

    #[test]
    fn not_action_becomes_action() {
        let text = r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*"],"Resource":"*"}]}"#;
        let out = rewrite(text, &[set(&["s3:GetObject", "s3:PutObject"])]).unwrap();
        assert_eq!(
            out,
            r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#
        );
    }
}
