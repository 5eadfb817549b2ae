//! `POST /v1/responses` and `POST /v1/impressions`: the widget's writes.
//!
//! The flood limit (the `Visitor` extractor) and the JSON come first, here; the named steps
//! that follow are `service::ingest`'s. Every rating's fate is counted in `/metrics`.

use super::error::ApiError;
use super::extract::{PostedFrom, Visitor};
use crate::service::ingest::{Impression, Page, Sender};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use pulsetap_wire::{ErrorBody, RecordImpression, RecordResponse, WriteOutcome, WriteStatus};
use serde::de::DeserializeOwned;

#[utoipa::path(
    post,
    path = "/v1/responses",
    tag = "widget",
    request_body = RecordResponse,
    responses(
        (status = 201, description = "Recorded, and durable", body = WriteOutcome),
        (status = 200, description = "The same identity again: updated or unchanged", body = WriteOutcome),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "Origin not allowed, or a bad or missing signature", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
        (status = 409, description = "Already answered from elsewhere, or the edit window has closed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Well-formed but invalid: score out of range, unknown tag, comment too long, hidden formatting in an interaction or tag, a new unsigned tag value past `max_tag_values`", body = ErrorBody),
        (status = 429, description = "Too many requests or ratings from this visitor, or the survey's unsigned ratings for today; `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "Not stored; retry later", body = ErrorBody),
    )
)]
pub async fn record_response(
    State(state): State<AppState>,
    visitor: Result<Visitor, ApiError>,
    PostedFrom(page): PostedFrom,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WriteOutcome>), ApiError> {
    let mut survey = None;
    let result = ingest_response(&state, visitor, page, body, &mut survey).await;
    match &result {
        Ok((_, Json(outcome))) => state.metrics.count_rating(Ok(outcome.status)),
        // A refusal of a configured survey's rating is kept for its owner to see; one naming no
        // survey of ours can't be told to anybody (and must not grow the list).
        Err(error) => {
            let ours = survey.filter(|survey| state.surveys.get(survey).is_some());
            let message = error.to_string();
            state
                .metrics
                .refused(ours.as_deref(), error.code(), message);
        }
    }
    result
}

async fn ingest_response(
    state: &AppState,
    visitor: Result<Visitor, ApiError>,
    page: Page,
    body: Result<Bytes, BytesRejection>,
    survey: &mut Option<String>,
) -> Result<(StatusCode, Json<WriteOutcome>), ApiError> {
    let Visitor(visitor) = visitor?;
    let body: RecordResponse = parse_json(body)?;
    *survey = Some(body.survey.clone());
    let sender = Sender { visitor, page };
    let recorded = state.ingest.rating(body, &sender).await?;
    if recorded.counted_unverified {
        state.metrics.unverified_responses_created.inc();
    }
    let status = match recorded.status {
        WriteStatus::Created => StatusCode::CREATED,
        WriteStatus::Updated | WriteStatus::Unchanged => StatusCode::OK,
    };
    Ok((
        status,
        Json(WriteOutcome {
            status: recorded.status,
            response_id: recorded.response.response_id,
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/impressions",
    tag = "widget",
    request_body = RecordImpression,
    responses(
        (status = 204, description = "Counted (once per response_id), and durable; also past the visitor's daily impressions, which are not counted"),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 403, description = "Origin not allowed", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
        (status = 422, description = "Invalid content, or a new unsigned tag value past the survey's `max_tag_values`", body = ErrorBody),
        (status = 429, description = "Too many requests from this visitor", body = ErrorBody),
    )
)]
pub async fn record_impression(
    State(state): State<AppState>,
    Visitor(visitor): Visitor,
    PostedFrom(page): PostedFrom,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body: RecordImpression = parse_json(body)?;
    let sender = Sender { visitor, page };
    // Past the visitor's daily impressions the answer is the same 204: the widget has nothing
    // to retry (a 429 would hold back the ratings queued behind it in its outbox), and a
    // script learns nothing.
    match state.ingest.impression(body, &sender).await? {
        Impression::Counted => {
            state.metrics.impressions_accepted.inc();
        }
        Impression::Repeat => {}
        Impression::OverAllowance => {
            state.metrics.impressions_over_allowance.inc();
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|error| {
        ApiError::MalformedJson(format!("the body is not a valid rating: {error}"))
    })
}
