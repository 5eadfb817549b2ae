//! Summary, timeseries and breakdown (docs/api.md, "Reading").

use crate::helpers::*;
use pulsetap_collector::domain::Rating;
use pulsetap_wire::{Breakdown, RecordResponse, Timeseries};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

/// Stores a rating as if it arrived at `at` (the store takes the time as an argument).
async fn record_at(app: &TestApp, at: OffsetDateTime, score: u8, tags: &[(&str, &str)]) {
    let survey = app.state.surveys.get("support").unwrap();
    let body = RecordResponse {
        survey: "support".into(),
        response_id: new_id(),
        score,
        interaction: None,
        sig: None,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        comment: None,
        lang: None,
    };
    let rating = Rating::parse(body, survey).unwrap();
    app.state
        .store
        .record(survey.id.clone(), rating, at, true)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_summary_reports_csat_with_its_wilson_interval() {
    let app = spawn_app().await;
    let day = datetime!(2026-11-10 12:00 UTC);
    for score in [5, 5, 5, 5, 4, 4, 4, 4, 2, 1] {
        record_at(&app, day, score, &[]).await;
    }
    let summary = app
        .summary("support", "from=2026-11-10&to=2026-11-10")
        .await;
    assert_eq!(summary.from, "2026-11-10");
    assert_eq!(summary.figures.responses, 10);
    assert_eq!(csat(&summary.figures), (Some(80.0), Some([49.0, 94.3])));
    assert_eq!(summary.figures.average, Some(3.9));
    let counts: Vec<u64> = (1..=5)
        .map(|s| summary.figures.counts[&s.to_string()])
        .collect();
    assert_eq!(counts, [1, 1, 0, 4, 4]);
}

#[tokio::test]
async fn from_and_to_are_inclusive_utc_days() {
    let app = spawn_app().await;
    record_at(&app, datetime!(2026-11-09 23:59:59 UTC), 5, &[]).await;
    record_at(&app, datetime!(2026-11-10 00:00:00 UTC), 5, &[]).await;
    record_at(&app, datetime!(2026-11-11 23:59:59 UTC), 5, &[]).await;
    record_at(&app, datetime!(2026-11-12 00:00:00 UTC), 5, &[]).await;
    let summary = app
        .summary("support", "from=2026-11-10&to=2026-11-11")
        .await;
    assert_eq!(summary.figures.responses, 2);
}

#[tokio::test]
async fn a_timeseries_has_a_bucket_for_every_day_with_its_counts() {
    let app = spawn_app().await;
    record_at(&app, datetime!(2026-11-01 09:00 UTC), 5, &[]).await;
    record_at(&app, datetime!(2026-11-03 10:00 UTC), 1, &[]).await;
    record_at(&app, datetime!(2026-11-03 11:00 UTC), 4, &[]).await;
    let response = app
        .get_with_key(
            "/v1/surveys/support/timeseries?interval=day&from=2026-11-01&to=2026-11-04",
            Some(MARKETING_KEY),
        )
        .await;
    let series: Timeseries = response.json().await.unwrap();
    let days: Vec<(&str, u64)> = series
        .buckets
        .iter()
        .map(|b| (b.start.as_str(), b.figures.responses))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-01", 1),
            ("2026-11-02", 0),
            ("2026-11-03", 2),
            ("2026-11-04", 0)
        ]
    );
    assert_eq!(series.buckets[2].figures.counts["1"], 1);
}

#[tokio::test]
async fn an_hourly_timeseries_has_twenty_four_buckets_a_day() {
    let app = spawn_app().await;
    record_at(&app, datetime!(2026-11-03 10:15 UTC), 3, &[]).await;
    let response = app
        .get_with_key(
            "/v1/surveys/support/timeseries?interval=hour&from=2026-11-03&to=2026-11-03",
            Some(MARKETING_KEY),
        )
        .await;
    let series: Timeseries = response.json().await.unwrap();
    assert_eq!(series.buckets.len(), 24);
    assert_eq!(series.buckets[10].start, "2026-11-03T10:00Z");
    assert_eq!(series.buckets[10].figures.responses, 1);
    assert_eq!(
        series
            .buckets
            .iter()
            .map(|b| b.figures.responses)
            .sum::<u64>(),
        1
    );
}

