//! The anonymous limits (README, "Trust model"): per visitor (its address, not its user agent),
//! per survey and day, and per tag. Each attack is refused and counts nothing; what is signed
//! is never refused.

use crate::helpers::*;
use serde_json::{Value, json};

/// One survey behind a trusted proxy, so a test can be many visitors: 2 unsigned ratings and 3
/// impressions per visitor a day, 4 unsigned ratings a day in all, 3 values per tag.
const LIMITS: &str = r#"
read_keys = ["marketing-team-key"]
[limits]
visitor_requests_per_second = 100000
visitor_burst = 100000
trust_x_forwarded_for = true
[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
secret = "a long random string for tests"
max_per_visitor_per_day = 2
max_impressions_per_visitor_per_day = 3
max_unverified_per_day = 4
max_tag_values = 3
min_group_size = 1
"#;

async fn post_from(app: &TestApp, path: &str, address: &str, body: &Value) -> reqwest::Response {
    app.post_raw(
        path,
        body.to_string(),
        &[
            ("Origin", SHOP),
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", address),
            ("User-Agent", &format!("agent-{}", new_id())),
        ],
    )
    .await
}

async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], code, "{body}");
    body
}

fn signed_rating(interaction: &str, agent: &str, score: u8) -> Value {
    json!({"survey": "support", "response_id": new_id(), "score": score,
        "interaction": interaction, "tags": {"agent": agent},
        "sig": sign("support", Some(interaction), &[("agent", agent)])})
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get_with_key("/metrics", Some(MARKETING_KEY)).await;
    response.text().await.unwrap()
}

#[tokio::test]
async fn rotating_user_agents_gets_a_429_after_the_daily_allowance() {
    let app = spawn_app_with(LIMITS).await;
    // Every request below has a user agent of its own.
    for _ in 0..2 {
        let response = post_from(&app, "/v1/responses", "203.0.113.1", &rating(5)).await;
        assert_eq!(response.status(), 201);
    }
    let refused = post_from(&app, "/v1/responses", "203.0.113.1", &rating(5)).await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&wait), "until tomorrow: {wait}");
    assert_error(refused, 429, "visitor_limit").await;
    assert_eq!(app.summary("support", "").await.figures.responses, 2);
}

#[tokio::test]
async fn random_unsigned_interactions_spend_the_allowance_too() {
    let app = spawn_app_with(LIMITS).await;
    let mut first = Value::Null;
    for n in 0..2 {
        let body = json!({"survey": "support", "response_id": new_id(), "score": 1,
            "interaction": format!("made-up-{n}")});
        assert_eq!(
            post_from(&app, "/v1/responses", "203.0.113.2", &body)
                .await
                .status(),
            201
        );
        if n == 0 {
            first = body;
        }
    }
    let made_up = json!({"survey": "support", "response_id": new_id(), "score": 1,
        "interaction": "made-up-3"});
    assert_error(
        post_from(&app, "/v1/responses", "203.0.113.2", &made_up).await,
        429,
        "visitor_limit",
    )
    .await;
    // Changing an answer already given is not a new response.
    first["score"] = json!(4);
    assert_eq!(
        post_from(&app, "/v1/responses", "203.0.113.2", &first)
            .await
            .status(),
        200
    );
    let summary = app.summary("support", "").await;
    assert_eq!(
        (summary.figures.responses, summary.figures.counts["4"]),
        (2, 1)
    );
}

#[tokio::test]
async fn an_ipv6_visitor_is_its_whole_64_network() {
    let app = spawn_app_with(LIMITS).await;
    for host in ["2001:db8:7:1::1", "2001:db8:7:1::2"] {
        assert_eq!(
            post_from(&app, "/v1/responses", host, &rating(3))
                .await
                .status(),
            201
        );
    }
    assert_error(
        post_from(&app, "/v1/responses", "2001:db8:7:1:ffff::9", &rating(3)).await,
        429,
        "visitor_limit",
    )
    .await;
    assert_eq!(
        post_from(&app, "/v1/responses", "2001:db8:7:2::1", &rating(3))
            .await
            .status(),
        201,
        "the next /64 is another subscriber"
    );
}

#[tokio::test]
async fn signed_ratings_never_count_against_the_anonymous_limits() {
    let app = spawn_app_with(LIMITS).await;
    // An office behind one address rating its internal helpdesk: twelve signed tickets, more
    // than the visitor's allowance and the survey's ceiling, each agent new.
    for n in 0..12 {
        let body = signed_rating(&format!("T-{n}"), &format!("agent-{n}"), 5);
        let response = post_from(&app, "/v1/responses", "203.0.113.3", &body).await;
        assert_eq!(response.status(), 201, "ticket {n}");
    }
    assert_eq!(app.summary("support", "").await.figures.responses, 12);
    assert!(
        metrics(&app)
            .await
            .contains("pulsetap_unverified_responses_created_total 0"),
    );
}

