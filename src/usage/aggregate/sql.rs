//! The aggregate query, as SQL text: one row per principal, event, outcome and request facts, plus
//! rows that say in which accounts (and for which resource types) data events were logged.
//!
//! Owns [`QuerySpec`] (what to ask), [`Dialect`] (Athena's Trino SQL over the console's CloudTrail
//! table, or CloudTrail Lake's SQL over an event data store) and [`build`]. Every difference between
//! the two dialects is a field of [`DialectSpec`], in one place. Every value that comes from the plan
//! or the command line enters the SQL through [`literal`], [`like_literal`] or [`identifier`], never
//! by plain formatting. Pure: no I/O.

use std::fmt::Write as _;

/// Which engine the SQL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// Amazon Athena (Trino) over the CloudTrail table the console or the AWS docs create.
    Athena,
    /// CloudTrail Lake over an event data store.
    Lake,
}

/// How the Athena table is partitioned, as the console or the AWS documentation creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Partitions {
    /// Partition projection: a `timestamp` partition (`yyyy/MM/dd`), with `account` and `region`
    /// partitions when the table is an organization's.
    #[default]
    Projection,
    /// Hive-style partitions added with `ALTER TABLE ADD PARTITION`: `region`, `year`, `month`,
    /// `day`, with `account` for an organization trail.
    Hive,
    /// No partitions: only the event time prunes (every file is read).
    None,
}

/// What the query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    /// Athena: `db.table` (or `table`, with the database from the context); Lake: the event data
    /// store's ID or ARN.
    pub source: String,
    /// Athena only: the data catalog (`AwsDataCatalog` when `None`).
    pub catalog: Option<String>,
    /// The plan's principal ARNs (IAM users, roles, root), paths included.
    pub principals: Vec<String>,
    /// Inclusive start, RFC 3339 UTC (`2024-03-01T00:00:00Z`).
    pub start: String,
    /// Exclusive end, RFC 3339 UTC.
    pub end: String,
    /// Athena only: the table's partitions.
    pub partitions: Partitions,
    /// Whether the table has an `account` partition (organization trails) to prune on.
    pub account_partition: bool,
    /// Regions to read (`region` partition / `awsRegion`); empty reads all.
    pub regions: Vec<String>,
}

/// The names and forms that differ between the dialects: the only place they are listed.
#[derive(Debug, Clone, Copy)]
pub struct DialectSpec {
    /// `userIdentity` column.
    pub user_identity: &'static str,
    /// `sessionContext.sessionIssuer` path below it.
    pub issuer: &'static str,
    /// `eventSource`.
    pub event_source: &'static str,
    /// `eventName`.
    pub event_name: &'static str,
    /// `eventTime`.
    pub event_time: &'static str,
    /// `errorCode`.
    pub error_code: &'static str,
    /// `eventCategory`.
    pub event_category: &'static str,
    /// `eventType`.
    pub event_type: &'static str,
    /// `recipientAccountId`.
    pub recipient_account: &'static str,
    /// `awsRegion`.
    pub aws_region: &'static str,
    /// `requestParameters`.
    pub request_parameters: &'static str,
    /// Athena keeps `eventtime` as RFC 3339 text; Lake has a timestamp compared with
    /// `YYYY-MM-DD HH:MM:SS` text.
    pub time_as_text: bool,
    /// Athena keeps `requestparameters` as JSON text (searched for a key); Lake as a map of
    /// top-level keys.
    pub parameters_as_text: bool,
}

impl Dialect {
    /// This dialect's names and forms.
    pub const fn spec(self) -> DialectSpec {
        match self {
            Dialect::Athena => DialectSpec {
                user_identity: "useridentity",
                issuer: "sessioncontext.sessionissuer",
                event_source: "eventsource",
                event_name: "eventname",
                event_time: "eventtime",
                error_code: "errorcode",
                event_category: "eventcategory",
                event_type: "eventtype",
                recipient_account: "recipientaccountid",
                aws_region: "awsregion",
                request_parameters: "requestparameters",
                time_as_text: true,
                parameters_as_text: true,
            },
            Dialect::Lake => DialectSpec {
                user_identity: "userIdentity",
                issuer: "sessionContext.sessionIssuer",
                event_source: "eventSource",
                event_name: "eventName",
                event_time: "eventTime",
                error_code: "errorCode",
                event_category: "eventCategory",
                event_type: "eventType",
                recipient_account: "recipientAccountId",
                aws_region: "awsRegion",
                request_parameters: "requestParameters",
                time_as_text: false,
                parameters_as_text: false,
            },
        }
    }
}

