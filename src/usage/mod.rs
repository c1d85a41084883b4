//! Where usage comes from: the cache, IAM Access Analyzer policy generation, CloudTrail logs, and
//! aggregate queries over a whole trail (Athena, CloudTrail Lake: `aggregate`);
//! and, since this is where the network lives, managed policy documents from the IAM API
//! (`iam_policies`).
//!
//! Every source produces the same [`ObservedUsage`]; the minimizer reads nothing else.

pub mod access_analyzer;
pub mod aggregate;
pub mod aws;
pub mod cache;
pub mod cloudtrail;
pub mod date;
pub mod gather;
pub mod iam_policies;

use aws_sdk_accessanalyzer::primitives::{DateTime, DateTimeFormat};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};

/// Which source observed the usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageSourceKind {
    /// CloudTrail log files read by iamtrim (folder or S3).
    Cloudtrail,
    /// IAM Access Analyzer policy generation.
    AccessAnalyzer,
}

/// A time window, inclusive start, exclusive end (UTC). Its bounds are whole dates for a
/// `--window-days` scan and instants otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First instant covered.
    pub start: WindowBound,
    /// First instant not covered.
    pub end: WindowBound,
}

/// One bound of a [`Window`], serialized as the text it was read or made from, so cache files
/// round-trip byte for byte.
///
/// Bounds order as their text, as the plain strings they replaced did: within one form that is
/// time order, and reports that widen a window across sources keep the bounds they always chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WindowBound {
    /// A whole UTC day, written `YYYY-MM-DD`.
    Date(date::Date),
    /// An RFC 3339 instant. Its text is kept because an instant does not print back to the text
    /// it was read from (fractional digits, offsets other than `Z`).
    Instant(Instant),
    /// Neither: the empty bound of a scan that saw no event time, or text an older cache held.
    /// Kept as it was; it names no date.
    Unparsed(String),
}

/// An RFC 3339 instant with the text it was read from.
#[derive(Debug, Clone)]
pub struct Instant {
    text: String,
    at: DateTime,
}

impl Instant {
    /// The instant.
    pub fn at(&self) -> DateTime {
        self.at
    }

    /// The text it was read from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

// Identity and order are the text's, like the bound's serialized form.
impl PartialEq for Instant {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for Instant {}
impl std::hash::Hash for Instant {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}
impl PartialOrd for Instant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Instant {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl WindowBound {
    /// Reads a bound: `YYYY-MM-DD`, an RFC 3339 instant (any offset), or anything else kept as
    /// [`WindowBound::Unparsed`].
    pub fn parse(text: &str) -> WindowBound {
        if let Some(d) = date::Date::parse_prefix(text).filter(|d| d.to_string() == text) {
            return WindowBound::Date(d);
        }
        match DateTime::from_str(text, DateTimeFormat::DateTimeWithOffset) {
            Ok(at) => WindowBound::Instant(Instant {
                text: text.to_string(),
                at,
            }),
            Err(_) => WindowBound::Unparsed(text.to_string()),
        }
    }

    /// The instant `t`, in whole seconds, as `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn instant(t: std::time::SystemTime) -> WindowBound {
        WindowBound::parse(&cache::rfc3339(t))
    }

    /// The date the bound falls on (an instant's date as written); `None` for an unparsed bound.
    pub fn date(&self) -> Option<date::Date> {
        match self {
            WindowBound::Date(d) => Some(*d),
            WindowBound::Instant(i) => date::Date::parse_prefix(&i.text),
            WindowBound::Unparsed(_) => None,
        }
    }

    /// The bound as a point in time: a date's midnight UTC; `None` for an unparsed bound.
    pub fn system_time(&self) -> Option<std::time::SystemTime> {
        match self {
            WindowBound::Date(d) => {
                let secs = d.day_number().checked_mul(86_400)?;
                std::time::SystemTime::try_from(DateTime::from_secs(secs)).ok()
            }
            WindowBound::Instant(i) => std::time::SystemTime::try_from(i.at).ok(),
            WindowBound::Unparsed(_) => None,
        }
    }
}

impl std::fmt::Display for WindowBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowBound::Date(d) => d.fmt(f),
            WindowBound::Instant(i) => f.write_str(&i.text),
            WindowBound::Unparsed(text) => f.write_str(text),
        }
    }
}

impl From<&str> for WindowBound {
    fn from(text: &str) -> WindowBound {
        WindowBound::parse(text)
    }
}

impl From<String> for WindowBound {
    fn from(text: String) -> WindowBound {
        WindowBound::parse(&text)
    }
}

impl PartialEq<&str> for WindowBound {
    fn eq(&self, other: &&str) -> bool {
        match self {
            WindowBound::Date(d) => {
                date::Date::parse_prefix(other).is_some_and(|o| o == *d && o.to_string() == *other)
            }
            WindowBound::Instant(i) => i.text == *other,
            WindowBound::Unparsed(text) => text == other,
        }
    }
}

