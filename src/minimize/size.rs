//! IAM's size limits for policy documents, and splitting a document that is over its limit.
//!
//! Pure: documents in, documents out. Main items: [`SizeLimit`] (the limit of each kind of policy),
//! [`policy_size`] (the characters IAM counts), [`split_within`] / [`split_for_size`] (a document
//! shared out over as few documents as fit), [`split_statement`] (one long `Action` list written
//! as several statements of the same scope) and [`inline_overflow`] (a principal's inline policies
//! together over their aggregate limit, and which of them move to managed policies).
//!
//! The limits are those of "IAM and AWS STS quotas" (IAM User Guide,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>, "IAM and STS
//! character limits"): a managed policy 6,144 characters; the inline policies of a role together
//! 10,240, of a user 2,048, of a group 5,120; whitespace is not counted.
//!
//! It does not decide what a document keeps (`super::document`) nor how the parts are written
//! (`crate::emit`).

use super::{Applicability, PolicySuggestion, PrincipalOutcome};
use crate::iam::policy::{ActionSpec, Effect, PolicyDocument, Statement};
use crate::iam::principal::{PolicyKind, PolicySource, Principal, PrincipalKind};
use std::collections::{BTreeMap, HashMap};

/// IAM's size limit for a managed policy document, whitespace not counted.
pub const MANAGED_POLICY_MAX_CHARS: usize = 6_144;
/// IAM's limit for the inline policies of one role together, whitespace not counted.
pub const ROLE_INLINE_MAX_CHARS: usize = 10_240;
/// IAM's limit for the inline policies of one user together, whitespace not counted.
pub const USER_INLINE_MAX_CHARS: usize = 2_048;
/// IAM's limit for the inline policies of one group together, whitespace not counted.
pub const GROUP_INLINE_MAX_CHARS: usize = 5_120;

/// Most explicit actions one statement of a suggestion lists; a longer kept list is written as
/// several statements of the same scope.
///
/// IAM sets no per-statement limit, so the cap is chosen for the reader and the splitter: 150
/// names average about 4,500 counted characters (catalog names are about 28 characters, plus
/// quotes and a comma), so a statement of the cap plus its scope fits a managed policy on its own
/// and a reviewer reads one screen-sized list at a time.
pub const STATEMENT_ACTION_CAP: usize = 150;

/// Most managed policies IAM lets one role or user have attached, after a quota increase (10 by
/// default; a group has 10 at most): a kept list that needs more than this many managed policies
/// cannot be granted explicitly at all.
pub const MAX_MANAGED_POLICIES_PER_PRINCIPAL: usize = 20;

/// True when `actions` written as an explicit `Action` list fit in
/// [`MAX_MANAGED_POLICIES_PER_PRINCIPAL`] managed policies: each name counts its characters,
/// quotes and comma, and each policy loses a share to its scope, estimated at an eighth.
pub fn fits_managed_quota(actions: &[String]) -> bool {
    let chars: usize = actions.iter().map(|a| a.len() + 3).sum();
    chars
        <= MAX_MANAGED_POLICIES_PER_PRINCIPAL
            * (MANAGED_POLICY_MAX_CHARS - MANAGED_POLICY_MAX_CHARS / 8)
}

/// The kind of policy a document is written as, which sets its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SizeLimit {
    /// A customer-managed policy (`aws_iam_policy`).
    Managed,
    /// An inline policy of a role (`aws_iam_role_policy`, an `inline_policy` block).
    RoleInline,
    /// An inline policy of a user (`aws_iam_user_policy`).
    UserInline,
    /// An inline policy of a group (`aws_iam_group_policy`).
    GroupInline,
}

impl SizeLimit {
    /// The characters IAM allows, whitespace not counted.
    pub fn max_chars(self) -> usize {
        match self {
            SizeLimit::Managed => MANAGED_POLICY_MAX_CHARS,
            SizeLimit::RoleInline => ROLE_INLINE_MAX_CHARS,
            SizeLimit::UserInline => USER_INLINE_MAX_CHARS,
            SizeLimit::GroupInline => GROUP_INLINE_MAX_CHARS,
        }
    }