/// The result columns, in order; [`super::rows`] reads rows by these names.
pub const COLUMNS: &[&str] = &[
    "principal",
    "event_source",
    "event_name",
    "denial",
    "has_tags",
    "has_version_id",
    "has_copy_source",
    "data_account",
    "data_type",
    "calls",
    "first_seen",
    "last_seen",
];

/// `requestParameters` keys whose presence means the call set tags (and so needs the service's
/// tagging permission too).
pub const TAG_KEYS: &[&str] = &[
    "tags",
    "tagSpecificationSet",
    "tagSpecifications",
    "x-amz-tagging",
    "tagging",
];
/// Keys whose presence means a specific object version was addressed.
pub const VERSION_ID_KEYS: &[&str] = &["versionId"];
/// Keys whose presence means an object was copied from another (which reads the source).
pub const COPY_SOURCE_KEYS: &[&str] = &["x-amz-copy-source"];

/// Error codes matched in SQL as possible denials; the row keeps the code and the Rust side decides
/// with [`crate::usage::cloudtrail::mapping::is_denied`], so the list of denied codes stays one list.
const DENIAL_PATTERNS: &[&str] = &["%AccessDenied%", "%Unauthorized%"];

/// Why a query cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SqlError {
    /// The table name is not `db.table` or `table` with Glue-legal names.
    #[error(
        "invalid Athena table {0:?}: expected db.table (letters, digits and underscores, as Glue names are)"
    )]
    InvalidTable(String),
    /// The event data store is not an ID or ARN.
    #[error("invalid CloudTrail Lake event data store {0:?}: expected its ID or ARN")]
    InvalidEventDataStore(String),
    /// A window bound is not RFC 3339 UTC.
    #[error("invalid window bound {0:?}: expected RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")]
    InvalidBound(String),
    /// No principal to ask about.
    #[error("no principal with a known ARN to query usage for")]
    NoPrincipals,
}

/// A SQL string literal: `'` doubled. Neither Trino, DuckDB nor Lake treat `\` as an escape in
/// string literals, so nothing else can end the literal.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The escape character [`like_literal`] uses (declared with `ESCAPE` next to each `LIKE`).
const LIKE_ESCAPE: char = '!';

/// A `LIKE` pattern literal matching `prefix`, then anything, then `suffix`: the wildcards `%` and
/// `_` (common in role names) and the escape character are escaped in both parts.
pub fn like_literal(prefix: &str, suffix: &str) -> String {
    let escape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if matches!(c, '%' | '_' | LIKE_ESCAPE) {
                out.push(LIKE_ESCAPE);
            }
            out.push(c);
        }
        out
    };
    literal(&format!("{}%{}", escape(prefix), escape(suffix)))
}

/// A double-quoted identifier (`"` doubled).
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A Glue database or table name: letters, digits, underscores (and hyphens, which Glue allows in
/// databases created outside Athena).
fn glue_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `arn:aws:cloudtrail:r:1:eventdatastore/ID` or `ID` -> `ID`; the ID is letters, digits and `-`.
pub fn event_data_store_id(source: &str) -> Result<&str, SqlError> {
    let id = source.rsplit('/').next().unwrap_or(source);
    let valid = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid && (id.len() == source.len() || source.starts_with("arn:")) {
        Ok(id)
    } else {
        Err(SqlError::InvalidEventDataStore(source.to_string()))
    }
}

/// `2024-03-05T10:00:00Z` checked as RFC 3339 UTC, returned as its parts.
fn bound(value: &str) -> Result<(&str, &str), SqlError> {
    let b = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.clone().all(|i| b[i].is_ascii_digit());
    let ok = b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z';
    if ok {
        Ok((&value[..10], &value[11..19]))
    } else {
        Err(SqlError::InvalidBound(value.to_string()))
    }
}

/// The `FROM` target: a quoted `catalog.db.table`, or Lake's event data store ID.
fn from_clause(dialect: Dialect, spec: &QuerySpec) -> Result<String, SqlError> {
    match dialect {
        Dialect::Athena => {
            let parts: Vec<&str> = spec.source.split('.').collect();
            if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| glue_name(p)) {
                return Err(SqlError::InvalidTable(spec.source.clone()));
            }
            let mut from = String::new();
            if let Some(catalog) = &spec.catalog {
                from.push_str(&identifier(catalog));
                from.push('.');
            }
            let quoted: Vec<String> = parts.iter().map(|p| identifier(p)).collect();
            from.push_str(&quoted.join("."));
            Ok(from)
        }
        Dialect::Lake => Ok(event_data_store_id(&spec.source)?.to_string()),
    }
}

