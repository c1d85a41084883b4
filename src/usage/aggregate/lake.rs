//! The CloudTrail Lake flow: `StartQuery`, `DescribeQuery` with backoff until the query ends,
//! `GetQueryResults` page by page, and `CancelQuery` when the caller cancels (the loops are
//! [`super::poll`]'s, shared with Athena).
//!
//! Owns [`run`] and the sorting of Lake's failures into [`AggregateError`]s that name their fix.
//! It does not build SQL or map rows to usage.

use super::poll::{self, Phase, QueryState};
use super::rows::RowReader;
use super::sql::COLUMNS;
use super::{AggregateError, PollSettings, ProgressHook, QueryOutput};
use crate::usage::aws::{AwsError, classify};
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::types::QueryStatus;
use std::time::Instant;

const ENGINE: &str = "CloudTrail Lake";

/// What running the aggregate query needs.
const QUERY_PERMISSIONS: &str = "cloudtrail:StartQuery, cloudtrail:DescribeQuery, cloudtrail:GetQueryResults and cloudtrail:CancelQuery on the event data store";

/// Sorts a failed Lake call.
fn call_error<E>(
    operation: &str,
    store: &str,
    err: SdkError<E, aws_sdk_cloudtrail::config::http::HttpResponse>,
) -> AggregateError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = err.message().unwrap_or_default().to_string();
    match err.code().unwrap_or_default() {
        "EventDataStoreNotFoundException"
        | "InactiveEventDataStoreException"
        | "EventDataStoreARNInvalidException" => {
            return AggregateError::EventDataStoreNotFound {
                store: store.to_string(),
                message,
            };
        }
        "MaxConcurrentQueriesException" => {
            return AggregateError::Throttled {
                engine: ENGINE,
                operation: operation.to_string(),
            };
        }
        "InvalidQueryStatementException" => {
            return AggregateError::Failed {
                engine: ENGINE,
                query_id: String::new(),
                reason: format!("the query statement was refused: {message}"),
            };
        }
        _ => {}
    }
    match classify(operation, err) {
        AwsError::Throttled { .. } => AggregateError::Throttled {
            engine: ENGINE,
            operation: operation.to_string(),
        },
        AwsError::AccessDenied { message, .. } => AggregateError::AccessDenied {
            operation: operation.to_string(),
            needs: QUERY_PERMISSIONS,
            message,
        },
        other => AggregateError::Aws(other),
    }
}

/// Runs `sql` on the event data store and returns its rows. When `cancel` resolves first, the
/// query is cancelled and [`AggregateError::Interrupted`] returned.
pub async fn run(
    client: &Client,
    store: &str,
    sql: &str,
    poll: &PollSettings,
    progress: Option<&ProgressHook<'_>>,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<QueryOutput, AggregateError> {
    let started = Instant::now();
    let query_id = client
        .start_query()
        .query_statement(sql)
        .send()
        .await
        .map_err(|e| call_error("StartQuery", store, e))?
        .query_id
        .unwrap_or_default();

    tokio::pin!(cancel);
    let bytes_scanned = poll::wait_for_query(
        &query_id,
        poll,
        progress,
        started,
        cancel,
        async || {
            let described = client
                .describe_query()
                .query_id(&query_id)
                .send()
                .await
                .map_err(|e| call_error("DescribeQuery", store, e))?;
            let phase = match described.query_status {
                Some(QueryStatus::Finished) => Phase::Succeeded,
                Some(QueryStatus::Failed) => Phase::Ended(AggregateError::Failed {
                    engine: ENGINE,
                    query_id: query_id.clone(),
                    reason: described
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "no reason given".into()),
                }),
                Some(QueryStatus::Cancelled | QueryStatus::TimedOut) => {
                    Phase::Ended(AggregateError::Cancelled {
                        engine: ENGINE,
                        query_id: query_id.clone(),
                    })
                }
                _ => Phase::Running,
            };
            Ok(QueryState {
                label: described
                    .query_status
                    .as_ref()
                    .map_or("UNKNOWN", |s| s.as_str())
                    .to_string(),
                bytes_scanned: described
                    .query_statistics
                    .as_ref()
                    .and_then(|s| s.bytes_scanned)
                    .unwrap_or(0)
                    .max(0) as u64,
                phase,
            })
        },
        async || stop(client, &query_id).await,
    )
    .await?;

    let mut reader = RowReader::new(COLUMNS).map_err(|source| AggregateError::Rows {
        engine: ENGINE,
        source,
    })?;
    let mut rows = Vec::new();
    poll::read_pages(
        poll,
        async |token| {
            client
                .get_query_results()
                .query_id(&query_id)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("GetQueryResults", store, e))
        },
        |page| {
            // Lake gives each row as a list of one-entry maps, column name -> value (a missing
            // entry is NULL).
            for row in page.query_result_rows.unwrap_or_default() {
                let cells: Vec<Option<&str>> = COLUMNS
                    .iter()
                    .map(|column| {
                        row.iter()
                            .find_map(|cell| cell.get(*column))
                            .map(String::as_str)
                    })
                    .collect();
                rows.push(reader.read(&cells).map_err(|source| AggregateError::Rows {
                    engine: ENGINE,
                    source,
                })?);
            }
            Ok(page.next_token)
        },
    )
    .await?;
    Ok(QueryOutput {
        query_id,
        bytes_scanned,
        rows,
    })
}

/// Asks Lake to cancel the query; the error to return either way.
async fn stop(client: &Client, query_id: &str) -> AggregateError {
    let stopped = client.cancel_query().query_id(query_id).send().await;
    AggregateError::Interrupted {
        engine: ENGINE,
        query_id: query_id.to_string(),
        stop_failed: stopped.is_err(),
    }
}
