//! Counting what each principal did, one record at a time, in per-thread tallies merged at the end.
//!
//! Owns [`Tally`]: decompression into a reused buffer, record -> principal and action, the counts
//! and scan statistics, and the conversion into [`ObservedUsage`]. Memory grows with the number of
//! distinct principals, actions and resources, not with the number of records or files.

use super::gunzip::Gunzip;
use super::layout::ScanWindow;
use super::mapping::{self, RequestFacts};
use super::record::{self, Record, RecordParser};
use super::{CloudTrailScan, FileError, KnownAction, PrincipalFilter, ScanStats};
use crate::usage::{ActionUse, ObservedUsage, UsageSourceKind, Window};
use std::borrow::Cow;
// foldhash: the maps are hit once or more per record, with keys from our own logs (no flooding risk
// that would need SipHash).
use foldhash::{HashMap, HashSet};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// What the per-file work needs to know about the scan, shared by all threads.
pub(crate) struct ScanContext<'a> {
    /// The window, when one was asked for.
    pub window: Option<ScanWindow>,
    /// The catalog hook: canonical spelling of a known action, `None` for an unknown one.
    pub known_action: Option<&'a KnownAction>,
    /// The record reader.
    pub parser: RecordParser,
    /// Only these principals are counted, when given.
    pub principals: Option<&'a PrincipalFilter>,
}

/// The usage of one principal, as counted so far; actions are ids into [`Tally::actions`].
#[derive(Debug, Default)]
struct PrincipalTally {
    actions: HashMap<ActionId, ActionTally>,
    denied: HashMap<ActionId, u64>,
    /// IAM prefix -> names of successful events that could not be mapped to an action.
    unmapped_events: BTreeMap<String, BTreeSet<String>>,
}

/// Most distinct unmapped event names kept per principal and service: the service is kept whole
/// anyway, and made-up names must not make memory grow with the logs.
pub(crate) const MAX_UNMAPPED_NAMES: usize = 100;

/// Most data-event resource types kept per account (AWS has a few dozen).
const MAX_DATA_EVENT_TYPES: usize = 256;

/// An action's index in one thread's [`Tally::actions`]: a record hashes a small integer, not the
/// action's name.
type ActionId = u32;

/// The calls of one principal to one action; a hash set while counting (a sorted set costs a
/// string comparison per level for every record), sorted in [`Tally::finish`].
#[derive(Debug, Default)]
struct ActionTally {
    count: u64,
    /// Distinct ARNs seen, from which [`ActionTally::trim`] keeps the smallest
    /// [`ActionUse::MAX_RESOURCES`]; up to twice that many between trims.
    resources: HashSet<Box<str>>,
    /// After a trim, the largest ARN kept: a larger one can never be among the smallest, and is
    /// dropped with one comparison, without being hashed.
    bound: Option<Box<str>>,
    /// Some distinct ARN was dropped.
    truncated: bool,
}

impl ActionTally {
    /// Notes one resource ARN a call named.
    fn note_resource(&mut self, arn: &str) {
        if let Some(bound) = &self.bound
            && arn >= &**bound
        {
            self.truncated |= arn != &**bound;
            return;
        }
        if self.resources.contains(arn) {
            return;
        }
        self.resources.insert(arn.into());
        // Trimming only when twice full costs O(1) per ARN, whatever order they come in.
        if self.resources.len() >= 2 * ActionUse::MAX_RESOURCES {
            self.trim();
        }
    }

    /// Keeps the [`ActionUse::MAX_RESOURCES`] smallest ARNs. The result is the same whatever
    /// order the ARNs came in, and however the logs were split between threads.
    fn trim(&mut self) {
        let keep = ActionUse::MAX_RESOURCES;
        if self.resources.len() <= keep {
            return;
        }
        let mut all: Vec<Box<str>> = self.resources.drain().collect();
        all.select_nth_unstable(keep - 1);
        all.truncate(keep);
        self.bound = all.get(keep - 1).cloned();
        self.resources.extend(all);
        self.truncated = true;
    }
}

