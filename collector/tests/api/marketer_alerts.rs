//! Alerts: an unhappy rating is posted to the survey's webhook within seconds, at least once,
//! with a stable `Idempotency-Key`, even when the receiver is down and the collector restarts
//! meanwhile.

use crate::helpers::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// What the receiver saw: every request, with its idempotency key and body.
#[derive(Clone, Default)]
struct Received {
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    /// Answer this many requests with 503 before accepting any.
    refuse_first: Arc<Mutex<usize>>,
}

async fn hook(State(received): State<Received>, headers: HeaderMap, body: String) -> StatusCode {
    let key = headers
        .get("idempotency-key")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = serde_json::from_str(&body).expect("the alert is JSON");
    received.requests.lock().unwrap().push((key, body));
    let mut refuse = received.refuse_first.lock().unwrap();
    if *refuse > 0 {
        *refuse -= 1;
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// A port nobody listens on now, for the receiver to take later.
async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn start_receiver(port: u16, received: Received) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the receiver's port is free again");
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(received);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

fn config_with_webhook(port: u16) -> String {
    format!(
        r#"
read_keys = ["marketing-team-key"]

[limits]
visitor_requests_per_second = 100000
visitor_burst = 100000

[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
alert = {{ webhook = "http://127.0.0.1:{port}/hook", max_score = 2 }}
"#
    )
}

#[tokio::test]
async fn every_alert_arrives_after_the_receiver_was_down_across_a_restart() {
    let port = free_port().await;
    let config = config_with_webhook(port);
    let app = spawn_app_with(&config).await;

    let unhappy: Vec<Value> = [1, 2, 1]
        .into_iter()
        .enumerate()
        .map(|(n, score)| {
            json!({"survey": "support", "response_id": new_id(), "score": score,
                   "interaction": format!("chat-{n}"), "tags": {"agent": "alice"},
                   "comment": "Nobody answered <!channel>"})
        })
        .collect();
    for body in &unhappy {
        assert_eq!(app.post_response(body).await.status(), 201);
    }
    let happy = json!({"survey": "support", "response_id": new_id(), "score": 5});
    assert_eq!(app.post_response(&happy).await.status(), 201);

    // The receiver is down: the worker tries, fails, and keeps every job.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outbox = app.state.store.due_alerts(i64::MAX, 1_000).await.unwrap();
    let waiting: BTreeSet<String> = outbox
        .due
        .into_iter()
        .map(|alert| alert.idempotency_key)
        .collect();
    assert_eq!(waiting.len(), unhappy.len(), "one job per unhappy rating");

    let data = app.stop().await;
    let app = spawn_app_on(data, &config).await;
    let received = Received::default();
    // The receiver comes back flaky: its first answer is a 503, which must be retried too.
    *received.refuse_first.lock().unwrap() = 1;
    start_receiver(port, received.clone()).await;

    let delivered = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let accepted: BTreeMap<String, Value> = {
                let requests = received.requests.lock().unwrap();
                // The first request was refused, so it does not count as delivered.
                requests.iter().skip(1).cloned().collect()
            };
            let outbox = app.state.store.due_alerts(i64::MAX, 1).await.unwrap();
            let empty = outbox.due.is_empty() && outbox.next_due_ms.is_none();
            if accepted.len() == unhappy.len() && empty {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every alert is delivered within 30 s and the outbox drains");

    let keys: BTreeSet<String> = delivered.keys().cloned().collect();
    assert_eq!(
        keys, waiting,
        "each alert carries the key it was queued with"
    );
    let alerted: BTreeSet<&str> = delivered
        .values()
        .map(|body| body["response"]["response_id"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = unhappy
        .iter()
        .map(|body| body["response_id"].as_str().unwrap())
        .collect();
    assert_eq!(alerted, expected, "every unhappy rating, and no happy one");
    for body in delivered.values() {
        let text = body["text"]
            .as_str()
            .expect("a Slack-compatible text field");
        assert!(text.contains("agent=alice"), "{text}");
        assert!(
            text.contains("&lt;!channel&gt;"),
            "a comment can't ping a channel: {text}"
        );
        assert_eq!(
            body["response"]["comment"], "Nobody answered <!channel>",
            "the full response is attached as typed"
        );
    }
}

#[tokio::test]
async fn an_unhappy_rating_reaches_a_listening_webhook_within_seconds() {
    let port = free_port().await;
    let received = Received::default();
    start_receiver(port, received.clone()).await;
    let app = spawn_app_with(&config_with_webhook(port)).await;
    // Long enough for the worker to find the outbox empty and go to sleep: from here only the
    // rating's wake-up (not its minute-long idle recheck) can bring it back in time.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let unhappy = json!({"survey": "support", "response_id": new_id(), "score": 1,
                         "interaction": "chat-late", "tags": {"agent": "alice"}});
    assert_eq!(app.post_response(&unhappy).await.status(), 201);

    let delivered = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some((_, body)) = received.requests.lock().unwrap().first().cloned() {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the alert arrives within 5 s of the rating");
    assert_eq!(delivered["response"]["interaction"], "chat-late");
}
