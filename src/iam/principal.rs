//! Principals (roles, users, groups) and the policy sources that reach them.

use super::policy::PolicyDocument;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The three kinds of IAM identity that carry identity-based policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// `aws_iam_role`.
    Role,
    /// `aws_iam_user`.
    User,
    /// `aws_iam_group`.
    Group,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::Role => "role",
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
        })
    }
}

/// How a policy reaches a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// An inline policy (`aws_iam_role_policy`, an `inline_policy` block, ...).
    Inline,
    /// A customer-managed policy attached to the principal.
    Managed,
    /// An AWS-managed policy (`arn:aws:iam::aws:policy/...`).
    AwsManaged,
    /// A policy of a group the user belongs to.
    InheritedFromGroup,
    /// A policy an existing role has in AWS that no resource of this configuration manages (seen
    /// in the role's refreshed `inline_policy` / `managed_policy_arns`): counted, never patched.
    OutsideConfiguration,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Inline => "inline",
            PolicyKind::Managed => "managed",
            PolicyKind::AwsManaged => "aws-managed",
            PolicyKind::InheritedFromGroup => "inherited-from-group",
            PolicyKind::OutsideConfiguration => "outside-configuration",
        })
    }
}

/// Why a policy's document is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "reason", content = "detail")]
pub enum UnknownReason {
    /// The document is computed during apply (depends on something not yet created).
    ComputedAtApply,
    /// The document comes from a variable or a module input whose value the plan does not show.
    FromVariable,
    /// An AWS-managed policy; its document is resolved from the IAM API or the bundled snapshot.
    AwsManagedNotResolved,
    /// A customer-managed policy that this plan does not define (its ARN is all we have).
    NotInPlan,
    /// The value is marked sensitive in the plan and is never shown.
    Sensitive,
    /// The JSON does not parse as a policy; the detail names where.
    Invalid(String),
    /// The plan holds a value of the wrong type where the document should be (`policy = 42`, an
    /// object, a change whose `after` is not an object); the detail names the attribute.
    WrongType(String),
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownReason::ComputedAtApply => f.write_str("computed at apply"),
            UnknownReason::FromVariable => f.write_str("from a variable"),
            UnknownReason::AwsManagedNotResolved => f.write_str("AWS-managed, not resolved"),
            UnknownReason::NotInPlan => f.write_str("managed outside this plan"),
            UnknownReason::Sensitive => f.write_str("sensitive"),
            UnknownReason::Invalid(d) => write!(f, "invalid policy: {d}"),
            UnknownReason::WrongType(d) => write!(f, "invalid plan value: {d}"),
        }
    }
}

/// Which part of a Terraform block holds a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyTarget {
    /// The block's own `policy` attribute.
    PolicyAttribute,
    /// The `policy` attribute of a role's `inline_policy` block, found by the block's `name`
    /// (`None` when the plan does not show the name).
    InlinePolicyBlock {
        /// The `name` of the `inline_policy` block.
        name: Option<String>,
    },
    /// The `statement` blocks of a `data "aws_iam_policy_document"`.
    DocumentStatements,
}

impl PolicyTarget {
    /// The name the target goes by in messages, reports and grouping keys: `policy`,
    /// `inline_policy` or `statement`.
    pub fn label(&self) -> &'static str {
        match self {
            PolicyTarget::PolicyAttribute => "policy",
            PolicyTarget::InlinePolicyBlock { .. } => "inline_policy",
            PolicyTarget::DocumentStatements => "statement",
        }
    }

    /// The attribute (or block type) that holds the document inside its body: an `inline_policy`
    /// block holds its document in `policy`.
    pub fn attribute(&self) -> &'static str {
        match self {
            PolicyTarget::PolicyAttribute | PolicyTarget::InlinePolicyBlock { .. } => "policy",
            PolicyTarget::DocumentStatements => "statement",
        }
    }

    /// The `inline_policy` block's name, when the target is one and the name is known.
    pub fn block_name(&self) -> Option<&str> {
        match self {
            PolicyTarget::InlinePolicyBlock { name } => name.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for PolicyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Serialized as the two fields it replaced (`attribute`, and `block_name` when there is one), so
/// output that includes a [`PolicyOrigin`] keeps its shape.
impl Serialize for PolicyTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let name = self.block_name();
        let mut map = serializer.serialize_map(Some(1 + usize::from(name.is_some())))?;
        map.serialize_entry("attribute", self.label())?;
        if let Some(name) = name {
            map.serialize_entry("block_name", name)?;
        }
        map.end()
    }
}

