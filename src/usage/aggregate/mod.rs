//! Usage from an organization's whole trail without downloading it: one aggregate query sent to
//! Amazon Athena (the CloudTrail table) or to CloudTrail Lake (an event data store), one row back
//! per principal, event, outcome and request facts.
//!
//! Owns [`AggregateSource`] (where to ask), [`query_usage`] (build the SQL, run it, map the rows),
//! [`QueryRecord`] (query ID, bytes scanned, cost, kept in the cache and notes) and
//! [`AggregateError`] (each failure worded with its fix). The SQL is in [`sql`], the rows -> usage
//! mapping in [`rows`] (through [`crate::usage::cloudtrail::mapping`], as local logs are), the
//! service calls in [`athena`] and [`lake`]. User-facing: `docs/athena.md`.
//!
//! It does not scan logs itself and keeps no state between runs: an interrupted query is stopped
//! (`StopQueryExecution` / `CancelQuery`), not resumed.

pub mod athena;
pub mod lake;
mod poll;
pub mod rows;
pub mod sql;

use crate::iam::Principal;
use crate::usage::aws::AwsError;
use crate::usage::cache::{Cache, CacheEntry, CacheKey};
use crate::usage::cloudtrail::{KnownAction, PrincipalFilter};
use crate::usage::{ObservedUsage, UsageSourceKind, Window, principal_fingerprint};
use serde::{Deserialize, Serialize};
use sql::{Dialect, Partitions, QuerySpec};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Athena's and CloudTrail Lake's price per TB (10^12 bytes) scanned, in US cents, used unless
/// told otherwise.
pub const DEFAULT_PRICE_PER_TB_CENTS: u64 = 500;

/// Athena bills at least this many bytes per query.
pub const ATHENA_MINIMUM_BILLED_BYTES: u64 = 10_000_000;

/// Where the aggregate query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateSource {
    /// Athena over the CloudTrail table.
    Athena(AthenaTable),
    /// CloudTrail Lake over an event data store (ID or ARN).
    Lake {
        /// The event data store.
        event_data_store: String,
    },
}

/// The Athena side: table, workgroup, result location, catalog, partitions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AthenaTable {
    /// `db.table`.
    pub table: String,
    /// Workgroup (`primary` when `None`).
    pub workgroup: Option<String>,
    /// `s3://bucket/prefix/` for the results, when the workgroup has none.
    pub output: Option<String>,
    /// Data catalog (`AwsDataCatalog` when `None`).
    pub catalog: Option<String>,
    /// How the table is partitioned.
    pub partitions: Partitions,
    /// Whether the table has an `account` partition.
    pub account_partition: bool,
    /// Regions to read; empty reads all.
    pub regions: Vec<String>,
}

impl AggregateSource {
    /// The dialect the query is written in.
    pub fn dialect(&self) -> Dialect {
        match self {
            AggregateSource::Athena(_) => Dialect::Athena,
            AggregateSource::Lake { .. } => Dialect::Lake,
        }
    }

    /// How the source is named in notes and cache keys: `athena:db.table`, `cloudtrail-lake:ID`.
    pub fn label(&self) -> String {
        match self {
            AggregateSource::Athena(t) => format!("athena:{}", t.table),
            AggregateSource::Lake { event_data_store } => {
                format!("cloudtrail-lake:{event_data_store}")
            }
        }
    }

    /// The query for these principals over `[start, end)`.
    pub fn spec(&self, principals: Vec<String>, start: &str, end: &str) -> QuerySpec {
        let (source, catalog, partitions, account_partition, regions) = match self {
            AggregateSource::Athena(t) => (
                t.table.clone(),
                t.catalog.clone(),
                t.partitions,
                t.account_partition,
                t.regions.clone(),
            ),
            AggregateSource::Lake { event_data_store } => (
                event_data_store.clone(),
                None,
                Partitions::None,
                false,
                Vec::new(),
            ),
        };
        QuerySpec {
            source,
            catalog,
            principals,
            start: start.to_string(),
            end: end.to_string(),
            partitions,
            account_partition,
            regions,
        }
    }
}

