//! Minimizing one policy document against one usage observation: the keep rules, statement by
//! statement, then the containment proof.

use super::proof::grants_no_more;
use super::{
    ActionVerdict, Applicability, KeepReason, MinimizeError, PolicySuggestion, StatementChange,
};
use crate::iam::action::ActionPattern;
use crate::iam::catalog::{ActionInfo, Catalog};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec, Statement};
use crate::usage::ObservedUsage;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::rc::Rc;

/// An `Allow` statement (`*`, a `NotAction`) whose minimized form would list more explicit actions
/// than this is kept whole and flagged: a policy of thousands of actions helps nobody and hits IAM's size limits.
pub const STATEMENT_ACTION_LIMIT: usize = 1000;

/// What, besides usage, keeps an action: the principal's `.iamtrim.toml` rules.
#[derive(Debug, Clone, Default)]
pub struct KeepRules {
    /// Allowlisted action patterns: matching granted actions stay.
    pub allow: Vec<ActionPattern>,
    /// Service prefixes (lower case) left alone: their actions all stay.
    pub leave_alone: BTreeSet<String>,
}

impl KeepRules {
    /// The rules resolved from the configuration for a principal.
    pub fn from_config(rules: &crate::config::PrincipalRules) -> Self {
        KeepRules {
            allow: rules.allow.clone(),
            leave_alone: rules.leave_alone.clone(),
        }
    }
}

/// An action name hashed and compared ignoring ASCII case, so lookups need no allocation.
#[derive(Clone, Copy)]
struct Caseless<'a>(&'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}
impl Eq for Caseless<'_> {}
impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

/// The position of `info` in `catalog.actions()`, a cheap identity for sets and maps.
fn index_of(catalog: &Catalog, info: &ActionInfo) -> usize {
    let base = catalog.actions().as_ptr() as usize;
    (info as *const ActionInfo as usize - base) / std::mem::size_of::<ActionInfo>()
}

/// Wildcard expansions against the catalog, cached by lower-cased pattern: principals share
/// patterns (`s3:Get*`, `ec2:Describe*`), and the same document is expanded for its verdicts, for
/// the document before the plan and for the risk ranking.
pub(super) struct Expansions<'c> {
    catalog: &'c Catalog,
    wildcards: HashMap<Box<str>, Rc<[&'c ActionInfo]>>,
}

impl<'c> Expansions<'c> {
    /// An empty cache over `catalog`.
    pub(super) fn new(catalog: &'c Catalog) -> Self {
        Expansions {
            catalog,
            wildcards: HashMap::new(),
        }
    }

    /// The catalog the expansions come from.
    pub(super) fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    /// What [`Catalog::expand`] returns for `pattern`, shared.
    pub(super) fn expand(&mut self, pattern: &ActionPattern) -> Rc<[&'c ActionInfo]> {
        if !pattern.is_wildcard() {
            // A literal is one binary search: not worth a hash lookup and a stored entry.
            return self.catalog.lookup(pattern.lower()).into_iter().collect();
        }
        if let Some(found) = self.wildcards.get(pattern.lower()) {
            return Rc::clone(found);
        }
        let found: Rc<[&'c ActionInfo]> = self.catalog.expand(pattern).into();
        self.wildcards
            .insert(pattern.lower().into(), Rc::clone(&found));
        found
    }
}

/// The catalog actions an `Allow` statement grants, and its patterns the catalog does not know.
/// `None` for statements that grant nothing (Deny, no action element).
fn statement_grants<'c>(
    st: &Statement,
    expansions: &mut Expansions<'c>,
) -> Option<(Vec<&'c ActionInfo>, Vec<String>)> {
    if st.effect != Effect::Allow {
        return None;
    }
    match st.action.as_ref()? {
        ActionSpec::Action(list) => {
            let mut known = Vec::new();
            let mut unknown = Vec::new();
            for text in &list.values {
                let expanded = expansions.expand(&ActionPattern::new(text));
                if expanded.is_empty() {
                    unknown.push(text.clone());
                }
                known.extend(expanded.iter().copied());
            }
            Some((known, unknown))
        }
        ActionSpec::NotAction(list) => {
            let patterns: Vec<ActionPattern> =
                list.values.iter().map(|t| ActionPattern::new(t)).collect();
            Some((
                expansions.catalog().expand_not_action(&patterns),
                Vec::new(),
            ))
        }
    }
}

