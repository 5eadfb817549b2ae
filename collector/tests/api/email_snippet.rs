//! `GET /v1/surveys/{survey}/email`: the snippet a support team pastes into its emails
//! (docs/api.md, "Email").

use crate::helpers::*;
use pulsetap_collector::domain::Secret;
use pulsetap_collector::domain::signature::LinkFields;
use pulsetap_collector::email::EmailLinks;
use serde_json::Value;
use std::collections::BTreeMap;

async fn get_email(app: &TestApp, query: &str, key: Option<&str>) -> reqwest::Response {
    app.get_with_key(&format!("/v1/surveys/support/email?{query}"), key)
        .await
}

#[tokio::test]
async fn the_snippet_is_email_safe_html_with_one_labelled_text_emoji_link_per_score() {
    let app = spawn_app().await;
    let response = get_email(
        &app,
        "interaction=T-1042&tags=agent=alice",
        Some(HELPDESK_KEY),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();

    assert!(html.contains("<table role=\"presentation\""));
    assert_eq!(html.matches("<a href=").count(), 5);
    for (score, (emoji, label)) in ["😠", "🙁", "😐", "🙂", "😍"]
        .iter()
        .zip(["Awful", "Bad", "Okay", "Good", "Great"])
        .enumerate()
    {
        let href = format!(
            "href=\"{}/r/support/{}?i=T-1042&amp;t=agent=alice&amp;l=en&amp;s=",
            app.address,
            score + 1
        );
        assert!(html.contains(&href), "{href} in {html}");
        assert!(html.contains(&format!(">{emoji}</span>")), "{emoji}");
        assert!(html.contains(&format!("aria-label=\"{label}\"")), "{label}");
        assert!(
            html.contains(&format!(">{label}</span>")),
            "{label} shows as text"
        );
    }
    for absent in [
        "<script", "<style", "<form", "<img", "<link", "class=", "<input",
    ] {
        assert!(!html.contains(absent), "an email snippet holds no {absent}");
    }
}

#[tokio::test]
async fn the_json_format_gives_each_signed_link_and_the_same_snippet() {
    let app = spawn_app().await;
    let email = email_links(&app, "T-7", "agent=alice, channel=email").await;
    assert_eq!(email.survey, "support");
    assert_eq!(email.interaction, "T-7");
    assert_eq!(
        email.tags,
        BTreeMap::from([
            ("agent".to_string(), "alice".to_string()),
            ("channel".to_string(), "email".to_string())
        ])
    );
    assert_eq!(email.question, "How did we do today?");
    let scores: Vec<u8> = email.links.iter().map(|link| link.score).collect();
    assert_eq!(scores, [1, 2, 3, 4, 5]);
    assert_eq!(email.links[4].emoji, "😍");
    assert_eq!(email.links[4].label, "Great");

    let secret = Secret::new(SECRET);
    for link in &email.links {
        let url = url::Url::parse(&link.url).unwrap();
        assert_eq!(url.path(), format!("/r/support/{}", link.score));
        let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["i"], "T-7");
        assert_eq!(pairs["t"], "agent=alice,channel=email");
        assert_eq!(pairs["l"], "en");
        assert!(secret.verify_link(
            &LinkFields {
                survey: "support",
                score: link.score,
                interaction: "T-7",
                tags: &email.tags,
                lang: Some("en"),
            },
            &pairs["s"]
        ));
    }

    let html = get_email(
        &app,
        "interaction=T-7&tags=agent=alice,channel=email",
        Some(SITE_SERVER_KEY),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(email.html, html);
}

#[tokio::test]
async fn links_point_where_customers_reach_the_collector() {
    let app = spawn_app().await;
    let proxied = app
        .client
        .get(format!(
            "{}/v1/surveys/support/email?interaction=T-1&format=json",
            app.address
        ))
        .bearer_auth(HELPDESK_KEY)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "feedback.example.com")
        .send()
        .await
        .unwrap();
    let email: EmailLinks = proxied.json().await.unwrap();
    assert!(
        email.links[0]
            .url
            .starts_with("https://feedback.example.com/r/support/1?i=T-1&l=en&s="),
        "{}",
        email.links[0].url
    );

    let explicit = get_email(
        &app,
        "interaction=T-1&format=json&base_url=https://rate.example.org/",
        Some(HELPDESK_KEY),
    )
    .await;
    let email: EmailLinks = explicit.json().await.unwrap();
    assert!(
        email.links[0]
            .url
            .starts_with("https://rate.example.org/r/support/1?"),
        "{}",
        email.links[0].url
    );

    let with_path = get_email(
        &app,
        "interaction=T-1&base_url=https://example.org/feedback",
        Some(HELPDESK_KEY),
    )
    .await;
    assert_eq!(with_path.status(), 400);
}

#[tokio::test]
async fn whatever_the_interaction_or_tags_hold_the_snippet_carries_them_only_encoded_in_links() {
    let app = spawn_app().await;
    let html = get_email(
        &app,
        "interaction=%3Cscript%3Ealert(1)%3C/script%3E&tags=agent=%22%3E%3Cimg%20src=x%3E",
        Some(HELPDESK_KEY),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains(
            "?i=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&amp;t=agent=%22%3E%3Cimg%20src=x%3E&amp;l=en&amp;s="
        ),
        "{html}"
    );
}

#[tokio::test]
async fn a_survey_without_a_secret_cannot_make_email_links() {
    let app = spawn_app().await;
    // `sales` has no secret; SITE_SERVER_KEY may write to every survey.
    let response = app
        .get_with_key(
            "/v1/surveys/sales/email?interaction=T-1",
            Some(SITE_SERVER_KEY),
        )
        .await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no_secret");
    assert!(
        body["message"].as_str().unwrap().contains("secret"),
        "{body}"
    );
}

#[tokio::test]
async fn a_request_for_links_that_cannot_be_made_says_what_to_fix() {
    let app = spawn_app().await;
    let cases = [
        ("tags=agent=alice", 400, "bad_query"),
        ("interaction=T-1&tags=team=red", 422, "unknown_tag"),
        ("interaction=T-1&tags=alice", 400, "bad_query"),
        ("interaction=T-1&format=pdf", 400, "bad_query"),
        ("interaction=", 422, "invalid_interaction"),
    ];
    for (query, status, code) in cases {
        let response = get_email(&app, query, Some(HELPDESK_KEY)).await;
        assert_eq!(response.status(), status, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{query}: {body}");
    }
}

#[tokio::test]
async fn only_a_write_key_for_the_survey_gets_its_links() {
    let app = spawn_app().await;
    assert_eq!(get_email(&app, "interaction=T-1", None).await.status(), 401);
    assert_eq!(
        get_email(&app, "interaction=T-1", Some("not-a-key"))
            .await
            .status(),
        401
    );
    for key in [HELPDESK_KEY, SITE_SERVER_KEY] {
        assert_eq!(
            get_email(&app, "interaction=T-1", Some(key)).await.status(),
            200
        );
    }
}