#[tokio::test]
async fn a_botnet_meets_the_surveys_daily_ceiling_and_it_holds_across_a_restart() {
    let app = spawn_app_with(LIMITS).await;
    // Four unsigned ratings from four addresses: the survey's ceiling.
    for n in 1..=4 {
        let response = post_from(
            &app,
            "/v1/responses",
            &format!("198.51.100.{n}"),
            &rating(1),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let refused = post_from(&app, "/v1/responses", "198.51.100.5", &rating(1)).await;
    assert!(refused.headers().contains_key("retry-after"));
    let body = assert_error(refused, 429, "unverified_limit").await;
    assert!(
        body["message"].as_str().unwrap().contains("signed"),
        "{body}"
    );
    // A signed rating still lands; the refused ones counted nothing, and the refusal is in
    // the metrics.
    let signed = signed_rating("T-77", "alice", 5);
    assert_eq!(
        post_from(&app, "/v1/responses", "198.51.100.6", &signed)
            .await
            .status(),
        201
    );
    assert_eq!(app.summary("support", "").await.figures.responses, 5);
    let text = metrics(&app).await;
    assert!(
        text.contains("pulsetap_responses_rejected_total{reason=\"unverified_limit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("pulsetap_unverified_responses_created_total 4"),
        "{text}"
    );

    // The count is kept with the data: a restart does not open the gate again.
    let data = app.stop().await;
    let app = spawn_app_on(data, LIMITS).await;
    assert_error(
        post_from(&app, "/v1/responses", "198.51.100.7", &rating(1)).await,
        429,
        "unverified_limit",
    )
    .await;
    assert_eq!(app.summary("support", "").await.figures.responses, 5);
}

#[tokio::test]
async fn impressions_past_the_visitors_daily_cap_are_not_counted() {
    let app = spawn_app_with(LIMITS).await;
    let impression = || json!({"survey": "support", "response_id": new_id()});
    for _ in 0..10 {
        let response = post_from(&app, "/v1/impressions", "192.0.2.1", &impression()).await;
        assert_eq!(response.status(), 204);
    }
    assert_eq!(app.summary("support", "").await.figures.impressions, 3);
    // Another visitor's, and signed ones, still count.
    post_from(&app, "/v1/impressions", "192.0.2.2", &impression()).await;
    let signed = json!({"survey": "support", "response_id": new_id(), "interaction": "T-5",
        "tags": {"agent": "alice"}, "sig": sign("support", Some("T-5"), &[("agent", "alice")])});
    post_from(&app, "/v1/impressions", "192.0.2.1", &signed).await;
    assert_eq!(app.summary("support", "").await.figures.impressions, 5);
    assert!(
        metrics(&app)
            .await
            .contains("pulsetap_impressions_over_allowance_total 7")
    );
}

#[tokio::test]
async fn random_tag_values_are_refused_past_the_cap_and_nothing_is_stored() {
    let app = spawn_app_with(&LIMITS.replace("max_unverified_per_day = 4", "")).await;
    let tagged = |agent: &str| json!({"survey": "support", "response_id": new_id(), "score": 2, "tags": {"agent": agent}});
    for (n, agent) in ["ana", "bo", "cy"].iter().enumerate() {
        let address = format!("192.0.2.{n}");
        assert_eq!(
            post_from(&app, "/v1/responses", &address, &tagged(agent))
                .await
                .status(),
            201
        );
    }
    let body = assert_error(
        post_from(&app, "/v1/responses", "192.0.2.10", &tagged("made-up")).await,
        422,
        "too_many_tag_values",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("agent"),
        "{body}"
    );
    // An impression can't add the value either; a value already known is still welcome, and
    // a signed new one is never refused.
    let impression =
        json!({"survey": "support", "response_id": new_id(), "tags": {"agent": "made-up-2"}});
    assert_error(
        post_from(&app, "/v1/impressions", "192.0.2.11", &impression).await,
        422,
        "too_many_tag_values",
    )
    .await;
    assert_eq!(
        post_from(&app, "/v1/responses", "192.0.2.12", &tagged("ana"))
            .await
            .status(),
        201
    );
    let signed = signed_rating("T-8", "dee", 4);
    assert_eq!(
        post_from(&app, "/v1/responses", "192.0.2.13", &signed)
            .await
            .status(),
        201
    );

    let stored = app.export("support").await;
    assert_eq!(stored.len(), 5);
    assert!(
        stored
            .iter()
            .all(|r| !r.tags["agent"].starts_with("made-up"))
    );
    let breakdown: pulsetap_wire::Breakdown = app
        .get_with_key(
            "/v1/surveys/support/breakdown?by=agent",
            Some(MARKETING_KEY),
        )
        .await
        .json()
        .await
        .unwrap();
    let values: Vec<&str> = breakdown.groups.iter().map(|g| g.value.as_str()).collect();
    assert_eq!(values, ["ana", "bo", "cy", "dee"]);
    assert_eq!(app.summary("support", "").await.figures.impressions, 0);
}

#[tokio::test]
async fn the_tag_value_cap_holds_under_concurrent_writes() {
    let app = spawn_app_with(&LIMITS.replace("max_unverified_per_day = 4", "")).await;
    let statuses: Vec<u16> = futures::future::join_all((0..40).map(|n| {
        let body = json!({"survey": "support", "response_id": new_id(), "score": 3,
            "tags": {"agent": format!("racer-{n}")}});
        let app = &app;
        async move {
            post_from(app, "/v1/responses", &format!("192.0.2.{n}"), &body)
                .await
                .status()
                .as_u16()
        }
    }))
    .await;
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 3);
    assert_eq!(statuses.iter().filter(|&&s| s == 422).count(), 37);
    assert_eq!(app.export("support").await.len(), 3);
}