impl Serialize for WindowBound {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WindowBound {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(WindowBound::parse(&text))
    }
}

impl Window {
    /// The window of whole days `[start, end)`, its bounds written as dates (`YYYY-MM-DD`), as
    /// the cache has always stored a `--window-days` scan's window.
    pub fn of_dates(start: date::Date, end: date::Date) -> Window {
        Window {
            start: WindowBound::Date(start),
            end: WindowBound::Date(end),
        }
    }

    /// The date the window starts on; `None` when the bound is not a date or RFC 3339 instant.
    pub fn start_date(&self) -> Option<date::Date> {
        self.start.date()
    }

    /// The date of the window's (exclusive) end.
    pub fn end_date(&self) -> Option<date::Date> {
        self.end.date()
    }

    /// Days between the dates its bounds start with.
    pub fn days(&self) -> Option<i64> {
        Some(self.start_date()?.days_until(self.end_date()?))
    }
}

/// What one principal was seen doing with one action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionUse {
    /// Number of events (0 when the source gives no counts, as Access Analyzer does).
    pub count: u64,
    /// Resource ARNs the calls named, when the source knows them: at most
    /// [`ActionUse::MAX_RESOURCES`], the smallest in string order when more were seen.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub resources: BTreeSet<String>,
    /// True when the calls named more distinct resources than `resources` holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resources_truncated: bool,
}

impl ActionUse {
    /// Most resource ARNs kept per principal and action. A role that reads S3 objects names a new
    /// ARN with nearly every call; keeping them all would make memory grow with the logs and the
    /// cache file unreviewable. Which ones are kept (the smallest) does not depend on the order the
    /// logs were read in, so a scan gives the same result on any number of threads.
    pub const MAX_RESOURCES: usize = 100;

    /// Folds another count of the same action into this one.
    pub fn absorb(&mut self, other: &ActionUse) {
        self.count += other.count;
        self.resources_truncated |= other.resources_truncated;
        self.resources.extend(other.resources.iter().cloned());
        while self.resources.len() > Self::MAX_RESOURCES {
            self.resources.pop_last();
            self.resources_truncated = true;
        }
    }
}

/// What a principal really used, as one source saw it over one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedUsage {
    /// The principal's ARN (a role ARN, never an assumed-role session ARN).
    pub principal_arn: String,
    /// The source.
    pub source: UsageSourceKind,
    /// The window observed.
    pub window: Window,
    /// Used actions, keyed by `service:Action` in the catalog's spelling, lower-case service prefix.
    pub actions: BTreeMap<String, ActionUse>,
    /// Services (IAM prefixes) for which the source only knows "some action was used", not which.
    /// Every action of such a service must be kept.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub service_level_only: BTreeSet<String>,
    /// When `Some`, the source covers only these services at action level; others count as
    /// service-level-only. `None` means all services are covered at action level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_level_services: Option<BTreeSet<String>>,
    /// Whether data events (S3 object level, Lambda invoke, DynamoDB items...) were visible to the source.
    #[serde(default)]
    pub data_events_seen: bool,
    /// Data-event resource types the source saw events of (`AWS::S3::Object`,
    /// `AWS::Lambda::Function`, ...), when it can tell them apart; empty when it cannot.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub data_event_types: BTreeSet<String>,
    /// Events the source saw but could not map to an IAM action: IAM service prefix -> event
    /// names. Their service's actions must be kept, and the suggestion needs review.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmapped_events: BTreeMap<String, BTreeSet<String>>,
    /// False when the source says its result is partial (Access Analyzer `isComplete`, unreadable files).
    pub complete: bool,
    /// Calls that were denied (`AccessDenied`), action -> count; never counted as used.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub denied: BTreeMap<String, u64>,
    /// The aggregate query (Athena, CloudTrail Lake) this usage came from: its ID, bytes scanned
    /// and cost. Absent for the other sources, whose cache files stay as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<aggregate::QueryRecord>,
}

impl ObservedUsage {
    /// Empty usage for a principal over a window.
    pub fn empty(principal_arn: &str, source: UsageSourceKind, window: Window) -> Self {
        ObservedUsage {
            principal_arn: principal_arn.to_string(),
            source,
            window,
            actions: BTreeMap::new(),
            service_level_only: BTreeSet::new(),
            action_level_services: None,
            data_events_seen: false,
            data_event_types: BTreeSet::new(),
            unmapped_events: BTreeMap::new(),
            complete: true,
            denied: BTreeMap::new(),
            query: None,
        }
    }

    /// True when `action` (any case) was used.
    pub fn used(&self, action: &str) -> bool {
        self.actions.contains_key(&normalize_action(action))
            || self.actions.keys().any(|k| k.eq_ignore_ascii_case(action))
    }