    /// The kind of the Terraform resource type that holds a policy document, if it is one.
    pub fn of_resource_type(resource_type: &str) -> Option<SizeLimit> {
        Some(match resource_type {
            "aws_iam_policy" => SizeLimit::Managed,
            "aws_iam_role_policy" | "aws_iam_role" => SizeLimit::RoleInline,
            "aws_iam_user_policy" => SizeLimit::UserInline,
            "aws_iam_group_policy" => SizeLimit::GroupInline,
            _ => return None,
        })
    }

    /// Words for notes, e.g. `a managed policy`.
    pub fn describe(self) -> &'static str {
        match self {
            SizeLimit::Managed => "a managed policy",
            SizeLimit::RoleInline => "a role's inline policies",
            SizeLimit::UserInline => "a user's inline policies",
            SizeLimit::GroupInline => "a group's inline policies",
        }
    }
}

/// The limit of the policy at `address` (a policy's instance address, as reports give it, e.g.
/// `module.app.aws_iam_role_policy.x["a"]` or `aws_iam_role.app (inline policy x)`), from its
/// resource type; `None` for what is not a policy resource iamtrim edits.
pub fn limit_of_policy(address: &str) -> Option<SizeLimit> {
    let block = address.split(' ').next().unwrap_or(address);
    let mut parts = block.split('.').peekable();
    while parts.peek() == Some(&"module") {
        parts.next();
        parts.next();
    }
    let resource_type = parts.next()?;
    SizeLimit::of_resource_type(resource_type)
}

/// Flags a suggestion whose document is over IAM's limit for its kind of policy: it has to be
/// written as several policies (`crate::emit` puts them in `iamtrim.suggested.tf`), which is
/// never a patch in place, so a person reviews it. An inline limit is an aggregate of the
/// principal's inline policies: a document over it alone is flagged here, a principal whose
/// documents are over it together by [`flag_inline_aggregates`].
pub fn flag_oversize(s: &mut PolicySuggestion) {
    let (Some(doc), Some(limit)) = (&s.suggested, limit_of_policy(&s.policy_address)) else {
        return;
    };
    // Serializing every suggestion of a large run costs more than minimizing it: the bound
    // settles nearly all of them.
    if size_upper_bound(doc) <= limit.max_chars() {
        return;
    }
    let size = policy_size(doc);
    if size <= limit.max_chars() {
        return;
    }
    // Inline limits are aggregates per principal, so more inline policies would not help:
    // the parts are managed policies, each within its own limit.
    let parts = split_for_size(doc).len();
    s.applicability = Applicability::ReviewNeeded;
    s.notes.push(format!(
        "review: the suggestion is {size} characters, over IAM's {} for {}: written as {parts} managed {} in {SUGGESTION_FILE}, to attach instead of this one",
        limit.max_chars(),
        limit.describe(),
        if parts == 1 { "policy" } else { "policies" }
    ));
}

/// A principal's inline policies that, as suggested, are together over IAM's aggregate limit for
/// its kind (a role 10,240 characters, a user 2,048, a group 5,120), and the suggestions that
/// move to managed policies so the rest fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineOverflow {
    /// The principal's address.
    pub principal: String,
    /// The aggregate limit.
    pub limit: SizeLimit,
    /// The counted characters of every inline policy of the principal, as suggested.
    pub total: usize,
    /// Each inline policy counted and its characters: a changed one as suggested, an unchanged
    /// one (or one outside the configuration) as it is today; in the principal's order.
    pub counted: Vec<(String, usize)>,
    /// The suggestions written as managed policies instead, largest first.
    pub moved: Vec<String>,
}

impl InlineOverflow {
    /// True when the suggestion for `policy_address` moves to managed policies.
    pub fn moves(&self, policy_address: &str) -> bool {
        self.moved.iter().any(|m| m == policy_address)
    }

    /// Words for notes: `the inline policies of R total N characters, over IAM's L for a role's
    /// inline policies (A 1234, B 5678)`.
    pub fn describe(&self) -> String {
        let each: Vec<String> = self
            .counted
            .iter()
            .map(|(address, size)| format!("{address} {size}"))
            .collect();
        format!(
            "as suggested, the inline policies of {} total {} characters, over IAM's {} for {} ({})",
            self.principal,
            self.total,
            self.limit.max_chars(),
            self.limit.describe(),
            each.join(", ")
        )
    }
}

