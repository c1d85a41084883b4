//! Minimizing one policy document against one usage observation: the keep rules, statement by
//! statement, then the containment proof.

use super::proof::grants_no_more;
use super::size::{
    MAX_MANAGED_POLICIES_PER_PRINCIPAL, STATEMENT_ACTION_CAP, fits_managed_quota, split_statement,
};
use super::{
    Applicability, KeepReason, MinimizeError, PolicySuggestion, StatementChange, Verdicts,
};
use crate::iam::action::{ActionPattern, Caseless, has_wildcard, with_ascii_lowercase};
use crate::iam::catalog::{
    ActionInfo, Catalog, DataEventType, ExercisedAction, Visibility, exercised_by,
};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, ResourceSpec, Statement};
use crate::usage::ObservedUsage;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, LazyLock};

/// Kept explicit lists longer than this were kept whole before issue 14; they are now written as
/// statements of at most [`super::size::STATEMENT_ACTION_CAP`] actions, split over policies where
/// the document passes its size limit, and kept whole only when they would need more managed
/// policies than a principal can have ([`super::size::fits_managed_quota`]). The old name stays
/// for its callers.
pub const STATEMENT_ACTION_LIMIT: usize = 1000;

/// What, besides usage, keeps an action: the principal's `.iamtrim.toml` rules.
#[derive(Debug, Clone, Default)]
pub struct KeepRules {
    /// Allowlisted action patterns: matching granted actions stay.
    pub allow: Vec<ActionPattern>,
    /// Service prefixes (lower case) left alone: their actions all stay.
    pub leave_alone: BTreeSet<String>,
    /// Service principals the trust policy lets in (`s3.amazonaws.com`): the permission-only
    /// actions they exercise stay (`data/catalog/service-exercised.tsv`).
    pub trusted_services: BTreeSet<String>,
}

impl KeepRules {
    /// The rules resolved from the configuration for a principal.
    pub fn from_config(rules: &crate::config::PrincipalRules) -> Self {
        KeepRules {
            allow: rules.allow.clone(),
            leave_alone: rules.leave_alone.clone(),
            trusted_services: BTreeSet::new(),
        }
    }
}

/// The position of `info` in `catalog.actions()`, a cheap identity for sets and maps.
fn index_of(catalog: &Catalog, info: &ActionInfo) -> u32 {
    let base = catalog.actions().as_ptr() as usize;
    ((info as *const ActionInfo as usize - base) / std::mem::size_of::<ActionInfo>()) as u32
}

/// A set of catalog positions that empties in O(1): a mark counts only when it carries the
/// current generation. One per purpose, reused for every document of a run, so the hot loops
/// neither hash nor allocate.
#[derive(Default)]
pub(super) struct Marks {
    generation: u32,
    stamps: Vec<u32>,
}

impl Marks {
    /// Forgets every mark; sizes the set for `len` catalog actions on first use.
    pub(super) fn clear(&mut self, len: usize) {
        if self.stamps.len() != len {
            self.stamps = vec![0; len];
            self.generation = 0;
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `i`; true when it was not marked yet.
    pub(super) fn insert(&mut self, i: u32) -> bool {
        let stamp = &mut self.stamps[i as usize];
        let fresh = *stamp != self.generation;
        *stamp = self.generation;
        fresh
    }

    /// True when `i` is marked.
    fn contains(&self, i: u32) -> bool {
        self.stamps[i as usize] == self.generation
    }
}

/// What a pattern expands to: catalog positions.
pub(super) enum Expanded {
    /// The catalog knows no action it matches.
    Nothing,
    /// A literal action the catalog knows.
    One(u32),
    /// A wildcard's matches, shared through the cache.
    Many(Rc<[u32]>),
}

impl Expanded {
    /// The catalog positions, in catalog order.
    pub(super) fn ids(&self) -> &[u32] {
        match self {
            Expanded::Nothing => &[],
            Expanded::One(i) => std::slice::from_ref(i),
            Expanded::Many(ids) => ids,
        }
    }
}

/// Wildcard expansions against the catalog, cached by lower-cased pattern: principals share
/// patterns (`s3:Get*`, `ec2:Describe*`), and the same document is expanded for its verdicts, for
/// the document before the plan and for the risk ranking.
pub(super) struct PatternCache<'c> {
    catalog: &'c Catalog,
    wildcards: HashMap<Box<str>, Rc<[u32]>, foldhash::fast::RandomState>,
}

impl<'c> PatternCache<'c> {
    /// The catalog positions `text` (an `Action` element) matches.
    pub(super) fn expand(&mut self, text: &str) -> Expanded {
        if !has_wildcard(text) {
            // A literal is one hash lookup: not worth a stored entry.
            return match self.catalog.position(text) {
                Some(i) => Expanded::One(i as u32),
                None => Expanded::Nothing,
            };
        }
        if let Some(found) = with_ascii_lowercase(text, |lower| self.wildcards.get(lower).cloned())
        {
            return Expanded::Many(found);
        }
        let pattern = ActionPattern::new(text);
        let catalog = self.catalog;
        let found: Rc<[u32]> = catalog
            .expand(&pattern)
            .into_iter()
            .map(|a| index_of(catalog, a))
            .collect();
        self.wildcards
            .insert(pattern.lower().into(), Rc::clone(&found));
        if found.is_empty() {
            Expanded::Nothing
        } else {
            Expanded::Many(found)
        }
    }

