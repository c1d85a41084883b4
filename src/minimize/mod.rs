//! The minimizer: given what a principal has and what it used, compute what it should have.
//!
//! Pure: policy documents + `ObservedUsage` + the action catalog + the `.iamtrim.toml`
//! `Config` (`crate::config`) in, [`PrincipalOutcome`]s out, no I/O and no printing. Main entry points:
//! [`minimize_all`] (every principal of a plan, with the union rule for shared policies),
//! [`minimize_document`] (one document against one usage), [`grants_no_more`] (the containment
//! proof every suggestion must pass), [`RiskProfile`] (catalog-based ranking that orders the
//! output) and [`explain`] (plain-text verdicts). `docs/minimizing.md` describes the algorithm.
//!
//! It does not read usage sources, parse plans or write Terraform: `crate::usage`, `crate::plan`
//! and `crate::emit` do.

mod all;
pub mod analysis;
pub mod aws_managed;
mod document;
mod explain;
mod proof;
mod risk;
pub mod size;

pub use all::minimize_all;
pub use analysis::Analysis;
pub use aws_managed::{Minimized, PolicyReplacement, PriorAttachments, minimize_with_replacements};
pub use document::{
    GrantCounter, KeepRules, STATEMENT_ACTION_LIMIT, granted_actions, minimize_document,
};
pub use explain::explain;
pub use proof::{Counterexample, grants_no_more};
pub use risk::RiskProfile;

use crate::iam::catalog::Catalog;
use crate::iam::policy::PolicyDocument;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What happens to one statement of the current document, in statement order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change", content = "actions")]
pub enum StatementChange {
    /// Unchanged (a Deny, a statement whose actions all stay, a NotAction too broad to expand).
    Keep,
    /// The `Action` list becomes these explicit actions (or patterns kept verbatim).
    SetActions(Vec<String>),
    /// Nothing of it stays: the statement is dropped.
    Remove,
}

/// Why an action stays granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepReason {
    /// The principal used it in the window.
    Used,
    /// An API CloudTrail never records (`data/catalog/never-logged.tsv`): no log can show it used.
    NeverLogged,
    /// A used action lists it among its dependent actions (Service Authorization Reference).
    NeededByUsedAction,
    /// Permission-only, and a service the trust policy lets in exercises it (S3 Replication).
    NeededByTrustedService,
    /// Logged only as a data event, and the source did not see data events of its type.
    DataEventNotSeen,
    /// The source saw events of its service that it could not map to an action.
    UnmappedEvents,
    /// The source has no action-level data for its service.
    NoActionLevelData,
    /// Granted by this plan (not in the document before it), so it cannot have usage yet.
    NewInPlan,
    /// Allowlisted for the principal in `.iamtrim.toml`.
    Allowlisted,
    /// The catalog does not know it; kept verbatim rather than guessed at.
    UnknownToCatalog,
    /// Its service is left alone by `.iamtrim.toml`.
    ServiceLeftAlone,
    /// Its statement (`*`, a `NotAction`) would need too many explicit actions, so it is kept whole.
    StatementKeptWhole,
}