/// Where in Terraform a policy document is written, so a suggestion can be taken back there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyOrigin {
    /// Instance address of the resource whose attribute holds the document.
    pub resource: String,
    /// Where in that resource: its `policy`, or a role's `inline_policy` block.
    #[serde(flatten)]
    pub target: PolicyTarget,
    /// Instance address of the `data.aws_iam_policy_document` that renders it, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_source: Option<String>,
}

/// One policy that reaches a principal.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySource {
    /// Terraform address of the policy (the policy resource, the inline policy resource, or the
    /// role with the `inline_policy` block); the ARN for policies outside the plan.
    pub address: String,
    /// How it reaches the principal.
    pub kind: PolicyKind,
    /// Policy name when known.
    pub name: Option<String>,
    /// Policy ARN for managed policies, when known.
    pub arn: Option<String>,
    /// Address of the attachment resource that links it, if any.
    pub attachment: Option<String>,
    /// For inherited policies, the group's address.
    pub via_group: Option<String>,
    /// The document after this plan, when known (shared: a managed policy reaches many principals).
    pub document: Option<Arc<PolicyDocument>>,
    /// The document before this plan (existing policies), for "new in this plan" decisions.
    #[serde(skip)]
    pub before: Option<Arc<PolicyDocument>>,
    /// Why `document` is `None`.
    pub unknown_reason: Option<UnknownReason>,
    /// Where the document is written.
    pub origin: Option<PolicyOrigin>,
}

impl PolicySource {
    /// A policy attached by `attachment` that the plan knows only by its ARN: no document, for `why`.
    pub fn known_by_arn(
        arn: &str,
        kind: PolicyKind,
        attachment: &str,
        why: UnknownReason,
    ) -> PolicySource {
        PolicySource {
            address: arn.to_string(),
            kind,
            name: arn.rsplit('/').next().map(str::to_string),
            arn: Some(arn.to_string()),
            attachment: Some(attachment.to_string()),
            via_group: None,
            document: None,
            before: None,
            unknown_reason: Some(why),
            origin: None,
        }
    }
}

/// A risk flag computed from a principal's known documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskFlag {
    /// Allows `*` on `*`.
    FullAdmin,
    /// Allows writing IAM (roles, policies, users, keys...).
    IamWrite,
    /// Allows `iam:PassRole` on `*`.
    #[serde(rename = "passrole-any")]
    PassRoleAny,
    /// Has an `Allow` with `NotAction`.
    #[serde(rename = "notaction-allow")]
    NotActionAllow,
}

impl fmt::Display for RiskFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RiskFlag::FullAdmin => "full-admin",
            RiskFlag::IamWrite => "iam-write",
            RiskFlag::PassRoleAny => "passrole-any",
            RiskFlag::NotActionAllow => "notaction-allow",
        })
    }
}

/// An IAM role, user or group found in the plan, with every policy that reaches it.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    /// Instance address, e.g. `module.app.aws_iam_role.worker["eu"]`.
    pub address: String,
    /// Address of the block in its module (no instance keys), e.g. `module.app.aws_iam_role.worker`.
    pub block_address: String,
    /// Role, user or group.
    pub kind: PrincipalKind,
    /// IAM name, when known at plan time.
    pub name: Option<String>,
    /// ARN when the principal already exists; `None` for a principal this plan creates.
    pub arn: Option<String>,
    /// Account id from the ARN.
    pub account: Option<String>,
    /// The plan's action on it: `create`, `update`, `no-op`, `replace`, `read`...
    pub plan_action: String,
    /// Every policy reaching it.
    pub policies: Vec<PolicySource>,
    /// Risk flags from its known documents, most severe first.
    pub flags: Vec<RiskFlag>,
    /// AWS service principals its trust policy lets in (`ecs-tasks.amazonaws.com`), sorted; empty
    /// for users, groups, and roles whose trust policy is unknown or admits no service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_services: Vec<String>,
}

impl Principal {
    /// True when the principal does not exist yet, so it has no usage history.
    pub fn is_new(&self) -> bool {
        self.arn.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_origin_serializes_its_target_as_attribute_and_block_name() {
        let origin = |target| PolicyOrigin {
            resource: "aws_iam_role.r".into(),
            target,
            document_source: None,
        };
        let inline = origin(PolicyTarget::InlinePolicyBlock {
            name: Some("s3".into()),
        });
        assert_eq!(
            serde_json::to_string(&inline).ok().as_deref(),
            Some(r#"{"resource":"aws_iam_role.r","attribute":"inline_policy","block_name":"s3"}"#)
        );
        let plain = origin(PolicyTarget::PolicyAttribute);
        assert_eq!(
            serde_json::to_string(&plain).ok().as_deref(),
            Some(r#"{"resource":"aws_iam_role.r","attribute":"policy"}"#)
        );
    }
}
