//! Risk ranking of a principal from the catalog: what its current documents grant, by category.
//!
//! Unlike the syntactic flags of `crate::iam::risk`, this expands every `Allow` against the catalog,
//! so `iam:*`, `NotAction` and `*` count for what they really grant.

use super::document::Expansions;
use crate::iam::catalog::{AccessLevel, ActionInfo, Catalog, RiskCategory};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec};
use serde::Serialize;

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

    /// [`RiskProfile::of`] for each of several document sets (one per principal), sharing the
    /// wildcard expansions and scratch sets between them.
    pub fn of_each<'a, D>(sets: impl IntoIterator<Item = D>, catalog: &Catalog) -> Vec<RiskProfile>
    where
        D: IntoIterator<Item = &'a PolicyDocument>,
    {
        let mut expansions = Expansions::new(catalog);
        sets.into_iter()
            .map(|docs| RiskProfile::of_cached(docs, &mut expansions))
            .collect()
    }

    /// [`RiskProfile::of`] with wildcard expansions shared with the minimizer.
    pub(super) fn of_cached<'a>(
        docs: impl IntoIterator<Item = &'a PolicyDocument>,
        expansions: &mut Expansions<'_>,
    ) -> RiskProfile {
        let catalog = expansions.catalog();
        let Expansions { cache, scratch } = expansions;
        let (granted, on_any) = (&mut scratch.granted, &mut scratch.on_any);
        granted.clear(catalog.len());
        on_any.clear(catalog.len());
        let mut granted_ids: Vec<u32> = Vec::new();
        let mut on_any_ids: Vec<u32> = Vec::new();
        let mut full_admin = false;
        for doc in docs {
            for st in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
                let any_resource = match &st.resource {
                    Some(ResourceSpec::Resource(r)) => r.values.iter().any(|v| v == "*"),
                    Some(ResourceSpec::NotResource(_)) | None => true,
                };
                if let Some(ActionSpec::Action(l)) = &st.action {
                    full_admin |= any_resource && l.values.iter().any(|v| v == "*");
                }
                cache.grants(st, |id| {
                    if granted.insert(id) {
                        granted_ids.push(id);
                    }
                    if any_resource && on_any.insert(id) {
                        on_any_ids.push(id);
                    }
                });
            }
        }
        let actions = catalog.actions();
        let count = |ids: &[u32], pred: &dyn Fn(&ActionInfo) -> bool| {
            ids.iter().filter(|&&i| pred(&actions[i as usize])).count()
        };
        RiskProfile {
            full_admin,
            privilege_escalation: count(&granted_ids, &|a| {
                a.has_risk(RiskCategory::PrivilegeEscalation)
            }),
            permissions_management_on_any: count(&on_any_ids, &|a| {
                a.access_level() == AccessLevel::PermissionsManagement
            }),
            data_exfiltration: count(&granted_ids, &|a| {
                a.has_risk(RiskCategory::DataExfiltration)
            }),
            resource_exposure: count(&granted_ids, &|a| {
                a.has_risk(RiskCategory::ResourceExposure)
            }),
            credentials_exposure: count(&granted_ids, &|a| {
                a.has_risk(RiskCategory::CredentialsExposure)
            }),
            granted: granted_ids.len(),
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
