//! Acknowledged means on disk: a SIGKILL under load loses no acknowledged rating and leaves
//! every aggregate equal to a recount of the stored responses.

use crate::helpers::*;
use pulsetap_collector::store::Backend;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one client knows about its interaction: the last acknowledged score, and the score of
/// a request still in flight when the server died (which may or may not have landed).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Known {
    pub(crate) acknowledged: Option<u8>,
    pub(crate) in_flight: Option<u8>,
}

/// What the clients of a test under load know, shared between them.
#[derive(Clone, Default)]
pub(crate) struct Ledger(Arc<Mutex<HashMap<String, Known>>>);

impl Ledger {
    /// Notes a score about to be sent for `interaction`.
    pub(crate) fn sending(&self, interaction: &str, score: u8) {
        let mut known = self.0.lock().unwrap();
        known.entry(interaction.to_owned()).or_default().in_flight = Some(score);
    }

    /// Notes that the score sent for `interaction` was acknowledged.
    pub(crate) fn acknowledged(&self, interaction: &str, score: u8) {
        let mut known = self.0.lock().unwrap();
        let entry = known.entry(interaction.to_owned()).or_default();
        entry.acknowledged = Some(score);
        entry.in_flight = None;
    }

    /// How many interactions have an acknowledged score.
    pub(crate) fn acknowledged_count(&self) -> usize {
        let known = self.0.lock().unwrap();
        known.values().filter(|k| k.acknowledged.is_some()).count()
    }

    pub(crate) fn snapshot(&self) -> HashMap<String, Known> {
        self.0.lock().unwrap().clone()
    }
}

/// Every interaction's acknowledged score is the one stored (or, when a later request was in
/// flight as the server died, that one's); `find` reads an interaction's response.
pub(crate) fn assert_every_acknowledged_rating_is_stored(
    known: &HashMap<String, Known>,
    find: impl Fn(&str) -> Option<pulsetap_collector::domain::Response>,
) {
    for (interaction, state) in known {
        match (state.acknowledged, find(interaction)) {
            (Some(acked), Some(stored)) => assert!(
                stored.score == acked || Some(stored.score) == state.in_flight,
                "{interaction}: acknowledged {acked}, stored {}",
                stored.score
            ),
            (Some(acked), None) => panic!("{interaction}: acknowledged score {acked} was lost"),
            (None, _) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_no_acknowledged_rating_and_no_aggregate_drifts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pulsetap.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = dir.path().join("data");
    let (mut collector, address) = start_collector(&config, &data, None);

    let ledger = Ledger::default();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_millis(2_500);
    let mut clients = Vec::new();
    for worker in 0..16 {
        let (client, address, ledger) = (client.clone(), address.clone(), ledger.clone());
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                if Instant::now() > deadline {
                    break;
                }
                // Each interaction belongs to one worker, rated then changed once.
                let interaction = format!("w{worker}-{}", n / 2);
                let score = if n % 2 == 0 { 1 + (n % 5) as u8 } else { 5 - (n % 3) as u8 };
                let agent = ["alice", "bob", "carol"][(worker % 3) as usize];
                let body = json!({"survey": "support", "response_id": format!("00000000-0000-4000-8000-{:06}{:06}", worker, n / 2),
                    "score": score, "interaction": interaction, "tags": {"agent": agent}});
                ledger.sending(&interaction, score);
                match client.post(format!("{address}/v1/responses")).json(&body).send().await {
                    Ok(response) if response.status().is_success() => {
                        ledger.acknowledged(&interaction, score);
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    collector.kill().unwrap(); // SIGKILL: no flush, no goodbye
    collector.wait().unwrap();
    for client in clients {
        client.await.unwrap();
    }

    let known = ledger.snapshot();
    let acknowledged = ledger.acknowledged_count();
    assert!(
        acknowledged > 100,
        "the load was real: {acknowledged} interactions acknowledged"
    );

    {
        let store = open_store(&data).await;
        let audit = store.audit().unwrap();
        assert!(
            audit.mismatches.is_empty(),
            "aggregates equal a recount: {:?}",
            &audit.mismatches[..audit.mismatches.len().min(5)]
        );
        assert_every_acknowledged_rating_is_stored(&known, |interaction| {
            store.find("support", Some(interaction), "").unwrap()
        });
    }

    // The restarted collector serves the same figures.
    let (mut restarted, address) = start_collector(&config, &data, None);
    let summary: pulsetap_wire::Summary = client
        .get(format!("{address}/v1/surveys/support/summary"))
        .bearer_auth(MARKETING_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(summary.figures.responses >= acknowledged as u64);
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[tokio::test]
async fn a_graceful_restart_keeps_every_rating() {
    let app = spawn_app().await;
    for score in 1..=5 {
        let body = json!({"survey": "support", "response_id": new_id(), "score": score, "interaction": format!("chat-{score}")});
        assert_eq!(app.post_response(&body).await.status(), 201);
    }
    let data = app.stop().await;
    let app = spawn_app_on(data, CONFIG).await;
    assert_eq!(app.summary("support", "").await.figures.responses, 5);
}
