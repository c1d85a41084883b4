//! What handlers record: principals as declared, policy documents, managed policies, and the links
//! between them (attachments, inline policies, memberships, policies found on roles in AWS), all in
//! [`Facts`], waiting for [`super::resolve()`] to join them.

use crate::iam::policy::PolicyDocument;
use crate::iam::principal::{PolicyOrigin, PrincipalKind, UnknownReason};
use crate::plan::model::InstanceKey;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A reference to a principal, as written on a linking resource.
#[derive(Debug, Clone)]
pub enum PrincipalRef {
    /// By IAM name, known at plan time.
    Name(PrincipalKind, String),
    /// By instance address, when resolved through configuration.
    Address(String),
}

/// A reference to a managed policy.
#[derive(Debug, Clone)]
pub enum PolicyRef {
    /// By ARN, known at plan time.
    Arn(String),
    /// By instance address of an `aws_iam_policy`, resolved through configuration.
    Address(String),
    /// Unknown at plan time and not resolvable.
    Unknown(UnknownReason),
}

/// A document, known or not.
#[derive(Debug, Clone)]
pub struct DocumentFact {
    /// The document after this plan (shared by every principal it reaches).
    pub after: Result<Arc<PolicyDocument>, UnknownReason>,
    /// The document before this plan.
    pub before: Option<Arc<PolicyDocument>>,
    /// The data source that renders it, if any.
    pub document_source: Option<String>,
}

/// A customer-managed policy defined in the plan.
#[derive(Debug, Clone)]
pub struct ManagedPolicyFact {
    /// Instance address.
    pub address: String,
    /// Name, when known.
    pub name: Option<String>,
    /// ARN, when known (existing policies).
    pub arn: Option<String>,
    /// Its document.
    pub document: DocumentFact,
}

/// An inline policy on a principal.
#[derive(Debug, Clone)]
pub struct InlineFact {
    /// The principal it is on.
    pub principal: PrincipalRef,
    /// Address of the resource holding it.
    pub address: String,
    /// Policy name, when it may be shown.
    pub name: Option<String>,
    /// Policy name for matching (shown or not): what a role's refreshed `inline_policy` lists.
    pub match_name: Option<String>,
    /// Its document.
    pub document: DocumentFact,
    /// Where it is written.
    pub origin: PolicyOrigin,
}

/// A policy an existing role has in AWS (its refreshed `inline_policy` / `managed_policy_arns`)
/// that the configuration does not set on the role itself: attached outside this configuration,
/// unless a resource of the configuration claims it (the join decides).
#[derive(Debug, Clone)]
pub struct OutsideFact {
    /// The role.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: OutsidePolicy,
}

/// A policy found on a role in AWS.
#[derive(Debug, Clone)]
pub enum OutsidePolicy {
    /// An inline policy, by name, with its document.
    Inline {
        /// The name, for matching.
        name: String,
        /// The name when it may be shown.
        shown_name: Option<String>,
        /// Its document's value as the plan holds it (unparsed: it is read only when no resource
        /// claims the policy); `None` when sensitive.
        document: Option<Value>,
        /// True when the plan marks the document sensitive.
        sensitive: bool,
    },
    /// A managed policy, by ARN.
    Arn(String),
}

/// A policy that a resource this plan deletes still puts on a principal.
#[derive(Debug, Clone)]
pub struct ClaimFact {
    /// The principal.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: Claim,
}

/// What a resource of the configuration puts on a principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// An inline policy of this name.
    InlineName(String),
    /// The managed policy of this ARN.
    Arn(String),
}

/// An attachment of a managed policy to a principal.
#[derive(Debug, Clone)]
pub struct AttachmentFact {
    /// The principal.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: PolicyRef,
    /// The attaching resource (or the principal itself for `managed_policy_arns`).
    pub address: String,
}

/// A user's membership in a group.
#[derive(Debug, Clone)]
pub struct MembershipFact {
    /// The user.
    pub user: PrincipalRef,
    /// The group.
    pub group: PrincipalRef,
}

/// A principal as declared, before links are resolved.
#[derive(Debug, Clone)]
pub struct PrincipalFact {
    /// Instance address.
    pub address: String,
    /// Block address.
    pub block_address: String,
    /// Module instance address.
    pub module_address: String,
    /// Instance key.
    pub index: Option<InstanceKey>,
    /// Kind.
    pub kind: PrincipalKind,
    /// Name.
    pub name: Option<String>,
    /// ARN when it exists.
    pub arn: Option<String>,
    /// Plan action.
    pub action: String,
    /// AWS service principals its trust policy lets in (roles), sorted.
    pub trusted_services: Vec<String>,
}

/// Everything the handlers learned, waiting to be joined.
#[derive(Debug, Default)]
pub struct Facts {
    /// Principals.
    pub principals: Vec<PrincipalFact>,
    /// Managed policies by instance address.
    pub managed: BTreeMap<String, ManagedPolicyFact>,
    /// Policy document data sources by instance address (moved to [`super::index::PlanIndex::documents`] before
    /// the other handlers run).
    pub documents: BTreeMap<String, DocumentFact>,
    /// Inline policies.
    pub inline: Vec<InlineFact>,
    /// Attachments.
    pub attachments: Vec<AttachmentFact>,
    /// Group memberships.
    pub memberships: Vec<MembershipFact>,
    /// Policies existing roles have in AWS that the configuration does not set on them.
    pub outside: Vec<OutsideFact>,
    /// Policies that resources this plan deletes still put on principals.
    pub claims: Vec<ClaimFact>,
    /// Notes for the user (ambiguous links, unparseable documents).
    pub warnings: Vec<String>,
}

impl Facts {
    /// `self` then `later`, as if `later`'s handlers had run after `self`'s.
    pub(super) fn append(mut self, later: Facts) -> Facts {
        let Facts {
            principals,
            managed,
            documents,
            inline,
            attachments,
            memberships,
            outside,
            claims,
            warnings,
        } = later;
        self.principals.extend(principals);
        self.managed.extend(managed);
        self.documents.extend(documents);
        self.inline.extend(inline);
        self.attachments.extend(attachments);
        self.memberships.extend(memberships);
        self.outside.extend(outside);
        self.claims.extend(claims);
        self.warnings.extend(warnings);
        self
    }
}
