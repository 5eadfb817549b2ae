//! `GET /v1/surveys/{survey}/live`: Server-Sent Events, one per new or changed response.
//!
//! Every event is `id: <sequence>` and `data: <ResponseRecord JSON>`. The sequence is the key of
//! the `events` tree, so a client that reconnects with `Last-Event-ID` is replayed everything
//! after it from the tree, then follows the broadcast. The first event of every connection is
//! `event: ready` carrying the position the feed starts from, so even a client that disconnects
//! before any response arrived resumes without a gap.
//!
//! The key travels in `Authorization: Bearer` like every read, never in the URL (where it would
//! end up in logs and browser history). Browsers' `EventSource` can't send that header, so the
//! dashboard reads the feed with `fetch()` streaming instead, which can.
//!
//! Ordering: the store makes event numbers visible in increasing order, so once the feed has
//! read up to N, nothing below N appears later (a store shared by several collectors holds back
//! what a transaction still running could precede; the feed then reads again shortly).
//!
//! A replayed event carries the response as it is at the time of the replay, not as it was
//! when the event happened: a response changed three times since `Last-Event-ID` comes back
//! as its three events, each showing the latest answer. A consumer that keeps the latest
//! state per `response_id` ends up exactly where a consumer that never disconnected is.

use super::error::ApiError;
use super::extract::Readable;
use crate::domain::SurveyId;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use pulsetap_wire::ErrorBody;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Proxies and load balancers close connections that stay silent for a minute or so.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser's `EventSource` waits before reconnecting.
const RETRY: Duration = Duration::from_secs(2);
/// Events read from the store at a time during a replay, so a long one streams instead of
/// loading everything first.
const BATCH: usize = 256;
/// How long to wait before reading again events the store held back.
const HELD_BACK: Duration = Duration::from_millis(20);

/// Server-Sent Events of this survey's new and changed responses.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/live",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this event: every response changed since is sent first"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "A stream of `id: <sequence>` / `data: <ResponseRecord JSON>` events, one per new or changed response, after a first `event: ready` whose id is the position the stream starts from. A comment line is sent every 15 s to keep the connection open.",
            body = pulsetap_wire::ResponseRecord),
        (status = 400, description = "Last-Event-ID is not a sequence number", body = ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = ErrorBody),
        (status = 403, description = "The key may not read this survey", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
    )
)]
pub async fn live(
    State(state): State<AppState>,
    Readable(survey): Readable,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::BadHeader(
                        "Last-Event-ID must be the id of an event this feed sent".into(),
                    )
                })?,
        ),
    };
    // Subscribe before reading the tree: whatever commits from here on is either in the tree
    // when we read it or announced afterwards, so nothing falls between the two.
    let announcements = state.store.subscribe();
    // The replay then shows only what is on disk, as acknowledged writes are.
    state.store.durable().await?;
    let newest = state.store.newest_event().await?;
    let start = match resume {
        // Beyond the newest event only if the data was reset since; then start afresh.
        Some(seen) => newest.map(|newest| seen.min(newest)),
        None => newest,
    };

    let mut ready = Event::default().event("ready").retry(RETRY).data("{}");
    if let Some(start) = start {
        ready = ready.id(start.to_string());
    }
    let feed = Feed {
        store: state.store.clone(),
        survey: survey.id.clone(),
        after: start,
        until: newest,
        pending: VecDeque::from([ready]),
        announcements,
        stopping: state.stopping.clone(),
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        let event = feed.next_event().await?;
        Some((Ok::<_, Infallible>(event), feed))
    });
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"));
    // nginx buffers responses unless told not to, which would hold events back.
    let headers = [(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    )];
    Ok((headers, sse).into_response())
}

/// One connection's position in the events tree.
struct Feed {
    store: Store,
    survey: SurveyId,
    /// The last sequence this connection has passed (sent, or skipped as another survey's).
    after: Option<u64>,
    /// The sequence it must read up to: known to be committed and durable.
    until: Option<u64>,
    pending: VecDeque<Event>,
    announcements: broadcast::Receiver<u64>,
    stopping: CancellationToken,
}

impl Feed {
    /// The next event to send, or `None` when the stream should end (the server is stopping,
    /// or the store failed; a client then reconnects with its `Last-Event-ID`).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.behind() {
                if let Err(error) = self.read_batch().await {
                    tracing::error!(%error, "live feed cannot read the events tree");
                    return None;
                }
                continue;
            }
            tokio::select! {
                () = self.stopping.cancelled() => return None,
                announced = self.announcements.recv() => match announced {
                    // Sent only once the write is durable, and so is everything before it.
                    Ok(sequence) => self.until = self.until.max(Some(sequence)),
                    Err(RecvError::Lagged(_)) => {
                        // Missed announcements: the tree has them all. Read up to its end once
                        // that end is on disk.
                        if self.store.durable().await.is_err() {
                            return None;
                        }
                        match self.store.newest_event().await {
                            Ok(newest) => self.until = self.until.max(newest),
                            Err(_) => return None,
                        }
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    fn behind(&self) -> bool {
        match (self.after, self.until) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(after), Some(until)) => after < until,
        }
    }

    /// Reads the next events up to `until` into `pending`.
    async fn read_batch(&mut self) -> Result<(), StoreError> {
        let Some(until) = self.until else {
            return Ok(());
        };
        let first = self.after.map_or(0, |after| after + 1);
        let batch = self.store.events(&self.survey, first, until, BATCH).await?;
        // An empty read means nothing is left up to `until` (only gaps in the numbering).
        let after = Some(batch.last_seen.unwrap_or(until));
        if after == self.after {
            // A shared store holds back events while an older transaction (another
            // collector's) is still running: look again shortly rather than skip them.
            tokio::time::sleep(HELD_BACK).await;
        }
        self.after = after;
        for (sequence, response) in batch.events {
            let event = Event::default()
                .id(sequence.to_string())
                .json_data(response.to_record())
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            self.pending.push_back(event);
        }
        Ok(())
    }
}
