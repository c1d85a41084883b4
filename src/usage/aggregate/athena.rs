//! The Athena flow: `StartQueryExecution`, `GetQueryExecution` with backoff until the query ends,
//! `GetQueryResults` page by page, and `StopQueryExecution` when the caller cancels (the loops are
//! [`super::poll`]'s, shared with Lake).
//!
//! Owns [`run`] and the sorting of Athena's failures into [`AggregateError`]s that name their
//! fix. It does not build SQL or map rows to usage.

use super::poll::{self, Phase, QueryState};
use super::rows::RowReader;
use super::{AggregateError, AthenaTable, PollSettings, ProgressHook, QueryOutput};
use crate::usage::aws::{AwsError, classify};
use aws_sdk_athena::Client;
use aws_sdk_athena::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use std::time::Instant;

const ENGINE: &str = "Athena";

/// What running the aggregate query needs on Athena and Glue.
const QUERY_PERMISSIONS: &str = "athena:StartQueryExecution, athena:GetQueryExecution, athena:GetQueryResults and athena:StopQueryExecution on the workgroup, and glue:GetDatabase, glue:GetTable and glue:GetPartitions on the CloudTrail table";

/// What reading the table's logs needs.
const DATA_PERMISSIONS: &str = "glue:GetTable and glue:GetPartitions on the table, and s3:GetObject and s3:ListBucket on the trail bucket (kms:Decrypt for SSE-KMS logs)";