/// Number of distinct actions `doc` allows: catalog expansion of every `Allow` statement, plus
/// each pattern the catalog does not know counted once.
pub fn granted_actions(doc: &PolicyDocument, catalog: &Catalog) -> usize {
    let mut expansions = Expansions::new(catalog);
    let mut known = HashSet::new();
    let mut unknown = HashSet::new();
    for st in &doc.statements {
        if let Some((k, u)) = statement_grants(st, &mut expansions) {
            known.extend(k.into_iter().map(|a| index_of(catalog, a)));
            unknown.extend(u.into_iter().map(|p| p.to_ascii_lowercase()));
        }
    }
    known.len() + unknown.len()
}

/// True when an unconditional Deny of `doc` (no Condition, no Principal, Resource `*`) blocks `action`
/// everywhere, so this document cannot be what let the principal call it.
fn blocked_everywhere(denies: &[&Statement], action: &str) -> bool {
    denies.iter().any(|st| match &st.action {
        Some(ActionSpec::Action(l)) => l
            .values
            .iter()
            .any(|p| ActionPattern::new(p).matches(action)),
        Some(ActionSpec::NotAction(l)) => !l
            .values
            .iter()
            .any(|p| ActionPattern::new(p).matches(action)),
        None => false,
    })
}

/// An unconditional Deny on every resource.
fn is_blanket_deny(st: &Statement) -> bool {
    st.effect == Effect::Deny
        && st.condition.is_none()
        && st.principal.is_none()
        && match &st.resource {
            Some(ResourceSpec::Resource(r)) => r.values.iter().any(|v| v == "*"),
            Some(ResourceSpec::NotResource(_)) => false,
            None => true,
        }
}

/// The usage lookups and reason sentences the keep rules need, built once per (merged) usage and
/// shared by every document minimized against it.
pub(super) struct UsageIndex<'a> {
    usage: &'a ObservedUsage,
    used: HashSet<Caseless<'a>>,
    denied: HashSet<Caseless<'a>>,
    /// Used actions the catalog does not know.
    used_unknown: Vec<&'a str>,
    used_reason: String,
    not_used_reason: String,
    denied_reason: String,
}

impl<'a> UsageIndex<'a> {
    /// Indexes `usage` against `catalog`.
    pub(super) fn new(usage: &'a ObservedUsage, catalog: &Catalog) -> Self {
        let window = &usage.window;
        UsageIndex {
            usage,
            used: usage.actions.keys().map(|k| Caseless(k)).collect(),
            denied: usage.denied.keys().map(|k| Caseless(k)).collect(),
            used_unknown: usage
                .actions
                .keys()
                .map(String::as_str)
                .filter(|a| catalog.lookup(a).is_none())
                .collect(),
            used_reason: format!("used between {} and {}", window.start, window.end),
            not_used_reason: format!("not used between {} and {}", window.start, window.end),
            denied_reason: format!(
                "only denied calls seen between {} and {} (denied calls never count as use)",
                window.start, window.end
            ),
        }
    }
}

/// Why a verdict is what it is, as data; the sentence is rendered once per action at the end.
#[derive(Debug, Clone, Copy)]
enum Reason {
    Used,
    /// By the allowlist pattern at this index of `KeepRules::allow`.
    Allowlisted(usize),
    ServiceLeftAlone,
    NewInPlan,
    Unlogged,
    DataEventNotSeen,
    NoActionLevelData,
    BlockedByDeny,
    OnlyDenied,
    NotUsed,
}

/// The verdict on one catalog action, small and copyable while statements are walked.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    keep: bool,
    kind: Option<KeepReason>,
    reason: Reason,
}

impl Verdict {
    /// The same verdict, kept because its statement is kept whole.
    fn kept_whole(self) -> Verdict {
        Verdict {
            keep: true,
            kind: Some(KeepReason::StatementKeptWhole),
            reason: self.reason,
        }
    }
}

/// Everything the keep rules need for one document.
struct Judge<'a> {
    catalog: &'a Catalog,
    index: &'a UsageIndex<'a>,
    rules: &'a KeepRules,
    blanket_denies: Vec<&'a Statement>,
    /// Catalog actions the document before this plan granted; `None` when it did not exist.
    before_known: Option<HashSet<usize>>,
    before_unknown: HashSet<String>,
    /// Whether every service has action-level data, so the per-action check can be skipped.
    all_action_level: bool,
}