/// What a query cost, recorded in the cache with the usage it produced and in the report's notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// Which engine ran it.
    pub engine: Dialect,
    /// Athena `QueryExecutionId` or Lake `QueryId`.
    pub query_id: String,
    /// Bytes the engine says it scanned.
    pub bytes_scanned: u64,
    /// The price used, US cents per TB (10^12 bytes).
    pub price_per_tb_cents: u64,
    /// The cost at that price, US dollars with six decimals (Athena's 10 MB minimum included).
    pub cost_usd: String,
}

impl QueryRecord {
    /// A record with the cost computed from the bytes and the price.
    pub fn new(
        engine: Dialect,
        query_id: String,
        bytes_scanned: u64,
        price_per_tb_cents: u64,
    ) -> Self {
        let billed = match engine {
            Dialect::Athena => bytes_scanned.max(ATHENA_MINIMUM_BILLED_BYTES),
            Dialect::Lake => bytes_scanned,
        };
        // In micro-dollars with integers: bytes * cents / 10^12 * 10^4.
        let micros = (u128::from(billed) * u128::from(price_per_tb_cents)).div_ceil(100_000_000);
        QueryRecord {
            engine,
            query_id,
            bytes_scanned,
            price_per_tb_cents,
            cost_usd: format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000),
        }
    }

    /// One line for the report's notes.
    pub fn note(&self, label: &str) -> String {
        format!(
            "{label}: query {} scanned {} bytes ({:.3} GB), about ${} at ${}.{:02} per TB",
            self.query_id,
            self.bytes_scanned,
            self.bytes_scanned as f64 / 1e9,
            self.cost_usd,
            self.price_per_tb_cents / 100,
            self.price_per_tb_cents % 100
        )
    }
}

/// How often to ask whether a query is done: SDK retries do not cover a query that is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    /// First wait.
    pub initial: Duration,
    /// Longest wait between polls.
    pub max: Duration,
    /// Throttled polls in a row before giving up.
    pub max_throttled: u32,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            max_throttled: 8,
        }
    }
}

impl PollSettings {
    /// The wait after `wait`: doubled, at most [`PollSettings::max`].
    fn next(&self, wait: Duration) -> Duration {
        (wait * 2).min(self.max)
    }
}

/// Where a running query is, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProgress {
    /// The query's ID.
    pub query_id: String,
    /// The engine's state (`QUEUED`, `RUNNING`, ...).
    pub state: String,
    /// Time since the query was started.
    pub elapsed: Duration,
    /// Bytes scanned so far.
    pub bytes_scanned: u64,
}

/// Called after each poll.
pub type ProgressHook<'a> = dyn Fn(&QueryProgress) + Sync + 'a;