    /// Calls `f` with every catalog position an `Allow` statement grants (repeats possible), and
    /// returns its patterns the catalog does not know. `None` for statements that grant nothing
    /// (Deny, no action element).
    pub(super) fn grants(&mut self, st: &Statement, mut f: impl FnMut(u32)) -> Option<Vec<String>> {
        if st.effect != Effect::Allow {
            return None;
        }
        match st.action.as_ref()? {
            ActionSpec::Action(list) => {
                let mut unknown = Vec::new();
                for text in &list.values {
                    let expanded = self.expand(text);
                    if expanded.ids().is_empty() {
                        unknown.push(text.clone());
                    }
                    expanded.ids().iter().for_each(|&i| f(i));
                }
                Some(unknown)
            }
            ActionSpec::NotAction(list) => {
                let patterns: Vec<ActionPattern> =
                    list.values.iter().map(|t| ActionPattern::new(t)).collect();
                for info in self.catalog.expand_not_action(&patterns) {
                    f(index_of(self.catalog, info));
                }
                Some(Vec::new())
            }
        }
    }
}

/// The sets reused by every document of a run (see [`Marks`]).
#[derive(Default)]
pub(super) struct Scratch {
    /// Actions judged for the current document, with their verdicts in `verdicts`.
    judged: Marks,
    verdicts: Vec<Verdict>,
    /// Actions recorded in the current document's verdict list.
    recorded: Marks,
    /// Actions of a statement kept whole, in the current document.
    whole: Marks,
    /// Actions written into the current statement's new `Action` list.
    written: Marks,
    /// Actions the document before the plan granted.
    before: Marks,
    /// The current document's distinct actions in the order first met, the current statement's
    /// actions, and the document's actions by name rank: buffers kept between documents.
    doc_ids: Vec<u32>,
    statement_ids: Vec<u32>,
    ranked: Vec<u64>,
    /// Risk ranking: actions granted, and granted on every resource.
    pub(super) granted: Marks,
    pub(super) on_any: Marks,
}

/// The catalog positions of the `Action` elements of the documents last expanded for a risk
/// profile (one principal's), so that minimizing the same documents right after does not look each
/// literal up in the catalog again.
///
/// The risk profile meets every literal first, when it is not in the cache; the second look-up
/// hashed and compared the name again. Keyed by the document's address: the documents outlive the
/// run (they are borrowed from the principals), and each entry also checks the statement's length.
#[derive(Default)]
pub(super) struct LiteralMemo {
    /// The documents recorded, and where each one's statements start in `statements`.
    docs: Vec<(*const PolicyDocument, usize)>,
    /// Per statement of those documents: where its elements start in `elements`, and how many
    /// there are (zero for a statement without an `Allow` `Action` list).
    statements: Vec<(u32, u32)>,
    /// Per element: a catalog position, [`LiteralMemo::UNKNOWN`] or [`LiteralMemo::WILDCARD`].
    elements: Vec<u32>,
}

impl LiteralMemo {
    /// A literal the catalog does not know.
    const UNKNOWN: u32 = u32::MAX;
    /// A wildcard: expanded through the cache, as it always is.
    pub(super) const WILDCARD: u32 = u32::MAX - 1;

    /// Forgets every document (the buffers are kept).
    pub(super) fn clear(&mut self) {
        self.docs.clear();
        self.statements.clear();
        self.elements.clear();
    }

    /// Starts recording `doc`.
    pub(super) fn begin(&mut self, doc: &PolicyDocument) {
        self.docs
            .push((doc as *const PolicyDocument, self.statements.len()));
    }

    /// Starts recording the next statement of the current document.
    pub(super) fn statement(&mut self) {
        self.statements.push((self.elements.len() as u32, 0));
    }

    /// Room for the `n` elements of the current statement, each [`LiteralMemo::UNKNOWN`] until
    /// set to a position or [`LiteralMemo::WILDCARD`].
    pub(super) fn elements_of_statement(&mut self, n: usize) -> &mut [u32] {
        let start = self.elements.len();
        self.elements.resize(start + n, Self::UNKNOWN);
        if let Some(last) = self.statements.last_mut() {
            last.1 = n as u32;
        }
        &mut self.elements[start..]
    }

    /// The recorded elements of statement `index` of `doc`, when recorded with `len` elements.
    fn elements(&self, doc: &PolicyDocument, index: usize, len: usize) -> Option<&[u32]> {
        let key = doc as *const PolicyDocument;
        let &(_, first) = self.docs.iter().find(|(d, _)| *d == key)?;
        let &(start, n) = self.statements.get(first + index)?;
        (n as usize == len).then(|| &self.elements[start as usize..start as usize + len])
    }
}

/// The expansion cache and the reusable sets of one run, shared by every document of it.
pub(super) struct Expansions<'c> {
    pub(super) cache: PatternCache<'c>,
    pub(super) scratch: Scratch,
    pub(super) memo: LiteralMemo,
}

impl<'c> Expansions<'c> {
    /// An empty cache over `catalog`.
    pub(super) fn new(catalog: &'c Catalog) -> Self {
        Expansions {
            cache: PatternCache {
                catalog,
                wildcards: HashMap::default(),
            },
            scratch: Scratch::default(),
            memo: LiteralMemo::default(),
        }
    }

    /// The catalog the expansions come from.
    pub(super) fn catalog(&self) -> &'c Catalog {
        self.cache.catalog
    }
}

/// Number of distinct actions `docs` together allow: catalog expansion of every `Allow` statement
/// (Deny and conditions are not subtracted), plus each pattern the catalog does not know counted
/// once.
pub fn granted_actions<'d>(
    docs: impl IntoIterator<Item = &'d PolicyDocument>,
    catalog: &Catalog,
) -> usize {
    granted_actions_cached(docs, &mut Expansions::new(catalog))
}

