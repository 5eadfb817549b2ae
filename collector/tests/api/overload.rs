//! Overload is answered, never absorbed: a full writer queue refuses at once with `503` and
//! `Retry-After`, a write the writer does not answer in time is told it may be stored (and a
//! retry lands once), a stalled writer turns `/healthz` to `503`, and every acknowledged rating
//! is stored. The writer is held between batches with the test-only `pause_writer`.

use crate::helpers::*;
use pulsetap_collector::store::writer::{ANSWER_DEADLINE, QUEUE_CAPACITY, STALL_AFTER};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn health(app: &TestApp) -> (u16, Value) {
    let response = app.get_with_key("/healthz", None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_full_writer_queue_answers_503_with_retry_after_at_once_and_every_acknowledged_rating_is_stored()
 {
    let app = Arc::new(spawn_app().await);
    let paused = app.state.store.pause_writer().await;

    // Ratings that arrive while the writer is held wait in its queue.
    let mut queued = Vec::new();
    for n in 0..20 {
        let app = app.clone();
        let body = json!({"survey": "support", "response_id": new_id(), "score": 4,
                          "interaction": format!("queued-{n}")});
        queued.push(tokio::spawn(async move {
            let status = app.post_response(&body).await.status().as_u16();
            (body, status)
        }));
    }
    let store = app.state.store.clone();
    while store.writer_status().queued < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The rest of the queue fills with the collector's own writes.
    let room = QUEUE_CAPACITY - store.writer_status().queued;
    let fillers: Vec<_> = (0..room)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.durable().await })
        })
        .collect();
    while store.writer_status().queued < QUEUE_CAPACITY {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let refused_body = json!({"survey": "support", "response_id": new_id(), "score": 2,
                              "interaction": "refused-while-full"});
    let asked = Instant::now();
    let refused = app.post_response(&refused_body).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "answered at once, not queued"
    );
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "2");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"], "overloaded");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{error}"
    );
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "full is not stalled: {body}");
    assert_eq!(body["writer"]["queued"], QUEUE_CAPACITY);

    drop(paused);
    for rating in queued {
        let (body, status) = rating.await.unwrap();
        assert_eq!(status, 201, "{body}");
        let stored = app
            .state
            .store
            .find(
                &app.state.surveys.get("support").unwrap().id,
                body["interaction"].as_str(),
                body["response_id"].as_str().unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(stored.map(|r| r.score), Some(4), "acknowledged, so stored");
    }
    for filler in fillers {
        filler.await.unwrap().unwrap();
    }
    assert_eq!(
        app.summary("support", "").await.figures.responses,
        20,
        "the refused rating was not stored"
    );
    // Retried once the queue has room, it lands.
    assert_eq!(app.post_response(&refused_body).await.status(), 201);
}

#[tokio::test]
async fn a_stalled_writer_turns_healthz_to_503_and_a_write_it_never_answered_lands_once_retried() {
    let app = Arc::new(spawn_app().await);
    let (status, body) = health(&app).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert!(body["writer"]["last_flush_at"].is_null(), "{body}");

    let paused = app.state.store.pause_writer().await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "held only a moment ago: {body}");
    assert_eq!(body["writer"]["working"], true, "{body}");

    let rating = json!({"survey": "support", "response_id": new_id(), "score": 1,
                        "interaction": "chat-stuck"});
    let waiting = {
        let (app, rating) = (app.clone(), rating.clone());
        tokio::spawn(async move {
            let response = app.post_response(&rating).await;
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").cloned();
            (status, retry_after, response.json::<Value>().await.unwrap())
        })
    };

    let queued_at = Instant::now();
    let stalled = loop {
        let (status, body) = health(&app).await;
        if status == 503 {
            break body;
        }
        assert_eq!(body["status"], "ok");
        assert!(
            queued_at.elapsed() < STALL_AFTER + Duration::from_secs(5),
            "reported stalled within {STALL_AFTER:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        queued_at.elapsed() >= STALL_AFTER - Duration::from_secs(1),
        "not before it really stalled"
    );
    assert_eq!(stalled["status"], "stalled");
    assert_eq!(stalled["writer"]["queued"], 1);
    assert!(
        stalled["writer"]["seconds_since_progress"]
            .as_f64()
            .unwrap()
            >= 9.0
    );

    let (status, retry_after, error) = waiting.await.unwrap();
    assert!(queued_at.elapsed() >= ANSWER_DEADLINE - Duration::from_secs(1));
    assert_eq!(status, 503);
    assert_eq!(error["error"], "storage_unavailable");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("it may have been, and sending the same request again is safe"),
        "{error}"
    );
    assert_eq!(retry_after.unwrap(), "1");

    drop(paused);
    app.state.store.durable().await.unwrap();
    let (status, body) = health(&app).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert!(body["writer"]["last_flush_at"].is_string(), "{body}");
    // It was still queued, so it was stored; the loader's retry finds it there.
    let retried = app.post_response(&rating).await;
    assert_eq!(retried.status(), 200);
    assert_eq!(
        retried.json::<Value>().await.unwrap()["status"],
        "unchanged"
    );
    assert_eq!(app.summary("support", "").await.figures.responses, 1);
}

#[tokio::test]
async fn a_repeated_impression_is_answered_only_once_the_first_is_durable() {
    let app = Arc::new(spawn_app().await);
    let paused = app.state.store.pause_writer().await;
    let impression = json!({"survey": "support", "response_id": new_id()});
    let post = |app: Arc<TestApp>, body: Value| {
        tokio::spawn(async move {
            app.post_raw(
                "/v1/impressions",
                body.to_string(),
                &[("Content-Type", "application/json")],
            )
            .await
            .status()
            .as_u16()
        })
    };
    let first = post(app.clone(), impression.clone());
    let repeat = post(app.clone(), impression.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !first.is_finished() && !repeat.is_finished(),
        "neither is answered before the first is on disk"
    );
    drop(paused);
    assert_eq!(first.await.unwrap(), 204);
    assert_eq!(repeat.await.unwrap(), 204);
    assert_eq!(app.summary("support", "").await.figures.impressions, 1);
}