/// The outcome of mapping one `(eventSource, eventName)` with one set of [`RequestFacts`],
/// cached per thread.
#[derive(Debug, Clone)]
enum Mapping {
    /// The actions the call needs (usually one); the first `with_resources` of them are
    /// authorized on the resources the record names, the others (a copy's read of its source, the
    /// tagging of what a call creates) are counted without them.
    Actions {
        ids: Box<[ActionId]>,
        with_resources: usize,
    },
    /// No known action; the event's IAM prefix when it has one.
    Unmapped { prefix: Option<String> },
    /// A console or sign-in event, which no permission of the principal authorizes.
    Console,
}

/// The mappings of one `(eventSource, eventName)`, by [`RequestFacts::index`]; nearly always
/// one or two, so a list beats a table of all [`RequestFacts::COUNT`].
type ByFacts = Vec<(usize, Mapping)>;

/// Who made a call.
enum Caller<'r> {
    Principal(Cow<'r, str>),
    Service,
    Anonymous,
    Unattributed,
}

/// Counts of one thread's share of the files; [`Tally::merge`] folds them together.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    principals: HashMap<String, PrincipalTally>,
    stats: ScanStats,
    /// `eventSource\neventName` -> count, for events with no action.
    unmapped: HashMap<String, u64>,
    /// Accounts for which some data event was seen -> the data-event resource types seen.
    data_accounts: HashMap<String, BTreeSet<String>>,
    /// Records of the current file refused for an oversized field, and the first such field.
    oversized_in_file: (u64, Option<&'static str>),
    first_event: Option<String>,
    last_event: Option<String>,
    /// `eventSource` -> `eventName` -> mapping: two short keys hash faster than one long one,
    /// and no key is built per record.
    mappings: HashMap<String, HashMap<String, ByFacts>>,
    /// Action names by [`ActionId`], and back.
    actions: Vec<String>,
    action_ids: HashMap<String, ActionId>,
    key: String,
    /// Decompressed text of the current file, only ever grown (see [`Gunzip::decompress`]).
    text: Vec<u8>,
    /// Created with the first gzip file.
    gunzip: Option<Gunzip>,
}

impl Tally {
    /// Counts the records of one file given as its raw bytes (gzip or plain JSON).
    pub fn read_bytes(&mut self, name: &str, bytes: &[u8], ctx: &ScanContext<'_>) {
        let mut text = std::mem::take(&mut self.text);
        let result = match self.decompress(bytes, &mut text) {
            Ok(Some(len)) => self.read_text(&text[..len], ctx),
            Ok(None) => self.read_text(bytes, ctx),
            Err(err) => Err(format!("cannot decompress: {err}")),
        };
        self.text = text;
        self.stats.files_read += 1;
        if let Err(message) = result {
            self.stats.file_errors.push(FileError {
                file: name.to_string(),
                message,
            });
        }
        if let (n @ 1.., Some(field)) = std::mem::take(&mut self.oversized_in_file) {
            // The value is never quoted: it may be megabytes.
            self.stats.file_errors.push(FileError {
                file: name.to_string(),
                message: format!(
                    "{n} record(s) skipped: a field ({field}) is longer than the limit of {} bytes ({} for ARNs)",
                    record::MAX_FIELD_LEN,
                    record::MAX_ARN_LEN
                ),
            });
        }
    }

