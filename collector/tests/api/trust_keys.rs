//! Key scopes (README, "Trust model"): a read key reads, a write key signs, and a key for one
//! survey reaches no other. Each test plays the attacker and checks nothing changed.

use crate::helpers::*;
use serde_json::{Value, json};

async fn error_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON error"))
}

/// What the support lead's read key gets from the email endpoint, which signs.
async fn email_with(app: &TestApp, key: &str, interaction: &str, tags: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/v1/surveys/support/email", app.address))
        .query(&[
            ("interaction", interaction),
            ("tags", tags),
            ("format", "json"),
        ])
        .bearer_auth(key)
        .send()
        .await
        .expect("the collector answers")
}

#[tokio::test]
async fn a_read_key_cannot_sign_and_so_cannot_move_a_rating_to_another_agent() {
    let app = spawn_app().await;
    // The helpdesk's email for ticket T-1 (agent alice); the customer answers 😠.
    let email = email_links(&app, "T-1", "agent=alice").await;
    assert_eq!(
        confirm_link(&app, &email.links[0].url, "").await.status(),
        200
    );

    // The team lead, holding only a read key, asks the email endpoint to sign T-1 for bob.
    for key in [SUPPORT_LEAD_KEY, MARKETING_KEY] {
        let (status, body) = error_code(email_with(&app, key, "T-1", "agent=bob").await).await;
        assert_eq!(status, 403);
        assert_eq!(body["error"], "key_cannot_write");
        assert!(
            body["message"].as_str().unwrap().contains("write_keys"),
            "{body}"
        );
    }
    // Without a signature for bob, the write that would move the answer is refused.
    let forged = json!({"survey": "support", "response_id": new_id(), "score": 5,
        "interaction": "T-1", "tags": {"agent": "bob"}});
    assert_eq!(app.post_response(&forged).await.status(), 409);

    let stored = app.export("support").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].score, stored[0].tags["agent"].as_str()),
        (1, "alice")
    );
}

#[tokio::test]
async fn a_write_key_signs_but_reads_nothing() {
    let app = spawn_app().await;
    for path in [
        "/v1/surveys",
        "/v1/surveys/support/summary",
        "/v1/surveys/support/responses",
        "/v1/surveys/support/comments",
        "/metrics",
    ] {
        for key in [HELPDESK_KEY, SITE_SERVER_KEY] {
            let (status, body) = error_code(app.get_with_key(path, Some(key)).await).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (403, Some("key_cannot_read"))
            );
            assert!(body["message"].as_str().unwrap().contains("read_keys"));
        }
    }
}

#[tokio::test]
async fn a_survey_scoped_write_key_cannot_sign_for_another_survey() {
    let app = spawn_app().await;
    // `signed` requires signatures: a signature is the only way to rate it with tags.
    let response = app
        .client
        .get(format!("{}/v1/surveys/signed/email", app.address))
        .query(&[("interaction", "T-9"), ("tags", "agent=mallory")])
        .bearer_auth(HELPDESK_KEY)
        .send()
        .await
        .unwrap();
    let (status, body) = error_code(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("key_not_for_survey"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("write"),
        "{body}"
    );

    // Nor does a link it signed for its own survey work on the other one, though both surveys
    // share a secret here: the signature covers the survey.
    let email = email_links(&app, "T-9", "agent=mallory").await;
    let moved = email.links[4].url.replace("/r/support/", "/r/signed/");
    assert_eq!(confirm_link(&app, &moved, "").await.status(), 403);
    assert_eq!(app.summary("signed", "").await.figures.responses, 0);
    assert_eq!(
        app.summary("signed", "").await.figures.unconfirmed_clicks,
        0
    );
}

#[tokio::test]
async fn metrics_need_a_read_key_for_every_survey() {
    let app = spawn_app().await;
    let (status, body) = error_code(app.get_with_key("/metrics", None).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing_api_key"))
    );
    let (status, body) =
        error_code(app.get_with_key("/metrics", Some(SUPPORT_LEAD_KEY)).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("key_not_global"))
    );
    let metrics = app.get_with_key("/metrics", Some(MARKETING_KEY)).await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("pulsetap_impressions_accepted_total")
    );
}