/// `arn:aws:iam::1:role/a/b/Name` -> (`arn:aws:iam::1:role/`, `Name`), likewise for users.
fn iam_head_and_name(arn: &str) -> Option<(&str, &str)> {
    let at = arn.find(":role/").or_else(|| arn.find(":user/"))?;
    let (head, rest) = arn.split_at(at + ":role/".len());
    let name = rest.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((head, name))
}

/// The condition that a `caller` names one of the principals: its exact ARN, the same name under
/// another path, or (roles) a session ARN of the role, which is all a record without
/// `sessionIssuer` has. It may match more than the plan's principals (a `%` path); the rows are
/// resolved exactly afterwards with [`crate::usage::cloudtrail::PrincipalFilter`].
fn counted_condition(principals: &[String]) -> String {
    let mut terms = Vec::new();
    let exact: Vec<String> = principals.iter().map(|p| literal(p)).collect();
    terms.push(format!("caller IN ({})", exact.join(", ")));
    for arn in principals {
        let Some((head, name)) = iam_head_and_name(arn) else {
            continue;
        };
        terms.push(format!(
            "caller LIKE {} ESCAPE '{LIKE_ESCAPE}'",
            like_literal(head, &format!("/{name}"))
        ));
        if let Some(account_head) = head.strip_suffix(":role/")
            && let Some((arn_prefix, account)) = account_head.rsplit_once(':')
            && let Some(partition_head) = arn_prefix.strip_suffix(":iam:")
        {
            // `arn:aws:iam::1:role/` -> `arn:aws:sts::1:assumed-role/Name/`.
            let session = format!("{partition_head}:sts::{account}:assumed-role/{name}/");
            terms.push(format!(
                "caller LIKE {} ESCAPE '{LIKE_ESCAPE}'",
                like_literal(&session, "")
            ));
        }
    }
    terms.join("\n      OR ")
}

/// The condition that a request carried one of `keys`.
fn has_key(d: &DialectSpec, keys: &[&str]) -> String {
    let terms: Vec<String> = keys
        .iter()
        .map(|key| {
            if d.parameters_as_text {
                // The JSON text holds the key as `"key"`; lower-cased on both sides since services
                // differ in the case of their parameter names.
                format!(
                    "strpos(lower(coalesce({}, '')), {}) > 0",
                    d.request_parameters,
                    literal(&format!("\"{}\"", key.to_ascii_lowercase()))
                )
            } else {
                format!(
                    "element_at({}, {}) IS NOT NULL",
                    d.request_parameters,
                    literal(key)
                )
            }
        })
        .collect();
    format!("({})", terms.join(" OR "))
}

