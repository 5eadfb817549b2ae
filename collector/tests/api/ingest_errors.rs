//! Every refusal of `POST /v1/responses` (docs/api.md): the right status, a JSON error with its code, nothing stored.

use crate::helpers::*;
use serde_json::{Value, json};

/// Posts `body` from the shop and checks the answer and that nothing at all was stored.
async fn assert_refused(
    app: &TestApp,
    body: String,
    headers: &[(&str, &str)],
    status: u16,
    code: &str,
) {
    let mut all_headers = vec![("Origin", SHOP), ("Content-Type", "application/json")];
    all_headers.extend_from_slice(headers);
    let response = app.post_raw("/v1/responses", body, &all_headers).await;
    assert_eq!(response.status(), status);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors are JSON"
    );
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], code);
    assert!(
        error["message"].as_str().is_some_and(|m| m.len() > 10),
        "a human sentence: {error}"
    );
    for survey in ["support", "signed"] {
        assert_eq!(
            app.summary(survey, "").await.figures.responses,
            0,
            "nothing counted"
        );
        assert!(app.export(survey).await.is_empty(), "nothing stored");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400() {
    let app = spawn_app().await;
    assert_refused(
        &app,
        "{\"survey\": \"support\", ".into(),
        &[],
        400,
        "malformed_json",
    )
    .await;
    assert_refused(&app, "\u{0}\u{1}garbage".into(), &[], 400, "malformed_json").await;
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_400() {
    let app = spawn_app().await;
    let wrong_type = json!({"survey": "support", "response_id": new_id(), "score": "five"});
    assert_refused(&app, wrong_type.to_string(), &[], 400, "malformed_json").await;
    let missing_score = json!({"survey": "support", "response_id": new_id()});
    assert_refused(&app, missing_score.to_string(), &[], 400, "malformed_json").await;
}

#[tokio::test]
async fn an_unknown_survey_is_a_404() {
    let app = spawn_app().await;
    let body = json!({"survey": "nope", "response_id": new_id(), "score": 5});
    assert_refused(&app, body.to_string(), &[], 404, "unknown_survey").await;
}

#[tokio::test]
async fn a_page_the_survey_does_not_allow_is_a_403() {
    let app = spawn_app().await;
    let body = rating(5).to_string();
    let response = app
        .post_raw(
            "/v1/responses",
            body.clone(),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "origin_not_allowed"
    );
    assert_eq!(app.summary("support", "").await.figures.responses, 0);
}

#[tokio::test]
async fn the_browser_preflight_is_answered_only_for_allowed_origins() {
    let app = spawn_app_with(
        "[[survey]]\nid = \"support\"\nallowed_origins = [\"https://shop.example.com\"]\n",
    )
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/responses", app.address),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let allowed = preflight(SHOP).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], SHOP);
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_forged_signature_is_a_403() {
    let app = spawn_app().await;
    let sig = sign("support", Some("chat-1"), &[("agent", "alice")]);
    let other_agent = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "chat-1", "tags": {"agent": "bob"}, "sig": sig});
    assert_refused(&app, other_agent.to_string(), &[], 403, "bad_signature").await;
    let other_chat = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "chat-2", "tags": {"agent": "alice"}, "sig": sig});
    assert_refused(&app, other_chat.to_string(), &[], 403, "bad_signature").await;
    let garbage = json!({"survey": "support", "response_id": new_id(), "score": 5, "interaction": "chat-1", "sig": "xyz"});
    assert_refused(&app, garbage.to_string(), &[], 403, "bad_signature").await;
}

#[tokio::test]
async fn a_survey_that_requires_signatures_refuses_unsigned_interactions_and_tags() {
    let app = spawn_app().await;
    let unsigned =
        json!({"survey": "signed", "response_id": new_id(), "score": 5, "interaction": "chat-1"});
    assert_refused(&app, unsigned.to_string(), &[], 403, "signature_required").await;
    let unsigned_tag =
        json!({"survey": "signed", "response_id": new_id(), "score": 5, "tags": {"agent": "x"}});
    assert_refused(
        &app,
        unsigned_tag.to_string(),
        &[],
        403,
        "signature_required",
    )
    .await;
    let signed = json!({"survey": "signed", "response_id": new_id(), "score": 5, "interaction": "chat-1",
        "sig": sign("signed", Some("chat-1"), &[])});
    assert_eq!(app.post_response(&signed).await.status(), 201);
}

#[tokio::test]
async fn a_score_outside_the_scale_is_a_422() {
    let app = spawn_app().await;
    for score in [0, 6] {
        let body = json!({"survey": "support", "response_id": new_id(), "score": score});
        assert_refused(&app, body.to_string(), &[], 422, "score_out_of_range").await;
    }
}

#[tokio::test]
async fn a_tag_the_survey_does_not_declare_is_a_422() {
    let app = spawn_app().await;
    let body = json!({"survey": "support", "response_id": new_id(), "score": 5, "tags": {"shoe_size": "44"}});
    assert_refused(&app, body.to_string(), &[], 422, "unknown_tag").await;
    let control = json!({"survey": "support", "response_id": new_id(), "score": 5, "tags": {"agent": "a\u{0}b"}});
    assert_refused(&app, control.to_string(), &[], 422, "invalid_tag").await;
}

#[tokio::test]
async fn a_comment_over_two_thousand_characters_is_a_422_and_one_at_the_limit_is_kept() {
    let app = spawn_app().await;
    let mut body = rating(2);
    body["comment"] = json!("é".repeat(2_001));
    assert_refused(&app, body.to_string(), &[], 422, "comment_too_long").await;
    body["comment"] = json!("é".repeat(2_000));
    assert_eq!(
        app.post_response(&body).await.status(),
        201,
        "2,000 characters (4,000 bytes) fit"
    );
}

#[tokio::test]
async fn a_response_id_that_is_not_a_uuid_is_a_422() {
    let app = spawn_app().await;
    let body = json!({"survey": "support", "response_id": "1", "score": 5});
    assert_refused(&app, body.to_string(), &[], 422, "invalid_response_id").await;
}

#[tokio::test]
async fn a_body_over_eight_kilobytes_is_a_413() {
    let app = spawn_app().await;
    let mut body = rating(5);
    body["comment"] = json!("x".repeat(9_000));
    assert_refused(&app, body.to_string(), &[], 413, "body_too_large").await;
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let app = spawn_app().await;
    let response = app.get_with_key("/v2/nothing", None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_found"
    );
}