impl<'a> Judge<'a> {
    fn new<'c: 'a>(
        current: &'a PolicyDocument,
        before: Option<&PolicyDocument>,
        index: &'a UsageIndex<'a>,
        expansions: &mut Expansions<'c>,
        rules: &'a KeepRules,
    ) -> Self {
        let catalog = expansions.catalog();
        let (before_known, before_unknown) = match before {
            Some(doc) => {
                let mut known = HashSet::new();
                let mut unknown = HashSet::new();
                for st in &doc.statements {
                    if let Some((k, u)) = statement_grants(st, expansions) {
                        known.extend(k.into_iter().map(|a| index_of(catalog, a)));
                        unknown.extend(u.into_iter().map(|p| p.to_ascii_lowercase()));
                    }
                }
                (Some(known), unknown)
            }
            None => (None, HashSet::new()),
        };
        let usage = index.usage;
        Judge {
            catalog,
            index,
            rules,
            blanket_denies: current
                .statements
                .iter()
                .filter(|s| is_blanket_deny(s))
                .collect(),
            before_known,
            before_unknown,
            all_action_level: usage.service_level_only.is_empty()
                && usage.action_level_services.is_none(),
        }
    }

    /// The verdict on one catalog action.
    fn judge(&self, info: &ActionInfo) -> Verdict {
        let name = info.name();
        let used = self.index.used.contains(&Caseless(name));
        let blocked = used && blocked_everywhere(&self.blanket_denies, name);
        let keep = |kind: KeepReason, reason: Reason| Verdict {
            keep: true,
            kind: Some(kind),
            reason,
        };
        if used && !blocked {
            return keep(KeepReason::Used, Reason::Used);
        }
        if let Some(i) = self.rules.allow.iter().position(|p| p.matches(name)) {
            return keep(KeepReason::Allowlisted, Reason::Allowlisted(i));
        }
        let service = || info.service().to_ascii_lowercase();
        if !self.rules.leave_alone.is_empty() && self.rules.leave_alone.contains(&service()) {
            return keep(KeepReason::ServiceLeftAlone, Reason::ServiceLeftAlone);
        }
        let new_in_plan = self
            .before_known
            .as_ref()
            .is_none_or(|b| !b.contains(&index_of(self.catalog, info)));
        if new_in_plan {
            return keep(KeepReason::NewInPlan, Reason::NewInPlan);
        }
        if info.is_unlogged() {
            return keep(KeepReason::Unlogged, Reason::Unlogged);
        }
        if info.is_data_event() && !self.index.usage.data_events_seen {
            return keep(KeepReason::DataEventNotSeen, Reason::DataEventNotSeen);
        }
        if !self.all_action_level && !self.index.usage.has_action_level_data(&service()) {
            return keep(KeepReason::NoActionLevelData, Reason::NoActionLevelData);
        }
        let reason = if blocked {
            Reason::BlockedByDeny
        } else if self.index.denied.contains(&Caseless(name)) {
            Reason::OnlyDenied
        } else {
            Reason::NotUsed
        };
        Verdict {
            keep: false,
            kind: None,
            reason,
        }
    }

    /// The verdict on a catalog action as people read it.
    fn render(&self, info: &ActionInfo, v: Verdict) -> ActionVerdict {
        let service = || info.service().to_ascii_lowercase();
        let reason = match v.reason {
            Reason::Used => self.index.used_reason.clone(),
            Reason::Allowlisted(i) => format!("allowlisted by `{}` in .iamtrim.toml", self.rules.allow[i]),
            Reason::ServiceLeftAlone => {
                format!("service `{}` is left alone in .iamtrim.toml", service())
            }
            Reason::NewInPlan => "granted by this plan, so it cannot have usage yet".to_string(),
            Reason::Unlogged => "permission-only: no log ever shows it used".to_string(),
            Reason::DataEventNotSeen => {
                "logged only as a data event, and the source did not see data events".to_string()
            }
            Reason::NoActionLevelData => format!(
                "the usage source has no action-level data for `{}`",
                service()
            ),
            Reason::BlockedByDeny => "used, but an unconditional Deny in this document blocks it, so this policy never granted it".to_string(),
            Reason::OnlyDenied => self.index.denied_reason.clone(),
            Reason::NotUsed => self.index.not_used_reason.clone(),
        };
        let reason = if v.kind == Some(KeepReason::StatementKeptWhole) {
            format!("{reason}; kept because its statement is kept whole")
        } else {
            reason
        };
        ActionVerdict {
            action: info.name().to_string(),
            keep: v.keep,
            reason,
            kind: v.kind,
        }
    }

