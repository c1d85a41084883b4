//! Risk ranking of a principal from the catalog: what its current documents grant, by category.
//!
//! Unlike the syntactic flags of `crate::iam::risk`, this expands every `Allow` against the catalog,
//! so `iam:*`, `NotAction` and `*` count for what they really grant.

use super::document::Expansions;
use crate::iam::action::ActionPattern;
use crate::iam::catalog::{AccessLevel, Catalog, RiskCategory};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec};
use serde::Serialize;
use std::collections::HashSet;

/// What a principal's documents grant that is dangerous; ordered by [`RiskProfile::rank`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RiskProfile {
    /// An `Allow` of `*` on `*`.
    pub full_admin: bool,
    /// Distinct granted actions usable for privilege escalation.
    pub privilege_escalation: usize,
    /// Distinct permissions-management actions granted on every resource (`*` or `NotResource`).
    pub permissions_management_on_any: usize,
    /// Distinct granted actions that hand out stored data or secrets.
    pub data_exfiltration: usize,
    /// Distinct granted actions that can open a resource to others.
    pub resource_exposure: usize,
    /// Distinct granted actions that return credentials.
    pub credentials_exposure: usize,
    /// Distinct granted catalog actions.
    pub granted: usize,
}

impl RiskProfile {
    /// The profile of everything `docs` allow.
    pub fn of<'a>(
        docs: impl IntoIterator<Item = &'a PolicyDocument>,
        catalog: &Catalog,
    ) -> RiskProfile {
        RiskProfile::of_cached(docs, &mut Expansions::new(catalog))
    }

    /// [`RiskProfile::of`] with wildcard expansions shared with the minimizer.
    pub(super) fn of_cached<'a>(
        docs: impl IntoIterator<Item = &'a PolicyDocument>,
        expansions: &mut Expansions<'_>,
    ) -> RiskProfile {
        let catalog = expansions.catalog();
        let base = catalog.actions().as_ptr() as usize;
        let size = std::mem::size_of::<crate::iam::catalog::ActionInfo>();
        let mut granted: HashSet<usize> = HashSet::new();
        let mut on_any: HashSet<usize> = HashSet::new();
        let mut full_admin = false;
        for doc in docs {
            for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
                let any_resource = match &st.resource {
                    Some(ResourceSpec::Resource(r)) => r.values.iter().any(|v| v == "*"),
                    Some(ResourceSpec::NotResource(_)) | None => true,
                };
                let actions = match &st.action {
                    Some(ActionSpec::Action(l)) => {
                        full_admin |= any_resource && l.values.iter().any(|v| v == "*");
                        let mut out = Vec::new();
                        for t in &l.values {
                            out.extend(expansions.expand(&ActionPattern::new(t)).iter().copied());
                        }
                        out
                    }
                    Some(ActionSpec::NotAction(l)) => {
                        let patterns: Vec<ActionPattern> =
                            l.values.iter().map(|t| ActionPattern::new(t)).collect();
                        catalog.expand_not_action(&patterns)
                    }
                    None => Vec::new(),
                };
                for info in actions {
                    let index = (info as *const _ as usize - base) / size;
                    granted.insert(index);
                    if any_resource {
                        on_any.insert(index);
                    }
                }
            }
        }
        let actions = catalog.actions();
        let count = |set: &HashSet<usize>, pred: &dyn Fn(usize) -> bool| {
            set.iter().filter(|&&i| pred(i)).count()
        };
        RiskProfile {
            full_admin,
            privilege_escalation: count(&granted, &|i| {
                actions[i].has_risk(RiskCategory::PrivilegeEscalation)
            }),
            permissions_management_on_any: count(&on_any, &|i| {
                actions[i].access_level() == AccessLevel::PermissionsManagement
            }),
            data_exfiltration: count(&granted, &|i| {
                actions[i].has_risk(RiskCategory::DataExfiltration)
            }),
            resource_exposure: count(&granted, &|i| {
                actions[i].has_risk(RiskCategory::ResourceExposure)
            }),
            credentials_exposure: count(&granted, &|i| {
                actions[i].has_risk(RiskCategory::CredentialsExposure)
            }),
            granted: granted.len(),
        }
    }

    /// Sort key, higher is riskier: full admin, then privilege escalation, permissions management
    /// on `*`, data exfiltration, resource exposure (presence first, then counts), then breadth.
    #[allow(clippy::type_complexity)]
    pub fn rank(
        &self,
    ) -> (
        bool,
        bool,
        bool,
        bool,
        bool,
        usize,
        usize,
        usize,
        usize,
        usize,
    ) {
        (
            self.full_admin,
            self.privilege_escalation > 0,
            self.permissions_management_on_any > 0,
            self.data_exfiltration > 0,
            self.resource_exposure > 0,
            self.privilege_escalation,
            self.permissions_management_on_any,
            self.data_exfiltration,
            self.resource_exposure,
            self.granted,
        )
    }

    /// The categories present, most severe first, for reports.
    pub fn labels(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.full_admin {
            out.push("full-admin");
        }
        for (n, label) in [
            (self.privilege_escalation, "privilege-escalation"),
            (
                self.permissions_management_on_any,
                "permissions-management-on-any",
            ),
            (self.data_exfiltration, "data-exfiltration"),
            (self.resource_exposure, "resource-exposure"),
            (self.credentials_exposure, "credentials-exposure"),
        ] {
            if n > 0 {
                out.push(label);
            }
        }
        out
    }
}
