//! Customer-managed replacements for AWS-managed policies, which cannot be edited: the suggested
//! document as a `data "aws_iam_policy_document"`, an `aws_iam_policy` made from it, and a comment
//! saying which attachment to point at the new policy (the attachment's `policy_arn`, or the role's
//! `managed_policy_arns`).
//!
//! Main types: [`PolicyReplacement`] (the input, built by the CLI from minimizer suggestions) and
//! [`replacement_blocks`] (its Terraform text). `crate::emit::write` puts the text in the attaching
//! module's `iamtrim.suggested.tf`. It does not decide what the replacement keeps: that is
//! `crate::minimize`.

use crate::emit::suggestion::{hcl_string, policy_document_block, suggestion_name};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, Statement};

/// IAM's size limit for a managed policy document, whitespace not counted.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6_144;

/// The characters IAM counts for `doc` against [`MANAGED_POLICY_MAX_CHARS`]: its JSON without
/// whitespace (whitespace inside strings is left out too, which can only overcount).
pub fn policy_size(doc: &PolicyDocument) -> usize {
    doc.to_json().chars().filter(|c| !c.is_whitespace()).count()
}

/// `doc` as managed policies IAM accepts: `doc` alone when it fits, else its `Action` lists shared
/// out over as few documents as a greedy fill gives, each within [`MANAGED_POLICY_MAX_CHARS`].
///
/// Every part keeps the statements' scope (Resource, Condition, ...) and order, and carries every
/// other statement (a Deny, a `NotAction`) whole, so each part alone grants no
/// more than `doc` and all of them together grant exactly what `doc` grants. A statement too
/// large alone (one huge condition) still makes a part of its own, which stays over the limit.
pub fn split_for_size(doc: &PolicyDocument) -> Vec<PolicyDocument> {
    if policy_size(doc) <= MANAGED_POLICY_MAX_CHARS {
        return vec![doc.clone()];
    }
    let common: Vec<(usize, &Statement)> = doc
        .statements
        .iter()
        .enumerate()
        .filter(|(_, st)| !splits(st))
        .collect();
    // A part's pieces of `Action` statements, with every common statement, in document order.
    let assemble = |pieces: &[(usize, Statement)]| -> Vec<Statement> {
        let mut all: Vec<(usize, &Statement)> = pieces.iter().map(|(i, st)| (*i, st)).collect();
        all.extend(common.iter().copied());
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, st)| st.clone()).collect()
    };
    let fits = |pieces: &[(usize, Statement)]| {
        policy_size(&doc.with_statements(assemble(pieces))) <= MANAGED_POLICY_MAX_CHARS
    };
    let mut parts: Vec<Vec<(usize, Statement)>> = Vec::new();
    let mut part: Vec<(usize, Statement)> = Vec::new();
    for (i, st) in doc.statements.iter().enumerate() {
        let (true, Some(ActionSpec::Action(list))) = (splits(st), &st.action) else {
            continue;
        };
        let mut actions: Vec<String> = Vec::new();
        for action in &list.values {
            actions.push(action.clone());
            part.push((i, st.with_actions(actions.clone())));
            let ok = fits(&part);
            part.pop();
            if !ok && (actions.len() > 1 || !part.is_empty()) {
                // Close the part with what fitted, and start the next one with this action.
                actions.pop();
                if !actions.is_empty() {
                    part.push((i, st.with_actions(std::mem::take(&mut actions))));
                }
                parts.push(std::mem::take(&mut part));
                actions.push(action.clone());
            }
        }
        if !actions.is_empty() {
            part.push((i, st.with_actions(actions)));
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    if parts.is_empty() {
        return vec![doc.clone()];
    }
    parts
        .iter()
        .map(|pieces| {
            let statements = assemble(pieces);
            let single = doc.single_statement && statements.len() == 1;
            let mut d = doc.with_statements(statements);
            d.single_statement = single;
            d
        })
        .collect()
}

/// True for the statements whose `Action` list is shared out over parts: the `Allow`s with one.
fn splits(st: &Statement) -> bool {
    st.effect == Effect::Allow && matches!(st.action, Some(ActionSpec::Action(_)))
}

/// The Terraform names of the parts of a replacement named `name`: `name` itself for one part,
/// `name_1` ... `name_N` for more.
fn part_names(name: &str, parts: usize) -> Vec<String> {
    if parts == 1 {
        return vec![name.to_string()];
    }
    (1..=parts).map(|i| format!("{name}_{i}")).collect()
}

// The replacement is decided by the minimizer; its wording and Terraform text stay here.
pub use crate::minimize::PolicyReplacement;

impl PolicyReplacement {
    /// What to change by hand, given the name of the new `aws_iam_policy`.
    pub fn note(&self, name: &str) -> String {
        let block = self.block_in_module();
        let parts = self.parts().len();
        let names = part_names(name, parts);
        let arns = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("aws_iam_policy.{n}.arn"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (parts, self.role_attribute) {
            (0, false) => format!(
                "{} ({}) grants nothing that was used: remove {block}.",
                self.policy_name(),
                self.arn
            ),
            (0, true) => format!(
                "{} ({}) grants nothing that was used: remove it from `managed_policy_arns` of {block}.",
                self.policy_name(),
                self.arn
            ),
            (1, false) => format!(
                "{} is AWS-managed and cannot be trimmed: create aws_iam_policy.{name} below, then set `policy_arn = aws_iam_policy.{name}.arn` on {block} (instead of {}).",
                self.policy_name(),
                self.arn
            ),
            (1, true) => format!(
                "{} is AWS-managed and cannot be trimmed: create aws_iam_policy.{name} below, then replace {} with aws_iam_policy.{name}.arn in `managed_policy_arns` of {block}.",
                self.policy_name(),
                hcl_string(&self.arn)
            ),
            (n, false) => format!(
                "{} is AWS-managed and cannot be trimmed; trimmed, it is over IAM's {MANAGED_POLICY_MAX_CHARS}-character limit, so it is split into {n} policies below: set `policy_arn = aws_iam_policy.{}.arn` on {block} (instead of {}), and attach {} to the same principal with an attachment each.",
                self.policy_name(),
                names[0],
                self.arn,
                arns(&names[1..])
            ),
            (n, true) => format!(
                "{} is AWS-managed and cannot be trimmed; trimmed, it is over IAM's {MANAGED_POLICY_MAX_CHARS}-character limit, so it is split into {n} policies below: replace {} with {} in `managed_policy_arns` of {block}.",
                self.policy_name(),
                hcl_string(&self.arn),
                arns(&names)
            ),
        }
    }

    /// The Terraform name for the replacement's blocks, e.g. `ro_ReadOnlyAccess_iamtrim`.
    pub fn suggested_name(&self) -> String {
        let block = self.block_in_module();
        let resource_name = block.rsplit('.').next().unwrap_or(&block);
        suggestion_name(&[resource_name, self.policy_name(), "iamtrim"])
    }
}

/// The comment, the `data "aws_iam_policy_document"` and the `resource "aws_iam_policy"` for one
/// replacement named `name` (one pair per part when it is split; only the comment when the policy
/// should be detached).
pub fn replacement_blocks(name: &str, replacement: &PolicyReplacement) -> String {
    let mut out = format!("# {}\n", replacement.note(name));
    let parts = replacement.parts();
    let names = part_names(name, parts.len());
    for (i, (doc, name)) in parts.iter().zip(&names).enumerate() {
        let (policy_name, description) = if parts.len() == 1 {
            (
                format!("{}-trimmed", replacement.policy_name()),
                format!(
                    "{} trimmed to the actions in use (iamtrim)",
                    replacement.policy_name()
                ),
            )
        } else {
            (
                format!("{}-trimmed-{}", replacement.policy_name(), i + 1),
                format!(
                    "{} trimmed to the actions in use, part {} of {} (iamtrim)",
                    replacement.policy_name(),
                    i + 1,
                    parts.len()
                ),
            )
        };
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&policy_document_block(name, doc));
        out.push('\n');
        out.push_str(&format!(
            "resource \"aws_iam_policy\" {} {{\n  name        = {}\n  description = {}\n  policy      = data.aws_iam_policy_document.{name}.json\n}}\n",
            hcl_string(name),
            hcl_string(&policy_name),
            hcl_string(&description),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacement(attachment: &str, role_attribute: bool) -> PolicyReplacement {
        PolicyReplacement {
            policy_address: format!("{attachment} (arn:aws:iam::aws:policy/ReadOnlyAccess)"),
            arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
            attachment: attachment.to_string(),
            role_attribute,
            suggested: Some(
                PolicyDocument::parse_str(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:DescribeInstances","iam:ListRoles"],"Resource":"*"}]}"#,
                )
                .unwrap(),
            ),
        }
    }

    #[test]
    fn attachment_resource_gets_a_policy_and_a_policy_arn_note() {
        let r = replacement(
            "module.audit.aws_iam_user_policy_attachment.auditor[\"a\"]",
            false,
        );
        assert_eq!(r.module_key(), "audit");
        let name = r.suggested_name();
        assert_eq!(name, "auditor_ReadOnlyAccess_iamtrim");
        let text = replacement_blocks(&name, &r);
        assert_eq!(
            text,
            r#"# ReadOnlyAccess is AWS-managed and cannot be trimmed: create aws_iam_policy.auditor_ReadOnlyAccess_iamtrim below, then set `policy_arn = aws_iam_policy.auditor_ReadOnlyAccess_iamtrim.arn` on aws_iam_user_policy_attachment.auditor (instead of arn:aws:iam::aws:policy/ReadOnlyAccess).
data "aws_iam_policy_document" "auditor_ReadOnlyAccess_iamtrim" {
  version = "2012-10-17"

  statement {
    effect    = "Allow"
    actions   = ["ec2:DescribeInstances", "iam:ListRoles"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "auditor_ReadOnlyAccess_iamtrim" {
  name        = "ReadOnlyAccess-trimmed"
  description = "ReadOnlyAccess trimmed to the actions in use (iamtrim)"
  policy      = data.aws_iam_policy_document.auditor_ReadOnlyAccess_iamtrim.json
}
"#
        );
        assert!(hcl_edit::parser::parse_body(&text).is_ok());
    }

    #[test]
    fn managed_policy_arns_and_detach_notes() {
        let r = replacement("aws_iam_role.app", true);
        assert_eq!(r.module_key(), "");
        assert!(
            r.note("n").contains(
                "replace \"arn:aws:iam::aws:policy/ReadOnlyAccess\" with aws_iam_policy.n.arn in `managed_policy_arns` of aws_iam_role.app"
            ),
            "{}",
            r.note("n")
        );
        let detach = PolicyReplacement {
            suggested: None,
            ..replacement("aws_iam_role_policy_attachment.ro", false)
        };
        let text = replacement_blocks("n", &detach);
        assert!(
            text.starts_with("# ReadOnlyAccess (arn:aws:iam::aws:policy/ReadOnlyAccess) grants nothing that was used: remove aws_iam_role_policy_attachment.ro.")
        );
        assert!(!text.contains("resource"), "{text}");
    }

    /// A document over the limit: two scopes of many catalog actions and a Deny.
    fn big_document() -> PolicyDocument {
        let catalog = crate::iam::catalog::Catalog::embedded();
        let names: Vec<String> = catalog
            .actions()
            .iter()
            .step_by(37)
            .take(500)
            .map(|a| format!("{:?}", a.name()))
            .collect();
        let (a, b) = names.split_at(300);
        PolicyDocument::parse_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"Reads","Effect":"Allow","Action":[{}],"Resource":"*"}},
                {{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}},
                {{"Effect":"Allow","Action":[{}],"Resource":"arn:aws:s3:::logs/*","Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}]}}"#,
            a.join(","),
            b.join(",")
        ))
        .unwrap()
    }

    #[test]
    fn a_replacement_over_the_size_limit_is_split_into_parts_that_together_grant_the_same() {
        let doc = big_document();
        assert!(policy_size(&doc) > 2 * MANAGED_POLICY_MAX_CHARS);
        let parts = split_for_size(&doc);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let catalog = crate::iam::catalog::Catalog::embedded();
        // (statement scope, action) pairs: what the parts grant together is what `doc` grants.
        let pairs = |d: &PolicyDocument| -> Vec<(String, String)> {
            let mut out = Vec::new();
            for st in &d.statements {
                let mut scope = st.clone();
                scope.sid = None;
                scope.set_actions(Vec::new());
                let key = scope.to_value().to_string();
                match &st.action {
                    Some(ActionSpec::Action(l)) => {
                        out.extend(l.values.iter().map(|a| (key.clone(), a.clone())))
                    }
                    _ => out.push((key, String::new())),
                }
            }
            out.sort();
            out.dedup();
            out
        };
        let deny = &doc.statements[1];
        let mut joined: Vec<(String, String)> = Vec::new();
        for part in &parts {
            assert_eq!(part.statements.iter().filter(|s| *s == deny).count(), 1);
            let allows = part.with_statements(
                part.statements
                    .iter()
                    .filter(|s| *s != deny)
                    .cloned()
                    .collect(),
            );
            joined.extend(pairs(&allows));
        }
        joined.sort();
        let before = joined.len();
        joined.dedup();
        assert_eq!(before, joined.len(), "an action is in two parts");
        let mut expected =
            pairs(&doc.with_statements(vec![doc.statements[0].clone(), doc.statements[2].clone()]));
        expected.sort();
        assert_eq!(joined, expected);
        for part in &parts {
            assert!(
                policy_size(part) <= MANAGED_POLICY_MAX_CHARS,
                "{}",
                policy_size(part)
            );
            assert_eq!(part.version.as_deref(), Some("2012-10-17"));
            assert_eq!(crate::minimize::grants_no_more(part, &doc, catalog), Ok(()));
        }
        // A document within the limit is left whole.
        assert_eq!(split_for_size(&parts[0]), vec![parts[0].clone()]);
    }

    #[test]
    fn a_split_replacement_writes_every_part_and_says_to_attach_them_all() {
        let mut r = replacement("aws_iam_role_policy_attachment.ro", false);
        r.suggested = Some(big_document());
        let n = r.parts().len();
        let text = replacement_blocks("ro_ReadOnlyAccess_iamtrim", &r);
        hcl_edit::parser::parse_body(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for i in 1..=n {
            assert!(text.contains(&format!(
                "data \"aws_iam_policy_document\" \"ro_ReadOnlyAccess_iamtrim_{i}\""
            )));
            assert!(text.contains(&format!("name        = \"ReadOnlyAccess-trimmed-{i}\"")));
        }
        assert!(!text.contains(&format!("ro_ReadOnlyAccess_iamtrim_{}\"", n + 1)));
        let note = r.note("ro_ReadOnlyAccess_iamtrim");
        assert!(note.contains(&format!("split into {n} policies")), "{note}");
        assert!(
            note.contains("set `policy_arn = aws_iam_policy.ro_ReadOnlyAccess_iamtrim_1.arn` on aws_iam_role_policy_attachment.ro"),
            "{note}"
        );
        assert!(note.contains(&format!("aws_iam_policy.ro_ReadOnlyAccess_iamtrim_{n}.arn")));
        r.role_attribute = true;
        let note = r.note("x");
        assert!(
            note.contains("aws_iam_policy.x_1.arn, aws_iam_policy.x_2.arn"),
            "{note}"
        );
    }
}
