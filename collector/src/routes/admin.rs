//! The admin socket's API: what an operator on the collector's own host may ask of a running
//! collector (today: `collector backup`). It is served only on the Unix socket in the data
//! directory (`startup::admin_socket`), never on the public port, so it needs no key: whoever
//! can reach the socket can already read the data directory.

use super::error::ApiError;
use crate::state::AppState;
use crate::store::BackupReport;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::path::PathBuf;

/// Where the admin routes live: `POST /backup`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/backup", post(backup))
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// What `collector backup` asks.
#[derive(Debug, Deserialize)]
pub struct BackupRequest {
    /// An absolute path that does not exist yet, on the collector's host.
    pub to: PathBuf,
}

/// Writes a consistent copy of the store to `to`: every write acknowledged before the request
/// is in it. The writer pauses for the copy; reads carry on.
async fn backup(
    State(state): State<AppState>,
    Json(request): Json<BackupRequest>,
) -> Result<Json<BackupReport>, ApiError> {
    tracing::info!(to = %request.to.display(), "backup requested");
    let report = state.store.backup(request.to).await?;
    tracing::info!(
        to = %report.to.display(),
        responses = report.responses,
        records = report.records,
        paused_ms = report.paused_ms,
        "backup written"
    );
    Ok(Json(report))
}
