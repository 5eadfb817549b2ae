//! Health and metrics, for load balancers and Prometheus.

use super::error::ApiError;
use super::extract::GlobalReadKey;
use crate::domain::calendar::{from_unix_ms, rfc3339};
use crate::state::AppState;
use crate::store::writer::STALL_AFTER;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

/// Whether the collector can take ratings: `200 {"status": "ok", …}`, or `503` with
/// `"status": "stalled"` when its writer holds work and has not moved for `STALL_AFTER` (or
/// died). A supervisor restarts it on a `503` (README, "Running it in production").
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\": \"ok\", \"writer\": {…}}`: the writer is keeping up"),
        (status = 503, description = "`{\"status\": \"stalled\", \"writer\": {…}}`: the writer has work and has not moved for 10 s, or has died; restart the collector"),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let writer = state.store.writer_status();
    let stalled = writer.stalled();
    let body = json!({
        "status": if stalled { "stalled" } else { "ok" },
        "writer": {
            "queued": writer.queued,
            "queue_capacity": writer.capacity,
            "working": writer.working,
            "seconds_since_progress": round_ms(writer.since_progress.as_secs_f64()),
            "stalled_after_seconds": STALL_AFTER.as_secs(),
            "last_flush_at": writer.last_flush_ms.map(|ms| rfc3339(from_unix_ms(ms))),
            "last_flush_seconds": round_ms(writer.last_flush_took.as_secs_f64()),
        },
    });
    let status = if stalled {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Volumes and refusal reasons say how a business is doing and where its limits are, so they
/// are read with a key for every survey.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(("read_key" = [])),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "A key for some surveys only (`key_not_global`), or a write key", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    _key: GlobalReadKey,
) -> Result<impl IntoResponse, ApiError> {
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    ))
}

/// Browsers ask every origin for `/favicon.ico`; answering spares the dashboard and the email
/// landing page a 404 in their console.
#[utoipa::path(
    get,
    path = "/favicon.ico",
    tag = "pages",
    responses((status = 200, description = "The icon", content_type = "image/svg+xml"))
)]
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("favicon.svg"),
    )
}
