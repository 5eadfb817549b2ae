//! Registrations per second: a helpdesk registering its tickets (`POST
//! /v1/surveys/{survey}/interactions`) against a running collector, and what the largest
//! request (10,000 registrations) costs in time and memory.
//!
//!     cargo bench -p pulsetap-collector --bench registrations
//!
//! It starts this build's `collector serve` (or the binary `PULSETAP_BENCH_COLLECTOR` names) on
//! loopback with a fresh data directory, then registers `PULSETAP_REGISTRATIONS` tickets
//! (default 200,000), each with an agent and a channel, in requests of 1,000 from two clients at
//! once, every one acknowledged only once durable; then times single requests of 10,000 and
//! reads the collector's peak resident memory (`VmHWM`) before and after them.

use futures::StreamExt;
use std::time::Instant;

mod running;
use running::{env_number, serve};

const CONFIG: &str = r#"
write_keys = ["bench-helpdesk"]
[[survey]]
id = "support"
tags = ["agent", "channel"]
"#;

const PER_REQUEST: usize = 1_000;
const LARGEST: usize = 10_000;

#[tokio::main]
async fn main() {
    let total: usize = env_number("PULSETAP_REGISTRATIONS", 200_000);
    let binary = std::env::var("PULSETAP_BENCH_COLLECTOR")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_collector").to_owned());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (mut collector, base) = serve(&binary, &config, &dir.path().join("data"));
    let url = format!("{base}/v1/surveys/support/interactions");
    let client = reqwest::Client::new();
    println!("collector: {binary}");

    let started = Instant::now();
    let requests = total.div_ceil(PER_REQUEST);
    let created: u64 = futures::stream::iter(0..requests)
        .map(|request| {
            let (client, url) = (client.clone(), url.clone());
            let first = request * PER_REQUEST;
            let last = total.min(first + PER_REQUEST);
            async move { register(&client, &url, batch(first..last)).await }
        })
        .buffer_unordered(2)
        .fold(0, |sum, created| async move { sum + created })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(created as usize, total, "every registration was taken");
    println!(
        "registrations: {total} in requests of {PER_REQUEST}, 2 clients: {elapsed:.2}s, {:.0} registrations/s",
        total as f64 / elapsed
    );

    let before = peak_rss_kib(collector.id());
    let mut times = Vec::new();
    for round in 0..3 {
        let first = total + round * LARGEST;
        let body = batch(first..first + LARGEST);
        let started = Instant::now();
        register(&client, &url, body).await;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let after = peak_rss_kib(collector.id());
    println!(
        "one request of {LARGEST}: median {:.0} ms ({:.0} registrations/s); collector peak RSS {} MiB before, {} MiB after",
        times[1] * 1_000.0,
        LARGEST as f64 / times[1],
        before / 1024,
        after / 1024
    );
    let _ = collector.kill();
    let _ = collector.wait();
}

/// Tickets `range` as a helpdesk's trigger would send them.
fn batch(range: std::ops::Range<usize>) -> Vec<u8> {
    let tickets: Vec<serde_json::Value> = range
        .map(|n| {
            serde_json::json!({"interaction": format!("{}", 1_000_000 + n),
                "tags": {"agent": format!("agent-{}@example.com", n % 40), "channel": "email"}})
        })
        .collect();
    serde_json::to_vec(&tickets).unwrap()
}

/// Posts one request of registrations; how many were new.
async fn register(client: &reqwest::Client, url: &str, body: Vec<u8>) -> u64 {
    let response = client
        .post(url)
        .bearer_auth("bench-helpdesk")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the collector answers");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let report: serde_json::Value = response.json().await.expect("a report");
    report["created"].as_u64().unwrap_or(0)
}

/// The peak resident memory of a process, in KiB (Linux), 0 elsewhere.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