    /// Decompresses gzip data into `buf`, returning its length; `None` when `bytes` is not gzip
    /// (use it as is).
    fn decompress(&mut self, bytes: &[u8], buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            return Ok(None);
        }
        let gunzip = match &mut self.gunzip {
            Some(gunzip) => gunzip,
            None => self.gunzip.insert(
                Gunzip::new().ok_or_else(|| std::io::Error::other("libdeflate: out of memory"))?,
            ),
        };
        gunzip.decompress(bytes, buf).map(Some)
    }

    fn read_text(&mut self, text: &[u8], ctx: &ScanContext<'_>) -> Result<(), String> {
        self.stats.bytes_decompressed += text.len() as u64;
        record::for_each_record_with(text, ctx.parser, &mut |r| self.observe(r, ctx))
            .map_err(|err| format!("malformed CloudTrail JSON: {err}"))
    }

    /// Counts one record.
    fn observe(&mut self, rec: &Record<'_>, ctx: &ScanContext<'_>) {
        self.stats.records += 1;
        if let Some(field) = rec.oversized_field() {
            self.stats.records_oversized += 1;
            self.oversized_in_file.0 += 1;
            self.oversized_in_file.1.get_or_insert(field);
            return;
        }
        let time = rec.event_time.as_deref().unwrap_or("");
        if let Some(window) = &ctx.window
            && !window.contains_time(time)
        {
            self.stats.records_outside_window += 1;
            return;
        }
        self.note_time(time);
        let principal = match caller(rec) {
            Caller::Principal(arn) => arn,
            Caller::Service => {
                self.stats.service_events += 1;
                return;
            }
            Caller::Anonymous => {
                self.stats.anonymous_events += 1;
                return;
            }
            Caller::Unattributed => {
                self.stats.unattributed_events += 1;
                return;
            }
        };
        if mapping::is_data_event(rec.event_category.as_deref(), rec.management_event) {
            let account = rec
                .recipient_account_id
                .as_deref()
                .or_else(|| arn_account(&principal))
                .unwrap_or("");
            self.note_data_event(account, rec);
        }
        // After the data-event check: whether the trail logs data events in an account is learnt
        // from every principal's records.
        // A counted principal's records go under its ARN from the filter, path included, even
        // when the record's ARN has no path (see `PrincipalFilter`).
        let principal: Cow<'_, str> = match ctx.principals {
            None => principal,
            Some(counted) => match counted.resolve(&principal) {
                Some(arn) => Cow::Borrowed(arn),
                None => {
                    self.stats.records_other_principals += 1;
                    return;
                }
            },
        };
        let source = rec.event_source.as_deref().unwrap_or("");
        let name = rec.event_name.as_deref().unwrap_or("");
        let denied = rec.error_code.as_deref().is_some_and(mapping::is_denied);
        // The type is per record; console event names are found once per name by `map_event`.
        if rec
            .event_type
            .as_deref()
            .is_some_and(mapping::is_console_event_type)
        {
            self.stats.console_events += 1;
            return;
        }

        let by_name = match self.mappings.get_mut(source) {
            Some(by_name) => by_name,
            None => self.mappings.entry(source.to_string()).or_default(),
        };
        let by_facts = match by_name.get_mut(name) {
            Some(by_facts) => by_facts,
            None => by_name.entry(name.to_string()).or_default(),
        };
        let index = rec.request.index();
        let at = match by_facts.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                let mapped = match map_event(source, name, rec.request, ctx.known_action) {
                    MappedEvent::Actions {
                        actions,
                        with_resources,
                    } => Mapping::Actions {
                        ids: actions
                            .into_iter()
                            .map(|a| intern(&mut self.actions, &mut self.action_ids, a))
                            .collect(),
                        with_resources,
                    },
                    MappedEvent::Unmapped { prefix } => Mapping::Unmapped { prefix },
                    MappedEvent::Console => Mapping::Console,
                };
                by_facts.push((index, mapped));
                by_facts.len() - 1
            }
        };
        let mapped = &by_facts[at].1;
        if let Mapping::Console = mapped {
            self.stats.console_events += 1;
            return;
        }
        let entry = match self.principals.get_mut(principal.as_ref()) {
            Some(entry) => entry,
            None => self.principals.entry(principal.into_owned()).or_default(),
        };
        match mapped {
            Mapping::Unmapped { prefix } => {
                self.key.clear();
                self.key.push_str(source);
                self.key.push('\n');
                self.key.push_str(name);
                match self.unmapped.get_mut(self.key.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        self.unmapped.insert(self.key.clone(), 1);
                    }
                }
                // An attempt proves nothing; a successful call to an unknown action means the
                // whole service must be kept for this principal.
                if let (false, Some(prefix)) = (denied, prefix) {
                    let names = match entry.unmapped_events.get_mut(prefix.as_str()) {
                        Some(names) => names,
                        None => entry.unmapped_events.entry(prefix.clone()).or_default(),
                    };
                    if names.len() < MAX_UNMAPPED_NAMES && !names.contains(name) {
                        names.insert(name.to_string());
                    }
                }
            }
            Mapping::Console => {}
            Mapping::Actions { ids, .. } if denied => {
                self.stats.denied_events += 1;
                for action in ids.iter() {
                    *entry.denied.entry(*action).or_default() += 1;
                }
            }
            Mapping::Actions {
                ids,
                with_resources,
            } => {
                for (i, action) in ids.iter().enumerate() {
                    let used = entry.actions.entry(*action).or_default();
                    used.count += 1;
                    if i >= *with_resources {
                        continue;
                    }
                    for arn in rec
                        .resources
                        .iter()
                        .flatten()
                        .filter_map(|r| r.arn.as_deref())
                    {
                        used.note_resource(arn);
                    }
                }
            }
        }
    }

    /// Notes that the trail logs data events in `account`, and of which resource type.
    fn note_data_event(&mut self, account: &str, rec: &Record<'_>) {
        let types = match self.data_accounts.get_mut(account) {
            Some(types) => types,
            None => self.data_accounts.entry(account.to_string()).or_default(),
        };
        let source = rec.event_source.as_deref().unwrap_or("");
        if let Some(kind) = mapping::data_event_type(source) {
            if !types.contains(kind) && types.len() < MAX_DATA_EVENT_TYPES {
                types.insert(kind.to_string());
            }
            return;
        }
        for kind in rec
            .resources
            .iter()
            .flatten()
            .filter_map(|r| r.kind.as_deref())
        {
            if !types.contains(kind) && types.len() < MAX_DATA_EVENT_TYPES {
                types.insert(kind.to_string());
            }
        }
    }

    fn note_time(&mut self, time: &str) {
        if time.is_empty() {
            return;
        }
        if self.first_event.as_deref().is_none_or(|t| before(time, t)) {
            self.first_event = Some(time.to_string());
        }
        if self.last_event.as_deref().is_none_or(|t| before(t, time)) {
            self.last_event = Some(time.to_string());
        }
    }

    /// Folds another thread's counts into this one.
    pub fn merge(mut self, mut other: Tally) -> Tally {
        // The smaller into the larger: the last merges of a scan run on one thread.
        if other.principals.len() > self.principals.len() {
            std::mem::swap(&mut self, &mut other);
        }
        // Their action ids, as ours.
        let ids: Vec<ActionId> = other
            .actions
            .iter()
            .map(|name| intern(&mut self.actions, &mut self.action_ids, name.clone()))
            .collect();
        let ours_of = |id: ActionId| ids.get(id as usize).copied().unwrap_or(id);
        for (arn, theirs) in other.principals {
            let ours = self.principals.entry(arn).or_default();
            for (action, used) in theirs.actions {
                let entry = ours.actions.entry(ours_of(action)).or_default();
                entry.count += used.count;
                entry.truncated |= used.truncated;
                for arn in &used.resources {
                    entry.note_resource(arn);
                }
            }
            for (action, n) in theirs.denied {
                *ours.denied.entry(ours_of(action)).or_default() += n;
            }
            for (prefix, names) in theirs.unmapped_events {
                let kept = ours.unmapped_events.entry(prefix).or_default();
                for name in names {
                    if kept.len() >= MAX_UNMAPPED_NAMES {
                        break;
                    }
                    kept.insert(name);
                }
            }
        }
        self.stats.add(other.stats);
        for (key, n) in other.unmapped {
            *self.unmapped.entry(key).or_default() += n;
        }
        for (account, types) in other.data_accounts {
            let kept = self.data_accounts.entry(account).or_default();
            for kind in types {
                if kept.len() >= MAX_DATA_EVENT_TYPES {
                    break;
                }
                kept.insert(kind);
            }
        }
        for time in [other.first_event, other.last_event].into_iter().flatten() {
            self.note_time(&time);
        }
        self
    }

    /// Counts files left out before reading.
    pub fn stats_mut(&mut self) -> &mut ScanStats {
        &mut self.stats
    }

    /// The usage per principal and the statistics.
    pub fn finish(mut self, ctx: &ScanContext<'_>) -> CloudTrailScan {
        let window = match &ctx.window {
            Some(w) => Window {
                start: w.start.as_str().into(),
                end: w.end.as_str().into(),
            },
            // Without a window, the span of the events seen (the end is the last event, inclusive).
            None => Window {
                start: self.first_event.clone().unwrap_or_default().into(),
                end: self.last_event.clone().unwrap_or_default().into(),
            },
        };
        let complete = self.stats.file_errors.is_empty();
        self.stats.file_errors.sort_by(|a, b| a.file.cmp(&b.file));
        for (key, n) in self.unmapped {
            let (source, name) = key.split_once('\n').unwrap_or((key.as_str(), ""));
            *self
                .stats
                .unmapped
                .entry((source.to_string(), name.to_string()))
                .or_default() += n;
        }
        let actions = &self.actions;
        let name = |id: ActionId| actions.get(id as usize).cloned().unwrap_or_default();
        let data_accounts = &self.data_accounts;
        // Per principal in parallel (on the scan's pool: `finish` runs inside it): sorting the
        // resource sets is the largest serial step left at the end of a scan.
        let principals = std::mem::take(&mut self.principals);
        let usage: Vec<(String, ObservedUsage)> = principals
            .into_par_iter()
            .map(|(arn, tally)| {
                let mut usage =
                    ObservedUsage::empty(&arn, UsageSourceKind::Cloudtrail, window.clone());
                usage.actions = tally
                    .actions
                    .into_iter()
                    .map(|(id, used)| {
                        let mut used = used;
                        used.trim();
                        let used = ActionUse {
                            count: used.count,
                            resources: used.resources.into_iter().map(String::from).collect(),
                            resources_truncated: used.truncated,
                        };
                        (name(id), used)
                    })
                    .collect::<BTreeMap<_, _>>();
                usage.denied = tally
                    .denied
                    .into_iter()
                    .map(|(id, n)| (name(id), n))
                    .collect();
                usage.service_level_only = tally.unmapped_events.keys().cloned().collect();
                usage.unmapped_events = tally.unmapped_events;
                let data_types = arn_account(&arn).and_then(|a| data_accounts.get(a));
                usage.data_events_seen = data_types.is_some();
                usage.data_event_types = data_types.cloned().unwrap_or_default();
                usage.complete = complete;
                (arn, usage)
            })
            .collect();
        let mut usage = usage.into_iter().collect();
        super::fold_pathless_roles(&mut usage);
        CloudTrailScan {
            usage,
            stats: self.stats,
        }
    }
}