/// The partition and time conditions of the innermost `WHERE`.
fn prune(dialect: Dialect, spec: &QuerySpec, accounts: &[String]) -> Result<Vec<String>, SqlError> {
    let d = dialect.spec();
    let (start_day, start_time) = bound(&spec.start)?;
    let (end_day, end_time) = bound(&spec.end)?;
    let mut conds = Vec::new();
    if d.time_as_text {
        conds.push(format!("{} >= {}", d.event_time, literal(&spec.start)));
        conds.push(format!("{} < {}", d.event_time, literal(&spec.end)));
    } else {
        conds.push(format!(
            "{} >= {}",
            d.event_time,
            literal(&format!("{start_day} {start_time}"))
        ));
        conds.push(format!(
            "{} < {}",
            d.event_time,
            literal(&format!("{end_day} {end_time}"))
        ));
    }
    let in_list = |values: &[String]| {
        values
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if dialect == Dialect::Lake || spec.partitions == Partitions::None {
        // No partitions: the columns themselves narrow what is matched (Lake prunes on them).
        if !spec.regions.is_empty() {
            conds.push(format!("{} IN ({})", d.aws_region, in_list(&spec.regions)));
        }
        return Ok(conds);
    }
    // A file is delivered up to about 15 minutes after its events, so the end day's folder is
    // read too, as the local reader does; the event time above decides.
    let (first, last) = (start_day.replace('-', "/"), end_day.replace('-', "/"));
    match spec.partitions {
        Partitions::Projection => {
            let ts = identifier("timestamp");
            conds.push(format!("{ts} >= {}", literal(&first)));
            conds.push(format!("{ts} <= {}", literal(&last)));
        }
        Partitions::Hive => {
            let (y, m, day) = (identifier("year"), identifier("month"), identifier("day"));
            // The year alone first: engines prune on a plain comparison of one partition column.
            conds.push(format!("{y} >= {}", literal(&first[..4])));
            conds.push(format!("{y} <= {}", literal(&last[..4])));
            conds.push(format!(
                "{y} || '/' || {m} || '/' || {day} >= {}",
                literal(&first)
            ));
            conds.push(format!(
                "{y} || '/' || {m} || '/' || {day} <= {}",
                literal(&last)
            ));
        }
        Partitions::None => {}
    }
    if spec.account_partition && !accounts.is_empty() {
        conds.push(format!(
            "{} IN ({})",
            identifier("account"),
            in_list(accounts)
        ));
    }
    if !spec.regions.is_empty() {
        conds.push(format!(
            "{} IN ({})",
            identifier("region"),
            in_list(&spec.regions)
        ));
    }
    Ok(conds)
}

/// The account field of an ARN.
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// Builds the aggregate query.
///
/// The innermost select names the caller the way the local reader does (an IAM user's or root's
/// ARN; an assumed role's issuer, or its session ARN when the issuer is missing; a federated
/// user's issuer); the next decides whether the caller is counted and whether the event is a data
/// event; the outer ones blank what is not needed for rows of other principals' data events and
/// group. One scan of the table serves both kinds of rows.
pub fn build(dialect: Dialect, spec: &QuerySpec) -> Result<String, SqlError> {
    if spec.principals.is_empty() {
        return Err(SqlError::NoPrincipals);
    }
    let d = dialect.spec();
    let from = from_clause(dialect, spec)?;
    let mut accounts: Vec<String> = spec
        .principals
        .iter()
        .filter_map(|p| arn_account(p))
        .map(str::to_string)
        .collect();
    accounts.sort();
    accounts.dedup();
    let mut conds = prune(dialect, spec, &accounts)?;
    // Console sign-ins and console actions are no permission of the principal (the local reader
    // skips them by the same `eventType` values).
    conds.push(format!(
        "coalesce({}, '') NOT IN ({})",
        d.event_type,
        crate::usage::cloudtrail::mapping::CONSOLE_EVENT_TYPES
            .iter()
            .map(|t| literal(t))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let ui = d.user_identity;
    let issuer_arn = format!("{ui}.{}.arn", d.issuer);
    let denial: Vec<String> = DENIAL_PATTERNS
        .iter()
        .map(|p| format!("{} LIKE {}", d.error_code, literal(p)))
        .collect();

    let mut sql = String::new();
    let w = &mut sql;
    // `write!` to a String cannot fail.
    let _ = writeln!(
        w,
        "SELECT principal, event_source, event_name, denial, has_tags, has_version_id, has_copy_source,"
    );
    let _ = writeln!(
        w,
        "  data_account, data_type, count(*) AS calls, min(event_time) AS first_seen, max(event_time) AS last_seen"
    );
    let _ = writeln!(w, "FROM (");
    let _ = writeln!(w, "  SELECT");
    let _ = writeln!(w, "    CASE WHEN counted THEN caller END AS principal,");
    let _ = writeln!(
        w,
        "    CASE WHEN counted THEN {} END AS event_source,",
        d.event_source
    );
    let _ = writeln!(
        w,
        "    CASE WHEN counted THEN {} END AS event_name,",
        d.event_name
    );
    let _ = writeln!(
        w,
        "    CASE WHEN counted AND ({}) THEN {} END AS denial,",
        denial.join(" OR "),
        d.error_code
    );
    let _ = writeln!(w, "    counted AND {} AS has_tags,", has_key(&d, TAG_KEYS));
    let _ = writeln!(
        w,
        "    counted AND {} AS has_version_id,",
        has_key(&d, VERSION_ID_KEYS)
    );
    let _ = writeln!(
        w,
        "    counted AND {} AS has_copy_source,",
        has_key(&d, COPY_SOURCE_KEYS)
    );
    let _ = writeln!(
        w,
        "    CASE WHEN is_data THEN coalesce({}, split_part(caller, ':', 5)) END AS data_account,",
        d.recipient_account
    );
    let _ = writeln!(
        w,
        "    CASE WHEN is_data THEN element_at(resources, 1).type END AS data_type,"
    );
    let _ = writeln!(w, "    event_time");
    let _ = writeln!(w, "  FROM (");
    let _ = writeln!(w, "    SELECT *,");
    let _ = writeln!(
        w,
        "      coalesce({}, '') = 'Data' AS is_data,",
        d.event_category
    );
    let _ = writeln!(
        w,
        "      coalesce({}, false) AS counted",
        counted_condition(&spec.principals)
    );
    let _ = writeln!(w, "    FROM (");
    let _ = writeln!(w, "      SELECT");
    let _ = writeln!(w, "        CASE");
    let _ = writeln!(
        w,
        "          WHEN {ui}.type IN ('IAMUser', 'Root') THEN {ui}.arn"
    );
    let _ = writeln!(
        w,
        "          WHEN {ui}.type = 'AssumedRole' THEN coalesce({issuer_arn}, {ui}.arn)"
    );
    let _ = writeln!(
        w,
        "          WHEN {ui}.type = 'FederatedUser' THEN {issuer_arn}"
    );
    let _ = writeln!(w, "        END AS caller,");
    let _ = writeln!(
        w,
        "        {}, {}, {}, {}, {}, {}, resources,",
        d.event_source,
        d.event_name,
        d.error_code,
        d.event_category,
        d.recipient_account,
        d.request_parameters
    );
    // Lake gives its timestamps back as `YYYY-MM-DD HH:MM:SS.fff`; the rows normalize them.
    let _ = writeln!(w, "        {} AS event_time", d.event_time);
    let _ = writeln!(w, "      FROM {from}");
    let _ = writeln!(w, "      WHERE {}", conds.join("\n        AND "));
    let _ = writeln!(w, "    ) AS named");
    let _ = writeln!(w, "  ) AS decided");
    let _ = writeln!(w, "  WHERE caller IS NOT NULL AND (counted OR is_data)");
    let _ = writeln!(w, ") AS events");
    let _ = write!(w, "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9");
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(principals: &[&str]) -> QuerySpec {
        QuerySpec {
            source: "cloudtrail.logs".into(),
            catalog: None,
            principals: principals.iter().map(|p| p.to_string()).collect(),
            start: "2024-03-01T00:00:00Z".into(),
            end: "2024-04-01T00:00:00Z".into(),
            partitions: Partitions::Projection,
            account_partition: true,
            regions: Vec::new(),
        }
    }

    #[test]
    fn literals_double_quotes_and_nothing_else() {
        assert_eq!(literal("a'b"), "'a''b'");
        assert_eq!(literal("x' OR 1=1 --"), "'x'' OR 1=1 --'");
        assert_eq!(literal("back\\slash"), "'back\\slash'");
        assert_eq!(like_literal("a_b%", "/n!"), "'a!_b!%%/n!!'");
        assert_eq!(identifier("we\"ird"), "\"we\"\"ird\"");
    }

    /// Strips every SQL string literal, so what is left is the query's own text.
    fn outside_literals(sql: &str) -> String {
        let mut out = String::new();
        let mut inside = false;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if inside && chars.peek() == Some(&'\'') {
                    chars.next();
                    continue;
                }
                inside = !inside;
                continue;
            }
            if !inside {
                out.push(c);
            }
        }
        assert!(!inside, "unterminated literal in {sql}");
        out
    }

    #[test]
    fn a_principal_cannot_break_out_of_its_literal() {
        let evil = "arn:aws:iam::111122223333:role/x') OR 1=1 UNION SELECT * FROM secrets --";
        for dialect in [Dialect::Athena, Dialect::Lake] {
            let mut s = spec(&[evil]);
            if dialect == Dialect::Lake {
                s.source = "EXAMPLEf852-4e8f-8bd1-bcf6cEXAMPLE".into();
            }
            let sql = build(dialect, &s).unwrap();
            let code = outside_literals(&sql);
            for word in ["secrets", "UNION", "1=1", "--"] {
                assert!(
                    !code.contains(word),
                    "{dialect:?}: {word} escaped into {code}"
                );
            }
        }
    }

    #[test]
    fn tables_and_stores_are_checked_names() {
        let mut s = spec(&["arn:aws:iam::1:role/a"]);
        s.source = "db.t; DROP TABLE x".into();
        assert!(matches!(
            build(Dialect::Athena, &s),
            Err(SqlError::InvalidTable(_))
        ));
        s.source = "a.b.c".into();
        assert!(matches!(
            build(Dialect::Athena, &s),
            Err(SqlError::InvalidTable(_))
        ));
        s.source = "x' --".into();
        assert!(matches!(
            build(Dialect::Lake, &s),
            Err(SqlError::InvalidEventDataStore(_))
        ));
        assert_eq!(
            event_data_store_id("arn:aws:cloudtrail:us-east-1:1:eventdatastore/abc-123"),
            Ok("abc-123")
        );
        s.source = "db.t".into();
        s.catalog = Some("cat\"x".into());
        assert!(
            build(Dialect::Athena, &s)
                .unwrap()
                .contains("FROM \"cat\"\"x\".\"db\".\"t\"")
        );
    }

    #[test]
    fn projection_and_hive_prune_days_accounts_and_regions() {
        let mut s = spec(&[
            "arn:aws:iam::111122223333:role/app",
            "arn:aws:iam::444455556666:user/u",
        ]);
        s.regions = vec!["eu-west-1".into()];
        let sql = build(Dialect::Athena, &s).unwrap();
        assert!(sql.contains("\"timestamp\" >= '2024/03/01'"), "{sql}");
        assert!(sql.contains("\"timestamp\" <= '2024/04/01'"), "{sql}");
        assert!(
            sql.contains("\"account\" IN ('111122223333', '444455556666')"),
            "{sql}"
        );
        assert!(sql.contains("\"region\" IN ('eu-west-1')"), "{sql}");
        assert!(sql.contains("eventtime >= '2024-03-01T00:00:00Z'"), "{sql}");
        s.partitions = Partitions::Hive;
        s.account_partition = false;
        let sql = build(Dialect::Athena, &s).unwrap();
        assert!(sql.contains("\"year\" >= '2024'"), "{sql}");
        assert!(
            sql.contains("\"year\" || '/' || \"month\" || '/' || \"day\" <= '2024/04/01'"),
            "{sql}"
        );
        assert!(!sql.contains("\"account\""), "{sql}");
    }

    #[test]
    fn lake_compares_timestamps_and_reads_parameter_keys() {
        let mut s = spec(&["arn:aws:iam::1:role/a"]);
        s.source = "arn:aws:cloudtrail:us-east-1:1:eventdatastore/eds-1".into();
        let sql = build(Dialect::Lake, &s).unwrap();
        assert!(sql.contains("FROM eds-1"), "{sql}");
        assert!(sql.contains("eventTime >= '2024-03-01 00:00:00'"), "{sql}");
        assert!(
            sql.contains("element_at(requestParameters, 'versionId') IS NOT NULL"),
            "{sql}"
        );
        assert!(!sql.contains("\"timestamp\""), "{sql}");
    }

    #[test]
    fn role_names_with_wildcards_match_only_themselves() {
        let sql = build(Dialect::Athena, &spec(&["arn:aws:iam::1:role/svc/app_1"])).unwrap();
        assert!(
            sql.contains("caller LIKE 'arn:aws:iam::1:role/%/app!_1' ESCAPE '!'"),
            "{sql}"
        );
        assert!(
            sql.contains("caller LIKE 'arn:aws:sts::1:assumed-role/app!_1/%' ESCAPE '!'"),
            "{sql}"
        );
    }

    #[test]
    fn every_denied_code_reaches_the_row() {
        // The codes `mapping::is_denied` knows: a row keeps its code only when a pattern matches,
        // so a denial the patterns missed would count as use.
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "Client.UnauthorizedOperation",
            "Client.AccessDenied",
            "UnauthorizedAccess",
            "UnauthorizedException",
        ] {
            assert!(crate::usage::cloudtrail::mapping::is_denied(code), "{code}");
            let matched = DENIAL_PATTERNS
                .iter()
                .any(|p| code.contains(p.trim_matches('%')));
            assert!(matched, "{code} escapes the SQL's denial patterns");
        }
    }

    #[test]
    fn bad_bounds_and_no_principals_are_errors() {
        let mut s = spec(&["arn:aws:iam::1:role/a"]);
        s.start = "2024-03-01' OR '1".into();
        assert!(matches!(
            build(Dialect::Athena, &s),
            Err(SqlError::InvalidBound(_))
        ));
        assert_eq!(
            build(Dialect::Athena, &spec(&[])),
            Err(SqlError::NoPrincipals)
        );
    }
}