impl KeepReason {
    /// A kebab-case name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            KeepReason::Used => "used",
            KeepReason::NeverLogged => "never-logged",
            KeepReason::NeededByUsedAction => "needed-by-used-action",
            KeepReason::NeededByTrustedService => "needed-by-trusted-service",
            KeepReason::DataEventNotSeen => "data-event-not-seen",
            KeepReason::UnmappedEvents => "unmapped-events",
            KeepReason::NoActionLevelData => "no-action-level-data",
            KeepReason::NewInPlan => "new-in-plan",
            KeepReason::Allowlisted => "allowlisted",
            KeepReason::UnknownToCatalog => "unknown-to-catalog",
            KeepReason::ServiceLeftAlone => "service-left-alone",
            KeepReason::StatementKeptWhole => "statement-kept-whole",
        }
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one action the current document grants, as read from [`Verdicts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionVerdict<'a> {
    /// `service:Name` in the catalog's spelling, or the pattern verbatim when unknown to it.
    pub action: &'a str,
    /// True when the suggestion still grants it.
    pub keep: bool,
    /// True when it is removed although the usage source could not have seen it used (a
    /// permission-only action): the reason a suggestion needs review, per action.
    pub review: bool,
    /// Why, as a sentence for people.
    pub reason: &'a str,
    /// Why it stays, as data; `None` when removed.
    pub kind: Option<KeepReason>,
}

/// One verdict per granted action of a suggestion, sorted by action (ignoring case).
///
/// Stored in 8 bytes a verdict (a catalog position or an index into the names the catalog does
/// not know, and an index into the suggestion's few distinct sentences): a run over thousands of
/// principals holds millions of verdicts. Read them with [`Verdicts::iter`]; they serialize as a
/// list of [`ActionVerdict`].
#[derive(Clone, Default)]
pub struct Verdicts {
    catalog: Option<&'static Catalog>,
    items: Vec<Packed>,
    /// Names of the actions the catalog does not know.
    names: Vec<String>,
    /// The distinct sentences, shared by the verdicts that give them.
    reasons: Vec<Arc<str>>,
}

/// One verdict, packed.
#[derive(Debug, Clone, Copy)]
struct Packed {
    /// A catalog position, or `UNKNOWN | index into names`.
    action: u32,
    reason: u16,
    /// `KEEP` and `REVIEW` bits.
    bits: u8,
    kind: Option<KeepReason>,
}

impl Packed {
    const UNKNOWN: u32 = 1 << 31;
    const KEEP: u8 = 1;
    const REVIEW: u8 = 2;

    fn bits(keep: bool, review: bool) -> u8 {
        (if keep { Self::KEEP } else { 0 }) | (if review { Self::REVIEW } else { 0 })
    }
}

impl Verdicts {
    /// An empty list whose catalog verdicts name actions of `catalog`.
    pub(crate) fn with_capacity(catalog: &'static Catalog, capacity: usize) -> Self {
        Verdicts {
            catalog: Some(catalog),
            items: Vec::with_capacity(capacity),
            names: Vec::new(),
            reasons: Vec::new(),
        }
    }

    fn reason_index(&mut self, reason: &Arc<str>) -> u16 {
        let found = self
            .reasons
            .iter()
            .rposition(|r| Arc::ptr_eq(r, reason) || **r == **reason);
        match found {
            Some(i) => i as u16,
            None => {
                assert!(
                    self.reasons.len() < usize::from(u16::MAX),
                    "too many distinct reasons"
                );
                self.reasons.push(Arc::clone(reason));
                (self.reasons.len() - 1) as u16
            }
        }
    }

    /// Appends the verdict on the catalog action at position `id`.
    pub(crate) fn push_catalog(
        &mut self,
        id: u32,
        (keep, review): (bool, bool),
        reason: &Arc<str>,
        kind: Option<KeepReason>,
    ) {
        debug_assert!(id < Packed::UNKNOWN);
        let reason = self.reason_index(reason);
        self.items.push(Packed {
            action: id,
            reason,
            bits: Packed::bits(keep, review),
            kind,
        });
    }

    /// Appends the verdict on an action the catalog does not know.
    pub(crate) fn push_unknown(
        &mut self,
        name: String,
        keep: bool,
        reason: &Arc<str>,
        kind: Option<KeepReason>,
    ) {
        let reason = self.reason_index(reason);
        self.names.push(name);
        self.items.push(Packed {
            action: Packed::UNKNOWN | (self.names.len() - 1) as u32,
            reason,
            bits: Packed::bits(keep, false),
            kind,
        });
    }

    /// Number of verdicts.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The verdicts, sorted by action.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ActionVerdict<'_>> + Clone + '_ {
        self.items.iter().map(|p| ActionVerdict {
            action: if p.action & Packed::UNKNOWN != 0 {
                &self.names[(p.action & !Packed::UNKNOWN) as usize]
            } else {
                self.catalog
                    .expect("catalog verdicts come with their catalog")
                    .actions()[p.action as usize]
                    .name()
            },
            keep: p.bits & Packed::KEEP != 0,
            review: p.bits & Packed::REVIEW != 0,
            reason: &self.reasons[usize::from(p.reason)],
            kind: p.kind,
        })
    }

    /// The verdict on `action` (any case), if the suggestion has one.
    pub fn get(&self, action: &str) -> Option<ActionVerdict<'_>> {
        self.iter().find(|v| v.action.eq_ignore_ascii_case(action))
    }
}

impl fmt::Debug for Verdicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Verdicts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// How far a suggestion can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// Every removed action would have been visible to the complete usage source: apply it.
    Safe,
    /// A person should look first: a removed action the source could not have seen, events it
    /// could not map, partial usage, or a statement that could not be minimized (the notes and
    /// each verdict's `review` say which).
    ReviewNeeded,
}

impl fmt::Display for Applicability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Applicability::Safe => "safe",
            Applicability::ReviewNeeded => "review-needed",
        })
    }
}

/// The suggestion for one policy document.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySuggestion {
    /// The policy's instance address (the key to deduplicate a policy shared by several principals).
    pub policy_address: String,
    /// Where the edit lands, without instance keys: the rendering `data.aws_iam_policy_document`
    /// when there is one, else the policy resource's block.
    pub block_address: String,
    /// The document today (after this plan), shared with the discovery it came from.
    pub current: Arc<PolicyDocument>,
    /// The smaller document; `None` means nothing is left: detach the policy.
    pub suggested: Option<PolicyDocument>,
    /// One change per statement of `current`.
    pub statements: Vec<StatementChange>,
    /// One verdict per granted action (expanded), sorted by action.
    pub actions: Verdicts,
    /// Safe or review-needed.
    pub applicability: Applicability,
    /// Why the suggestion is what it is (unchanged policies say why here).
    pub notes: Vec<String>,
    /// Number of actions `current` grants (catalog expansion, unknown patterns counted once).
    pub granted: usize,
    /// Number of those the suggestion keeps.
    pub kept: usize,
}

impl PolicySuggestion {
    /// True when the suggestion changes the document.
    pub fn changes_anything(&self) -> bool {
        self.statements.iter().any(|c| *c != StatementChange::Keep)
    }
}

/// What became of one principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalStatus {
    /// At least one of its policies has a smaller suggestion.
    Minimized,
    /// It exists but no usage was observed for it: never minimized to nothing.
    // The report has always spelled this one with spaces, like its Display.
    #[serde(rename = "no usage data")]
    NoUsageData,
    /// This plan creates it: no usage history, skipped.
    New,
    /// `.iamtrim.toml` excludes it.
    Excluded,
    /// Looked at, nothing to change (or nothing safely changeable; the notes say why).
    Unchanged,
}

impl fmt::Display for PrincipalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalStatus::Minimized => "minimized",
            PrincipalStatus::NoUsageData => "no usage data",
            PrincipalStatus::New => "new",
            PrincipalStatus::Excluded => "excluded",
            PrincipalStatus::Unchanged => "unchanged",
        })
    }
}

/// The minimizer's answer for one principal.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalOutcome {
    /// The principal's instance address.
    pub address: String,
    /// What became of it.
    pub status: PrincipalStatus,
    /// One suggestion per known policy document reaching it (shared policies appear under each
    /// principal they reach; `policy_address` identifies them).
    pub suggestions: Vec<PolicySuggestion>,
    /// Why, for statuses other than `Minimized`, and anything else worth saying.
    pub notes: Vec<String>,
    /// For a principal whose usage was usable but nothing changed: why (what stays, and for which
    /// reasons). Apart from `notes` so a later step that does change it (an AWS-managed
    /// replacement) can drop it; report it before the notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_reason: Option<String>,
    /// Its risk from the catalog, which orders the outcomes (riskiest first).
    pub risk: RiskProfile,
}

/// Why the minimizer refused to produce a suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MinimizeError {
    /// The suggestion would grant something the current document does not: a bug, never emitted.
    #[error("refusing a suggestion that grants more than the current policy: {0}")]
    NotContained(Counterexample),
}

#[cfg(test)]
mod tests;