/// `a < b` as strings; two timestamps seldom share their first 16 bytes (down to the minute), so
/// those are compared as one integer, without a `memcmp` call for every record.
fn before(a: &str, b: &str) -> bool {
    if let (Some(x), Some(y)) = (a.as_bytes().first_chunk(), b.as_bytes().first_chunk()) {
        let (x, y) = (u128::from_be_bytes(*x), u128::from_be_bytes(*y));
        if x != y {
            return x < y;
        }
    }
    a < b
}

/// The id of `action`, given a new one the first time.
fn intern(
    actions: &mut Vec<String>,
    ids: &mut HashMap<String, ActionId>,
    action: String,
) -> ActionId {
    if let Some(&id) = ids.get(action.as_str()) {
        return id;
    }
    let id = actions.len() as ActionId;
    actions.push(action.clone());
    ids.insert(action, id);
    id
}

/// An event mapped to action names, before the actions are given ids.
pub(crate) enum MappedEvent {
    /// The actions, the first `with_resources` of them on the record's resources.
    Actions {
        /// Normalized `service:Action` names.
        actions: Vec<String>,
        /// How many of `actions` (from the front) act on the call's own resources.
        with_resources: usize,
    },
    /// No known action: the event's IAM service, when the event source names one.
    Unmapped {
        /// The IAM prefix of the event source.
        prefix: Option<String>,
    },
    /// A console or sign-in event, which no permission of the principal authorizes.
    Console,
}

