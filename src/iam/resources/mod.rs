//! One handler per IAM resource type, collected in one registry ([`handler_for`]).
//!
//! A handler reads one resource instance and records facts (principals, documents, links); it never
//! joins them, which is [`crate::iam::discover::resolve()`]'s job. Adding a resource type is one file
//! here and one line in [`REGISTRY`].

mod attachment;
mod document;
mod exclusive;
mod inline;
mod membership;
mod policy;
mod policy_document;
mod principal;

use crate::iam::discover::facts::Facts;
use crate::iam::discover::index::{Instance, PlanIndex};
use crate::plan::Mode;

/// A resource handler.
pub type Handler = fn(&Instance<'_>, &PlanIndex<'_>, &mut Facts);

/// Every resource type iamtrim understands, and its handler.
const REGISTRY: &[(Mode, &str, Handler)] = &[
    (
        Mode::Data,
        "aws_iam_policy_document",
        policy_document::visit,
    ),
    (Mode::Managed, "aws_iam_role", principal::visit_role),
    (Mode::Managed, "aws_iam_user", principal::visit_user),
    (Mode::Managed, "aws_iam_group", principal::visit_group),
    (Mode::Managed, "aws_iam_policy", policy::visit),
    (
        Mode::Managed,
        "aws_iam_role_policy",
        inline::visit_role_policy,
    ),
    (
        Mode::Managed,
        "aws_iam_user_policy",
        inline::visit_user_policy,
    ),
    (
        Mode::Managed,
        "aws_iam_group_policy",
        inline::visit_group_policy,
    ),
    (
        Mode::Managed,
        "aws_iam_role_policy_attachment",
        attachment::visit_role_attachment,
    ),
    (
        Mode::Managed,
        "aws_iam_user_policy_attachment",
        attachment::visit_user_attachment,
    ),
    (
        Mode::Managed,
        "aws_iam_group_policy_attachment",
        attachment::visit_group_attachment,
    ),
    (
        Mode::Managed,
        "aws_iam_policy_attachment",
        attachment::visit_policy_attachment,
    ),
    (
        Mode::Managed,
        "aws_iam_role_policies_exclusive",
        exclusive::visit_role_policies,
    ),
    (
        Mode::Managed,
        "aws_iam_role_policy_attachments_exclusive",
        exclusive::visit_role_policy_attachments,
    ),
    (
        Mode::Managed,
        "aws_iam_group_membership",
        membership::visit_group_membership,
    ),
    (
        Mode::Managed,
        "aws_iam_user_group_membership",
        membership::visit_user_group_membership,
    ),
];

/// The handler for a resource type, if iamtrim reads it.
pub fn handler_for(mode: Mode, resource_type: &str) -> Option<Handler> {
    REGISTRY
        .iter()
        .find(|(m, t, _)| *m == mode && *t == resource_type)
        .map(|(_, _, h)| *h)
}

/// Resource types with a handler, for documentation and tests.
pub fn supported_types() -> impl Iterator<Item = (Mode, &'static str)> {
    REGISTRY.iter().map(|(m, t, _)| (*m, *t))
}