/// The aggregate limit of a principal's inline policies.
fn inline_limit(kind: PrincipalKind) -> SizeLimit {
    match kind {
        PrincipalKind::Role => SizeLimit::RoleInline,
        PrincipalKind::User => SizeLimit::UserInline,
        PrincipalKind::Group => SizeLimit::GroupInline,
    }
}

/// True for the policies IAM counts against a principal's inline limit: its own inline policies,
/// in the configuration or not (a group's policies count for the group, not for its users).
fn is_own_inline(source: &PolicySource) -> bool {
    match source.kind {
        PolicyKind::Inline => true,
        PolicyKind::OutsideConfiguration => source.arn.is_none(),
        PolicyKind::Managed | PolicyKind::AwsManaged | PolicyKind::InheritedFromGroup => false,
    }
}

/// The principal's inline policies when, as suggested in `suggestions`, they are together over
/// its aggregate limit; `None` when they fit.
///
/// A changed policy counts as suggested (nothing when detached), an unchanged one or one outside
/// the configuration as it is today, one whose document is unknown not at all. A suggestion over
/// the limit alone is left out: it becomes managed policies anyway ([`flag_oversize`]). The rule
/// for what moves: the largest changed suggestions first, one by one, until the rest fits; an
/// unchanged policy never moves (iamtrim does not rewrite what it does not trim). Moving the
/// largest first moves as few policies as a greedy choice can, so the fewest patches turn into
/// suggestion files.
pub fn inline_overflow(
    principal: &Principal,
    suggestions: &[PolicySuggestion],
) -> Option<InlineOverflow> {
    let limit = inline_limit(principal.kind);
    let max = limit.max_chars();
    // (address, document, can move)
    let mut docs: Vec<(&str, &PolicyDocument, bool)> = Vec::new();
    for source in principal.policies.iter().filter(|s| is_own_inline(s)) {
        let suggestion = suggestions
            .iter()
            .find(|s| s.policy_address == source.address);
        let (doc, movable) = match suggestion {
            Some(s) if s.changes_anything() => match &s.suggested {
                Some(doc) => (doc, true),
                None => continue,
            },
            _ => match source.document.as_deref() {
                Some(doc) => (doc, false),
                None => continue,
            },
        };
        docs.push((&source.address, doc, movable));
    }
    // Serializing costs more than the bound: most principals are settled by it.
    if docs.len() < 2 || docs.iter().map(|d| size_upper_bound(d.1)).sum::<usize>() <= max {
        return None;
    }
    let mut counted: Vec<(String, usize, bool)> = Vec::new();
    for (address, doc, movable) in docs {
        let size = policy_size(doc);
        if movable && size > max {
            continue;
        }
        counted.push((address.to_string(), size, movable));
    }
    let total: usize = counted.iter().map(|c| c.1).sum();
    if total <= max {
        return None;
    }
    let mut candidates: Vec<&(String, usize, bool)> = counted.iter().filter(|c| c.2).collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut rest = total;
    let mut moved = Vec::new();
    for (address, size, _) in candidates {
        if rest <= max {
            break;
        }
        rest -= size;
        moved.push(address.clone());
    }
    Some(InlineOverflow {
        principal: principal.address.clone(),
        limit,
        total,
        counted: counted.into_iter().map(|(a, s, _)| (a, s)).collect(),
        moved,
    })
}

/// Flags, for every principal whose inline policies are together over their aggregate limit as
/// suggested ([`inline_overflow`]), each suggestion that moves to managed policies: review-needed,
/// with a note giving the sum, the limit, the policies counted and how many managed policies it
/// becomes. Every copy of such a suggestion (a group's policy under its member users) gets it.
pub fn flag_inline_aggregates(principals: &[Principal], outcomes: &mut [PrincipalOutcome]) {
    let by_address: HashMap<&str, &Principal> =
        principals.iter().map(|p| (p.address.as_str(), p)).collect();
    let mut notes: BTreeMap<String, String> = BTreeMap::new();
    for outcome in outcomes.iter() {
        let Some(principal) = by_address.get(outcome.address.as_str()) else {
            continue;
        };
        let Some(overflow) = inline_overflow(principal, &outcome.suggestions) else {
            continue;
        };
        for s in &outcome.suggestions {
            let (true, Some(doc)) = (overflow.moves(&s.policy_address), &s.suggested) else {
                continue;
            };
            let parts = split_for_size(doc).len();
            notes.insert(
                s.policy_address.clone(),
                format!(
                    "review: {}: this one is written as {parts} managed {} in {SUGGESTION_FILE}, to attach instead of it",
                    overflow.describe(),
                    if parts == 1 { "policy" } else { "policies" }
                ),
            );
        }
    }
    if notes.is_empty() {
        return;
    }
    for outcome in outcomes.iter_mut() {
        for s in &mut outcome.suggestions {
            if let Some(note) = notes.get(&s.policy_address) {
                s.applicability = Applicability::ReviewNeeded;
                s.notes.push(note.clone());
            }
        }
    }
}