/// Why an aggregate query gave no usage; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The query could not be built.
    #[error(transparent)]
    Sql(#[from] sql::SqlError),
    /// The result rows are not what the query returns.
    #[error("unexpected {engine} result: {source}")]
    Rows {
        /// Which engine.
        engine: &'static str,
        /// The problem.
        #[source]
        source: rows::RowError,
    },
    /// The table does not exist.
    #[error(
        "Athena table {table} not found ({message}): create the CloudTrail table (docs/athena.md) or pass the right --athena DB.TABLE and --athena-catalog"
    )]
    TableNotFound {
        /// `db.table`.
        table: String,
        /// The service's words.
        message: String,
    },
    /// The event data store does not exist or is not enabled.
    #[error(
        "CloudTrail Lake event data store {store} not found or not enabled ({message}): pass the ID or ARN `aws cloudtrail list-event-data-stores` shows, in its region (--region)"
    )]
    EventDataStoreNotFound {
        /// The store as given.
        store: String,
        /// The service's words.
        message: String,
    },
    /// The credentials lack a permission the query needs.
    #[error("{operation}: access denied ({message}): the credentials need {needs}")]
    AccessDenied {
        /// The call or query step.
        operation: String,
        /// The permissions this step needs.
        needs: &'static str,
        /// The service's words.
        message: String,
    },
    /// Athena cannot write the query results.
    #[error(
        "Athena cannot write query results ({message}): pass --athena-output s3://bucket/prefix/ where the credentials have s3:PutObject, s3:GetObject, s3:ListBucket and s3:GetBucketLocation (and kms:GenerateDataKey for an SSE-KMS bucket), or use a workgroup with a result location"
    )]
    OutputLocation {
        /// The service's words.
        message: String,
    },
    /// The workgroup refuses the query as configured.
    #[error(
        "Athena workgroup {workgroup} refused the query ({message}): a workgroup that enforces its settings overrides --athena-output and may cap the bytes a query scans; use --athena-workgroup with an enabled workgroup whose limit fits, or shorten --window-days"
    )]
    Workgroup {
        /// The workgroup (`primary` when none was given).
        workgroup: String,
        /// The service's words.
        message: String,
    },
    /// The query ran and failed.
    #[error("{engine} query {query_id} failed: {reason}")]
    Failed {
        /// Which engine.
        engine: &'static str,
        /// The query.
        query_id: String,
        /// The engine's reason.
        reason: String,
    },
    /// Someone or something else cancelled the query.
    #[error(
        "{engine} query {query_id} was cancelled outside iamtrim (or timed out); run again, and check the workgroup's or store's query limits"
    )]
    Cancelled {
        /// Which engine.
        engine: &'static str,
        /// The query.
        query_id: String,
    },
    /// The user interrupted (Ctrl-C); the query was asked to stop.
    #[error("interrupted: {engine} query {query_id} was stopped{}; nothing was cached", if *stop_failed { " (the stop request failed; it may still run)" } else { "" })]
    Interrupted {
        /// Which engine.
        engine: &'static str,
        /// The query.
        query_id: String,
        /// The stop call failed.
        stop_failed: bool,
    },
    /// The service kept throttling after the SDK's retries and our backoff.
    #[error(
        "{operation}: throttled by {engine} (too many calls or concurrent queries): wait and run again, or ask for a higher quota (Athena: active DML queries; Lake: concurrent queries)"
    )]
    Throttled {
        /// Which engine.
        engine: &'static str,
        /// The call.
        operation: String,
    },
    /// Any other AWS failure.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// What [`query_usage`] learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregated {
    /// Usage per plan principal ARN that made any call in the window.
    pub usage: BTreeMap<String, ObservedUsage>,
    /// The query that produced it.
    pub query: QueryRecord,
    /// Result rows read.
    pub rows: usize,
    /// Notes for the report: the query's cost, unmapped events.
    pub notes: Vec<String>,
}

/// The rows and statistics of a finished query, as the engine flows return them.
#[derive(Debug, Clone, Default)]
pub struct QueryOutput {
    /// The query's ID.
    pub query_id: String,
    /// Bytes scanned.
    pub bytes_scanned: u64,
    /// The rows.
    pub rows: Vec<rows::AggregateRow>,
}

/// What [`query_usage`] needs besides the SDK configuration.
pub struct UsageQuery<'a> {
    /// Where to ask.
    pub source: &'a AggregateSource,
    /// The plan's principal ARNs.
    pub principals: Vec<String>,
    /// `[start, end)`, RFC 3339 UTC.
    pub window: Window,
    /// The catalog hook.
    pub known_action: Option<&'a KnownAction>,
    /// Polling.
    pub poll: PollSettings,
    /// Price per TB scanned, in cents.
    pub price_per_tb_cents: u64,
    /// Told after each poll.
    pub progress: Option<&'a ProgressHook<'a>>,
}

