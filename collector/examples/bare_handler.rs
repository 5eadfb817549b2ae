//! The yardsticks of `scripts/bench-http.sh`:
//!
//! - a bare axum handler that parses a rating's JSON as the collector's edge does and answers
//!   201, storing nothing. Whatever the collector does beyond this (checks, limits, the durable
//!   write) is what the benchmark's ratio prices.
//! - with `--journal FILE`, the least a durable acknowledgement costs: the same handler hands
//!   each body to one thread, which appends everything waiting to a journal, syncs it with
//!   `fdatasync` and only then lets the handlers answer (group commit, as the collector's
//!   writer does). The journal is zeroed and synced before the server listens and written as a
//!   ring, as PostgreSQL recycles its WAL, so a sync writes the data and no file-size or block
//!   bookkeeping: the cheapest sync this disk offers (BENCHMARKS.md). No reads, no index, no
//!   counters: any design that answers only once a rating is on disk pays at least this.
//!
//! ```sh
//! cargo run --release -p pulsetap-collector --example bare_handler -- 127.0.0.1:0
//! cargo run --release -p pulsetap-collector --example bare_handler -- 127.0.0.1:0 --journal /tmp/j
//! ```

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use pulsetap_wire::RecordResponse;
use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use tokio::sync::{mpsc, oneshot};

/// The journal's size: about ten seconds of bodies at the fastest rate measured here, reused from
/// its start once full.
const JOURNAL_BYTES: u64 = 256 << 20;

/// Bodies one sync covers at most, as the collector's writer batches at most 512 writes.
const MAX_BATCH: usize = 512;

/// A body for the journal, and who to tell once it is on disk.
type Entry = (Bytes, oneshot::Sender<()>);

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let journal = match (args.next().as_deref(), args.next()) {
        (Some("--journal"), Some(path)) => Some(start_journal(&path)),
        (None, _) => None,
        _ => panic!("usage: bare_handler ADDRESS [--journal FILE]"),
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .expect("the address is free");
    // The script waits for this line, as for the collector's.
    println!(
        "bare handler listening on http://{}",
        listener.local_addr().unwrap()
    );
    let app = axum::Router::new()
        .route("/v1/responses", post(record))
        .with_state(journal);
    axum::serve(listener, app).await.unwrap();
}

async fn record(
    State(journal): State<Option<mpsc::Sender<Entry>>>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let Ok(rating) = serde_json::from_slice::<RecordResponse>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "malformed_json"})),
        );
    };
    if let Some(journal) = journal {
        let (synced, on_disk) = oneshot::channel();
        journal
            .send((body, synced))
            .await
            .expect("the journal thread runs");
        on_disk.await.expect("the journal synced");
    }
    (
        StatusCode::CREATED,
        Json(json!({"status": "created", "response_id": rating.response_id})),
    )
}

/// Zeroes the journal at `path`, then starts the thread that appends and syncs.
fn start_journal(path: &str) -> mpsc::Sender<Entry> {
    let mut file = File::create(path).expect("the journal can be created");
    let zeroes = vec![0; 1 << 20];
    for _ in 0..JOURNAL_BYTES / zeroes.len() as u64 {
        file.write_all(&zeroes).expect("the journal is zeroed");
    }
    file.sync_all().expect("the zeroed journal is synced");
    let (queue, mut waiting) = mpsc::channel::<Entry>(16_384);
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut bytes = Vec::new();
        let mut at = 0u64;
        while waiting.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
            bytes.clear();
            for (body, _) in &batch {
                bytes.extend_from_slice(body);
                bytes.push(b'\n');
            }
            if at + bytes.len() as u64 > JOURNAL_BYTES {
                at = 0;
            }
            file.write_all_at(&bytes, at)
                .expect("the journal is written");
            at += bytes.len() as u64;
            file.sync_data().expect("the journal is synced");
            for (_, synced) in batch.drain(..) {
                let _ = synced.send(());
            }
        }
    });
    queue
}
