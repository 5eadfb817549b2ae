//! A writer that panics, or whose storage engine breaks (fjall refuses every write once a
//! background write failed), takes the process down with a clear error for its supervisor to
//! restart it, never leaving a half-alive server whose `/healthz` says ok while every rating is
//! refused. Both are injected in a test build (`PULSETAP_FAULT_WRITER_PANIC_AT_BATCH`,
//! `PULSETAP_FAULT_ENGINE_BROKEN_AT_BATCH`: the `fault-injection` feature, never in a release
//! build).

use crate::helpers::*;
use pulsetap_collector::store::writer::faults::{BROKEN_AT_BATCH, PANIC_AT_BATCH};
use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When `/healthz` was asked, and its status (none: no answer).
type HealthAnswer = (Instant, Option<u16>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_panic_exits_the_process_and_healthz_never_says_ok_meanwhile() {
    // EX_SOFTWARE, for the supervisor.
    exits_without_ever_saying_ok(PANIC_AT_BATCH, 70, "the writer thread panicked: exiting").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_storage_engine_exits_the_process_and_healthz_never_says_ok_meanwhile() {
    // EX_IOERR, for the supervisor.
    exits_without_ever_saying_ok(
        BROKEN_AT_BATCH,
        74,
        "the storage engine takes no more writes: exiting",
    )
    .await;
}

/// A collector whose writer meets `fault` at its 25th batch exits with `code`, logging
/// `logged`; `/healthz` never says ok after the first refused rating, and every acknowledged
/// rating is stored.
async fn exits_without_ever_saying_ok(fault: &str, code: i32, logged: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("collector.log");
    let mut collector = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(&data)
        .env(fault, "25")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let address = listening_address(&mut collector);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    // Someone asks /healthz all the time: when was each asked, and what did it answer?
    let health: Arc<Mutex<Vec<HealthAnswer>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (client, address, health, done) = (
            client.clone(),
            address.clone(),
            health.clone(),
            done.clone(),
        );
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let status = client
                    .get(format!("{address}/healthz"))
                    .send()
                    .await
                    .ok()
                    .map(|response| response.status().as_u16());
                health.lock().unwrap().push((asked, status));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut acknowledged = Vec::new();
    let failed_at = loop {
        let interaction = format!("chat-{}", acknowledged.len());
        let body = json!({"survey": "support", "response_id": new_id(), "score": 3,
                          "interaction": interaction});
        match client
            .post(format!("{address}/v1/responses"))
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => acknowledged.push(interaction),
            _ => break Instant::now(),
        }
        assert!(acknowledged.len() < 1_000, "the injected fault happened");
    };

    let exited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(status) = collector.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the process exits within seconds of the fault");
    done.store(true, Ordering::Relaxed);
    poller.await.unwrap();
    assert_eq!(exited.code(), Some(code));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains(logged), "{log}");

    let health = std::mem::take(&mut *health.lock().unwrap());
    assert!(
        health
            .iter()
            .filter(|(_, status)| *status == Some(200))
            .count()
            > 5,
        "healthy before the fault"
    );
    for (asked, status) in health.iter().filter(|(asked, _)| *asked >= failed_at) {
        assert_ne!(
            *status,
            Some(200),
            "/healthz said ok {:?} after a rating was refused",
            asked.duration_since(failed_at)
        );
    }

    // Restarted by its supervisor, the store holds every acknowledged rating.
    assert!(acknowledged.len() >= 20, "{}", acknowledged.len());
    let store = open_store(&data).await;
    for interaction in &acknowledged {
        use pulsetap_collector::store::Backend;
        let stored = store.find("support", Some(interaction), "").unwrap();
        assert!(
            stored.is_some(),
            "{interaction} was acknowledged, so stored"
        );
    }
}