/// Builds the query for the principals, runs it on the source's engine (stopping it when `cancel`
/// resolves first), and maps the rows to usage.
pub async fn query_usage(
    config: &aws_types::SdkConfig,
    query: &UsageQuery<'_>,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Aggregated, AggregateError> {
    let spec = query.source.spec(
        query.principals.clone(),
        &query.window.start.to_string(),
        &query.window.end.to_string(),
    );
    let text = sql::build(query.source.dialect(), &spec)?;
    let output = match query.source {
        AggregateSource::Athena(table) => {
            let client = aws_sdk_athena::Client::new(config);
            athena::run(&client, table, &text, &query.poll, query.progress, cancel).await?
        }
        AggregateSource::Lake { event_data_store } => {
            let client = aws_sdk_cloudtrail::Client::new(config);
            lake::run(
                &client,
                event_data_store,
                &text,
                &query.poll,
                query.progress,
                cancel,
            )
            .await?
        }
    };
    let counted: PrincipalFilter = query.principals.iter().cloned().collect();
    let found = rows::usage_from_rows(&output.rows, &counted, &query.window, query.known_action);
    let record = QueryRecord::new(
        query.source.dialect(),
        output.query_id,
        output.bytes_scanned,
        query.price_per_tb_cents,
    );
    let mut notes = vec![record.note(&query.source.label())];
    notes.extend(crate::usage::cloudtrail::unmapped_events_note(
        &found.unmapped,
    ));
    let mut usage = found.usage;
    for u in usage.values_mut() {
        u.query = Some(record.clone());
    }
    Ok(Aggregated {
        usage,
        query: record,
        rows: output.rows.len(),
        notes,
    })
}

/// Writes each existing principal's usage to the cache, keyed as `--cloudtrail` usage is (source
/// kind CloudTrail, with the source's label and window as parameters); returns the usage of the
/// plan's principals and a note per cache write that failed.
pub fn cache_usage(
    cache: &Cache,
    principals: &[&Principal],
    found: &Aggregated,
    source: &AggregateSource,
    window_days: u32,
    now: SystemTime,
) -> (BTreeMap<String, ObservedUsage>, Vec<String>) {
    let params = BTreeMap::from([
        ("source".to_string(), source.label()),
        ("window_days".to_string(), window_days.to_string()),
    ]);
    let mut usage = BTreeMap::new();
    let mut notes = Vec::new();
    for p in principals {
        let Some(arn) = &p.arn else { continue };
        let Some(u) = found.usage.get(arn) else {
            continue;
        };
        let key = CacheKey::new(arn, UsageSourceKind::Cloudtrail, params.clone());
        let entry = CacheEntry::new(key, u.clone(), &principal_fingerprint(p), now);
        // A read-only repository still gets its suggestions.
        if let Err(e) = cache.put(&entry) {
            notes.push(format!("usage cache not written: {e}"));
        }
        usage.insert(arn.clone(), u.clone());
    }
    (usage, notes)
}

/// The last `days` whole UTC days up to the end of today, `[start, end)`: the same days a
/// `--window-days` scan of local logs reads, on day boundaries so date partitions prune cleanly.
pub fn window_of_days(now: SystemTime, days: u32) -> Window {
    let today = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    let at = |day: u64| {
        crate::usage::cache::rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(day * 86_400))
    };
    Window {
        start: at(today.saturating_sub(u64::from(days))).into(),
        end: at(today + 1).into(),
    }
}

/// `5`, `5.00`, `6.25` (US dollars) -> cents; `None` for anything else.
pub fn parse_price_cents(usd: &str) -> Option<u64> {
    let (whole, frac) = usd.trim().split_once('.').unwrap_or((usd.trim(), ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{frac:0<2}");
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_bytes_times_price_with_athenas_minimum() {
        let q = |engine, bytes| QueryRecord::new(engine, "q".into(), bytes, 500).cost_usd;
        assert_eq!(q(Dialect::Athena, 1_000_000_000_000), "5.000000");
        assert_eq!(q(Dialect::Athena, 0), "0.000050");
        assert_eq!(q(Dialect::Lake, 0), "0.000000");
        assert_eq!(q(Dialect::Lake, 123_456_789_012_345), "617.283946");
    }

    #[test]
    fn prices_and_windows() {
        assert_eq!(parse_price_cents("5"), Some(500));
        assert_eq!(parse_price_cents("6.25"), Some(625));
        assert_eq!(parse_price_cents("6.2"), Some(620));
        assert_eq!(parse_price_cents("-1"), None);
        assert_eq!(parse_price_cents("1.234"), None);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(20_422 * 86_400 + 3_600);
        let w = window_of_days(now, 30);
        assert_eq!(
            (w.start.to_string().as_str(), w.end.to_string().as_str()),
            ("2025-10-31T00:00:00Z", "2025-12-01T00:00:00Z")
        );
    }
}
