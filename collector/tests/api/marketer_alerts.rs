//! Alerts: unhappy ratings are posted to the survey's webhook within seconds, at least once,
//! with a stable `Idempotency-Key`, even when the receiver is down and the collector restarts
//! meanwhile; a burst goes as one post, a later comment follows as an update, and a webhook
//! that stays dead gets its alerts set aside and listed as undelivered.

use crate::helpers::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// What the receiver saw: every request, with its idempotency key and body.
#[derive(Clone, Default)]
pub(crate) struct Received {
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    /// Answer this many requests with 503 before accepting any.
    refuse_first: Arc<Mutex<usize>>,
}

impl Received {
    pub(crate) fn all(&self) -> Vec<(String, Value)> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until the receiver has seen `count` requests; gives them all.
    pub(crate) async fn wait_for(&self, count: usize, within: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.all();
            if seen.len() >= count {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{count} posts within {within:?}, saw {}: {seen:?}",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
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

/// A port nobody listens on now, for the receiver to take later (or never: a dead webhook).
pub(crate) async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

pub(crate) async fn start_receiver(port: u16, received: Received) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the receiver's port is free again");
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(received);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

pub(crate) fn config_with_webhook(port: u16, extra: &str) -> String {
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
secret = "{SECRET}"
read_keys = ["support-lead-key"]
alert = {{ webhook = "http://127.0.0.1:{port}/hook", max_score = 2{extra} }}
"#
    )
}

/// An unhappy rating after a chat, signed as the shop's server signs its chat pages (so a burst
/// of them is never mistaken for one visitor's flood).
pub(crate) fn unhappy(interaction: &str, comment: Option<&str>) -> Value {
    json!({"survey": "support", "response_id": new_id(), "score": 1,
           "interaction": interaction, "tags": {"agent": "alice"}, "comment": comment,
           "sig": sign("support", Some(interaction), &[("agent", "alice")])})
}

/// The response ids a post tells about, whatever its kind.
pub(crate) fn alerted_ids(body: &Value) -> BTreeSet<String> {
    let responses: Vec<&Value> = match body["kind"].as_str() {
        Some("batch") => body["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|notice| &notice["response"])
            .collect(),
        _ => vec![&body["response"]],
    };
    responses
        .iter()
        .map(|response| response["response_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_alert_arrives_after_the_receiver_was_down_across_a_restart() {
    let port = free_port().await;
    let config = config_with_webhook(port, "");
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

    // Queued with the ratings, durably: one per unhappy rating.
    let outbox = app.state.store.due_alerts(i64::MAX, 1_000).await.unwrap();
    assert_eq!(outbox.due.len(), unhappy.len(), "one per unhappy rating");

    // The receiver is down: the worker merges them into one message, tries, fails, and keeps it.
    let sealed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let outbox = app.state.store.due_alerts(i64::MAX, 10).await.unwrap();
            if let [message] = &outbox.due[..]
                && message.attempts > 0
            {
                return message.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the worker tries within seconds");
    assert!(sealed.sealed && sealed.notices.len() == 3, "{sealed:?}");
    let data = app.stop().await;
    let app = spawn_app_on(data, &config).await;
    let received = Received::default();
    // The receiver comes back flaky: its first answer is a 503, which must be retried too.
    *received.refuse_first.lock().unwrap() = 1;
    start_receiver(port, received.clone()).await;

    let posts = received.wait_for(2, Duration::from_secs(30)).await;
    let (refused_key, refused) = &posts[0];
    let (key, delivered) = &posts[1];
    assert_eq!(
        refused_key, &sealed.idempotency_key,
        "the key it was first tried with, across the restart"
    );
    assert_eq!(key, refused_key, "a retry carries the same key");
    assert_eq!(delivered, refused, "and the same content");
    assert_eq!(delivered["kind"], "batch", "the three went as one message");
    assert_eq!(delivered["idempotency_key"], key.as_str());
    let expected: BTreeSet<String> = unhappy
        .iter()
        .map(|body| body["response_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        alerted_ids(delivered),
        expected,
        "every unhappy rating, and no happy one"
    );
    let text = delivered["text"]
        .as_str()
        .expect("a Slack-compatible text field");
    assert!(text.starts_with("3 unhappy ratings on support:"), "{text}");
    assert!(text.contains("agent=alice"), "{text}");
    assert!(
        text.contains("&lt;!channel&gt;"),
        "a comment can't ping a channel: {text}"
    );
    assert_eq!(
        delivered["notices"][0]["response"]["comment"], "Nobody answered <!channel>",
        "the full response is attached as typed"
    );

    // Delivered, the message leaves the outbox, and nothing more is posted.
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let outbox = app.state.store.due_alerts(i64::MAX, 1).await.unwrap();
            if outbox.due.is_empty() && outbox.next_due_ms.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(drained.is_ok(), "the outbox drains");
    assert_eq!(received.all().len(), 2);
}

#[tokio::test]
async fn an_unhappy_rating_reaches_a_listening_webhook_within_seconds() {
    let port = free_port().await;
    let received = Received::default();
    start_receiver(port, received.clone()).await;
    let app = spawn_app_with(&config_with_webhook(port, "")).await;
    // Long enough for the worker to find the outbox empty and go to sleep: from here only the
    // rating's wake-up (not its minute-long idle recheck) can bring it back in time.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = app.post_response(&unhappy("chat-late", None)).await;
    assert_eq!(response.status(), 201);

    let posts = received.wait_for(1, Duration::from_secs(8)).await;
    let (key, body) = &posts[0];
    assert_eq!(
        body["kind"], "alert",
        "one rating keeps the single-alert shape"
    );
    assert_eq!(body["response"]["interaction"], "chat-late");
    assert_eq!(body["idempotency_key"], key.as_str());
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Unhappy rating on support: 😠 Awful (1/5) for chat-late"),
        "{body}"
    );
}

#[tokio::test]
async fn a_burst_of_unhappy_ratings_becomes_one_post_listing_them_all() {
    let port = free_port().await;
    let received = Received::default();
    start_receiver(port, received.clone()).await;
    let app = Arc::new(spawn_app_with(&config_with_webhook(port, "")).await);

    let mut sent = Vec::new();
    for n in 0..40 {
        let app = app.clone();
        sent.push(tokio::spawn(async move {
            let body = unhappy(&format!("outage-{n}"), Some("the site is down"));
            let response = app.post_response(&body).await;
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
            body["response_id"].as_str().unwrap().to_owned()
        }));
    }
    let mut expected = BTreeSet::new();
    for rating in sent {
        expected.insert(rating.await.unwrap());
    }

    let posts = received.wait_for(1, Duration::from_secs(10)).await;
    // Anything else of this burst would follow within seconds; nothing does.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        received.all().len(),
        1,
        "one post, not 40: {:?}",
        received.all()
    );
    let body = &posts[0].1;
    assert_eq!(body["kind"], "batch");
    assert_eq!(alerted_ids(body), expected);
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("40 unhappy ratings on support:\n• 😠 Awful (1/5) for outage-"),
        "{text}"
    );
    assert!(text.ends_with("…and 20 more (every one is in this message's `notices`)"));
}

#[tokio::test]
async fn a_comment_added_after_the_alert_was_sent_follows_as_an_update() {
    let port = free_port().await;
    let received = Received::default();
    start_receiver(port, received.clone()).await;
    let app = spawn_app_with(&config_with_webhook(port, "")).await;

    let mut rating = unhappy("chat-7", None);
    assert_eq!(app.post_response(&rating).await.status(), 201);
    let first = received.wait_for(1, Duration::from_secs(8)).await;
    assert_eq!(first[0].1["kind"], "alert");
    assert_eq!(first[0].1["response"]["comment"], Value::Null);

    // The customer explains, after the team was told.
    rating["comment"] = json!("Waited 40 minutes and nobody answered");
    assert_eq!(app.post_response(&rating).await.status(), 200);
    let posts = received.wait_for(2, Duration::from_secs(8)).await;
    let (key, update) = &posts[1];
    assert_eq!(update["kind"], "update");
    assert_ne!(key, &first[0].0, "a message of its own, with its own key");
    assert_eq!(update["response"]["response_id"], rating["response_id"]);
    assert_eq!(
        update["response"]["comment"],
        "Waited 40 minutes and nobody answered"
    );
    let text = update["text"].as_str().unwrap();
    assert!(
        text.starts_with("Comment on an unhappy rating on support: 😠 Awful (1/5) for chat-7")
            && text.ends_with("\n> Waited 40 minutes and nobody answered"),
        "{text}"
    );

    // The same comment again (a retry) is no news.
    assert_eq!(app.post_response(&rating).await.status(), 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(received.all().len(), 2);
}

#[tokio::test]
async fn a_dead_webhook_gets_its_alerts_set_aside_and_the_team_sees_them_as_undelivered() {
    let port = free_port().await; // nobody ever listens there
    let config = config_with_webhook(port, ", give_up_after = \"2s\"");
    let app = spawn_app_with(&config).await;
    let mut expected = BTreeSet::new();
    for n in 0..3 {
        let body = unhappy(&format!("chat-{n}"), Some("no answer"));
        assert_eq!(app.post_response(&body).await.status(), 201);
        expected.insert(body["response_id"].as_str().unwrap().to_owned());
    }

    let path = "/v1/surveys/support/undelivered-alerts";
    let listed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let response = app.get_with_key(path, Some(SUPPORT_LEAD_KEY)).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            if !body["alerts"].as_array().unwrap().is_empty() {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("set aside within seconds of failing for longer than give_up_after");
    let [alert] = listed["alerts"].as_array().unwrap().as_slice() else {
        panic!("one message: {listed}");
    };
    let ids: BTreeSet<String> = alert["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|response| response["response_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected, "the three unhappy ratings");
    assert!(alert["attempts"].as_u64().unwrap() >= 2, "{alert}");
    assert!(
        !alert["last_error"].as_str().unwrap().is_empty(),
        "says why: {alert}"
    );
    assert!(
        alert["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("support-")
    );

    // Set aside, not retried: the queue is empty.
    let outbox = app.state.store.due_alerts(i64::MAX, 10).await.unwrap();
    assert!(outbox.due.is_empty() && outbox.next_due_ms.is_none());
    let metrics = app
        .get_with_key("/metrics", Some(MARKETING_KEY))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pulsetap_alerts_set_aside_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pulsetap_alert_messages_undelivered 1"),
        "{metrics}"
    );

    // Only the survey's readers see its undelivered alerts: no key, or a key this collector
    // does not know, reads nothing.
    for key in [None, Some(OTHER_LEAD_KEY)] {
        let refused = app.get_with_key(path, key).await;
        assert_eq!(refused.status(), 401, "{key:?}");
        let body: Value = refused.json().await.unwrap();
        assert!(body.get("alerts").is_none(), "{body}");
    }

    // Kept across a restart, and still counted.
    let app = spawn_app_on(app.stop().await, &config).await;
    let again: Value = app
        .get_with_key(path, Some(MARKETING_KEY))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["alerts"], listed["alerts"]);
    let counted = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let metrics = app
                .get_with_key("/metrics", Some(MARKETING_KEY))
                .await
                .text()
                .await
                .unwrap();
            if metrics.contains("pulsetap_alert_messages_undelivered 1") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        counted.is_ok(),
        "the gauge is counted from the store at start"
    );
}
