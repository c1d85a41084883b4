//! Customer-managed replacements for AWS-managed policies, which cannot be edited: the suggested
//! document as a `data "aws_iam_policy_document"`, an `aws_iam_policy` made from it, and a comment
//! saying which attachment to point at the new policy (the attachment's `policy_arn`, or the role's
//! `managed_policy_arns`).
//!
//! Main types: [`PolicyReplacement`] (the input, built by the CLI from minimizer suggestions) and
//! [`replacement_blocks`] (its Terraform text). `crate::emit::terraform::write` puts the text in the attaching
//! module's `iamtrim.suggested.tf`. It does not decide what the replacement keeps: that is
//! `crate::minimize`.

use crate::emit::terraform::suggestion::{hcl_string, policy_document_block, suggestion_name};

/// Moved to `crate::minimize::size` (pure); re-exported so callers keep compiling.
pub use crate::minimize::size::{MANAGED_POLICY_MAX_CHARS, policy_size, split_for_size};

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
    use crate::iam::policy::PolicyDocument;

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

    #[test]
    fn a_split_replacement_writes_every_part_and_says_to_attach_them_all() {
        let mut r = replacement("aws_iam_role_policy_attachment.ro", false);
        r.suggested = Some(crate::minimize::size::tests::big_document());
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