/// Sorts a failed Athena call.
fn call_error<E>(
    operation: &str,
    table: &AthenaTable,
    err: SdkError<E, aws_sdk_athena::config::http::HttpResponse>,
) -> AggregateError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = err.message().unwrap_or_default().to_string();
    let code = err.code().unwrap_or_default().to_string();
    if let Some(refined) = from_message(table, &message) {
        return refined;
    }
    if code == "TooManyRequestsException" {
        return AggregateError::Throttled {
            engine: ENGINE,
            operation: operation.to_string(),
        };
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

/// The failures whose words say what is wrong, from a call's error message or a failed query's
/// reason. Athena gives no code for these, only text.
fn from_message(table: &AthenaTable, message: &str) -> Option<AggregateError> {
    let lower = message.to_ascii_lowercase();
    let message = message.to_string();
    let workgroup = || table.workgroup.clone().unwrap_or_else(|| "primary".into());
    if lower.contains("table_not_found")
        || lower.contains("schema_not_found")
        || (lower.contains("table") && lower.contains("does not exist"))
        || lower.contains("entitynotfound")
    {
        return Some(AggregateError::TableNotFound {
            table: table.table.clone(),
            message,
        });
    }
    if lower.contains("output location")
        || lower.contains("output bucket")
        || lower.contains("writing output")
        || lower.contains("query result location")
    {
        return Some(AggregateError::OutputLocation { message });
    }
    if lower.contains("workgroup")
        && (lower.contains("disabled")
            || lower.contains("not found")
            || lower.contains("does not exist")
            || lower.contains("enforce"))
        || lower.contains("bytes scanned limit")
    {
        return Some(AggregateError::Workgroup {
            workgroup: workgroup(),
            message,
        });
    }
    if lower.contains("not authorized to perform")
        || lower.contains("insufficient permissions")
        || lower.contains("access denied")
        || lower.contains("not allowed")
        || lower.contains("permission_denied")
    {
        // A refused Athena action is the call's own permission; anything else is reading the table.
        let (operation, needs) = if lower.contains("athena:") {
            ("running the query", QUERY_PERMISSIONS)
        } else {
            ("reading the CloudTrail table", DATA_PERMISSIONS)
        };
        return Some(AggregateError::AccessDenied {
            operation: operation.into(),
            needs,
            message,
        });
    }
    None
}

/// Runs `sql` and returns its rows. When `cancel` resolves first, the query is stopped and
/// [`AggregateError::Interrupted`] returned.
pub async fn run(
    client: &Client,
    table: &AthenaTable,
    sql: &str,
    poll: &PollSettings,
    progress: Option<&ProgressHook<'_>>,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<QueryOutput, AggregateError> {
    let mut context = QueryExecutionContext::builder();
    if let Some((db, _)) = table.table.split_once('.') {
        context = context.database(db);
    }
    if let Some(catalog) = &table.catalog {
        context = context.catalog(catalog);
    }
    let mut start = client
        .start_query_execution()
        .query_string(sql)
        .query_execution_context(context.build());
    if let Some(workgroup) = &table.workgroup {
        start = start.work_group(workgroup);
    }
    if let Some(output) = &table.output {
        start = start.result_configuration(
            ResultConfiguration::builder()
                .output_location(output)
                .build(),
        );
    }
    let started = Instant::now();
    let query_id = start
        .send()
        .await
        .map_err(|e| call_error("StartQueryExecution", table, e))?
        .query_execution_id
        .unwrap_or_default();

    tokio::pin!(cancel);
    let bytes_scanned = poll::wait_for_query(
        &query_id,
        poll,
        progress,
        started,
        cancel,
        async || {
            let execution = client
                .get_query_execution()
                .query_execution_id(&query_id)
                .send()
                .await
                .map_err(|e| call_error("GetQueryExecution", table, e))?
                .query_execution;
            let status = execution.as_ref().and_then(|e| e.status.as_ref());
            let state = status.and_then(|s| s.state.clone());
            let phase = match &state {
                Some(QueryExecutionState::Succeeded) => Phase::Succeeded,
                Some(QueryExecutionState::Failed) => {
                    let reason = status
                        .and_then(|s| {
                            s.athena_error
                                .as_ref()
                                .and_then(|e| e.error_message.clone())
                                .or_else(|| s.state_change_reason.clone())
                        })
                        .unwrap_or_else(|| "no reason given".into());
                    Phase::Ended(
                        from_message(table, &reason).unwrap_or(AggregateError::Failed {
                            engine: ENGINE,
                            query_id: query_id.clone(),
                            reason,
                        }),
                    )
                }
                Some(QueryExecutionState::Cancelled) => Phase::Ended(AggregateError::Cancelled {
                    engine: ENGINE,
                    query_id: query_id.clone(),
                }),
                _ => Phase::Running,
            };
            Ok(QueryState {
                label: state.as_ref().map_or("UNKNOWN", |s| s.as_str()).to_string(),
                bytes_scanned: execution
                    .as_ref()
                    .and_then(|e| e.statistics.as_ref())
                    .and_then(|s| s.data_scanned_in_bytes)
                    .unwrap_or(0)
                    .max(0) as u64,
                phase,
            })
        },
        async || stop(client, &query_id).await,
    )
    .await?;

    let rows = read_results(client, table, &query_id, poll).await?;
    Ok(QueryOutput {
        query_id,
        bytes_scanned,
        rows,
    })
}

/// Asks Athena to stop the query; the error to return either way.
async fn stop(client: &Client, query_id: &str) -> AggregateError {
    let stopped = client
        .stop_query_execution()
        .query_execution_id(query_id)
        .send()
        .await;
    AggregateError::Interrupted {
        engine: ENGINE,
        query_id: query_id.to_string(),
        stop_failed: stopped.is_err(),
    }
}

/// Reads every page of a finished query's results; the first row of the first page is the header.
async fn read_results(
    client: &Client,
    table: &AthenaTable,
    query_id: &str,
    poll: &PollSettings,
) -> Result<Vec<super::rows::AggregateRow>, AggregateError> {
    let mut reader: Option<RowReader> = None;
    let mut rows = Vec::new();
    poll::read_pages(
        poll,
        async |token| {
            client
                .get_query_results()
                .query_execution_id(query_id)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("GetQueryResults", table, e))
        },
        |page| {
            for row in page.result_set.and_then(|r| r.rows).unwrap_or_default() {
                let cells: Vec<Option<&str>> = row
                    .data
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|d| d.var_char_value.as_deref())
                    .collect();
                match &mut reader {
                    None => {
                        let header: Vec<&str> = cells.iter().map(|c| c.unwrap_or("")).collect();
                        reader = Some(RowReader::new(&header).map_err(|source| {
                            AggregateError::Rows {
                                engine: ENGINE,
                                source,
                            }
                        })?);
                    }
                    Some(reader) => {
                        rows.push(reader.read(&cells).map_err(|source| AggregateError::Rows {
                            engine: ENGINE,
                            source,
                        })?)
                    }
                }
            }
            Ok(page.next_token)
        },
    )
    .await?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_name_their_fix() {
        let table = AthenaTable {
            table: "cloudtrail.logs".into(),
            ..AthenaTable::default()
        };
        let kind = |m: &str| match from_message(&table, m) {
            Some(AggregateError::TableNotFound { .. }) => "table",
            Some(AggregateError::OutputLocation { .. }) => "output",
            Some(AggregateError::Workgroup { .. }) => "workgroup",
            Some(AggregateError::AccessDenied { .. }) => "denied",
            Some(_) => "other",
            None => "none",
        };
        assert_eq!(
            kind(
                "TABLE_NOT_FOUND: line 1:8: Table 'awsdatacatalog.cloudtrail.logs' does not exist"
            ),
            "table"
        );
        assert_eq!(
            kind(
                "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input."
            ),
            "output"
        );
        assert_eq!(
            kind("Access denied when writing output to url: s3://results/x.csv"),
            "output"
        );
        assert_eq!(kind("WorkGroup analysts is disabled."), "workgroup");
        assert_eq!(
            kind("Query exhausted resources: Bytes scanned limit was exceeded"),
            "workgroup"
        );
        assert_eq!(
            kind(
                "User: arn:aws:sts::1:assumed-role/x/y is not authorized to perform: glue:GetTable"
            ),
            "denied"
        );
        assert_eq!(kind("SYNTAX_ERROR: line 3:5"), "none");
    }
}
