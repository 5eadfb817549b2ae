//! What a new user tripped on, each now behaving one way everywhere: JSON for every error,
//! `Retry-After` on every 429, percents for every share, one tag syntax, comment pages that
//! never repeat, and refusals a site owner can see.

use crate::helpers::*;
use pulsetap_wire::{Comments, Refusals};
use serde_json::{Value, json};

/// Flood limits low enough to reach in a test, and one anonymous rating a day.
const TIGHT: &str = r#"
read_keys = ["marketing-team-key"]
[limits]
visitor_requests_per_second = 1
visitor_burst = 3
[[survey]]
id = "support"
allowed_origins = ["https://shop.example.com"]
tags = ["agent"]
secret = "a long random string for tests"
max_per_visitor_per_day = 1
min_group_size = 1
"#;

async fn json_body(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn a_method_a_path_does_not_take_gets_a_json_error_and_the_allowed_methods() {
    let app = spawn_app().await;
    let response = app.get_with_key("/v1/responses", None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(json_body(response).await["error"], "method_not_allowed");
}

#[tokio::test]
async fn an_error_rewritten_into_json_still_tells_browsers_never_to_sniff_it() {
    let app = spawn_app().await;
    let response = app.get_with_key("/v1/responses", None).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_body_refused_for_its_size_is_counted_among_refusals() {
    let app = spawn_app().await;
    let big = "x".repeat(9 * 1024);
    let response = app
        .client
        .post(format!("{}/v1/responses", app.address))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let metrics = app
        .get_with_key("/metrics", Some(MARKETING_KEY))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("pulsetap_responses_rejected_total{reason=\"body_too_large\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_429_says_when_to_try_again() {
    let app = spawn_app_with(TIGHT).await;
    // The daily allowance: until midnight UTC.
    assert_eq!(app.post_response(&rating(5)).await.status(), 201);
    let over = app.post_response(&rating(4)).await;
    assert_eq!(over.status(), 429);
    let retry: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "until tomorrow: {retry}");
    assert_eq!(json_body(over).await["error"], "visitor_limit");

    // The flood limit: a second or so.
    let mut flood_retry = None;
    for _ in 0..10 {
        let response = app.post_response(&rating(4)).await;
        let retry = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
        if json_body(response).await["error"] == "rate_limited" {
            flood_retry = retry;
            break;
        }
    }
    let retry = flood_retry.expect("the flood limit answered 429 with Retry-After");
    assert!(
        (1..=2).contains(&retry),
        "a token comes back within a second: {retry}"
    );
}

#[tokio::test]
async fn a_page_on_another_origin_may_read_retry_after() {
    let app = spawn_app().await;
    let response = app
        .post_raw("/v1/responses", rating(5).to_string(), &[("Origin", SHOP)])
        .await;
    assert_eq!(response.status(), 201);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("retry-after"), "{exposed}");
}

#[tokio::test]
async fn shares_are_percents_and_tags_read_in_either_spelling() {
    let app = spawn_app().await;
    let id = new_id();
    let impression = json!({"survey": "support", "response_id": id, "tags": {"agent": "ana"}});
    let response = app
        .client
        .post(format!("{}/v1/impressions", app.address))
        .json(&impression)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let others = [new_id(), new_id(), new_id()];
    for other in &others {
        let other = json!({"survey": "support", "response_id": other, "tags": {"agent": "ana"}});
        app.client
            .post(format!("{}/v1/impressions", app.address))
            .json(&other)
            .send()
            .await
            .unwrap();
    }
    let body =
        json!({"survey": "support", "response_id": id, "score": 5, "tags": {"agent": "ana"}});
    assert_eq!(app.post_response(&body).await.status(), 201);
    // A second answer, so ana's group reaches the survey's min_group_size of 2.
    let second = json!({"survey": "support", "response_id": others[0], "score": 4, "tags": {"agent": "ana"}});
    assert_eq!(app.post_response(&second).await.status(), 201);

    let with_equals = app.summary("support", "tag=agent=ana").await;
    let with_colon = app.summary("support", "tag=agent:ana").await;
    assert_eq!(with_equals.figures, with_colon.figures);
    assert_eq!(with_equals.tag.as_deref(), Some("agent=ana"));
    assert_eq!(
        with_equals.figures.response_rate,
        Some(50.0),
        "a percent, like csat"
    );
    assert_eq!(csat(&with_equals.figures).0, Some(100.0));
}

#[tokio::test]
async fn two_tag_filters_or_a_tag_on_a_breakdown_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let two = app
        .get_with_key(
            "/v1/surveys/support/summary?tag=agent=a&tag=channel=b",
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(two.status(), 400);
    let message = json_body(two).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains("one `tag`"), "{message}");

    let breakdown = app
        .get_with_key(
            "/v1/surveys/support/breakdown?by=agent&tag=channel=chat",
            Some(MARKETING_KEY),
        )
        .await;
    assert_eq!(breakdown.status(), 400, "not silently ignored");
}

#[tokio::test]
async fn paging_through_comments_shows_each_response_once_where_it_last_changed() {
    let app = spawn_app().await;
    let answer = |id: &str, interaction: &str, score: u8, comment: &str| {
        json!({"survey": "support", "response_id": id, "score": score,
               "interaction": interaction, "comment": comment})
    };
    let (a, b, c) = (new_id(), new_id(), new_id());
    app.post_response(&answer(&a, "A", 2, "first")).await;
    app.post_response(&answer(&b, "B", 4, "fine")).await;
    app.post_response(&answer(&a, "A", 3, "better")).await;
    app.post_response(&answer(&a, "A", 4, "good now")).await;
    app.post_response(&answer(&c, "C", 5, "great")).await;

    let page = |query: String| {
        let app = &app;
        async move {
            let response = app
                .get_with_key(
                    &format!("/v1/surveys/support/comments?{query}"),
                    Some(MARKETING_KEY),
                )
                .await;
            response.json::<Comments>().await.unwrap()
        }
    };
    let interactions = |page: &Comments| -> Vec<String> {
        page.comments
            .iter()
            .map(|r| r.interaction.clone().unwrap())
            .collect()
    };
    let whole = page(String::new()).await;
    assert_eq!(interactions(&whole), ["C", "A", "B"]);
    assert_eq!(whole.comments[1].comment.as_deref(), Some("good now"));

    let mut seen = Vec::new();
    let mut before = None;
    for _ in 0..10 {
        let query = match before {
            Some(before) => format!("limit=1&before={before}"),
            None => "limit=1".to_owned(),
        };
        let one = page(query).await;
        seen.extend(interactions(&one));
        match one.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["C", "A", "B"], "no repeats, newest change first");
}

#[tokio::test]
async fn a_site_owner_sees_why_ratings_of_their_survey_were_refused() {
    let app = spawn_app().await;
    let forged = json!({"survey": "support", "response_id": new_id(), "score": 1,
                        "interaction": "chat-1", "sig": "00ff", "tags": {"agent": "alice"}});
    for _ in 0..2 {
        assert_eq!(app.post_response(&forged).await.status(), 403);
    }
    let elsewhere = app
        .post_raw(
            "/v1/responses",
            rating(5).to_string(),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(elsewhere.status(), 403);
    let unknown = json!({"survey": "nope", "response_id": new_id(), "score": 1});
    assert_eq!(app.post_response(&unknown).await.status(), 404);

    let response = app
        .get_with_key("/v1/surveys/support/refusals", Some(SUPPORT_LEAD_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let refusals: Refusals = response.json().await.unwrap();
    let reasons: Vec<(&str, u64)> = refusals
        .reasons
        .iter()
        .map(|r| (r.reason.as_str(), r.count))
        .collect();
    assert_eq!(reasons, [("bad_signature", 2), ("origin_not_allowed", 1)]);
    assert!(refusals.reasons[0].last_message.contains("signature"));

    let other = app
        .get_with_key("/v1/surveys/support/refusals", Some(OTHER_LEAD_KEY))
        .await;
    assert_eq!(other.status(), 403, "another survey's key sees nothing");
}