/// Maps an event to the actions it needs, validated by the catalog hook when there is one.
///
/// The event is unmapped when one of the actions it always needs is unknown; an unknown extra
/// action of [`mapping::request_actions`] is left out (the catalog has no such permission to
/// keep).
pub(crate) fn map_event(
    source: &str,
    name: &str,
    facts: RequestFacts,
    known_action: Option<&KnownAction>,
) -> MappedEvent {
    let prefix = mapping::service_prefix(source).map(Cow::into_owned);
    let known = |action: String| match known_action {
        Some(known) => known(&action),
        None => Some(action),
    };
    // API Gateway's named actions (portals, domains) win over its HTTP-method actions.
    let named = match (&prefix, known_action) {
        (Some(p), Some(known)) if mapping::NAMED_ACTIONS_FIRST.contains(&p.as_str()) => {
            known(&format!("{p}:{name}")).map(|a| vec![a])
        }
        _ => None,
    };
    let base = named.or_else(|| {
        mapping::actions_for_request(source, name, facts)?
            .into_iter()
            .map(known)
            .collect::<Option<Vec<String>>>()
    });
    let Some(mut actions) = base else {
        return match &prefix {
            Some(p) if mapping::CONSOLE_ONLY_SERVICES.contains(&p.as_str()) => MappedEvent::Console,
            _ => MappedEvent::Unmapped { prefix },
        };
    };
    let with_resources = actions.len();
    for extra in mapping::request_actions(source, name, facts) {
        if let Some(extra) = known(extra)
            && !actions.contains(&extra)
        {
            actions.push(extra);
        }
    }
    MappedEvent::Actions {
        actions: actions
            .iter()
            .map(|a| crate::usage::normalize_action(a))
            .collect(),
        with_resources,
    }
}