    /// The verdict on a pattern the catalog does not know: always kept verbatim.
    fn judge_unknown(&self, pattern: &str) -> ActionVerdict {
        let new = self.before_known.is_none()
            || !self.before_unknown.contains(&pattern.to_ascii_lowercase());
        let reason = if self.index.used.contains(&Caseless(pattern)) {
            "unknown to the action catalog (used); kept verbatim".to_string()
        } else if new {
            "unknown to the action catalog and new in this plan; kept verbatim".to_string()
        } else {
            "unknown to the action catalog; kept verbatim rather than guessed at".to_string()
        };
        ActionVerdict {
            action: pattern.to_string(),
            keep: true,
            reason,
            kind: Some(KeepReason::UnknownToCatalog),
        }
    }
}

/// Kinds that keep a whole wildcard pattern verbatim when every action it expands to has one:
/// the source knows nothing to shrink it with, so listing its actions would only freeze it.
fn keeps_pattern_verbatim(kind: Option<KeepReason>) -> bool {
    matches!(
        kind,
        Some(KeepReason::ServiceLeftAlone | KeepReason::NoActionLevelData | KeepReason::NewInPlan)
    )
}

/// Verdicts collected over a document, one per distinct action.
#[derive(Default)]
struct Verdicts<'c> {
    known: HashMap<usize, (&'c ActionInfo, Verdict)>,
    unknown: BTreeMap<String, ActionVerdict>,
}

impl<'c> Verdicts<'c> {
    /// Records a verdict; when statements disagree (a NotAction kept whole), keeping wins.
    fn record_known(&mut self, index: usize, info: &'c ActionInfo, verdict: Verdict) {
        match self.known.get(&index) {
            Some((_, old)) if old.keep || !verdict.keep => {}
            _ => {
                self.known.insert(index, (info, verdict));
            }
        }
    }
}

/// Adds `action` to `out` unless already there (IAM compares actions case-insensitively).
fn push_unique(out: &mut Vec<String>, seen: &mut HashSet<String>, action: &str) {
    if seen.insert(action.to_ascii_lowercase()) {
        out.push(action.to_string());
    }
}

/// Minimizes one document against one usage.
///
/// `before` is the document before this plan (`None` when this plan creates the policy, which makes
/// every action new in this plan). The result has passed [`grants_no_more`]; when it would not,
/// the error carries the counterexample and nothing is emitted.
pub fn minimize_document(
    current: &PolicyDocument,
    before: Option<&PolicyDocument>,
    usage: &ObservedUsage,
    catalog: &Catalog,
    rules: &KeepRules,
) -> Result<PolicySuggestion, MinimizeError> {
    let index = UsageIndex::new(usage, catalog);
    minimize_indexed(
        current,
        before,
        &index,
        &mut Expansions::new(catalog),
        rules,
    )
}

