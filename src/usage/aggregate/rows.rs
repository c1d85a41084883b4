//! Result rows of the aggregate query -> one [`ObservedUsage`] per principal, through the same
//! event -> action mapping as the local reader ([`crate::usage::cloudtrail::mapping`]).
//!
//! Owns [`AggregateRow`] (one row as the engine returns it, typed), [`RowReader`] (text cells ->
//! rows, by column name) and [`usage_from_rows`]. It does not talk to any service.

use super::sql::COLUMNS;
use crate::usage::cloudtrail::mapping;
use crate::usage::cloudtrail::{
    KnownAction, MAX_UNMAPPED_NAMES, MappedEvent, PrincipalFilter, map_event,
};
use crate::usage::{ObservedUsage, UsageSourceKind, Window};
use foldhash::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// What a request's parameters said, as far as the mapping needs: these three facts select extra
/// actions (tagging on create, object versions, the source of a copy). The query groups by them.
pub type RowFacts = mapping::RequestFacts;

/// One result row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateRow {
    /// The caller, when it is one of the counted principals (`None` on rows that only report
    /// data events of other principals): an IAM ARN, or an assumed-role session ARN.
    pub principal: Option<String>,
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// The error code, when it may be a denial (decided by [`mapping::is_denied`]).
    pub denial: Option<String>,
    /// Request-derived facts, grouped on by the query.
    pub request_facts: RowFacts,
    /// For data events: the account they were logged in.
    pub data_account: Option<String>,
    /// For data events: the type of the first resource (`AWS::S3::Object`, ...).
    pub data_type: Option<String>,
    /// Events in the group.
    pub calls: u64,
    /// First event time (RFC 3339 UTC).
    pub first_seen: String,
    /// Last event time (RFC 3339 UTC).
    pub last_seen: String,
}

/// A row the reader could not use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The result has no column of this name.
    #[error("the query result has no column {0:?}")]
    MissingColumn(&'static str),
    /// A cell is not what its column holds.
    #[error("row {row}: column {column:?} holds {value:?}, not {expected}")]
    BadCell {
        /// Row number, from 1.
        row: usize,
        /// The column.
        column: &'static str,
        /// The cell.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Reads rows of text cells by column name (engines may reorder or re-case columns).
#[derive(Debug, Clone)]
pub struct RowReader {
    /// Index of each of [`COLUMNS`] in a row.
    at: Vec<usize>,
    rows: usize,
}

impl RowReader {
    /// A reader for a result with these column names.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Result<Self, RowError> {
        let at = COLUMNS
            .iter()
            .map(|want| {
                header
                    .iter()
                    .position(|h| h.as_ref().eq_ignore_ascii_case(want))
                    .ok_or(RowError::MissingColumn(want))
            })
            .collect::<Result<_, _>>()?;
        Ok(RowReader { at, rows: 0 })
    }

    /// One row from its cells (`None` for SQL NULL), in the header's order.
    pub fn read(&mut self, cells: &[Option<&str>]) -> Result<AggregateRow, RowError> {
        self.rows += 1;
        let row = self.rows;
        let cell = |i: usize| -> Option<&str> {
            self.at
                .get(i)
                .and_then(|&at| cells.get(at).copied().flatten())
        };
        let text = |i: usize| cell(i).filter(|s| !s.is_empty()).map(str::to_string);
        let flag = |i: usize| -> Result<bool, RowError> {
            match cell(i) {
                None => Ok(false),
                Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
                Some(v) => Err(RowError::BadCell {
                    row,
                    column: COLUMNS[i],
                    value: v.to_string(),
                    expected: "true or false",
                }),
            }
        };
        let calls = match cell(9) {
            Some(v) => v.parse::<u64>().map_err(|_| RowError::BadCell {
                row,
                column: COLUMNS[9],
                value: v.to_string(),
                expected: "a count",
            })?,
            None => 0,
        };
        Ok(AggregateRow {
            principal: text(0),
            event_source: text(1).unwrap_or_default(),
            event_name: text(2).unwrap_or_default(),
            denial: text(3),
            request_facts: RowFacts {
                tags: flag(4)?,
                version_id: flag(5)?,
                copy_source: flag(6)?,
                // The query does not read PartiQL statements: such a call keeps all four verbs.
                partiql: Default::default(),
            },
            data_account: text(7),
            data_type: text(8),
            calls,
            first_seen: rfc3339(cell(10).unwrap_or("")),
            last_seen: rfc3339(cell(11).unwrap_or("")),
        })
    }
}

/// `2024-03-05 10:00:00.000` (Lake) -> `2024-03-05T10:00:00Z`; RFC 3339 passes through.
fn rfc3339(time: &str) -> String {
    if time.len() >= 19 && time.as_bytes()[10] == b' ' {
        format!("{}T{}Z", &time[..10], &time[11..19])
    } else {
        time.to_string()
    }
}

/// Per principal ARN (as the plan has it) -> usage, with the events that map to no action.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowsUsage {
    /// Usage per counted principal that made any call.
    pub usage: BTreeMap<String, ObservedUsage>,
    /// `(eventSource, eventName)` -> calls, for events that map to no known action.
    pub unmapped: BTreeMap<(String, String), u64>,
    /// Earliest and latest event time of the counted principals' rows.
    pub span: Option<(String, String)>,
}

