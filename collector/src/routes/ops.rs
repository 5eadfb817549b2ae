//! Health and metrics, for load balancers and Prometheus.

use super::error::ApiError;
use super::extract::GlobalReadKey;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}` while the server runs"))
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
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