/// [`minimize_document`] with the usage already indexed and a shared expansion cache.
pub(super) fn minimize_indexed<'a, 'c: 'a>(
    current: &'a PolicyDocument,
    before: Option<&PolicyDocument>,
    index: &'a UsageIndex<'a>,
    expansions: &mut Expansions<'c>,
    rules: &'a KeepRules,
) -> Result<PolicySuggestion, MinimizeError> {
    let catalog = expansions.catalog();
    let usage = index.usage;
    let judge = Judge::new(current, before, index, expansions, rules);
    let mut verdicts = Verdicts::default();
    let mut changes = Vec::with_capacity(current.statements.len());
    let mut notes = Vec::new();
    let mut review = false;
    // Judging is per action, independent of the statement, so each action is judged once.
    let mut cache: HashMap<usize, Verdict> = HashMap::new();
    let mut verdict_of = |info: &ActionInfo| -> Verdict {
        *cache
            .entry(index_of(catalog, info))
            .or_insert_with(|| judge.judge(info))
    };

    for (i, st) in current.statements.iter().enumerate() {
        let (list, not_action) = match (&st.effect, &st.action) {
            (Effect::Allow, Some(ActionSpec::Action(list))) => (list, false),
            (Effect::Allow, Some(ActionSpec::NotAction(list))) => (list, true),
            _ => {
                changes.push(StatementChange::Keep);
                continue;
            }
        };
        let patterns: Vec<ActionPattern> =
            list.values.iter().map(|t| ActionPattern::new(t)).collect();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // (catalog action, verdict, written into `out`) for every action the statement grants.
        let mut judged: Vec<(&ActionInfo, Verdict)> = Vec::new();
        if not_action {
            for info in catalog.expand_not_action(&patterns) {
                let v = verdict_of(info);
                if v.keep {
                    push_unique(&mut out, &mut seen, info.name());
                }
                judged.push((info, v));
            }
        } else {
            for (text, pattern) in list.values.iter().zip(&patterns) {
                let expanded = expansions.expand(pattern);
                if expanded.is_empty() {
                    verdicts
                        .unknown
                        .entry(text.to_ascii_lowercase())
                        .or_insert_with(|| judge.judge_unknown(text));
                    push_unique(&mut out, &mut seen, text);
                    continue;
                }
                let start = judged.len();
                judged.extend(expanded.iter().map(|&a| (a, verdict_of(a))));
                let mine = &judged[start..];
                let verbatim = pattern.is_wildcard()
                    && mine
                        .iter()
                        .all(|(_, v)| v.keep && keeps_pattern_verbatim(v.kind));
                if verbatim {
                    push_unique(&mut out, &mut seen, text);
                }
                for (info, v) in mine {
                    if v.keep && !verbatim {
                        // A literal action keeps its author's spelling.
                        push_unique(
                            &mut out,
                            &mut seen,
                            if pattern.is_wildcard() {
                                info.name()
                            } else {
                                text
                            },
                        );
                    }
                }
            }
        }
        // Used actions the catalog does not know but a wildcard or the NotAction grants: the
        // expansion cannot list them, so they are added by name lest a workload break.
        for used in &index.used_unknown {
            let granted = if not_action {
                !patterns.iter().any(|p| p.matches(used))
            } else {
                patterns.iter().any(|p| p.is_wildcard() && p.matches(used))
            };
            if granted && !seen.contains(&used.to_ascii_lowercase()) {
                push_unique(&mut out, &mut seen, used);
                verdicts
                    .unknown
                    .entry(used.to_ascii_lowercase())
                    .or_insert_with(|| ActionVerdict {
                        action: used.to_string(),
                        keep: true,
                        reason: "used; unknown to the action catalog, so listed by name"
                            .to_string(),
                        kind: Some(KeepReason::Used),
                    });
            }
        }
        let change = if out.len() > STATEMENT_ACTION_LIMIT {
            review = true;
            notes.push(format!(
                "statement {}: would need {} explicit actions (limit {STATEMENT_ACTION_LIMIT}); kept unchanged",
                label(i, st),
                out.len()
            ));
            for (_, v) in judged.iter_mut().filter(|(_, v)| !v.keep) {
                *v = v.kept_whole();
            }
            StatementChange::Keep
        } else if out.is_empty() {
            StatementChange::Remove
        } else if !not_action
            && out.len() == list.values.len()
            && out.iter().zip(&list.values).all(|(a, b)| a == b)
        {
            StatementChange::Keep
        } else {
            StatementChange::SetActions(out)
        };
        for (info, v) in judged {
            verdicts.record_known(index_of(catalog, info), info, v);
        }
        changes.push(change);
    }

    let mut suggested_statements = Vec::with_capacity(current.statements.len());
    for (st, change) in current.statements.iter().zip(&changes) {
        match change {
            StatementChange::Keep => suggested_statements.push(st.clone()),
            StatementChange::SetActions(actions) => {
                let mut st = st.clone();
                st.set_actions(actions.clone());
                suggested_statements.push(st);
            }
            StatementChange::Remove => {}
        }
    }
    let suggested = if suggested_statements.is_empty() {
        notes.push("no statement is left: detach this policy".to_string());
        None
    } else {
        let mut doc = current.clone();
        doc.single_statement = current.single_statement && suggested_statements.len() == 1;
        doc.statements = suggested_statements;
        Some(doc)
    };
    let empty = PolicyDocument::new(Vec::new());
    grants_no_more(suggested.as_ref().unwrap_or(&empty), current, catalog)
        .map_err(MinimizeError::NotContained)?;

    if !usage.complete {
        review = true;
        notes.push("the usage source reports its result as incomplete".to_string());
    }
    let mut actions: Vec<ActionVerdict> = verdicts
        .known
        .into_values()
        .map(|(info, v)| judge.render(info, v))
        .chain(verdicts.unknown.into_values())
        .collect();
    actions.sort_by(|a, b| cmp_caseless(&a.action, &b.action));
    let kept = actions.iter().filter(|v| v.keep).count();
    Ok(PolicySuggestion {
        policy_address: String::new(),
        block_address: String::new(),
        current: current.clone(),
        suggested,
        statements: changes,
        granted: actions.len(),
        kept,
        actions,
        applicability: if review {
            Applicability::ReviewNeeded
        } else {
            Applicability::Safe
        },
        notes,
    })
}

/// Compares ASCII case-insensitively without allocating (the order of the lower-cased names).
fn cmp_caseless(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// `2 ("ReadBucket")` or `2`, for notes.
fn label(index: usize, st: &Statement) -> String {
    match &st.sid {
        Some(sid) => format!("{index} ({sid:?})"),
        None => index.to_string(),
    }
}