/// [`granted_actions`] for many sets of documents (one per principal, say), with one cache of
/// pattern expansions for all of them: principals share managed policies, whose patterns are then
/// expanded once. Each distinct document (by identity: the same `PolicyDocument` in memory, as the
/// `Arc`s of discovery share it) is also counted once, its granted positions and unknown patterns
/// kept, so a principal's count is the union of its documents' sets: the AWS-managed documents
/// hold thousands of literals that would otherwise be looked up again for every principal.
/// One per thread; the documents must outlive it (`'d`), so no address is reused while it lives.
pub struct GrantCounter<'c, 'd> {
    expansions: Expansions<'c>,
    documents: HashMap<*const PolicyDocument, Rc<DocumentGrants>, foldhash::fast::RandomState>,
    /// Dedupes the positions of the document being counted.
    seen: Marks,
    _documents: std::marker::PhantomData<&'d PolicyDocument>,
}

/// What one document grants: distinct catalog positions, and distinct patterns (lower case) the
/// catalog does not know.
struct DocumentGrants {
    known: Box<[u32]>,
    unknown: Box<[Box<str>]>,
}

impl<'c, 'd> GrantCounter<'c, 'd> {
    /// An empty counter over `catalog`.
    pub fn new(catalog: &'c Catalog) -> Self {
        GrantCounter {
            expansions: Expansions::new(catalog),
            documents: HashMap::default(),
            seen: Marks::default(),
            _documents: std::marker::PhantomData,
        }
    }

    /// The same count as [`granted_actions`].
    pub fn count(&mut self, docs: impl IntoIterator<Item = &'d PolicyDocument>) -> usize {
        let sets: Vec<Rc<DocumentGrants>> = docs.into_iter().map(|d| self.document(d)).collect();
        if let [one] = sets.as_slice() {
            // Each set is distinct already.
            return one.known.len() + one.unknown.len();
        }
        let catalog = self.expansions.catalog();
        let marks = &mut self.expansions.scratch.granted;
        marks.clear(catalog.len());
        let mut known = 0;
        let mut unknown: HashSet<&str> = HashSet::new();
        for set in &sets {
            for &i in set.known.iter() {
                known += usize::from(marks.insert(i));
            }
            unknown.extend(set.unknown.iter().map(|p| &**p));
        }
        known + unknown.len()
    }

    /// `doc`'s grants, counted on first sight.
    fn document(&mut self, doc: &'d PolicyDocument) -> Rc<DocumentGrants> {
        let key = doc as *const PolicyDocument;
        if let Some(found) = self.documents.get(&key) {
            return Rc::clone(found);
        }
        let Expansions { cache, .. } = &mut self.expansions;
        let seen = &mut self.seen;
        seen.clear(cache.catalog.len());
        let mut known = Vec::new();
        let mut unknown = HashSet::new();
        for st in &doc.statements {
            let found = cache.grants(st, |i| {
                if seen.insert(i) {
                    known.push(i);
                }
            });
            for p in found.into_iter().flatten() {
                unknown.insert(p.to_ascii_lowercase().into_boxed_str());
            }
        }
        let grants = Rc::new(DocumentGrants {
            known: known.into(),
            unknown: unknown.into_iter().collect(),
        });
        self.documents.insert(key, Rc::clone(&grants));
        grants
    }
}

