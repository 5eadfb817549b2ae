//! `POST /v1/surveys/{survey}/interactions`: a helpdesk registers the tickets it will ask to
//! rate, with the tags (agent, channel) their ratings will carry. Server to server, with a
//! write key; the checks and the chunked writes are `service::registry`'s.

use super::error::ApiError;
use super::extract::Writable;
use crate::service::registry;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use pulsetap_wire::{ErrorBody, RegisterInteraction, Registered};

/// 10,000 registrations of a ticket id, an agent's email address and a channel take about
/// 1.5 MB; 8 MiB leaves room for longer ids and tags while bounding what one request holds.
pub const MAX_REGISTRATION_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/surveys/{survey}/interactions",
        post(register).layer(DefaultBodyLimit::max(MAX_REGISTRATION_BODY_BYTES)),
    )
}

/// Registers one interaction, or an array of up to 10,000.
#[utoipa::path(
    post,
    path = "/v1/surveys/{survey}/interactions",
    tag = "write",
    security(("write_key" = [])),
    params(("survey" = String, Path, description = "Survey id")),
    request_body(content = Vec<RegisterInteraction>, description = "One registration, or an array of up to 10,000 (a body of at most 8 MiB)"),
    responses(
        (status = 200, description = "Registered, and durable: how many were new, changed or the same again", body = Registered),
        (status = 400, description = "Not JSON, or not registrations", body = ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = ErrorBody),
        (status = 403, description = "A read key (`key_cannot_write`), or a write key for another survey", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
        (status = 413, description = "A body over 8 MiB", body = ErrorBody),
        (status = 422, description = "A registration breaks a rule (its position is in the message), or more than 10,000: nothing registered", body = ErrorBody),
        (status = 503, description = "Not (all) stored; registering the same again is safe", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Writable(survey): Writable,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge {
                limit: MAX_REGISTRATION_BODY_BYTES,
            }
        } else {
            rejection.into()
        }
    })?;
    let report = registry::register(&state.store, &survey, &body).await?;
    Ok((StatusCode::OK, Json(report)))
}