#[tokio::test]
async fn a_tag_filter_counts_only_that_tags_responses() {
    let app = spawn_app().await;
    let now = OffsetDateTime::now_utc();
    record_at(&app, now, 5, &[("agent", "alice")]).await;
    record_at(&app, now, 1, &[("agent", "bob")]).await;
    record_at(&app, now, 4, &[("agent", "alice"), ("channel", "chat")]).await;
    record_at(&app, now, 2, &[("channel", "chat")]).await;
    let alice = app.summary("support", "tag=agent:alice").await;
    assert_eq!(alice.figures.responses, 2);
    assert_eq!(csat(&alice.figures).0, Some(100.0));
    let chat = app.summary("support", "tag=channel:chat").await;
    assert_eq!((chat.too_few, chat.figures.responses), (false, 2));
    // bob's one response is under the survey's min_group_size of 2.
    assert!(app.summary("support", "tag=agent:bob").await.too_few);
}

#[tokio::test]
async fn a_breakdown_hides_groups_smaller_than_min_group_size() {
    let app = spawn_app().await; // support: min_group_size = 2
    let now = OffsetDateTime::now_utc();
    record_at(&app, now, 5, &[("agent", "alice")]).await;
    record_at(&app, now, 3, &[("agent", "alice")]).await;
    record_at(&app, now, 1, &[("agent", "bob")]).await;
    let response = app
        .get_with_key(
            "/v1/surveys/support/breakdown?by=agent",
            Some(MARKETING_KEY),
        )
        .await;
    let breakdown: Breakdown = response.json().await.unwrap();
    assert_eq!(breakdown.min_group_size, 2);
    let alice = breakdown
        .groups
        .iter()
        .find(|g| g.value == "alice")
        .unwrap();
    assert!(!alice.too_few);
    assert_eq!(alice.figures.as_ref().unwrap().responses, 2);
    let bob = breakdown.groups.iter().find(|g| g.value == "bob").unwrap();
    assert!(bob.too_few);
    assert!(bob.figures.is_none(), "a lone customer can't be picked out");
}

#[tokio::test]
async fn bad_read_parameters_are_clear_errors() {
    let app = spawn_app().await;
    for (query, status, code) in [
        ("summary?from=2026-11-30&to=2026-11-01", 400, "bad_query"),
        ("summary?from=yesterday", 400, "bad_query"),
        ("summary?tag=agent", 400, "bad_query"),
        ("summary?tag=shoe:44", 422, "unknown_tag"),
        ("timeseries?interval=week", 400, "bad_query"),
        ("breakdown", 400, "bad_query"),
        ("breakdown?by=shoe", 422, "unknown_tag"),
        ("responses?format=xlsx", 400, "bad_query"),
    ] {
        let response = app
            .get_with_key(&format!("/v1/surveys/support/{query}"), Some(MARKETING_KEY))
            .await;
        assert_eq!(response.status(), status, "{query}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            code,
            "{query}"
        );
    }
}

#[tokio::test]
async fn the_csv_export_neutralises_formulas_and_keeps_tags_and_history() {
    let app = spawn_app().await;
    let mut body = json!({"survey": "support", "response_id": new_id(), "score": 2, "interaction": "=1+2",
        "tags": {"agent": "@alice"}, "comment": "=HYPERLINK(\"http://evil.example\",\"click\")"});
    app.post_response(&body).await;
    body["score"] = json!(4);
    app.post_response(&body).await;
    let csv = app
        .get_with_key(
            "/v1/surveys/support/responses?format=csv",
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let row: Vec<String> = reader
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(
        cell("comment"),
        "'=HYPERLINK(\"http://evil.example\",\"click\")"
    );
    assert_eq!(cell("interaction"), "'=1+2");
    assert_eq!(cell("tag:agent"), "'@alice");
    assert_eq!(cell("score"), "4");
    assert!(
        cell("history").starts_with("2@") && cell("history").contains(" 4@"),
        "{}",
        cell("history")
    );
}