/// [`granted_actions`] with a shared expansion cache.
pub(super) fn granted_actions_cached<'d>(
    docs: impl IntoIterator<Item = &'d PolicyDocument>,
    expansions: &mut Expansions<'_>,
) -> usize {
    let Expansions { cache, scratch, .. } = expansions;
    let marks = &mut scratch.granted;
    marks.clear(cache.catalog.len());
    let mut known = 0;
    let mut unknown = HashSet::new();
    for st in docs.into_iter().flat_map(|doc| &doc.statements) {
        let found = cache.grants(st, |i| known += usize::from(marks.insert(i)));
        for p in found.into_iter().flatten() {
            unknown.insert(p.to_ascii_lowercase());
        }
    }
    known + unknown.len()
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

/// A bit per catalog action; an empty set allocates nothing (most usages saw no denied call).
#[derive(Default)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> Self {
        BitSet(vec![0; len.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: u32) -> bool {
        self.0
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// The usage lookups and reason sentences the keep rules need, built once per (merged) usage and
/// shared by every document minimized against it.
pub(super) struct UsageIndex<'a> {
    usage: &'a ObservedUsage,
    /// Catalog actions used, and seen only denied, by position.
    used: BitSet,
    denied: BitSet,
    /// Used actions the catalog does not know, in usage order and as a set.
    used_unknown: Vec<&'a str>,
    used_unknown_set: HashSet<Caseless<'a>>,
    /// Dependent actions of the used actions: catalog position -> the first used action needing it.
    needed_by: HashMap<u32, u32, foldhash::fast::RandomState>,
    /// Bits of the `DataEventType::ALL` indices the source saw data events of.
    data_event_types: u16,
    /// Services (prefixes, any case) the principal called, successfully or denied.
    /// Built on first need: only data events of types the source did not log ask.
    used_services: OnceCell<HashSet<Caseless<'a>, foldhash::fast::RandomState>>,
    used_reason: Arc<str>,
    not_used_reason: Arc<str>,
    denied_reason: Arc<str>,
}

impl<'a> UsageIndex<'a> {
    /// Indexes `usage` against `catalog`.
    pub(super) fn new(usage: &'a ObservedUsage, catalog: &Catalog) -> Self {
        let window = &usage.window;
        let mut used = BitSet::new(catalog.len());
        let mut used_unknown = Vec::new();
        // Walked in name order, so the action named as the need is the same on every run.
        let mut needed_by = HashMap::default();
        // Looked up in batches: the names are in random catalog order, their misses overlap.
        catalog.each_position(
            usage.actions.keys().map(String::as_str),
            |name| name,
            |name, user| {
                let Some(user) = user else {
                    used_unknown.push(name);
                    return;
                };
                used.insert(user);
                for &d in catalog.dependent_positions(user) {
                    needed_by.entry(d).or_insert(user as u32);
                }
            },
        );
        let data_event_types = usage
            .data_event_types
            .iter()
            .filter_map(|t| DataEventType::from_name(t))
            .fold(0u16, |bits, t| bits | data_event_bit(t));
        let mut denied = BitSet::default();
        if !usage.denied.is_empty() {
            denied = BitSet::new(catalog.len());
        }
        for name in usage.denied.keys() {
            if let Some(i) = catalog.position(name) {
                denied.insert(i);
            }
        }
        UsageIndex {
            usage,
            used,
            denied,
            used_services: OnceCell::new(),
            used_unknown_set: used_unknown.iter().map(|a| Caseless(a)).collect(),
            used_unknown,
            needed_by,
            data_event_types,
            used_reason: format!("used between {} and {}", window.start, window.end).into(),
            not_used_reason: format!("not used between {} and {}", window.start, window.end).into(),
            denied_reason: format!(
                "only denied calls seen between {} and {} (denied calls never count as use)",
                window.start, window.end
            )
            .into(),
        }
    }
}

impl<'a> UsageIndex<'a> {
    /// True when the principal called a `service` action (any case), successfully or denied.
    fn used_service(&self, service: &str) -> bool {
        self.used_services
            .get_or_init(|| {
                let usage = self.usage;
                usage
                    .actions
                    .keys()
                    .chain(usage.denied.keys())
                    .filter_map(|a| a.split_once(':'))
                    .map(|(service, _)| Caseless(service))
                    .collect()
            })
            .contains(&Caseless(service))
    }
}

/// True when an Allow statement of `doc` names `service` (no wildcard in it) in an `Action`
/// pattern without a wildcard in the service part (`s3:*` names `s3`; `*`, `s3*:Get*` and
/// `NotAction` name none), in any case.
///
/// A scan per question: only data events of types the source did not log ask, so a document is
/// asked about its few data-event services, and a scan comparing a prefix costs less than
/// hashing every pattern's service into a set.
fn names_service(doc: &PolicyDocument, service: &str) -> bool {
    // A service part with a wildcard names nothing (the catalog refuses `:` in a prefix).
    if service.contains(['*', '?']) {
        return false;
    }
    let n = service.len();
    doc.statements
        .iter()
        .filter(|st| st.effect == Effect::Allow)
        .filter_map(|st| match &st.action {
            Some(ActionSpec::Action(list)) => Some(list.values.iter()),
            _ => None,
        })
        .flatten()
        .any(|p| {
            // The text before the first `:` is `service` (which has no `:`), in any case.
            let p = p.as_bytes();
            p.len() > n && p[n] == b':' && p[..n].eq_ignore_ascii_case(service.as_bytes())
        })
}

/// The bit of `t` in `UsageIndex::data_event_types`.
fn data_event_bit(t: DataEventType) -> u16 {
    let i = DataEventType::ALL.iter().position(|x| *x == t).unwrap_or(0);
    1 << i
}

/// Why a verdict is what it is, as data; the sentence is rendered once per action at the end.
// `u32` payloads keep a `Verdict` at 12 bytes: the per-run array of them has one per catalog
// action and is read in random order (an allowlist or trust table never nears 2^32 rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reason {
    Used,
    /// By the allowlist pattern at this index of `KeepRules::allow`.
    Allowlisted(u32),
    ServiceLeftAlone,
    NewInPlan,
    NeverLogged,
    /// Listed among the dependent actions of the used action at this catalog position.
    NeededBy(u32),
    /// Exercised by the trusted service of this row of `Judge::exercised`.
    ExercisedBy(u32),
    /// Removed: permission-only, and nothing the principal did needs it.
    PermissionOnlyNotNeeded,
    DataEventNotSeen,
    /// Removed for review: a data event of a type the source did not log, granted only through a
    /// pattern over every service (`*`, `NotAction`), in a service the principal never called.
    DataEventNotSeenServiceUnused,
    UnmappedEvents,
    NoActionLevelData,
    BlockedByDeny,
    OnlyDenied,
    NotUsed,
}

/// The sentences of one document written once and shared: by reason and the catalog's service
/// prefix (or the data-event type's name, or nothing when the reason says it all).
type Sentences = HashMap<(Reason, &'static str), Arc<str>, foldhash::fast::RandomState>;

/// The verdict on one catalog action, small and copyable while statements are walked.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    keep: bool,
    kind: Option<KeepReason>,
    reason: Reason,
}

// One per catalog action in `Scratch::verdicts`, read in random order: kept small.
const _: () = assert!(std::mem::size_of::<Verdict>() <= 12);

impl Default for Verdict {
    fn default() -> Self {
        Verdict {
            keep: false,
            kind: None,
            reason: Reason::NotUsed,
        }
    }
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

/// The sentences that do not depend on the usage, shared by every verdict that gives them.
static NEW_IN_PLAN: LazyLock<Arc<str>> =
    LazyLock::new(|| "granted by this plan, so it cannot have usage yet".into());
static NEVER_LOGGED: LazyLock<Arc<str>> = LazyLock::new(|| {
    "an API CloudTrail never records (data/catalog/never-logged.tsv): no log can show it used"
        .into()
});
static PERMISSION_ONLY_NOT_NEEDED: LazyLock<Arc<str>> = LazyLock::new(|| {
    "permission-only; no used action needs it (no log can show it used: review)".into()
});
static BLOCKED_BY_DENY: LazyLock<Arc<str>> = LazyLock::new(|| {
    "used, but an unconditional Deny in this document blocks it, so this policy never granted it"
        .into()
});

/// What the document before this plan granted, for the new-in-plan rule.
enum Before {
    /// The policy did not exist: everything is new.
    Absent,
    /// The same document: nothing is new.
    Same,
    /// Its catalog actions are marked in `Scratch::before`; these are its unknown patterns.
    Marked(HashSet<String>),
}

/// Everything the keep rules need for one document.
struct Judge<'a, 'u> {
    catalog: &'static Catalog,
    index: &'a UsageIndex<'u>,
    rules: &'a KeepRules,
    blanket_denies: Vec<&'a Statement>,
    before: Before,
    /// Whether every service has action-level data, so the per-action check can be skipped.
    all_action_level: bool,
    /// The permission-only actions the trusted services exercise.
    exercised: Vec<&'static ExercisedAction>,
    /// Services an Allow statement of the current document names (`kinesis:PutRecord`, `s3:*`),
    /// as opposed to reaching them only through `*` or `NotAction`: asked on first need, per
    /// service (the catalog's spelling), and remembered.
    named_services: RefCell<Vec<(&'static str, bool)>>,
    current: &'a PolicyDocument,
}

impl<'a, 'u> Judge<'a, 'u> {
    fn new(
        current: &'a PolicyDocument,
        before: Option<&PolicyDocument>,
        index: &'a UsageIndex<'u>,
        cache: &mut PatternCache<'static>,
        before_marks: &mut Marks,
        rules: &'a KeepRules,
    ) -> Self {
        let catalog = cache.catalog;
        let before = match before {
            None => Before::Absent,
            Some(doc) if doc == current => Before::Same,
            Some(doc) => {
                before_marks.clear(catalog.len());
                let mut unknown = HashSet::new();
                for st in &doc.statements {
                    let found = cache.grants(st, |i| {
                        before_marks.insert(i);
                    });
                    for p in found.into_iter().flatten() {
                        unknown.insert(p.to_ascii_lowercase());
                    }
                }
                Before::Marked(unknown)
            }
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
            before,
            all_action_level: usage.service_level_only.is_empty()
                && usage.action_level_services.is_none(),
            exercised: rules
                .trusted_services
                .iter()
                .flat_map(|s| exercised_by(s))
                .collect(),
            named_services: RefCell::new(Vec::new()),
            current,
        }
    }

    /// The verdict on the catalog action at position `id`; `before_marks` is `Scratch::before`.
    fn judge(&self, id: u32, before_marks: &Marks) -> Verdict {
        let info = &self.catalog.actions()[id as usize];
        let used = self.index.used.contains(id);
        let blocked = used
            && !self.blanket_denies.is_empty()
            && blocked_everywhere(&self.blanket_denies, info.name());
        let keep = |kind: KeepReason, reason: Reason| Verdict {
            keep: true,
            kind: Some(kind),
            reason,
        };
        if used && !blocked {
            return keep(KeepReason::Used, Reason::Used);
        }
        if let Some(i) = self.rules.allow.iter().position(|p| p.matches(info.name())) {
            return keep(KeepReason::Allowlisted, Reason::Allowlisted(i as u32));
        }
        let service = || info.service().to_ascii_lowercase();
        if !self.rules.leave_alone.is_empty() && self.rules.leave_alone.contains(&service()) {
            return keep(KeepReason::ServiceLeftAlone, Reason::ServiceLeftAlone);
        }
        let new_in_plan = match &self.before {
            Before::Absent => true,
            Before::Same => false,
            Before::Marked(_) => !before_marks.contains(id),
        };
        if new_in_plan {
            return keep(KeepReason::NewInPlan, Reason::NewInPlan);
        }
        let usage = self.index.usage;
        if !usage.unmapped_events.is_empty() && usage.unmapped_events.contains_key(&service()) {
            return keep(KeepReason::UnmappedEvents, Reason::UnmappedEvents);
        }
        // Without action-level data for the service, nothing is known of what it used, nor so of
        // which permission-only actions its calls need.
        if !self.all_action_level && !usage.has_action_level_data(&service()) {
            return keep(KeepReason::NoActionLevelData, Reason::NoActionLevelData);
        }
        // A used call needs its dependent actions whatever their visibility: a tagged
        // `ec2:RunInstances` is authorized for `ec2:CreateTags`, which is then never logged apart.
        if let Some(&user) = (!self.index.needed_by.is_empty())
            .then(|| self.index.needed_by.get(&id))
            .flatten()
        {
            return keep(KeepReason::NeededByUsedAction, Reason::NeededBy(user));
        }
        match info.visibility() {
            Visibility::NeverLogged => return keep(KeepReason::NeverLogged, Reason::NeverLogged),
            Visibility::PermissionOnly => {
                if let Some(row) = self
                    .exercised
                    .iter()
                    .position(|r| r.pattern.matches(info.name()))
                {
                    return keep(
                        KeepReason::NeededByTrustedService,
                        Reason::ExercisedBy(row as u32),
                    );
                }
                return Verdict {
                    keep: false,
                    kind: None,
                    reason: Reason::PermissionOnlyNotNeeded,
                };
            }
            Visibility::DataEvent(t) => {
                // The types seen when the source tells them apart, else whether it saw any.
                let seen = match t {
                    Some(t) if self.index.data_event_types != 0 => {
                        self.index.data_event_types & data_event_bit(t) != 0
                    }
                    _ => usage.data_events_seen,
                };
                if !seen {
                    // A service someone granted by name, or one the principal called, may well be
                    // used through calls this source could not see: keep. A service reached only
                    // through `*` or `NotAction` and never called is removed, for review.
                    if self.names_service(info.service()) || self.index.used_service(info.service())
                    {
                        return keep(KeepReason::DataEventNotSeen, Reason::DataEventNotSeen);
                    }
                    return Verdict {
                        keep: false,
                        kind: None,
                        reason: Reason::DataEventNotSeenServiceUnused,
                    };
                }
            }
            Visibility::Management => {}
        }
        let reason = if blocked {
            Reason::BlockedByDeny
        } else if self.index.denied.contains(id) {
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

    /// True when an Allow statement of the current document names `service` ([`names_service`]).
    fn names_service(&self, service: &'static str) -> bool {
        let mut asked = self.named_services.borrow_mut();
        if let Some(&(_, named)) = asked.iter().find(|(s, _)| *s == service) {
            return named;
        }
        let named = names_service(self.current, service);
        asked.push((service, named));
        named
    }

    /// Why, as people read it. `sentences` keeps the per-service sentences of this document, so
    /// each is written once.
    fn sentence(
        &self,
        info: &'static ActionInfo,
        v: Verdict,
        sentences: &mut Sentences,
    ) -> Arc<str> {
        // Keyed by the catalog's spelling of the prefix, one per service (the catalog refuses a
        // prefix twice in any case); the sentence names it lower-cased.
        let mut per_service = |reason: Reason, text: fn(&str) -> String| {
            Arc::clone(
                sentences
                    .entry((reason, info.service()))
                    .or_insert_with(|| text(&info.service().to_ascii_lowercase()).into()),
            )
        };
        let reason: Arc<str> = match v.reason {
            Reason::Used => Arc::clone(&self.index.used_reason),
            // Keyed by the pattern's index (in the reason), written once per document.
            Reason::Allowlisted(i) => {
                Arc::clone(sentences.entry((v.reason, "")).or_insert_with(|| {
                    format!(
                        "allowlisted by `{}` in .iamtrim.toml",
                        self.rules.allow[i as usize]
                    )
                    .into()
                }))
            }
            Reason::ServiceLeftAlone => per_service(v.reason, |s| {
                format!("service `{s}` is left alone in .iamtrim.toml")
            }),
            Reason::NewInPlan => Arc::clone(&NEW_IN_PLAN),
            Reason::NeverLogged => Arc::clone(&NEVER_LOGGED),
            // Keyed by the user (in the reason), so each is written once per document.
            Reason::NeededBy(user) => {
                Arc::clone(sentences.entry((v.reason, "")).or_insert_with(|| {
                    format!(
                        "a dependent action of {}, which was used",
                        self.catalog.actions()[user as usize].name()
                    )
                    .into()
                }))
            }
            // Keyed by the row (in the reason), written once per document.
            Reason::ExercisedBy(row) => {
                Arc::clone(sentences.entry((v.reason, "")).or_insert_with(|| {
                    let row = self.exercised[row as usize];
                    format!(
                        "permission-only; the trust policy lets in {} ({})",
                        row.service, row.why
                    )
                    .into()
                }))
            }
            Reason::PermissionOnlyNotNeeded => Arc::clone(&PERMISSION_ONLY_NOT_NEEDED),
            // One sentence per data-event type, keyed by its name.
            Reason::DataEventNotSeen => {
                let t = info.data_event_type();
                Arc::clone(
                    sentences
                        .entry((v.reason, t.map_or("", |t| t.as_str())))
                        .or_insert_with(|| match t {
                            Some(t) => format!(
                                "logged only as a data event ({t}), and the source saw no data events of that type"
                            )
                            .into(),
                            None => "logged only as a data event, and the source did not see data events"
                                .into(),
                        }),
                )
            }
            Reason::DataEventNotSeenServiceUnused => per_service(v.reason, |s| {
                format!(
                    "logged only as a data event of a type the source did not log; granted only through a pattern over every service, and the principal called no `{s}` action (review)"
                )
            }),
            Reason::UnmappedEvents => per_service(v.reason, |s| {
                format!(
                    "the source saw `{s}` events it could not map to an action, so every `{s}` action stays"
                )
            }),
            Reason::NoActionLevelData => per_service(v.reason, |s| {
                format!("the usage source has no action-level data for `{s}`")
            }),
            Reason::BlockedByDeny => Arc::clone(&BLOCKED_BY_DENY),
            Reason::OnlyDenied => Arc::clone(&self.index.denied_reason),
            Reason::NotUsed => Arc::clone(&self.index.not_used_reason),
        };
        if v.kind == Some(KeepReason::StatementKeptWhole) {
            format!("{reason}; kept because its statement is kept whole").into()
        } else {
            reason
        }
    }

    /// The verdict on a pattern the catalog does not know: always kept verbatim.
    fn judge_unknown(&self, pattern: &str) -> UnknownVerdict {
        let new = match &self.before {
            Before::Absent => true,
            Before::Same => false,
            Before::Marked(unknown) => !unknown.contains(&pattern.to_ascii_lowercase()),
        };
        let reason = if self.index.used_unknown_set.contains(&Caseless(pattern)) {
            "unknown to the action catalog (used); kept verbatim"
        } else if new {
            "unknown to the action catalog and new in this plan; kept verbatim"
        } else {
            "unknown to the action catalog; kept verbatim rather than guessed at"
        };
        UnknownVerdict {
            action: pattern.to_string(),
            reason: reason.into(),
            kind: KeepReason::UnknownToCatalog,
        }
    }
}

/// The verdict on an action the catalog does not know (always kept).
struct UnknownVerdict {
    action: String,
    reason: Arc<str>,
    kind: KeepReason,
}

/// Kinds that keep a whole wildcard pattern verbatim when every action it expands to has one:
/// the source knows nothing to shrink it with, so listing its actions would only freeze it.
fn keeps_pattern_verbatim(kind: Option<KeepReason>) -> bool {
    matches!(
        kind,
        Some(KeepReason::ServiceLeftAlone | KeepReason::NoActionLevelData | KeepReason::NewInPlan)
    )
}

/// Adds `action` to `out` unless already there (IAM compares actions case-insensitively). For
/// text that is not a catalog action name: those are deduplicated by position.
fn push_unique_text(out: &mut Vec<String>, seen: &mut HashSet<String>, action: &str) {
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
    catalog: &'static Catalog,
    rules: &KeepRules,
) -> Result<PolicySuggestion, MinimizeError> {
    let index = UsageIndex::new(usage, catalog);
    minimize_indexed(
        &Arc::new(current.clone()),
        before,
        &index,
        &mut Expansions::new(catalog),
        rules,
    )
}

/// [`minimize_document`] with the usage already indexed and a shared expansion cache.
pub(super) fn minimize_indexed<'a, 'u>(
    current: &'a Arc<PolicyDocument>,
    before: Option<&PolicyDocument>,
    index: &'a UsageIndex<'u>,
    expansions: &mut Expansions<'static>,
    rules: &'a KeepRules,
) -> Result<PolicySuggestion, MinimizeError> {
    let catalog = expansions.catalog();
    let len = catalog.len();
    let usage = index.usage;
    let Expansions {
        cache,
        scratch,
        memo,
    } = expansions;
    let Scratch {
        judged,
        verdicts,
        recorded,
        whole,
        written,
        before: before_marks,
        doc_ids,
        statement_ids,
        ranked,
        ..
    } = scratch;
    let judge = Judge::new(current, before, index, cache, before_marks, rules);
    let before_marks = &*before_marks;
    // Judging is per action, independent of the statement, so each action is judged once per
    // document; `doc_ids` lists the distinct actions in the order first met.
    judged.clear(len);
    recorded.clear(len);
    whole.clear(len);
    if verdicts.len() != len {
        *verdicts = vec![Verdict::default(); len];
    }
    let mut verdict_of = |id: u32, verdicts: &mut Vec<Verdict>| -> Verdict {
        if judged.insert(id) {
            verdicts[id as usize] = judge.judge(id, before_marks);
        }
        verdicts[id as usize]
    };
    doc_ids.clear();
    let mut unknown_verdicts: BTreeMap<String, UnknownVerdict> = BTreeMap::new();
    let mut changes = Vec::with_capacity(current.statements.len());
    let mut notes = Vec::new();
    let mut review = false;

    for (i, st) in current.statements.iter().enumerate() {
        let (list, not_action) = match (&st.effect, &st.action) {
            (Effect::Allow, Some(ActionSpec::Action(list))) => (list, false),
            (Effect::Allow, Some(ActionSpec::NotAction(list))) => (list, true),
            _ => {
                changes.push(StatementChange::Keep);
                continue;
            }
        };
        let mut out: Vec<String> = Vec::new();
        written.clear(len);
        let mut seen_text: HashSet<String> = HashSet::new();
        statement_ids.clear();
        let patterns: Vec<ActionPattern>;
        if not_action {
            patterns = list.values.iter().map(|t| ActionPattern::new(t)).collect();
            for info in catalog.expand_not_action(&patterns) {
                let id = index_of(catalog, info);
                let v = verdict_of(id, verdicts);
                if v.keep && written.insert(id) {
                    out.push(info.name().to_string());
                }
                statement_ids.push(id);
            }
        } else {
            patterns = Vec::new();
            let memo = memo.elements(current, i, list.values.len());
            for (j, text) in list.values.iter().enumerate() {
                let expanded = match memo.map(|m| m[j]) {
                    Some(LiteralMemo::UNKNOWN) => Expanded::Nothing,
                    Some(LiteralMemo::WILDCARD) | None => cache.expand(text),
                    Some(position) => Expanded::One(position),
                };
                let ids = expanded.ids();
                if ids.is_empty() {
                    unknown_verdicts
                        .entry(text.to_ascii_lowercase())
                        .or_insert_with(|| judge.judge_unknown(text));
                    push_unique_text(&mut out, &mut seen_text, text);
                    continue;
                }
                let wildcard = matches!(expanded, Expanded::Many(_));
                let mut verbatim = wildcard;
                for &id in ids {
                    let v = verdict_of(id, verdicts);
                    verbatim &= v.keep && keeps_pattern_verbatim(v.kind);
                }
                statement_ids.extend_from_slice(ids);
                if verbatim {
                    push_unique_text(&mut out, &mut seen_text, text);
                    continue;
                }
                for &id in ids {
                    if verdicts[id as usize].keep && written.insert(id) {
                        // A literal action keeps its author's spelling.
                        out.push(if wildcard {
                            catalog.actions()[id as usize].name().to_string()
                        } else {
                            text.clone()
                        });
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
                list.values
                    .iter()
                    .any(|p| has_wildcard(p) && ActionPattern::new(p).matches(used))
            };
            if granted && !seen_text.contains(&used.to_ascii_lowercase()) {
                push_unique_text(&mut out, &mut seen_text, used);
                unknown_verdicts
                    .entry(used.to_ascii_lowercase())
                    .or_insert_with(|| UnknownVerdict {
                        action: used.to_string(),
                        reason: "used; unknown to the action catalog, so listed by name".into(),
                        kind: KeepReason::Used,
                    });
            }
        }
        let change = if !fits_managed_quota(&out) {
            review = true;
            notes.push(format!(
                "statement {}: would need {} explicit actions, more than {MAX_MANAGED_POLICIES_PER_PRINCIPAL} managed policies (IAM's most per principal) can hold; kept unchanged",
                label(i, st),
                out.len()
            ));
            for &id in statement_ids.iter() {
                whole.insert(id);
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
        if let StatementChange::SetActions(kept) = &change
            && kept.len() > STATEMENT_ACTION_CAP
        {
            // A `*` or `NotAction` that used much: listed in full, a statement per cap.
            notes.push(format!(
                "statement {}: {} explicit actions, written as {} statements of at most {STATEMENT_ACTION_CAP}",
                label(i, st),
                kept.len(),
                kept.len().div_ceil(STATEMENT_ACTION_CAP)
            ));
        }
        for &id in statement_ids.iter() {
            if recorded.insert(id) {
                doc_ids.push(id);
            }
        }
        changes.push(change);
    }

    let mut suggested_statements = Vec::with_capacity(current.statements.len());
    for (st, change) in current.statements.iter().zip(&changes) {
        match change {
            StatementChange::Keep => suggested_statements.push(st.clone()),
            StatementChange::SetActions(actions) => {
                suggested_statements.extend(split_statement(st, actions));
            }
            StatementChange::Remove => {}
        }
    }
    let suggested = if suggested_statements.is_empty() {
        notes.push("no statement is left: detach this policy".to_string());
        None
    } else {
        let single = current.single_statement && suggested_statements.len() == 1;
        let mut doc = current.with_statements(suggested_statements);
        doc.single_statement = single;
        Some(doc)
    };
    let empty = PolicyDocument::new(Vec::new());
    grants_no_more(suggested.as_ref().unwrap_or(&empty), current, catalog)
        .map_err(MinimizeError::NotContained)?;

    if !usage.complete {
        review = true;
        notes.push("the usage source reports its result as incomplete".to_string());
    }
    // Sorted by name ignoring case: catalog actions by their rank, merged with the unknown ones
    // (a `BTreeMap` by lower-cased name, the same order).
    let ranks = catalog.ranks();
    ranked.clear();
    // Rank and position packed in one word (rank high): sorting plain integers is about twice as
    // fast as sorting pairs, and ranks are distinct, so the order is the same.
    ranked.extend(
        doc_ids
            .iter()
            .map(|&id| (u64::from(ranks[id as usize]) << 32) | u64::from(id)),
    );
    ranked.sort_unstable();
    let known = ranked.iter().map(|&packed| packed as u32);
    let mut sentences = Sentences::default();
    let mut review_actions: Vec<&str> = Vec::new();
    let mut unseen_data_actions: Vec<&str> = Vec::new();
    let mut unmapped_services: BTreeSet<String> = BTreeSet::new();
    let mut actions = Verdicts::with_capacity(catalog, ranked.len() + unknown_verdicts.len());
    let mut kept = 0;
    let mut unknown = unknown_verdicts.into_values().peekable();
    let push_unknown = |actions: &mut Verdicts, u: UnknownVerdict| {
        actions.push_unknown(u.action, true, &u.reason, Some(u.kind));
    };
    for id in known {
        let info = &catalog.actions()[id as usize];
        while let Some(u) = unknown.next_if(|u| cmp_caseless(&u.action, info.name()).is_lt()) {
            push_unknown(&mut actions, u);
            kept += 1;
        }
        let mut v = verdicts[id as usize];
        if !v.keep && whole.contains(id) {
            v = v.kept_whole();
        }
        let reason = judge.sentence(info, v, &mut sentences);
        let needs_review = !v.keep
            && matches!(
                v.reason,
                Reason::PermissionOnlyNotNeeded | Reason::DataEventNotSeenServiceUnused
            );
        if !v.keep && v.reason == Reason::PermissionOnlyNotNeeded {
            review_actions.push(info.name());
        }
        if !v.keep && v.reason == Reason::DataEventNotSeenServiceUnused {
            unseen_data_actions.push(info.name());
        }
        if v.kind == Some(KeepReason::UnmappedEvents) {
            unmapped_services.insert(info.service().to_ascii_lowercase());
        }
        actions.push_catalog(id, (v.keep, needs_review), &reason, v.kind);
        kept += usize::from(v.keep);
    }
    for u in unknown {
        push_unknown(&mut actions, u);
        kept += 1;
    }
    if !review_actions.is_empty() {
        review = true;
        // Named in full per action in the verdicts; the note names the first few.
        const NAMED: usize = 10;
        let more = review_actions.len().saturating_sub(NAMED);
        notes.push(format!(
            "review: removes {} permission-only action{} that no log can show used and no used action needs: {}{}",
            review_actions.len(),
            if review_actions.len() == 1 { "" } else { "s" },
            review_actions[..review_actions.len().min(NAMED)].join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    if !unseen_data_actions.is_empty() {
        review = true;
        const NAMED: usize = 10;
        let more = unseen_data_actions.len().saturating_sub(NAMED);
        notes.push(format!(
            "review: removes {} data-event action{} of types the source did not log, granted only through `*` or `NotAction`, in services the principal never called: {}{}",
            unseen_data_actions.len(),
            if unseen_data_actions.len() == 1 { "" } else { "s" },
            unseen_data_actions[..unseen_data_actions.len().min(NAMED)].join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ));
    }
    for service in &unmapped_services {
        if let Some(events) = usage.unmapped_events.get(service) {
            review = true;
            notes.push(format!(
                "review: the source saw `{service}` events it could not map to an action ({}); every granted `{service}` action stays",
                events.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Ok(PolicySuggestion {
        policy_address: String::new(),
        block_address: String::new(),
        current: Arc::clone(current),
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
