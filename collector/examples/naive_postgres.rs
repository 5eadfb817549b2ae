//! The PostgreSQL yardstick of `scripts/bench-postgres.sh`: the handler a team would write
//! first, one transaction per rating that upserts the response and adds one to its survey's
//! counter row for the day. Every rating of a day updates that one row, so concurrent requests
//! queue on its lock; the collector's store batches ratings per transaction and spreads its
//! counters over shards instead (store/postgres). Same JSON, same durable commit.
//!
//!     cargo run --release -p pulsetap-collector --example naive_postgres -- \
//!         127.0.0.1:0 postgres://user@host/database

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use pulsetap_wire::RecordResponse;
use serde_json::{Value, json};

/// As many connections as the collector's store may open.
const CONNECTIONS: usize = 16;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let url = args.next().expect("a PostgreSQL URL");
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(CONNECTIONS)
        .build()
        .expect("a pool");
    pool.get()
        .await
        .expect("the database answers")
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS naive_responses (
                 survey text NOT NULL, response_id text NOT NULL, score smallint NOT NULL,
                 tags jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (survey, response_id));
             CREATE TABLE IF NOT EXISTS naive_counters (
                 survey text NOT NULL, day date NOT NULL, responses bigint NOT NULL,
                 score_sum bigint NOT NULL, PRIMARY KEY (survey, day));",
        )
        .await
        .expect("the tables");
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .expect("the address is free");
    // The script waits for this line, as for the collector's.
    println!(
        "naive handler listening on http://{}",
        listener.local_addr().unwrap()
    );
    let app = axum::Router::new()
        .route("/v1/responses", post(record))
        .with_state(pool);
    axum::serve(listener, app).await.unwrap();
}

async fn record(State(pool): State<Pool>, body: Bytes) -> (StatusCode, Json<Value>) {
    let Ok(rating) = serde_json::from_slice::<RecordResponse>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "malformed_json"})),
        );
    };
    match store(&pool, &rating).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({"status": "created", "response_id": rating.response_id})),
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": error.to_string()})),
        ),
    }
}

async fn store(pool: &Pool, rating: &RecordResponse) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let tags = serde_json::to_value(&rating.tags)?;
    let score = i16::from(rating.score);
    transaction
        .execute(
            "INSERT INTO naive_responses (survey, response_id, score, tags)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (survey, response_id) DO UPDATE SET score = excluded.score,
               tags = excluded.tags",
            &[&rating.survey, &rating.response_id, &score, &tags],
        )
        .await?;
    transaction
        .execute(
            "INSERT INTO naive_counters (survey, day, responses, score_sum)
             VALUES ($1, current_date, 1, $2)
             ON CONFLICT (survey, day) DO UPDATE SET
               responses = naive_counters.responses + 1,
               score_sum = naive_counters.score_sum + excluded.score_sum",
            &[&rating.survey, &i64::from(score)],
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}
