//! Terraform addresses and references as text: block addresses from instance addresses, a module
//! instance split from its caller, a reference split into type, name and instance key.
//!
//! It reads `crate::plan`'s model types and nothing of discovery: the index, the handlers and the
//! join all use it, and reporting layers strip instance keys with it.

use crate::plan::model::{InstanceKey, Mode};

/// `module.a.aws_iam_role.r` from a module address without instance keys and the block's parts.
pub fn block_address(module: &str, mode: Mode, resource_type: &str, name: &str) -> String {
    let local = match mode {
        Mode::Managed => format!("{resource_type}.{name}"),
        Mode::Data => format!("data.{resource_type}.{name}"),
    };
    if module.is_empty() {
        local
    } else {
        format!("{module}.{local}")
    }
}

/// `module.a["x"].module.b[0]` -> `module.a.module.b`.
pub fn strip_instance_keys(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in address.chars() {
        if depth > 0 {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            } else if c == ']' {
                depth -= 1;
            } else if c == '[' {
                depth += 1;
            }
            continue;
        }
        if c == '[' {
            depth = 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// `module.a["x"].module.b[0]` -> (`module.a["x"]`, the key `0`); `None` at the root.
pub fn split_module_instance(address: &str) -> Option<(&str, Option<InstanceKey>)> {
    // The last `module.` that starts a step, outside brackets (a key may hold `.module.`).
    let bytes = address.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut last = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' if depth > 0 => in_string = true,
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            _ if depth == 0
                && (i == 0 || bytes[i - 1] == b'.')
                && address[i..].starts_with("module.") =>
            {
                last = Some(i);
            }
            _ => {}
        }
    }
    let start = last?;
    let parent = address[..start].trim_end_matches('.');
    let step = &address[start..];
    let key = step.find('[').and_then(|open| {
        let k = step[open + 1..].strip_suffix(']')?;
        match k.parse::<i64>() {
            Ok(n) => Some(InstanceKey::Int(n)),
            Err(_) => serde_json::from_str::<String>(k).ok().map(InstanceKey::Str),
        }
    });
    Some((parent, key))
}

/// `data.aws_iam_policy_document.x.json` -> (`aws_iam_policy_document`, `x`, None);
/// `aws_iam_role.r["k"].name` -> (`aws_iam_role`, `r`, Some("k")).
pub fn parse_reference(r: &str) -> Option<(String, String, Option<InstanceKey>)> {
    let r = r.strip_prefix("data.").unwrap_or(r);
    let (rtype, rest) = r.split_once('.')?;
    if matches!(
        rtype,
        "var" | "local" | "module" | "each" | "count" | "path" | "terraform" | "self"
    ) {
        return None;
    }
    let name_end = rest.find(['.', '[']).unwrap_or(rest.len());
    let name = &rest[..name_end];
    let after = &rest[name_end..];
    let index = after
        .strip_prefix('[')
        .and_then(|s| s.split_once(']'))
        .and_then(|(k, _)| {
            if let Ok(n) = k.parse::<i64>() {
                Some(InstanceKey::Int(n))
            } else {
                serde_json::from_str::<String>(k).ok().map(InstanceKey::Str)
            }
        });
    Some((rtype.to_string(), name.to_string(), index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_module_instance_from_its_caller() {
        assert_eq!(
            split_module_instance(r#"module.a["x.module.y]"].module.b[0]"#),
            Some((r#"module.a["x.module.y]"]"#, Some(InstanceKey::Int(0))))
        );
        assert_eq!(
            split_module_instance(r#"module.a["k"]"#),
            Some(("", Some(InstanceKey::Str("k".into()))))
        );
        assert_eq!(
            split_module_instance("module.a.module.submodule"),
            Some(("module.a", None))
        );
        assert_eq!(split_module_instance(""), None);
    }

    #[test]
    fn strips_instance_keys() {
        assert_eq!(
            strip_instance_keys(r#"module.a["x.y]"].module.b[0]"#),
            "module.a.module.b"
        );
        assert_eq!(strip_instance_keys("module.a"), "module.a");
        assert_eq!(strip_instance_keys(""), "");
    }

    #[test]
    fn parses_references() {
        let (t, n, i) = parse_reference(r#"aws_iam_role.r["k"].name"#).unwrap();
        assert_eq!(
            (t.as_str(), n.as_str(), i),
            ("aws_iam_role", "r", Some(InstanceKey::Str("k".into())))
        );
        let (t, n, i) = parse_reference("data.aws_iam_policy_document.d.json").unwrap();
        assert_eq!(
            (t.as_str(), n.as_str(), i),
            ("aws_iam_policy_document", "d", None)
        );
        assert!(parse_reference("var.x").is_none());
        assert_eq!(
            parse_reference("aws_iam_role.r[2]").unwrap().2,
            Some(InstanceKey::Int(2))
        );
    }
}
