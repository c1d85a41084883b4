//! New Terraform text for policies that cannot be edited in place: a suggested document written as
//! a `data "aws_iam_policy_document"` block in `terraform fmt` style (two-space indent, `=` aligned
//! within a run of attributes), with a comment saying what to change by hand.
//!
//! Policy strings are escaped for HCL templates (`${` -> `$${`, `%{` -> `%%{`).

use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec, Statement};
use serde_json::Value;

/// A string as an HCL quoted string literal, template markers escaped.
pub fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A list of strings on one line: `["a", "b"]`.
fn hcl_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| hcl_string(v)).collect();
    format!("[{}]", items.join(", "))
}

/// A block under construction: attributes are aligned when the block is printed.
struct BlockText {
    header: String,
    attributes: Vec<(String, String)>,
    blocks: Vec<BlockText>,
}

impl BlockText {
    fn new(header: impl Into<String>) -> Self {
        BlockText {
            header: header.into(),
            attributes: Vec::new(),
            blocks: Vec::new(),
        }
    }

    fn attr(&mut self, key: &str, value: String) {
        self.attributes.push((key.to_string(), value));
    }

    fn print(&self, depth: usize, out: &mut String) {
        let indent = "  ".repeat(depth);
        out.push_str(&format!("{indent}{} {{\n", self.header));
        let width = self
            .attributes
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0);
        for (key, value) in &self.attributes {
            out.push_str(&format!("{indent}  {key:<width$} = {value}\n"));
        }
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 || !self.attributes.is_empty() {
                out.push('\n');
            }
            block.print(depth + 1, out);
        }
        out.push_str(&format!("{indent}}}\n"));
    }
}

/// True when every element of the document has an `aws_iam_policy_document` argument.
fn representable(doc: &PolicyDocument) -> bool {
    doc.id.is_none() && doc.extra.is_empty() && doc.statements.iter().all(|s| s.extra.is_empty())
}

/// Condition and principal values are strings in `aws_iam_policy_document`.
fn value_strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(value_strings).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

fn statement_block(statement: &Statement) -> BlockText {
    let mut block = BlockText::new("statement");
    if let Some(sid) = &statement.sid {
        block.attr("sid", hcl_string(sid));
    }
    let effect = match statement.effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    };
    block.attr("effect", hcl_string(effect));
    match &statement.action {
        Some(ActionSpec::Action(l)) => block.attr("actions", hcl_list(&l.values)),
        Some(ActionSpec::NotAction(l)) => block.attr("not_actions", hcl_list(&l.values)),
        None => {}
    }
    match &statement.resource {
        Some(ResourceSpec::Resource(l)) => block.attr("resources", hcl_list(&l.values)),
        Some(ResourceSpec::NotResource(l)) => block.attr("not_resources", hcl_list(&l.values)),
        None => {}
    }
    if let Some((key, value)) = &statement.principal {
        let name = if key == "NotPrincipal" {
            "not_principals"
        } else {
            "principals"
        };
        let pairs: Vec<(String, Vec<String>)> = match value {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), value_strings(v)))
                .collect(),
            other => vec![("*".to_string(), value_strings(other))],
        };
        for (kind, identifiers) in pairs {
            let mut p = BlockText::new(name);
            p.attr("type", hcl_string(&kind));
            p.attr("identifiers", hcl_list(&identifiers));
            block.blocks.push(p);
        }
    }
    if let Some(condition) = &statement.condition {
        for (test, keys) in condition {
            let Value::Object(keys) = keys else { continue };
            for (variable, values) in keys {
                let mut c = BlockText::new("condition");
                c.attr("test", hcl_string(test));
                c.attr("variable", hcl_string(variable));
                c.attr("values", hcl_list(&value_strings(values)));
                block.blocks.push(c);
            }
        }
    }
    block
}

/// `data "aws_iam_policy_document" "NAME" { ... }` for `doc`, ending in a newline.
///
/// Documents with elements the data source has no argument for (`Id`, unknown keys) are embedded
/// whole through `source_policy_documents`, so nothing is lost.
pub fn policy_document_block(name: &str, doc: &PolicyDocument) -> String {
    let mut block = BlockText::new(format!(
        "data \"aws_iam_policy_document\" {}",
        hcl_string(name)
    ));
    let mut out = String::new();
    if representable(doc) {
        if let Some(version) = &doc.version {
            block.attr("version", hcl_string(version));
        }
        block.blocks = doc.statements.iter().map(statement_block).collect();
        block.print(0, &mut out);
    } else {
        block.attr(
            "source_policy_documents",
            format!("[{}]", hcl_string(&doc.to_json())),
        );
        block.print(0, &mut out);
    }
    out
}

/// A Terraform identifier made from `parts`, e.g. `app_policy_iamtrim`.
pub fn suggestion_name(parts: &[&str]) -> String {
    let mut name: String = parts
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_");
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        name.insert(0, '_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_template_markers_and_quotes() {
        assert_eq!(
            hcl_string(r#"arn:aws:s3:::b/${aws:username}/%{x} "q" \"#),
            r#""arn:aws:s3:::b/$${aws:username}/%%{x} \"q\" \\""#
        );
        assert_eq!(hcl_string("$ and % alone"), "\"$ and % alone\"");
    }

    #[test]
    fn renders_statements_principals_and_conditions() {
        let doc = PolicyDocument::parse_str(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"Bool":{"aws:SecureTransport":true}}},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .unwrap();
        let text = policy_document_block("r_iamtrim", &doc);
        assert_eq!(
            text,
            r#"data "aws_iam_policy_document" "r_iamtrim" {
  version = "2012-10-17"

  statement {
    sid       = "Read"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/$${aws:username}/*"]

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["true"]
    }
  }

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}
"#
        );
        // What is printed parses back as HCL.
        assert!(hcl_edit::parser::parse_body(&text).is_ok());
    }

    #[test]
    fn documents_with_unknown_keys_are_embedded_whole() {
        let doc = PolicyDocument::parse_str(
            r#"{"Id":"x","Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*"}]}"#,
        )
        .unwrap();
        let text = policy_document_block("n", &doc);
        assert!(
            text.contains(r#"source_policy_documents = ["{\"Id\":\"x\""#),
            "{text}"
        );
        assert!(hcl_edit::parser::parse_body(&text).is_ok());
    }

    #[test]
    fn names_are_identifiers() {
        assert_eq!(
            suggestion_name(&["app", "my policy", "iamtrim"]),
            "app_my_policy_iamtrim"
        );
        assert_eq!(suggestion_name(&["1x"]), "_1x");
    }
}
