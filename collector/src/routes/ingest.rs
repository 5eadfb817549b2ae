//! `POST /v1/responses` and `POST /v1/impressions`.
//!
//! Ingestion runs as named steps, each of which either passes or drops the request with a
//! reason (counted in `/metrics`): parse the JSON, find the survey, check the origin, turn the
//! body into a domain rating, take the visitor allowance, persist atomically, wait until durable.

use crate::domain::rating::parse_impression;
use crate::domain::{Rating, Survey};
use crate::error::ApiError;
use crate::metrics::{ReasonLabel, StatusLabel};
use crate::state::AppState;
use crate::store::{RecordError, Recorded, Refusal, StoreError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use pulsetap_wire::{RecordImpression, RecordResponse, WriteOutcome, WriteStatus};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use time::OffsetDateTime;

/// The client's address, used only inside the visitor hash and never kept.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        // The last X-Forwarded-For entry is the one our own proxy wrote; earlier ones come from
        // the client and can say anything.
        let forwarded = state
            .surveys
            .trusts_forwarded_for()
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

#[utoipa::path(
    post,
    path = "/v1/responses",
    tag = "widget",
    request_body = pulsetap_wire::RecordResponse,
    responses(
        (status = 201, description = "Recorded, and durable", body = pulsetap_wire::WriteOutcome),
        (status = 200, description = "The same identity again: updated or unchanged", body = pulsetap_wire::WriteOutcome),
        (status = 400, description = "Malformed JSON", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "Origin not allowed, or a bad or missing signature", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 409, description = "Already answered from elsewhere, or the edit window has closed", body = pulsetap_wire::ErrorBody),
        (status = 413, description = "Body too large", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "Well-formed but invalid: score out of range, unknown tag, comment too long", body = pulsetap_wire::ErrorBody),
        (status = 429, description = "Too many ratings from this visitor today", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn record_response(
    State(state): State<AppState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WriteOutcome>), ApiError> {
    let result = ingest_response(&state, ip, &headers, body).await;
    count_outcome(
        &state,
        result.as_ref().map(|(_, Json(outcome))| outcome.status),
    );
    result
}

/// Counts what became of a rating in `/metrics`, whichever way it came in (this endpoint, the
/// email confirm form).
pub(crate) fn count_outcome(state: &AppState, outcome: Result<WriteStatus, &ApiError>) {
    match outcome {
        Ok(status) => {
            let status = match status {
                WriteStatus::Created => "created",
                WriteStatus::Updated => "updated",
                WriteStatus::Unchanged => "unchanged",
            };
            state
                .metrics
                .responses_accepted
                .get_or_create(&StatusLabel { status })
                .inc();
        }
        Err(error) => {
            tracing::debug!(reason = error.code(), "rating dropped");
            state
                .metrics
                .responses_rejected
                .get_or_create(&ReasonLabel {
                    reason: error.code(),
                })
                .inc();
        }
    }
}

async fn ingest_response(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WriteOutcome>), ApiError> {
    let wire: RecordResponse = parse_json(body)?;
    let survey = find_survey(state, &wire.survey)?;
    check_origin(survey, headers)?;
    let rating = Rating::parse(wire, survey)?;
    let now = OffsetDateTime::now_utc();

    let visitor = state.visitors.visitor(ip, user_agent(headers), now);
    if !state.visitors.allow_request(visitor) {
        return Err(ApiError::TooManyRequests);
    }
    let survey_id = survey.id.as_str();
    let anonymous_and_new =
        rating.subject.interaction.is_none() && is_new(state, survey, &rating).await?;
    if anonymous_and_new
        && !state
            .visitors
            .take(visitor, survey_id, survey.max_per_visitor_per_day)
    {
        return Err(ApiError::VisitorLimit);
    }
    let recorded = save_rating(state, survey, rating, now).await;
    let created = matches!(&recorded, Ok(r) if r.status == WriteStatus::Created);
    if anonymous_and_new && !created {
        state.visitors.give_back(visitor, survey_id);
    }
    let recorded = recorded?;
    let status = if recorded.status == WriteStatus::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(WriteOutcome {
            status: recorded.status,
            response_id: recorded.response.response_id,
        }),
    ))
}

/// The one store path of an accepted rating, whichever way it came in (this endpoint, the email
/// confirm form): writes it with its counters, waits until it is durable, announces it live.
pub(crate) async fn save_rating(
    state: &AppState,
    survey: &Survey,
    rating: Rating,
    now: OffsetDateTime,
) -> Result<Recorded, ApiError> {
    let recorded = state
        .writer
        .record(survey.id.clone(), rating, now)
        .await
        .map_err(|error| match error {
            RecordError::Refused(Refusal::AlreadyAnswered) => ApiError::AlreadyAnswered,
            RecordError::Refused(Refusal::EditWindowClosed) => ApiError::EditWindowClosed,
            RecordError::Refused(Refusal::SignedTagsChanged) => ApiError::BadSignature,
            RecordError::Storage(error) => error.into(),
        })?;

    if let Some(event) = recorded.event {
        // Nobody listening is fine: the live feed also replays from the events tree.
        let _ = state.live.send(event);
    }
    if recorded.alert_queued {
        state.alerts_queued.notify_one();
    }
    Ok(recorded)
}

#[utoipa::path(
    post,
    path = "/v1/impressions",
    tag = "widget",
    request_body = pulsetap_wire::RecordImpression,
    responses(
        (status = 204, description = "Counted (once per response_id)"),
        (status = 400, description = "Malformed JSON", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "Origin not allowed", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "Invalid content", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn record_impression(
    State(state): State<AppState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let wire: RecordImpression = parse_json(body)?;
    let survey = find_survey(&state, &wire.survey)?;
    check_origin(survey, &headers)?;
    let subject = parse_impression(wire, survey)?;
    let now = OffsetDateTime::now_utc();
    let visitor = state.visitors.visitor(ip, user_agent(&headers), now);
    if !state.visitors.allow_request(visitor) {
        return Err(ApiError::TooManyRequests);
    }
    if state.store.record_impression(survey, &subject, now)? {
        state.commits.durable().await.map_err(StoreError::Flush)?;
        state.metrics.impressions_accepted.inc();
    }
    Ok(StatusCode::NO_CONTENT)
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body?;
    serde_json::from_slice(&body).map_err(|error| {
        ApiError::MalformedJson(format!("the body is not a valid rating: {error}"))
    })
}

fn find_survey<'a>(state: &'a AppState, id: &str) -> Result<&'a Survey, ApiError> {
    state
        .surveys
        .get(id)
        .ok_or_else(|| ApiError::UnknownSurvey(id.to_owned()))
}

/// A browser always says which page is posting. Pages the survey allows may; so may the
/// collector's own pages (the email landing page). Requests without `Origin` come from servers,
/// not browsers, and are not subject to CORS.
fn check_origin(survey: &Survey, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let own_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_origin = own_host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(host)
    });
    if same_origin || survey.allows_origin(origin) {
        Ok(())
    } else {
        Err(ApiError::OriginNotAllowed(origin.to_owned()))
    }
}

pub(crate) fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether nothing is stored yet under this anonymous rating's id. The read runs on the blocking
/// pool: once sled has run a transaction, every read waits while the writer's runs, and a
/// runtime thread waiting there serves none of its other connections meanwhile.
async fn is_new(state: &AppState, survey: &Survey, rating: &Rating) -> Result<bool, ApiError> {
    let store = state.store.clone();
    let survey = survey.id.to_string();
    let response_id = rating.subject.response_id.as_str().to_owned();
    let existing = tokio::task::spawn_blocking(move || store.find(&survey, None, &response_id))
        .await
        .map_err(|stopped| StoreError::Sled(stopped.to_string()))??;
    Ok(existing.is_none())
}