/// The file the Terraform writer puts suggestions it cannot patch in (`crate::emit`'s
/// `SUGGESTION_FILE_NAME`, named here because this stage may not import that one).
const SUGGESTION_FILE: &str = "iamtrim.suggested.tf";

/// The characters IAM counts for `doc` against its limit: its JSON without whitespace
/// (whitespace inside strings is left out too, which can only overcount).
pub fn policy_size(doc: &PolicyDocument) -> usize {
    doc.to_json().chars().filter(|c| !c.is_whitespace()).count()
}

/// At least [`policy_size`] of `doc`, without serializing it: every string counted at twice its
/// length plus its quotes and comma (escapes at most double a character), each statement and the
/// document with room for their keys and punctuation, and only the rare values (`Principal`,
/// `Condition`, unknown keys) serialized.
pub fn size_upper_bound(doc: &PolicyDocument) -> usize {
    let string = |s: &str| 2 * s.len() + 3;
    let list = |l: &crate::iam::policy::StringList| -> usize {
        l.values.iter().map(|v| string(v)).sum::<usize>() + 2
    };
    let value = |v: &serde_json::Value| serde_json::to_string(v).map_or(0, |t| t.len()) + 3;
    // `{"Version":"...","Id":"...","Statement":[...]}` without the values.
    let mut total =
        40 + doc.version.as_deref().map_or(0, string) + doc.id.as_deref().map_or(0, string);
    for st in &doc.statements {
        // `{"Sid":,"Effect":"Allow","NotAction":,"NotResource":,"Principal":,"Condition":}`.
        total += 90 + st.sid.as_deref().map_or(0, string);
        total += match &st.action {
            Some(ActionSpec::Action(l) | ActionSpec::NotAction(l)) => list(l),
            None => 0,
        };
        total += match &st.resource {
            Some(crate::iam::policy::ResourceSpec::Resource(l))
            | Some(crate::iam::policy::ResourceSpec::NotResource(l)) => list(l),
            None => 0,
        };
        if let Some((key, v)) = &st.principal {
            total += string(key) + value(v);
        }
        if let Some(c) = &st.condition {
            total += serde_json::to_string(c).map_or(0, |t| t.len());
        }
        total += st
            .extra
            .iter()
            .map(|(k, v)| string(k) + value(v))
            .sum::<usize>();
    }
    total
}

/// `doc` as managed policies IAM accepts: [`split_within`] at [`MANAGED_POLICY_MAX_CHARS`].
pub fn split_for_size(doc: &PolicyDocument) -> Vec<PolicyDocument> {
    split_within(doc, MANAGED_POLICY_MAX_CHARS)
}

