//! Recording ratings: identity, updates, conflicts, history, impressions (docs/api.md, "The widget's calls").

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_first_rating_is_created_and_counted() {
    let app = spawn_app().await;
    let body = rating(5);
    let response = app.post_response(&body).await;
    assert_eq!(response.status(), 201);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(
        outcome,
        json!({"status": "created", "response_id": body["response_id"]})
    );
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["5"], 1);
}

#[tokio::test]
async fn a_retry_of_the_same_rating_is_unchanged_and_counted_once() {
    let app = spawn_app().await;
    let body = rating(4);
    assert_eq!(app.post_response(&body).await.status(), 201);
    let retry = app.post_response(&body).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap()["status"], "unchanged");
    assert_eq!(app.summary("support", "").await.figures.responses, 1);
}

#[tokio::test]
async fn a_changed_tap_moves_the_count_to_the_new_score() {
    let app = spawn_app().await;
    let mut body =
        json!({"survey": "support", "response_id": new_id(), "score": 2, "interaction": "chat-1"});
    assert_eq!(app.post_response(&body).await.status(), 201);
    body["score"] = json!(5);
    let changed = app.post_response(&body).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.json::<Value>().await.unwrap()["status"], "updated");
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.responses, 1);
    assert_eq!(summary.figures.counts["2"], 0);
    assert_eq!(summary.figures.counts["5"], 1);
}

#[tokio::test]
async fn a_comment_added_later_is_kept_without_counting_again() {
    let app = spawn_app().await;
    let mut body = json!({"survey": "support", "response_id": new_id(), "score": 3, "tags": {"agent": "alice"}});
    app.post_response(&body).await;
    body["comment"] = json!("  Quick and kind  ");
    body.as_object_mut().unwrap().remove("tags");
    assert_eq!(app.post_response(&body).await.status(), 200);
    let records = app.export("support").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].comment.as_deref(), Some("Quick and kind"));
    assert_eq!(
        records[0].tags["agent"], "alice",
        "tags left out of a later write are kept"
    );
    assert_eq!(app.summary("support", "").await.figures.responses, 1);
}

#[tokio::test]
async fn another_response_id_for_an_answered_interaction_is_a_conflict_that_changes_nothing() {
    let app = spawn_app().await;
    let first =
        json!({"survey": "support", "response_id": new_id(), "score": 5, "interaction": "chat-9"});
    app.post_response(&first).await;
    let intruder =
        json!({"survey": "support", "response_id": new_id(), "score": 1, "interaction": "chat-9"});
    let response = app.post_response(&intruder).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "already_answered"
    );
    let summary = app.summary("support", "").await;
    assert_eq!(
        (summary.figures.responses, summary.figures.counts["5"]),
        (1, 1)
    );
}

