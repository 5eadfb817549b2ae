//! The yardstick of `scripts/bench-http.sh`: a bare axum handler that parses a rating's JSON
//! as the collector's edge does and answers 201, storing nothing. Whatever the collector does
//! beyond this (checks, limits, the durable write) is what the benchmark's ratio prices.
//!
//!     cargo run --release -p pulsetap-collector --example bare_handler -- 127.0.0.1:0

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use pulsetap_wire::RecordResponse;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .expect("the address is free");
    // The script waits for this line, as for the collector's.
    println!(
        "bare handler listening on http://{}",
        listener.local_addr().unwrap()
    );
    let app = axum::Router::new().route("/v1/responses", post(record));
    axum::serve(listener, app).await.unwrap();
}

async fn record(body: Bytes) -> (StatusCode, Json<Value>) {
    match serde_json::from_slice::<RecordResponse>(&body) {
        Ok(rating) => (
            StatusCode::CREATED,
            Json(json!({"status": "created", "response_id": rating.response_id})),
        ),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "malformed_json"})),
        ),
    }
}
