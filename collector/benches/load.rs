//! Ingest under load: the real collector (durable acks, batched writes) against a bare axum
//! handler that parses the same JSON and answers 201 without storing.
//!
//!     cargo bench -p pulsetap-collector --bench load
//!
//! Both servers run on loopback in this process and face the same client: 256 connections
//! posting realistic ratings (new interactions, retries of the same body, changed answers,
//! comments added later, some anonymous). First each is driven as hard as it goes (closed
//! loop) for accepted ratings per second and p50/p99/p99.9 latency; then the collector is paced
//! at half its (median) maximum (open loop) to read its latency under a normal peak.
//! The bare handler and the collector take turns for `PULSETAP_LOAD_ROUNDS` rounds (default 3)
//! and the ratio is the median of the rounds'. `PULSETAP_LOAD_SECONDS` (default 8) sets each
//! phase's length.

use axum::Json;
use axum::http::StatusCode;
use axum::routing::post;
use pulsetap_collector::configuration;
use pulsetap_collector::startup::run;
use pulsetap_collector::state::AppState;
use pulsetap_collector::store::EmbeddedStore;
use pulsetap_wire::RecordResponse;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Concurrent clients. A traffic spike after a campaign email is thousands of browsers, each
/// with its own connection; group commit turns their concurrency into shared flushes.
const CONNECTIONS: usize = 256;

const CONFIG: &str = r#"
read_keys = ["bench"]
[limits]
visitor_requests_per_second = 1000000
visitor_burst = 1000000
[[survey]]
id = "support"
tags = ["agent", "channel"]
max_per_visitor_per_day = 1000000000
max_unverified_per_day = 1000000000
"#;

#[tokio::main]
async fn main() {
    let seconds: u64 = env_number("PULSETAP_LOAD_SECONDS", 8);
    let rounds: usize = env_number("PULSETAP_LOAD_ROUNDS", 3);
    let phase = Duration::from_secs(seconds);

    let bare = start_bare().await;
    let data = tempfile::tempdir().unwrap();
    let collector = start_collector(data.path()).await;

    println!(
        "{CONNECTIONS} concurrent clients, {seconds}s per phase, realistic mix (new, retry, change, comment, anonymous)\n"
    );
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "", "ratings/s", "p50", "p99", "p99.9", "errors"
    );
    // The same machine swings between runs (other tenants, CPU clocks), so the two servers take
    // turns, round after round, and the ratio is taken within each round.
    let mut ratios = Vec::new();
    let mut collector_max = Vec::new();
    for round in 1..=rounds {
        let bare_max = drive(&bare, phase, None).await;
        bare_max.print(&format!("round {round}: bare axum handler"));
        let collector = drive(&collector, phase, None).await;
        collector.print(&format!("round {round}: collector (durable)"));
        ratios.push(collector.per_second / bare_max.per_second);
        collector_max.push(collector.per_second);
    }
    let half = median(&mut collector_max) / 2.0;
    let collector_half = drive(&collector, phase, Some(half)).await;
    collector_half.print(&format!("collector at half load ({half:.0}/s)"));
    println!(
        "\ncollector / bare throughput, median of {rounds} rounds: {:.2}   (goal: at least 0.50)\np99 at half load: {:.2} ms   (goal: under 5 ms)",
        median(&mut ratios),
        collector_half.p99_ms
    );
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A handler that does what the collector's edge does and nothing more.
async fn start_bare() -> String {
    async fn record(body: axum::body::Bytes) -> (StatusCode, Json<Value>) {
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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/v1/responses", post(record));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn start_collector(data: &std::path::Path) -> String {
    let state = AppState::new(
        configuration::parse(CONFIG).unwrap(),
        std::sync::Arc::new(EmbeddedStore::open(data).unwrap()),
        None,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(run(listener, state, std::future::pending()));
    address
}

struct Outcome {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
}

impl Outcome {
    fn print(&self, name: &str) {
        println!(
            "{name:<34} {:>10.0} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>8}",
            self.per_second, self.p50_ms, self.p99_ms, self.p999_ms, self.errors
        );
    }
}

/// The n-th request of a client: mostly new interactions, with the retries, changed answers,
/// late comments and anonymous ratings real traffic has.
fn body_for(phase: u64, client: usize, n: u64, previous: &mut Option<Value>) -> Value {
    let kind = n % 20;
    let body = match (kind, previous.clone()) {
        (0..=1, Some(last)) => last, // a retry: the same body again
        (2, Some(mut last)) => {
            last["score"] = json!(1 + (n % 5));
            last
        }
        (3, Some(mut last)) => {
            last["comment"] = json!("Quick and kind, thanks for sorting it out");
            last
        }
        (4, _) => {
            json!({"survey": "support", "response_id": uuid::Uuid::new_v4().to_string(), "score": 1 + (n % 5)})
        }
        _ => json!({
            "survey": "support",
            "response_id": uuid::Uuid::new_v4().to_string(),
            "score": 1 + (n * 7 % 5),
            "interaction": format!("chat-{phase}-{client}-{n}"),
            "tags": {"agent": format!("agent-{}", n % 12), "channel": "chat"},
        }),
    };
    *previous = Some(body.clone());
    body
}

/// Posts the mix from `CONNECTIONS` clients for `length`; closed loop when `rate` is `None`,
/// else paced so that all clients together send `rate` requests per second.
async fn drive(address: &str, length: Duration, rate: Option<f64>) -> Outcome {
    // Each phase rates interactions of its own, as a new wave of customers would.
    static PHASE: AtomicU64 = AtomicU64::new(0);
    let phase = PHASE.fetch_add(1, Ordering::Relaxed);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let url = format!("{address}/v1/responses");
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    for id in 0..CONNECTIONS {
        let (client, url, errors) = (client.clone(), url.clone(), errors.clone());
        let gap = rate.map(|rate| Duration::from_secs_f64(CONNECTIONS as f64 / rate));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut previous = None;
            let mut next_send = Instant::now()
                + gap.map_or(Duration::ZERO, |g| {
                    g.mul_f64(id as f64 / CONNECTIONS as f64)
                });
            for n in 0.. {
                if let Some(gap) = gap {
                    tokio::time::sleep_until(next_send.into()).await;
                    next_send += gap;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let body = body_for(phase, id, n, &mut previous);
                let sent = Instant::now();
                let ok = match client.post(&url).json(&body).send().await {
                    Ok(response) => response.status().is_success(),
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    let errors = errors.load(Ordering::Relaxed);
    Outcome {
        per_second: (latencies.len() as u64 - errors) as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        errors,
    }
}