#[tokio::test]
async fn the_signed_owner_may_change_an_answer_from_another_channel() {
    let app = spawn_app().await;
    let sig = sign("support", Some("ticket-7"), &[("agent", "alice")]);
    // Answered from the email landing page…
    let from_email = json!({"survey": "support", "response_id": new_id(), "score": 2,
        "interaction": "ticket-7", "tags": {"agent": "alice"}, "sig": sig});
    assert_eq!(app.post_response(&from_email).await.status(), 201);
    // …and later from the web chat, a different page with its own response_id.
    let from_chat = json!({"survey": "support", "response_id": new_id(), "score": 4,
        "interaction": "ticket-7", "tags": {"agent": "alice"}, "sig": sig});
    assert_eq!(app.post_response(&from_chat).await.status(), 200);
    let summary = app.summary("support", "").await;
    assert_eq!(
        summary.figures.responses, 1,
        "one interaction is one response across channels"
    );
    assert_eq!(summary.figures.counts["4"], 1);
    assert_eq!(
        app.export("support").await[0].response_id,
        from_email["response_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn signed_tags_cannot_be_changed_without_a_new_signature() {
    let app = spawn_app().await;
    let sig = sign("support", Some("chat-3"), &[("agent", "alice")]);
    let id = new_id();
    let signed = json!({"survey": "support", "response_id": id, "score": 2,
        "interaction": "chat-3", "tags": {"agent": "alice"}, "sig": sig});
    app.post_response(&signed).await;
    let edited = json!({"survey": "support", "response_id": id, "score": 2,
        "interaction": "chat-3", "tags": {"agent": "bob"}});
    assert_eq!(app.post_response(&edited).await.status(), 403);
    assert_eq!(app.export("support").await[0].tags["agent"], "alice");
}

#[tokio::test]
async fn an_answer_cannot_change_after_the_edit_window() {
    let app = spawn_app().await;
    let mut body =
        json!({"survey": "sales", "response_id": new_id(), "score": 1, "interaction": "deal-1"});
    assert_eq!(app.post_response(&body).await.status(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let unchanged_retry = app.post_response(&body).await;
    assert_eq!(unchanged_retry.status(), 200, "a plain retry is still fine");
    body["score"] = json!(2);
    let late = app.post_response(&body).await;
    assert_eq!(late.status(), 409);
    assert_eq!(
        late.json::<Value>().await.unwrap()["error"],
        "edit_window_closed"
    );
    assert_eq!(app.summary("sales", "").await.figures.counts["1"], 1);
}

#[tokio::test]
async fn every_change_of_score_is_kept_in_the_history() {
    let app = spawn_app().await;
    let mut body =
        json!({"survey": "support", "response_id": new_id(), "score": 5, "interaction": "chat-h"});
    for score in [5, 2, 2, 4] {
        body["score"] = json!(score);
        app.post_response(&body).await;
    }
    let history: Vec<u8> = app.export("support").await[0]
        .history
        .iter()
        .map(|change| change.score)
        .collect();
    assert_eq!(history, [5, 2, 4]);
}

#[tokio::test]
async fn an_impression_is_counted_once_per_response_id_and_gives_the_response_rate() {
    let app = spawn_app().await;
    let shown = new_id();
    for id in [&shown, &shown, &new_id(), &new_id()] {
        let body = json!({"survey": "support", "response_id": id});
        let response = app
            .post_raw("/v1/impressions", body.to_string(), &[("Origin", SHOP)])
            .await;
        assert_eq!(response.status(), 204);
    }
    app.post_response(&json!({"survey": "support", "response_id": shown, "score": 5}))
        .await;
    let summary = app.summary("support", "").await;
    assert_eq!(summary.figures.impressions, 3);
    assert_eq!(summary.figures.response_rate, Some(33.3));
}

#[tokio::test]
async fn a_duplicate_storm_of_one_identity_counts_once() {
    let app = spawn_app().await;
    let body =
        json!({"survey": "support", "response_id": new_id(), "score": 4, "interaction": "storm"});
    let statuses = storm((0..2_000).map(|_| body.clone()), &app).await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "exactly one write creates"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1_999,
        "every retry is a 200"
    );
    let summary = app.summary("support", "").await;
    assert_eq!(
        (summary.figures.responses, summary.figures.counts["4"]),
        (1, 1)
    );
    assert!(app.state.store.audit().await.unwrap().mismatches.is_empty());
}

#[tokio::test]
async fn a_storm_of_strangers_on_one_interaction_leaves_one_answer() {
    let app = spawn_app().await;
    let bodies = (0..500).map(|i| {
        json!({"survey": "support", "response_id": new_id(), "score": 1 + i % 5, "interaction": "hot"})
    });
    let statuses = storm(bodies, &app).await;
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1);
    assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), 499);
    assert_eq!(app.summary("support", "").await.figures.responses, 1);
}

#[tokio::test]
async fn a_visitor_gets_a_daily_allowance_of_anonymous_ratings_and_others_are_unaffected() {
    // Behind a trusted proxy, each forwarded address is a visitor; 3 ratings a day each.
    let config = CONFIG
        .replace(
            "max_per_visitor_per_day = 1000",
            "max_per_visitor_per_day = 3",
        )
        .replace("[limits]", "[limits]\ntrust_x_forwarded_for = true");
    let app = spawn_app_with(&config).await;
    let post_from = |address: &'static str, body: Value| {
        let app = &app;
        async move {
            app.post_raw(
                "/v1/responses",
                body.to_string(),
                &[("Origin", SHOP), ("X-Forwarded-For", address)],
            )
            .await
        }
    };
    let mut last = rating(5);
    for _ in 0..3 {
        last = rating(5);
        assert_eq!(post_from("203.0.113.5", last.clone()).await.status(), 201);
    }
    let over = post_from("203.0.113.5", rating(5)).await;
    assert_eq!(over.status(), 429);
    assert_eq!(
        over.json::<Value>().await.unwrap()["error"],
        "visitor_limit"
    );
    // Adding a comment to an answer already given is not a new rating.
    last["comment"] = json!("Lovely");
    assert_eq!(post_from("203.0.113.5", last).await.status(), 200);
    assert_eq!(
        post_from("203.0.113.6", rating(5)).await.status(),
        201,
        "another visitor is unaffected"
    );
    assert_eq!(app.summary("support", "").await.figures.responses, 4);
}

/// Posts every body with 256 requests in flight at once; returns the statuses.
async fn storm(bodies: impl Iterator<Item = Value>, app: &TestApp) -> Vec<u16> {
    use futures::StreamExt;
    futures::stream::iter(bodies)
        .map(|body| {
            let (client, url) = (app.client.clone(), format!("{}/v1/responses", app.address));
            async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(256)
        .collect()
        .await
}
