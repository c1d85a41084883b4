//! Risk ranking of a principal from the catalog: what its current documents grant, by category.
//!
//! Unlike the syntactic flags of `crate::iam::risk`, this expands every `Allow` against the catalog,
//! so `iam:*`, `NotAction` and `*` count for what they really grant.

use super::document::{Expansions, LiteralMemo};
use crate::iam::action::has_wildcard;
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
        let Expansions {
            cache,
            scratch,
            memo,
        } = expansions;
        let (granted, on_any) = (&mut scratch.granted, &mut scratch.on_any);
        // The literals' positions are kept for minimizing these documents next.
        memo.clear();
        granted.clear(catalog.len());
        on_any.clear(catalog.len());
        let actions = catalog.actions();
        // Counted as each action is first met: no list of the granted actions is kept.
        let mut profile = RiskProfile::default();
        for doc in docs {
            memo.begin(doc);
            for st in &doc.statements {
                memo.statement();
                if st.effect != Effect::Allow {
                    continue;
                }
                let any_resource = match &st.resource {
                    Some(ResourceSpec::Resource(r)) => r.values.iter().any(|v| v == "*"),
                    Some(ResourceSpec::NotResource(_)) | None => true,
                };
                if let Some(ActionSpec::Action(l)) = &st.action {
                    profile.full_admin |= any_resource && l.values.iter().any(|v| v == "*");
                }
                let mut count = |id: u32| {
                    let action = &actions[id as usize];
                    if granted.insert(id) {
                        profile.count_granted(action);
                    }
                    if any_resource
                        && on_any.insert(id)
                        && action.access_level() == AccessLevel::PermissionsManagement
                    {
                        profile.permissions_management_on_any += 1;
                    }
                };
                match &st.action {
                    // What `PatternCache::grants` does, each element recorded on the way.
                    // What `PatternCache::grants` does (the order does not change the counts),
                    // each element's position remembered.
                    Some(ActionSpec::Action(l)) => {
                        let remembered = memo.elements_of_statement(l.values.len());
                        // The literals together: their catalog look-ups miss the cache together.
                        let literals = l.values.iter().enumerate();
                        catalog.each_position(
                            literals.filter(|(_, t)| !has_wildcard(t)),
                            |(_, t)| t.as_str(),
                            |(j, _), position| {
                                if let Some(p) = position {
                                    remembered[j] = p as u32;
                                    count(p as u32);
                                }
                            },
                        );
                        for (j, text) in l.values.iter().enumerate() {
                            if has_wildcard(text) {
                                remembered[j] = LiteralMemo::WILDCARD;
                                cache.expand(text).ids().iter().for_each(|&id| count(id));
                            }
                        }
                    }
                    Some(ActionSpec::NotAction(_)) => {
                        cache.grants(st, count);
                    }
                    None => {}
                }
            }
        }
        profile
    }

    /// Counts `action`, granted and not counted before, in its categories.
    fn count_granted(&mut self, action: &ActionInfo) {
        self.granted += 1;
        let has = |c| usize::from(action.has_risk(c));
        self.privilege_escalation += has(RiskCategory::PrivilegeEscalation);
        self.data_exfiltration += has(RiskCategory::DataExfiltration);
        self.resource_exposure += has(RiskCategory::ResourceExposure);
        self.credentials_exposure += has(RiskCategory::CredentialsExposure);
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