/// `doc` as documents of at most `limit` counted characters: `doc` alone when it fits, else its
/// `Action` lists shared out over as few documents as a greedy fill gives.
///
/// Every part keeps the statements' scope (Resource, Condition, ...) and order, and carries every
/// other statement (a Deny, a `NotAction`) whole, so each part alone grants no more than `doc` and
/// all of them together grant exactly what `doc` grants. A statement too large alone (one huge
/// condition) still makes a part of its own, which stays over the limit.
pub fn split_within(doc: &PolicyDocument, limit: usize) -> Vec<PolicyDocument> {
    if policy_size(doc) <= limit {
        return vec![doc.clone()];
    }
    let common: Vec<(usize, &Statement)> = doc
        .statements
        .iter()
        .enumerate()
        .filter(|(_, st)| !splits(st))
        .collect();
    // A part's pieces of `Action` statements, with every common statement, in document order.
    let assemble = |pieces: &[(usize, Statement)]| -> Vec<Statement> {
        let mut all: Vec<(usize, &Statement)> = pieces.iter().map(|(i, st)| (*i, st)).collect();
        all.extend(common.iter().copied());
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, st)| st.clone()).collect()
    };
    let size_of =
        |pieces: &[(usize, Statement)]| policy_size(&doc.with_statements(assemble(pieces)));
    let mut parts: Vec<Vec<(usize, Statement)>> = Vec::new();
    let mut part: Vec<(usize, Statement)> = Vec::new();
    for (i, st) in doc.statements.iter().enumerate() {
        let (true, Some(ActionSpec::Action(list))) = (splits(st), &st.action) else {
            continue;
        };
        let mut actions: Vec<String> = Vec::new();
        // The exact size of the part with `actions` as measured last, and what was added since:
        // an action adds its quoted name and a comma, so while the sum stays clear of the limit
        // the exact (and costly) measure is not needed; near it, it decides.
        let mut measured: Option<usize> = None;
        let mut added = 0;
        for action in &list.values {
            let grows = serde_json::to_string(action).map_or(action.len() + 2, |s| s.len()) + 1;
            let clear = measured.is_some_and(|m| m + added + grows + SLACK <= limit);
            actions.push(action.clone());
            if clear {
                added += grows;
                continue;
            }
            part.push((i, st.with_actions(actions.clone())));
            let size = size_of(&part);
            part.pop();
            if size > limit && (actions.len() > 1 || !part.is_empty()) {
                // Close the part with what fitted, and start the next one with this action.
                actions.pop();
                if !actions.is_empty() {
                    part.push((i, st.with_actions(std::mem::take(&mut actions))));
                }
                parts.push(std::mem::take(&mut part));
                actions.push(action.clone());
                part.push((i, st.with_actions(actions.clone())));
                measured = Some(size_of(&part));
                part.pop();
            } else {
                measured = Some(size);
            }
            added = 0;
        }
        if !actions.is_empty() {
            part.push((i, st.with_actions(actions)));
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    if parts.is_empty() {
        return vec![doc.clone()];
    }
    parts
        .iter()
        .map(|pieces| {
            let statements = assemble(pieces);
            let single = doc.single_statement && statements.len() == 1;
            let mut d = doc.with_statements(statements);
            d.single_statement = single;
            d
        })
        .collect()
}

/// Room kept below the limit when sizes are summed rather than measured: covers the brackets a
/// list gains and escapes the sum misjudges.
const SLACK: usize = 16;

/// True for the statements whose `Action` list is shared out over parts: the `Allow`s with one.
fn splits(st: &Statement) -> bool {
    st.effect == Effect::Allow && matches!(st.action, Some(ActionSpec::Action(_)))
}

/// `st` with `actions` as its `Action` list, written as one statement per [`STATEMENT_ACTION_CAP`]
/// actions: same Effect, Resource and Condition, so together they grant exactly what one
/// statement with every action would. A `Sid` stays on the first and is numbered on the others
/// (`Admin`, `AdminPart2`, ...), since IAM wants a policy's Sids unique.
pub fn split_statement(st: &Statement, actions: &[String]) -> Vec<Statement> {
    if actions.len() <= STATEMENT_ACTION_CAP {
        return vec![st.with_actions(actions.to_vec())];
    }
    actions
        .chunks(STATEMENT_ACTION_CAP)
        .enumerate()
        .map(|(n, chunk)| {
            let mut piece = st.with_actions(chunk.to_vec());
            piece.sid = piece.sid.map(|sid| part_sid(&sid, n));
            piece
        })
        .collect()
}

/// The Sid of piece `n` (0-based) of a statement whose Sid is `sid`, split by
/// [`split_statement`]: `sid` itself for the first, `{sid}Part{n + 1}` for the others. The
/// Terraform writer names the statements it inserts with it, so a patch and the suggestion agree.
pub fn part_sid(sid: &str, n: usize) -> String {
    if n == 0 {
        sid.to_string()
    } else {
        format!("{sid}Part{}", n + 1)
    }
}

/// `doc` with every `Allow` statement of more than [`STATEMENT_ACTION_CAP`] explicit actions
/// written as several ([`split_statement`]); the same document when none is that long.
pub fn split_long_statements(doc: &PolicyDocument) -> PolicyDocument {
    let long = |st: &Statement| {
        st.effect == Effect::Allow
            && matches!(&st.action, Some(ActionSpec::Action(l)) if l.values.len() > STATEMENT_ACTION_CAP)
    };
    if !doc.statements.iter().any(long) {
        return doc.clone();
    }
    let mut statements = Vec::with_capacity(doc.statements.len());
    for st in &doc.statements {
        match &st.action {
            Some(ActionSpec::Action(l)) if long(st) => {
                statements.extend(split_statement(st, &l.values));
            }
            _ => statements.push(st.clone()),
        }
    }
    let mut d = doc.with_statements(statements);
    d.single_statement = false;
    d
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A document over the limit: two scopes of many catalog actions and a Deny.
    pub(crate) fn big_document() -> PolicyDocument {
        let catalog = crate::iam::catalog::Catalog::embedded();
        let names: Vec<String> = catalog
            .actions()
            .iter()
            .step_by(37)
            .take(500)
            .map(|a| format!("{:?}", a.name()))
            .collect();
        let (a, b) = names.split_at(300);
        PolicyDocument::parse_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"Reads","Effect":"Allow","Action":[{}],"Resource":"*"}},
                {{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}},
                {{"Effect":"Allow","Action":[{}],"Resource":"arn:aws:s3:::logs/*","Condition":{{"Bool":{{"aws:SecureTransport":"true"}}}}}}]}}"#,
            a.join(","),
            b.join(",")
        ))
        .unwrap()
    }

    #[test]
    fn a_replacement_over_the_size_limit_is_split_into_parts_that_together_grant_the_same() {
        let doc = big_document();
        assert!(policy_size(&doc) > 2 * MANAGED_POLICY_MAX_CHARS);
        let parts = split_for_size(&doc);
        assert!(parts.len() >= 3, "{} parts", parts.len());
        let catalog = crate::iam::catalog::Catalog::embedded();
        // (statement scope, action) pairs: what the parts grant together is what `doc` grants.
        let pairs = |d: &PolicyDocument| -> Vec<(String, String)> {
            let mut out = Vec::new();
            for st in &d.statements {
                let mut scope = st.clone();
                scope.sid = None;
                scope.set_actions(Vec::new());
                let key = scope.to_value().to_string();
                match &st.action {
                    Some(ActionSpec::Action(l)) => {
                        out.extend(l.values.iter().map(|a| (key.clone(), a.clone())))
                    }
                    _ => out.push((key, String::new())),
                }
            }
            out.sort();
            out.dedup();
            out
        };
        let deny = &doc.statements[1];
        let mut joined: Vec<(String, String)> = Vec::new();
        for part in &parts {
            assert_eq!(part.statements.iter().filter(|s| *s == deny).count(), 1);
            let allows = part.with_statements(
                part.statements
                    .iter()
                    .filter(|s| *s != deny)
                    .cloned()
                    .collect(),
            );
            joined.extend(pairs(&allows));
        }
        joined.sort();
        let before = joined.len();
        joined.dedup();
        assert_eq!(before, joined.len(), "an action is in two parts");
        let mut expected =
            pairs(&doc.with_statements(vec![doc.statements[0].clone(), doc.statements[2].clone()]));
        expected.sort();
        assert_eq!(joined, expected);
        for part in &parts {
            assert!(
                policy_size(part) <= MANAGED_POLICY_MAX_CHARS,
                "{}",
                policy_size(part)
            );
            assert_eq!(part.version.as_deref(), Some("2012-10-17"));
            assert_eq!(crate::minimize::grants_no_more(part, &doc, catalog), Ok(()));
        }
        // A document within the limit is left whole.
        assert_eq!(split_for_size(&parts[0]), vec![parts[0].clone()]);
    }

    /// The greedy fill measuring every action, as it was before sizes were summed: the summed
    /// fill must give the same parts (replacement files stay byte-identical).
    fn split_measuring_each(doc: &PolicyDocument, limit: usize) -> Vec<Vec<Statement>> {
        let mut parts: Vec<Vec<Statement>> = Vec::new();
        let mut part: Vec<Statement> = Vec::new();
        for st in &doc.statements {
            let Some(ActionSpec::Action(list)) = &st.action else {
                continue;
            };
            let mut actions: Vec<String> = Vec::new();
            for action in &list.values {
                actions.push(action.clone());
                part.push(st.with_actions(actions.clone()));
                let ok = policy_size(&doc.with_statements(part.clone())) <= limit;
                part.pop();
                if !ok && (actions.len() > 1 || !part.is_empty()) {
                    actions.pop();
                    if !actions.is_empty() {
                        part.push(st.with_actions(std::mem::take(&mut actions)));
                    }
                    parts.push(std::mem::take(&mut part));
                    actions.push(action.clone());
                }
            }
            if !actions.is_empty() {
                part.push(st.with_actions(actions));
            }
        }
        parts.push(part);
        parts
    }

    #[test]
    fn summed_sizes_split_exactly_like_measuring_every_action() {
        let doc = big_document();
        let allows =
            doc.with_statements(vec![doc.statements[0].clone(), doc.statements[2].clone()]);
        for limit in [
            USER_INLINE_MAX_CHARS,
            GROUP_INLINE_MAX_CHARS,
            MANAGED_POLICY_MAX_CHARS,
            3_001,
        ] {
            let got: Vec<Vec<Statement>> = split_within(&allows, limit)
                .into_iter()
                .map(|d| d.statements)
                .collect();
            assert_eq!(got, split_measuring_each(&allows, limit), "limit {limit}");
        }
    }

    #[test]
    fn a_long_action_list_becomes_statements_of_the_cap_with_numbered_sids() {
        let st = big_document().statements[0].clone();
        let Some(ActionSpec::Action(list)) = &st.action else {
            panic!("an Action statement");
        };
        let pieces = split_statement(&st, &list.values);
        // 300 actions: two statements of 150, the scope of the original on each.
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].sid.as_deref(), Some("Reads"));
        assert_eq!(pieces[1].sid.as_deref(), Some("ReadsPart2"));
        let mut joined = Vec::new();
        for p in &pieces {
            let Some(ActionSpec::Action(l)) = &p.action else {
                panic!("an Action statement");
            };
            assert!(l.values.len() <= STATEMENT_ACTION_CAP);
            assert_eq!(p.resource, st.resource);
            assert_eq!(p.condition, st.condition);
            joined.extend(l.values.iter().cloned());
        }
        assert_eq!(joined, list.values);
        assert_eq!(split_statement(&st, &list.values[..3]).len(), 1);
    }

    /// A document of one Allow statement listing `n` invented actions of `len` characters.
    fn listing(sid: &str, n: usize, len: usize) -> PolicyDocument {
        let actions: Vec<String> = (0..n)
            .map(|i| format!("s3:{:0>w$}", i, w = len - 3))
            .collect();
        PolicyDocument::parse_str(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{sid}","Effect":"Allow","Action":{},"Resource":"*"}}]}}"#,
            serde_json::to_string(&actions).unwrap()
        ))
        .unwrap()
    }

    fn inline_source(address: &str, doc: &PolicyDocument) -> PolicySource {
        PolicySource {
            address: address.into(),
            kind: PolicyKind::Inline,
            name: None,
            arn: None,
            attachment: None,
            via_group: None,
            document: Some(std::sync::Arc::new(doc.clone())),
            before: None,
            unknown_reason: None,
            origin: None,
        }
    }

    /// A suggestion that changes `current` to `suggested` at `address`.
    fn trimmed(
        address: &str,
        current: &PolicyDocument,
        suggested: &PolicyDocument,
    ) -> PolicySuggestion {
        let actions = match &suggested.statements[0].action {
            Some(ActionSpec::Action(l)) => l.values.clone(),
            _ => Vec::new(),
        };
        PolicySuggestion {
            policy_address: address.into(),
            block_address: address.into(),
            current: current.clone().into(),
            suggested: Some(suggested.clone()),
            statements: vec![super::super::StatementChange::SetActions(actions)],
            actions: Default::default(),
            applicability: Applicability::Safe,
            notes: Vec::new(),
            granted: 0,
            kept: 0,
        }
    }

    #[test]
    fn inline_policies_over_the_aggregate_limit_together_move_the_largest_changed_first() {
        // Regression (issue 14): each inline document was held to the role's 10,240 alone.
        // Expected, from the sizes alone: unchanged 3,000ish + 4,000ish + 5,000ish is over
        // 10,240; the largest changed one (c) moves, and the rest (about 7,000) fits.
        let current = listing("Now", 1, 10);
        let a = listing("A", 100, 27); // about 3,000 characters, unchanged
        let b = listing("B", 130, 27); // about 3,900, changed
        let c = listing("C", 165, 27); // about 4,950, changed
        let principal = Principal {
            address: "aws_iam_role.r".into(),
            block_address: "aws_iam_role.r".into(),
            kind: PrincipalKind::Role,
            name: None,
            arn: None,
            account: None,
            plan_action: "no-op".into(),
            policies: vec![
                inline_source("aws_iam_role_policy.a", &a),
                inline_source("aws_iam_role_policy.b", &current),
                inline_source("aws_iam_role_policy.c", &current),
                // Managed and group policies do not count against the role's inline limit.
                PolicySource {
                    kind: PolicyKind::Managed,
                    ..inline_source("aws_iam_policy.m", &c)
                },
            ],
            flags: Vec::new(),
            trusted_services: Vec::new(),
        };
        let suggestions = vec![
            trimmed("aws_iam_role_policy.b", &current, &b),
            trimmed("aws_iam_role_policy.c", &current, &c),
        ];
        let sizes = [policy_size(&a), policy_size(&b), policy_size(&c)];
        assert!(
            sizes.iter().sum::<usize>() > ROLE_INLINE_MAX_CHARS,
            "{sizes:?}"
        );
        assert!(sizes[0] + sizes[1] <= ROLE_INLINE_MAX_CHARS, "{sizes:?}");
        let overflow = inline_overflow(&principal, &suggestions).expect("over together");
        assert_eq!(overflow.limit, SizeLimit::RoleInline);
        assert_eq!(overflow.total, sizes.iter().sum::<usize>());
        assert_eq!(overflow.moved, vec!["aws_iam_role_policy.c".to_string()]);
        assert_eq!(
            overflow.counted,
            vec![
                ("aws_iam_role_policy.a".to_string(), sizes[0]),
                ("aws_iam_role_policy.b".to_string(), sizes[1]),
                ("aws_iam_role_policy.c".to_string(), sizes[2]),
            ]
        );

        // The minimizer's flag: only the moving suggestion is review-needed, with the sum.
        let mut outcomes = vec![PrincipalOutcome {
            address: principal.address.clone(),
            status: super::super::PrincipalStatus::Minimized,
            suggestions,
            notes: Vec::new(),
            unchanged_reason: None,
            risk: Default::default(),
        }];
        flag_inline_aggregates(std::slice::from_ref(&principal), &mut outcomes);
        let [b_s, c_s] = outcomes[0].suggestions.as_slice() else {
            panic!("two suggestions");
        };
        assert_eq!(b_s.applicability, Applicability::Safe);
        assert!(b_s.notes.is_empty());
        assert_eq!(c_s.applicability, Applicability::ReviewNeeded);
        assert_eq!(
            c_s.notes,
            vec![format!(
                "review: as suggested, the inline policies of aws_iam_role.r total {} characters, over IAM's 10240 for a role's inline policies (aws_iam_role_policy.a {}, aws_iam_role_policy.b {}, aws_iam_role_policy.c {}): this one is written as 1 managed policy in iamtrim.suggested.tf, to attach instead of it",
                overflow.total, sizes[0], sizes[1], sizes[2]
            )]
        );

        // Within the limit together: nothing.
        let small = [trimmed(
            "aws_iam_role_policy.b",
            &current,
            &listing("B", 10, 27),
        )];
        assert_eq!(inline_overflow(&principal, &small), None);
    }

    #[test]
    fn the_size_bound_is_never_below_the_size() {
        let doc = big_document();
        let mut docs = vec![doc.clone()];
        docs.extend(split_within(&doc, USER_INLINE_MAX_CHARS));
        docs.push(PolicyDocument::parse_str(
            r#"{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"A","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","NotResource":["arn:aws:s3:::a\"b/*"],"Condition":{"StringEquals":{"aws:PrincipalTag/t":"\u00e9"}},"Future":[1,2]}}"#,
        ).unwrap());
        for d in &docs {
            assert!(
                size_upper_bound(d) >= policy_size(d),
                "{} < {}",
                size_upper_bound(d),
                policy_size(d)
            );
        }
    }
}