/// The principal behind a record: IAM user, or the role (not the session) of an assumed role.
fn caller<'r>(rec: &'r Record<'_>) -> Caller<'r> {
    let Some(identity) = &rec.user_identity else {
        return if rec.event_type.as_deref() == Some("AwsServiceEvent") {
            Caller::Service
        } else {
            Caller::Unattributed
        };
    };
    if identity.account_id.as_deref() == Some("ANONYMOUS_PRINCIPAL")
        || identity.principal_id.as_deref() == Some("ANONYMOUS_PRINCIPAL")
    {
        return Caller::Anonymous;
    }
    let issuer = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.as_deref());
    match identity.kind.as_deref() {
        Some("IAMUser" | "Root") => identity.arn.as_deref().map_or(Caller::Unattributed, |a| {
            Caller::Principal(Cow::Borrowed(a))
        }),
        Some("AssumedRole") => match issuer {
            Some(arn) => Caller::Principal(Cow::Borrowed(arn)),
            None => identity
                .arn
                .as_deref()
                .and_then(role_of_session)
                .map_or(Caller::Unattributed, Caller::Principal),
        },
        // A federation token is issued by an IAM user, whose permissions bound the session.
        Some("FederatedUser") => issuer.map_or(Caller::Unattributed, |a| {
            Caller::Principal(Cow::Borrowed(a))
        }),
        Some("AWSService") => Caller::Service,
        _ if rec.event_type.as_deref() == Some("AwsServiceEvent") => Caller::Service,
        _ => Caller::Unattributed,
    }
}

/// `arn:aws:sts::1:assumed-role/Name/session` -> `arn:aws:iam::1:role/Name` (the role path is not
/// in the session ARN; only used when `sessionIssuer` is missing).
fn role_of_session(arn: &str) -> Option<Cow<'static, str>> {
    let mut parts = arn.splitn(6, ':');
    let (_, partition, _, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(Cow::Owned(format!(
        "arn:{partition}:iam::{account}:role/{role}"
    )))
}