/// What one row's calls need: the same decision the local reader makes for a record of that
/// event with those request facts ([`crate::usage::cloudtrail::map_event`]).
pub(crate) fn row_actions(row: &AggregateRow, known_action: Option<&KnownAction>) -> MappedEvent {
    map_event(
        &row.event_source,
        &row.event_name,
        row.request_facts,
        known_action,
    )
}

/// `arn:aws:sts::1:assumed-role/Name/session` -> `arn:aws:iam::1:role/Name`; any other ARN as is.
fn principal_of(caller: &str) -> std::borrow::Cow<'_, str> {
    let mut parts = caller.splitn(6, ':');
    let fields = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    );
    if let (Some(_), Some(partition), Some("sts"), Some(_), Some(account), Some(resource)) = fields
        && let Some(role) = resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
    {
        return std::borrow::Cow::Owned(format!("arn:{partition}:iam::{account}:role/{role}"));
    }
    std::borrow::Cow::Borrowed(caller)
}

/// The account field of an ARN.
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Folds result rows into usage per counted principal, the way the local reader counts records:
/// a denied call proves nothing and is kept apart, a call to an event with no known action keeps
/// its whole service, and data events seen in a principal's account mark its usage as having
/// seen data events.
pub fn usage_from_rows(
    rows: &[AggregateRow],
    counted: &PrincipalFilter,
    window: &Window,
    known_action: Option<&KnownAction>,
) -> RowsUsage {
    let mut out = RowsUsage::default();
    let mut data_types: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    // Rows repeat a few thousand events over many principals: each event (with its facts) is
    // mapped once, as the local reader maps each once per thread.
    let mut mapped: HashMap<(&str, &str, RowFacts), MappedEvent> = HashMap::default();
    for row in rows {
        if let Some(account) = &row.data_account {
            let types = data_types.entry(account.as_str()).or_default();
            if let Some(t) = &row.data_type {
                types.insert(t.as_str());
            }
        }
        let Some(caller) = &row.principal else {
            continue;
        };
        let caller = principal_of(caller);
        // The SQL matches generously (any path); the filter decides exactly, as for local logs.
        let Some(arn) = counted.resolve(&caller) else {
            continue;
        };
        if row.calls == 0 {
            continue;
        }
        out.span = Some(match out.span.take() {
            None => (row.first_seen.clone(), row.last_seen.clone()),
            Some((a, b)) => (a.min(row.first_seen.clone()), b.max(row.last_seen.clone())),
        });
        let usage = out.usage.entry(arn.to_string()).or_insert_with(|| {
            ObservedUsage::empty(arn, UsageSourceKind::Cloudtrail, window.clone())
        });
        let denied = row.denial.as_deref().is_some_and(mapping::is_denied);
        let key = (
            row.event_source.as_str(),
            row.event_name.as_str(),
            row.request_facts,
        );
        let event = mapped
            .entry(key)
            .or_insert_with(|| row_actions(row, known_action));
        let actions = match event {
            MappedEvent::Actions { actions, .. } => actions,
            MappedEvent::Console => continue,
            MappedEvent::Unmapped { prefix } => {
                *out.unmapped
                    .entry((row.event_source.clone(), row.event_name.clone()))
                    .or_default() += row.calls;
                // An attempt proves nothing; a successful call to an unknown action keeps the
                // service, and names the event, as the local reader does.
                if let (false, Some(prefix)) = (denied, prefix) {
                    let names = usage.unmapped_events.entry(prefix.clone()).or_default();
                    if names.len() < MAX_UNMAPPED_NAMES {
                        names.insert(row.event_name.clone());
                    }
                    usage.service_level_only.insert(prefix.clone());
                }
                continue;
            }
        };
        for action in actions.iter() {
            // Looked up before inserting, so a principal's known action costs no copy of its name.
            if denied {
                match usage.denied.get_mut(action) {
                    Some(n) => *n += row.calls,
                    None => {
                        usage.denied.insert(action.clone(), row.calls);
                    }
                }
            } else {
                match usage.actions.get_mut(action) {
                    Some(used) => used.count += row.calls,
                    None => usage.actions.entry(action.clone()).or_default().count += row.calls,
                }
            }
        }
    }
    for (arn, usage) in &mut out.usage {
        if let Some(types) = arn_account(arn).and_then(|a| data_types.get(a)) {
            usage.data_events_seen = true;
            usage.data_event_types = types.iter().map(|t| t.to_string()).collect();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(principal: &str, source: &str, name: &str, calls: u64) -> AggregateRow {
        AggregateRow {
            principal: Some(principal.into()),
            event_source: source.into(),
            event_name: name.into(),
            calls,
            first_seen: "2024-03-05T10:00:00Z".into(),
            last_seen: "2024-03-05T11:00:00Z".into(),
            ..AggregateRow::default()
        }
    }

    fn window() -> Window {
        Window {
            start: "2024-03-01T00:00:00Z".into(),
            end: "2024-04-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn rows_count_like_records() {
        let role = "arn:aws:iam::1:role/svc/app";
        let counted: PrincipalFilter = [role.to_string()].into_iter().collect();
        let mut denied = row(role, "s3.amazonaws.com", "PutObject", 2);
        denied.denial = Some("AccessDenied".into());
        let mut not_denied = row(role, "s3.amazonaws.com", "GetObject", 1);
        // An error that is no denial still proves the permission was there.
        not_denied.denial = Some("AccessDeniedButNotReally".into());
        let rows = vec![
            row(role, "s3.amazonaws.com", "ListObjects", 3),
            // A session without issuer, and the role without its path: the same role.
            row(
                "arn:aws:sts::1:assumed-role/app/s1",
                "s3.amazonaws.com",
                "ListObjectsV2",
                4,
            ),
            row(
                "arn:aws:iam::1:role/app",
                "lambda.amazonaws.com",
                "Invoke",
                1,
            ),
            denied,
            not_denied,
            row(role, "madeup.amazonaws.com", "DoThing", 5),
            // Over-matched by the SQL: another role whose name ends the same way.
            row(
                "arn:aws:iam::1:role/x/otherapp",
                "s3.amazonaws.com",
                "GetObject",
                9,
            ),
            AggregateRow {
                data_account: Some("1".into()),
                data_type: Some("AWS::S3::Object".into()),
                calls: 7,
                ..AggregateRow::default()
            },
        ];
        let known = |a: &str| (!a.starts_with("madeup")).then(|| a.to_string());
        let got = usage_from_rows(&rows, &counted, &window(), Some(&known));
        assert_eq!(got.usage.len(), 1);
        let u = &got.usage[role];
        let counts: Vec<(&str, u64)> = u
            .actions
            .iter()
            .map(|(a, x)| (a.as_str(), x.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("lambda:InvokeFunction", 1),
                ("s3:GetObject", 1),
                ("s3:ListBucket", 7)
            ]
        );
        assert_eq!(u.denied, BTreeMap::from([("s3:PutObject".to_string(), 2)]));
        assert_eq!(u.service_level_only, BTreeSet::from(["madeup".to_string()]));
        assert!(u.data_events_seen);
        assert_eq!(
            u.data_event_types,
            BTreeSet::from(["AWS::S3::Object".to_string()])
        );
        assert_eq!(
            got.unmapped,
            BTreeMap::from([(("madeup.amazonaws.com".into(), "DoThing".into()), 5)])
        );
    }

    #[test]
    fn an_event_is_mapped_apart_for_each_set_of_request_facts() {
        let a = "arn:aws:iam::1:role/a";
        let b = "arn:aws:iam::1:role/b";
        let counted: PrincipalFilter = [a.to_string(), b.to_string()].into_iter().collect();
        let mut tagged = row(b, "ec2.amazonaws.com", "RunInstances", 3);
        tagged.request_facts.tags = true;
        let mut versioned = row(a, "s3.amazonaws.com", "GetObject", 5);
        versioned.request_facts.version_id = true;
        let rows = [
            row(a, "ec2.amazonaws.com", "RunInstances", 1),
            tagged,
            row(b, "ec2.amazonaws.com", "RunInstances", 2),
            row(b, "s3.amazonaws.com", "GetObject", 4),
            versioned,
        ];
        let got = usage_from_rows(&rows, &counted, &window(), None);
        let counts = |arn: &str| -> Vec<(String, u64)> {
            got.usage[arn]
                .actions
                .iter()
                .map(|(a, x)| (a.clone(), x.count))
                .collect()
        };
        let expected = |pairs: &[(&str, u64)]| -> Vec<(String, u64)> {
            pairs.iter().map(|(a, n)| (a.to_string(), *n)).collect()
        };
        assert_eq!(
            counts(a),
            expected(&[("ec2:RunInstances", 1), ("s3:GetObjectVersion", 5)])
        );
        assert_eq!(
            counts(b),
            expected(&[
                ("ec2:CreateTags", 3),
                ("ec2:RunInstances", 5),
                ("s3:GetObject", 4)
            ])
        );
    }

    #[test]
    fn reader_goes_by_column_name_and_rejects_bad_cells() {
        let mut header: Vec<&str> = COLUMNS.to_vec();
        header.reverse();
        let mut reader = RowReader::new(&header).unwrap();
        let mut cells: Vec<Option<&str>> = vec![None; COLUMNS.len()];
        let set = |cells: &mut Vec<Option<&'static str>>, col: &str, v: &'static str| {
            let at = header.iter().position(|h| *h == col).unwrap();
            cells[at] = Some(v);
        };
        set(&mut cells, "principal", "arn:aws:iam::1:user/u");
        set(&mut cells, "calls", "12");
        set(&mut cells, "has_tags", "true");
        set(&mut cells, "first_seen", "2024-03-05 10:00:00.000");
        let row = reader.read(&cells).unwrap();
        assert_eq!(row.calls, 12);
        assert!(row.request_facts.tags && !row.request_facts.version_id);
        assert_eq!(row.first_seen, "2024-03-05T10:00:00Z");
        set(&mut cells, "calls", "many");
        assert!(matches!(
            reader.read(&cells),
            Err(RowError::BadCell { row: 2, .. })
        ));
        assert_eq!(
            RowReader::new(&["principal"]).err(),
            Some(RowError::MissingColumn("event_source"))
        );
    }
}
