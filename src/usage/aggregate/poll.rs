//! The query loop Athena and CloudTrail Lake share: poll the query's state with backoff until it
//! ends (a throttled poll waits longer and tries again), report progress, stop the query when the
//! caller cancels, and read the result pages (a throttled page is asked for again).
//!
//! Owns [`wait_for_query`] and [`read_pages`]. Each engine passes its own SDK calls in as
//! closures, so the calls stay the real ones over HTTP; the engines sort their own errors and
//! read their own rows. It builds no SQL and knows no engine.

use super::{AggregateError, PollSettings, ProgressHook, QueryProgress};
use std::pin::Pin;
use std::time::Instant;

/// One look at a query, as an engine's status call gives it.
pub(super) struct QueryState {
    /// The engine's word for the state (`RUNNING`, `QUEUED`...), for the progress hook.
    pub label: String,
    /// Bytes scanned so far.
    pub bytes_scanned: u64,
    /// Whether it has ended, and how.
    pub phase: Phase,
}

/// Where a query is.
pub(super) enum Phase {
    /// Still queued or running.
    Running,
    /// Finished; its results can be read.
    Succeeded,
    /// Failed, or was cancelled by someone else: the error to return.
    Ended(AggregateError),
}

/// Asks `describe` for the query's state until it ends, waiting [`PollSettings`]' backoff in
/// between; returns the bytes it scanned. Progress is timed from `started`. When `cancel` resolves first, `stop` is called once and
/// its error returned.
pub(super) async fn wait_for_query<C: Future<Output = ()>>(
    query_id: &str,
    poll: &PollSettings,
    progress: Option<&ProgressHook<'_>>,
    started: Instant,
    mut cancel: Pin<&mut C>,
    mut describe: impl AsyncFnMut() -> Result<QueryState, AggregateError>,
    stop: impl AsyncFnOnce() -> AggregateError,
) -> Result<u64, AggregateError> {
    let mut wait = poll.initial;
    let mut throttled = 0u32;
    // `None` when cancelled: the query is stopped once, after the loop.
    let ended: Option<Result<u64, AggregateError>> = 'poll: loop {
        let polled = tokio::select! {
            biased;
            _ = &mut cancel => break 'poll None,
            polled = describe() => polled,
        };
        let state = match polled {
            Ok(state) => state,
            Err(AggregateError::Throttled { .. }) if throttled < poll.max_throttled => {
                throttled += 1;
                wait = poll.next(wait);
                tokio::select! {
                    biased;
                    _ = &mut cancel => break 'poll None,
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            Err(other) => break Some(Err(other)),
        };
        throttled = 0;
        if let Some(hook) = progress {
            hook(&QueryProgress {
                query_id: query_id.to_string(),
                state: state.label,
                elapsed: started.elapsed(),
                bytes_scanned: state.bytes_scanned,
            });
        }
        match state.phase {
            Phase::Succeeded => break Some(Ok(state.bytes_scanned)),
            Phase::Ended(err) => break Some(Err(err)),
            Phase::Running => {}
        }
        tokio::select! {
            biased;
            _ = &mut cancel => break 'poll None,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = poll.next(wait);
    };
    match ended {
        Some(ended) => ended,
        None => Err(stop().await),
    }
}

/// Reads a finished query's result pages: `fetch` asks for the page after a token (`None` for the
/// first), `take` reads one page and returns the next token (`None` after the last page).
pub(super) async fn read_pages<P>(
    poll: &PollSettings,
    mut fetch: impl AsyncFnMut(Option<String>) -> Result<P, AggregateError>,
    mut take: impl FnMut(P) -> Result<Option<String>, AggregateError>,
) -> Result<(), AggregateError> {
    let mut token: Option<String> = None;
    let mut throttled = 0u32;
    let mut wait = poll.initial;
    loop {
        let page = match fetch(token.clone()).await {
            Ok(page) => page,
            Err(AggregateError::Throttled { .. }) if throttled < poll.max_throttled => {
                throttled += 1;
                tokio::time::sleep(wait).await;
                wait = poll.next(wait);
                continue;
            }
            Err(other) => return Err(other),
        };
        throttled = 0;
        token = take(page)?;
        if token.is_none() {
            return Ok(());
        }
    }
}