/// The account field of an ARN.
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_as_strings() {
        for (a, b) in [
            ("2024-03-05T10:00:00Z", "2024-03-05T10:00:01Z"),
            ("2024-03-05T10:00:00Z", "2024-03-05T10:00:00Z"),
            ("2024-03-05T09:59:59Z", "2024-03-05T10:00:00Z"),
            ("2024-03-05", "2024-03-05T00:00:00Z"),
            ("2024-03-05T10:00:00.5Z", "2024-03-05T10:00:00Z"),
            ("", "2024"),
            (
                "\u{e9}t\u{e9}-\u{e9}t\u{e9}-\u{e9}t\u{e9}-",
                "\u{e9}t\u{e9}-\u{e9}t\u{e9}-\u{e9}t\u{e8}-",
            ),
        ] {
            assert_eq!(before(a, b), a < b, "{a} {b}");
            assert_eq!(before(b, a), b < a, "{b} {a}");
        }
    }

    /// The kept ARNs and the flag, after noting `arns` in order, split into `parts` tallies
    /// merged the way threads are.
    fn kept(arns: &[String], parts: usize) -> (Vec<String>, bool) {
        let mut tallies: Vec<ActionTally> = (0..parts).map(|_| ActionTally::default()).collect();
        for (i, arn) in arns.iter().enumerate() {
            tallies[i % parts].note_resource(arn);
        }
        let mut all = ActionTally::default();
        for part in tallies {
            all.truncated |= part.truncated;
            for arn in &part.resources {
                all.note_resource(arn);
            }
        }
        all.trim();
        let mut kept: Vec<String> = all.resources.iter().map(|a| a.to_string()).collect();
        kept.sort();
        (kept, all.truncated)
    }

    #[test]
    fn resources_keep_the_smallest_whatever_the_order_and_split() {
        let max = ActionUse::MAX_RESOURCES;
        // Few enough: all kept, not truncated, repeats counted once.
        let few: Vec<String> = (0..max).map(|i| format!("arn:aws:s3:::b/{i:04}")).collect();
        let twice: Vec<String> = few.iter().chain(few.iter().rev()).cloned().collect();
        assert_eq!(kept(&twice, 1), (few.clone(), false));
        assert_eq!(kept(&twice, 3), (few.clone(), false));
        // Many, in rising, falling and shuffled order: the smallest `max`, truncated.
        let many: Vec<String> = (0..7 * max)
            .map(|i| format!("arn:aws:s3:::b/{i:04}"))
            .collect();
        let smallest = many[..max].to_vec();
        let falling: Vec<String> = many.iter().rev().cloned().collect();
        let mut shuffled = many.clone();
        let mut seed = 7u64;
        for i in (1..shuffled.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for arns in [&many, &falling, &shuffled] {
            for parts in [1, 2, 5] {
                assert_eq!(kept(arns, parts), (smallest.clone(), true), "{parts} parts");
            }
        }
        // One more than fits: truncated, even when the extra one comes last and is largest.
        let one_over: Vec<String> = many[..max + 1].to_vec();
        assert_eq!(kept(&one_over, 1), (smallest.clone(), true));
        assert_eq!(kept(&one_over, 4), (smallest, true));
    }

    #[test]
    fn absorbing_keeps_the_cap() {
        let max = ActionUse::MAX_RESOURCES;
        let use_of = |range: std::ops::Range<usize>| ActionUse {
            count: range.len() as u64,
            resources: range.map(|i| format!("r{i:04}")).collect(),
            resources_truncated: false,
        };
        let mut a = use_of(0..max / 2);
        a.absorb(&use_of(max / 4..max));
        assert_eq!(
            (a.count, a.resources.len(), a.resources_truncated),
            (3 * max as u64 / 4 + max as u64 / 2, max, false)
        );
        a.absorb(&use_of(max..max + 1));
        assert_eq!(a.resources.len(), max);
        assert!(a.resources_truncated);
        assert_eq!(
            a.resources.last().map(String::as_str),
            Some(format!("r{:04}", max - 1).as_str())
        );
    }

    #[test]
    fn session_arn_gives_the_role() {
        assert_eq!(
            role_of_session("arn:aws:sts::111111111111:assumed-role/someRole/Session").as_deref(),
            Some("arn:aws:iam::111111111111:role/someRole")
        );
        assert_eq!(role_of_session("arn:aws:iam::111111111111:user/u"), None);
    }

    #[test]
    fn corrupt_gzip_is_a_file_error_not_a_panic() {
        let ctx = ScanContext {
            window: None,
            known_action: None,
            parser: RecordParser::default(),
            principals: None,
        };
        let mut tally = Tally::default();
        tally.read_bytes("bad.json.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5], &ctx);
        let scan = tally.finish(&ctx);
        assert_eq!(scan.stats.file_errors.len(), 1);
        assert_eq!(scan.stats.file_errors[0].file, "bad.json.gz");
    }
}
