//! The live feed (`GET /v1/surveys/{survey}/live`): Server-Sent Events, and resuming with
//! `Last-Event-ID` after a dropped connection.

use crate::helpers::*;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use pulsetap_wire::ResponseRecord;
use serde_json::json;
use std::pin::Pin;
use std::time::Duration;

pub(crate) type Feed =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// Opens the feed as the marketing team, optionally resuming.
pub(crate) async fn open_feed(app: &Collector, survey: &str, last_event_id: Option<&str>) -> Feed {
    let mut request = app
        .client
        .get(format!("{}/v1/surveys/{survey}/live", app.address))
        .bearer_auth(MARKETING_KEY);
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let response = request.send().await.expect("the collector answers");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    Box::pin(response.bytes_stream().eventsource())
}

async fn next_event(feed: &mut Feed) -> Event {
    tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("an event within 5 s")
        .expect("the feed is still open")
        .expect("a well-formed event")
}

/// The first event of a connection says where the feed starts.
pub(crate) async fn ready(feed: &mut Feed) -> Event {
    let event = next_event(feed).await;
    assert_eq!(event.event, "ready", "the feed opens with a ready event");
    event
}

/// The next response event, as its id and record.
pub(crate) async fn next_response(feed: &mut Feed) -> (u64, ResponseRecord) {
    let event = next_event(feed).await;
    assert_eq!(event.event, "message");
    let id = event.id.parse().expect("event ids are sequence numbers");
    let record = serde_json::from_str(&event.data).expect("data is a ResponseRecord");
    (id, record)
}

fn rating_with(score: u8, comment: &str) -> serde_json::Value {
    json!({"survey": "support", "response_id": new_id(), "score": score,
           "interaction": new_id(), "tags": {"agent": "alice"}, "comment": comment})
}

#[tokio::test]
async fn the_live_feed_sends_a_new_response_as_it_is_recorded() {
    let app = spawn_app().await;
    let mut feed = open_feed(&app, "support", None).await;
    ready(&mut feed).await;

    let body = rating_with(5, "Quick and kind");
    assert_eq!(app.post_response(&body).await.status(), 201);

    let (_, record) = next_response(&mut feed).await;
    assert_eq!(record.response_id, body["response_id"]);
    assert_eq!(record.score, 5);
    assert_eq!(record.comment.as_deref(), Some("Quick and kind"));
    assert_eq!(record.tags["agent"], "alice");
}

#[tokio::test]
async fn a_changed_response_is_sent_again_with_its_new_score() {
    let app = spawn_app().await;
    let mut feed = open_feed(&app, "support", None).await;
    ready(&mut feed).await;

    let mut body = rating_with(2, "Slow");
    app.post_response(&body).await;
    body["score"] = json!(4);
    assert_eq!(app.post_response(&body).await.status(), 200);

    let (first_id, first) = next_response(&mut feed).await;
    let (second_id, second) = next_response(&mut feed).await;
    assert!(second_id > first_id, "ids grow");
    assert_eq!(first.response_id, second.response_id);
    assert_eq!(second.score, 4);
    assert_eq!(second.history.len(), 2, "the change is in the history");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_replays_every_response_missed() {
    let app = spawn_app().await;
    let mut feed = open_feed(&app, "support", None).await;
    ready(&mut feed).await;
    app.post_response(&rating_with(5, "seen live")).await;
    let (seen, _) = next_response(&mut feed).await;
    drop(feed);

    let missed: Vec<_> = (1..=3).map(|n| rating_with(n, "missed")).collect();
    for body in &missed {
        assert_eq!(app.post_response(body).await.status(), 201);
    }
    let other_survey = json!({"survey": "sales", "response_id": new_id(), "score": 1});
    assert_eq!(app.post_response(&other_survey).await.status(), 201);

    let mut feed = open_feed(&app, "support", Some(&seen.to_string())).await;
    ready(&mut feed).await;
    let mut replayed = Vec::new();
    for _ in 0..missed.len() {
        let (id, record) = next_response(&mut feed).await;
        assert!(id > seen, "only events after Last-Event-ID are replayed");
        replayed.push(record.response_id);
    }
    let expected: Vec<_> = missed
        .iter()
        .map(|body| body["response_id"].clone())
        .collect();
    assert_eq!(replayed, expected, "every missed response, in order");

    // After the replay the same connection follows new responses.
    let after = rating_with(4, "after the replay");
    app.post_response(&after).await;
    let (_, record) = next_response(&mut feed).await;
    assert_eq!(record.response_id, after["response_id"]);
}

#[tokio::test]
async fn a_replay_sends_each_missed_change_as_the_response_now_is_as_documented() {
    let app = spawn_app().await;
    app.post_response(&rating_with(4, "before")).await;
    let mut feed = open_feed(&app, "support", None).await;
    let start = ready(&mut feed).await;
    drop(feed);

    let mut body = rating_with(1, "slow");
    for score in [1, 3, 5] {
        body["score"] = json!(score);
        app.post_response(&body).await;
    }

    let mut feed = open_feed(&app, "support", Some(&start.id)).await;
    ready(&mut feed).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, record) = next_response(&mut feed).await;
        ids.push(id);
        assert_eq!(record.response_id, body["response_id"]);
        assert_eq!(
            record.score, 5,
            "a replayed event shows the response as it is now"
        );
        let history: Vec<u8> = record.history.iter().map(|change| change.score).collect();
        assert_eq!(history, [1, 3, 5], "its history says how it got there");
    }
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "one event per change, in order"
    );
}

#[tokio::test]
async fn a_feed_dropped_before_any_response_resumes_from_its_ready_event() {
    let app = spawn_app().await;
    app.post_response(&rating_with(5, "before the dashboard opened"))
        .await;
    let mut feed = open_feed(&app, "support", None).await;
    let start = ready(&mut feed).await.id;
    assert!(!start.is_empty(), "the ready event carries a position");
    drop(feed);

    let missed = rating_with(1, "while disconnected");
    app.post_response(&missed).await;

    let mut feed = open_feed(&app, "support", Some(&start)).await;
    ready(&mut feed).await;
    let (_, record) = next_response(&mut feed).await;
    assert_eq!(record.response_id, missed["response_id"]);
}

#[tokio::test]
async fn the_live_feed_needs_a_key_that_may_read_the_survey() {
    let app = spawn_app().await;
    let path = "/v1/surveys/support/live";
    assert_eq!(app.get_with_key(path, None).await.status(), 401);
    assert_eq!(app.get_with_key(path, Some("nope")).await.status(), 401);
    assert_eq!(
        app.get_with_key(path, Some(OTHER_LEAD_KEY)).await.status(),
        403
    );
    let bad_resume = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(SUPPORT_LEAD_KEY)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_resume.status(), 400);
}

#[tokio::test]
async fn stopping_the_server_ends_open_live_feeds() {
    let app = spawn_app().await;
    let mut feed = open_feed(&app, "support", None).await;
    ready(&mut feed).await;
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("a graceful stop does not wait for the dashboard to close");
    let end = tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("the feed ends");
    assert!(end.is_none(), "the stream closed cleanly");
}