    /// True when the source has action-level data for `service` (lower-case prefix).
    pub fn has_action_level_data(&self, service: &str) -> bool {
        if self.service_level_only.contains(service) {
            return false;
        }
        match &self.action_level_services {
            Some(set) => set.contains(service),
            None => true,
        }
    }

    /// Folds another observation of the same principal into this one (union of actions, intersection of coverage).
    pub fn merge(&mut self, other: &ObservedUsage) {
        for (action, u) in &other.actions {
            self.actions.entry(action.clone()).or_default().absorb(u);
        }
        self.service_level_only
            .extend(other.service_level_only.iter().cloned());
        // A service is covered when either observation covers it at action level.
        self.action_level_services = match (
            self.action_level_services.take(),
            &other.action_level_services,
        ) {
            (Some(a), Some(b)) => Some(a.union(b).cloned().collect()),
            _ => None,
        };
        self.data_events_seen |= other.data_events_seen;
        self.data_event_types
            .extend(other.data_event_types.iter().cloned());
        for (service, events) in &other.unmapped_events {
            self.unmapped_events
                .entry(service.clone())
                .or_default()
                .extend(events.iter().cloned());
        }
        self.complete &= other.complete;
        for (action, n) in &other.denied {
            *self.denied.entry(action.clone()).or_default() += n;
        }
    }
}

/// `S3:GetObject` -> `s3:GetObject`: the service prefix is lower-cased, the name kept.
pub fn normalize_action(action: &str) -> String {
    match action.split_once(':') {
        Some((svc, name)) => format!("{}:{}", svc.to_ascii_lowercase(), name),
        None => action.to_string(),
    }
}

/// The fingerprint of a principal's deployed policies (the documents before this plan where they
/// exist), which cache entries are checked against: a plan that only adds actions does not make the
/// usage stale, since the minimizer keeps what the plan adds.
///
/// AWS-managed policies count by their ARN, not their document: whether a run resolved their
/// documents (online, from the bundled snapshot, or not at all as in `check`) must not change the
/// fingerprint, or `check` right after `suggest` would call every such principal stale.
pub fn principal_fingerprint(principal: &crate::iam::Principal) -> String {
    let aws_managed = |s: &&crate::iam::PolicySource| {
        s.kind == crate::iam::PolicyKind::AwsManaged
            || s.arn
                .as_deref()
                .is_some_and(crate::iam::discover::is_aws_managed)
    };
    let documents = cache::fingerprint(
        principal
            .policies
            .iter()
            .filter(|s| !aws_managed(s))
            .filter_map(|s| s.before.as_deref().or(s.document.as_deref())),
    );
    let mut arns: Vec<&str> = principal
        .policies
        .iter()
        .filter(aws_managed)
        .filter_map(|s| s.arn.as_deref())
        .collect();
    if arns.is_empty() {
        // The same value as before AWS-managed ARNs were counted: existing cache entries stay fresh.
        return documents;
    }
    arns.sort_unstable();
    let mut hasher = sha2::Sha256::new();
    hasher.update(documents.as_bytes());
    for arn in arns {
        hasher.update([0u8]);
        hasher.update(arn.as_bytes());
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{digest}")
}

#[cfg(test)]
mod window_tests {
    use super::{Window, WindowBound};

    #[test]
    fn bounds_read_as_dates_instants_or_unparsed_and_print_back_as_read() {
        for (text, kind) in [
            ("2025-10-31", "date"),
            ("2025-10-31T00:00:00Z", "instant"),
            ("2025-10-31T01:30:00.250+01:00", "instant"),
            ("", "unparsed"),
            ("yesterday", "unparsed"),
            ("2025-02-30", "unparsed"),
        ] {
            let bound = WindowBound::parse(text);
            let got = match &bound {
                WindowBound::Date(_) => "date",
                WindowBound::Instant(_) => "instant",
                WindowBound::Unparsed(_) => "unparsed",
            };
            assert_eq!(got, kind, "{text:?}");
            assert_eq!(bound.to_string(), text);
            let json = serde_json::to_string(&bound).unwrap();
            assert_eq!(serde_json::from_str::<WindowBound>(&json).unwrap(), bound);
        }
    }

    #[test]
    fn a_date_bound_is_its_midnight_and_an_instant_its_moment() {
        let secs = |b: &WindowBound| {
            b.system_time()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(secs(&"1970-01-02".into()), 86_400);
        assert_eq!(secs(&"1970-01-02T01:00:00+01:00".into()), 86_400);
        assert_eq!(WindowBound::parse("nope").system_time(), None);
        let w = Window {
            start: "2024-02-28".into(),
            end: "2024-03-01T12:00:00Z".into(),
        };
        assert_eq!(w.days(), Some(2));
    }
}
