//! Made-up tag values against a running collector: what an attacker filling a survey with
//! 100,000 unsigned `agent` values gets stored, and what that does to a breakdown by agent and
//! to `/healthz` while four such breakdowns run.
//!
//!     cargo bench -p pulsetap-collector --bench tag_values
//!
//! It starts this build's `collector serve` (or the binary `PULSETAP_BENCH_COLLECTOR` names,
//! to measure another version the same way) on loopback with a fresh data directory, and
//! drives it over HTTP as the attacker did: `PULSETAP_TAG_VALUES` ratings (default 100,000),
//! each with a new agent value, 32 at a time. The flood limit and the per-visitor allowance are
//! lifted, as a botnet of many addresses would have them, so only the cap on tag values (and
//! the survey's daily ceiling, which the cap keeps out of reach) stands in the way. Then it
//! times `breakdown?by=agent` alone, `/healthz` alone, and `/healthz` while four clients ask
//! for the breakdown back to back for `PULSETAP_TAG_LOAD_SECONDS` (default 15).

use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod running;
use running::{env_number, serve};

/// Valid for every version measured: only settings older than the cap.
const CONFIG: &str = r#"
read_keys = ["bench"]
[limits]
visitor_requests_per_second = 1000000
visitor_burst = 1000000
[[survey]]
id = "support"
tags = ["agent"]
max_per_visitor_per_day = 1000000000
min_group_size = 1
"#;

const BREAKDOWN: &str = "/v1/surveys/support/breakdown?by=agent";

#[tokio::main]
async fn main() {
    let values: usize = env_number("PULSETAP_TAG_VALUES", 100_000);
    let load_seconds: u64 = env_number("PULSETAP_TAG_LOAD_SECONDS", 15);
    let binary = std::env::var("PULSETAP_BENCH_COLLECTOR")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_collector").to_owned());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let (mut collector, base) = serve(&binary, &config, &dir.path().join("data"));
    let client = reqwest::Client::new();
    println!("collector: {binary}");

    // The fill: one made-up agent per rating.
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..values)
        .map(|n| {
            let (client, url) = (client.clone(), format!("{base}/v1/responses"));
            async move {
                let body = serde_json::json!({"survey": "support",
                    "response_id": uuid::Uuid::new_v4().to_string(), "score": 1 + n % 5,
                    "tags": {"agent": format!("made-up-{n}")}});
                match client.post(url).json(&body).send().await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                }
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let count = |status: u16| statuses.iter().filter(|&&s| s == status).count();
    println!(
        "fill: {values} ratings with new agent values in {elapsed:.1}s ({:.0}/s): {} stored (201), {} refused too_many_tag_values (422), {} other",
        values as f64 / elapsed,
        count(201),
        count(422),
        values - count(201) - count(422)
    );

    // A breakdown on its own.
    let mut breakdown = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let body = get(&client, &format!("{base}{BREAKDOWN}"), true).await;
        breakdown.push(started.elapsed());
        bytes = body.len();
    }
    let groups = serde_json::from_slice::<serde_json::Value>(
        &get(&client, &format!("{base}{BREAKDOWN}"), true).await,
    )
    .ok()
    .and_then(|b| b["groups"].as_array().map(Vec::len))
    .unwrap_or(0);
    println!(
        "breakdown?by=agent alone: median {} of 5, {groups} groups, {bytes} bytes",
        show(median(&mut breakdown))
    );

    // /healthz on its own, then while four clients ask for the breakdown back to back.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        get(&client, &format!("{base}/healthz"), false).await;
        idle.push(started.elapsed());
    }
    println!(
        "/healthz idle: median {}, p99 {}",
        show(median(&mut idle)),
        show(percentile(&mut idle, 0.99))
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (client.clone(), format!("{base}{BREAKDOWN}"), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut done = 0u32;
            while !stop.load(Ordering::Relaxed) {
                get(&client, &url, true).await;
                done += 1;
            }
            done
        }));
    }
    let mut loaded = Vec::new();
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(load_seconds) {
        let started = Instant::now();
        get(&client, &format!("{base}/healthz"), false).await;
        loaded.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut breakdowns = 0;
    for reader in readers {
        breakdowns += reader.await.unwrap();
    }
    println!(
        "/healthz during 4 breakdown loops ({load_seconds}s, {breakdowns} breakdowns): median {}, p99 {}, max {} over {} probes",
        show(median(&mut loaded)),
        show(percentile(&mut loaded, 0.99)),
        show(percentile(&mut loaded, 1.0)),
        loaded.len()
    );
    let _ = collector.kill();
    let _ = collector.wait();
}

/// A GET's body; `keyed` sends the read key.
async fn get(client: &reqwest::Client, url: &str, keyed: bool) -> bytes::Bytes {
    let mut request = client.get(url);
    if keyed {
        request = request.bearer_auth("bench");
    }
    let response = request.send().await.expect("the collector answers");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.bytes().await.expect("a body")
}

fn median(times: &mut [Duration]) -> Duration {
    percentile(times, 0.5)
}

fn percentile(times: &mut [Duration], share: f64) -> Duration {
    times.sort();
    let index = ((times.len() as f64 * share).ceil() as usize).clamp(1, times.len()) - 1;
    times[index]
}

fn show(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1_000.0;
    if ms >= 1_000.0 {
        format!("{:.2} s", ms / 1_000.0)
    } else {
        format!("{ms:.2} ms")
    }
}
