//! Read keys: global and per survey, 401 and 403 (docs/api.md, "Conventions").

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn a_read_without_a_key_is_a_401() {
    let app = spawn_app().await;
    let response = app.get_with_key("/v1/surveys/support/summary", None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "missing_api_key"
    );
}

#[tokio::test]
async fn a_read_with_a_wrong_key_is_a_401() {
    let app = spawn_app().await;
    let response = app
        .get_with_key("/v1/surveys/support/summary", Some("guess"))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_api_key"
    );
}

#[tokio::test]
async fn a_key_for_another_survey_is_a_403_on_every_read() {
    let app = spawn_app().await;
    for path in [
        "summary",
        "timeseries",
        "breakdown?by=agent",
        "responses?format=csv",
    ] {
        let response = app
            .get_with_key(&format!("/v1/surveys/support/{path}"), Some(OTHER_LEAD_KEY))
            .await;
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "key_not_for_survey"
        );
    }
    // Nor does it learn whether a survey exists.
    let response = app
        .get_with_key("/v1/surveys/secret-project/summary", Some(OTHER_LEAD_KEY))
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_survey_key_reads_its_survey_and_a_global_key_reads_all() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_with_key("/v1/surveys/support/summary", Some(SUPPORT_LEAD_KEY))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_with_key("/v1/surveys/sales/summary", Some(OTHER_LEAD_KEY))
            .await
            .status(),
        200
    );
    for survey in ["support", "sales", "signed"] {
        let path = format!("/v1/surveys/{survey}/summary");
        assert_eq!(
            app.get_with_key(&path, Some(MARKETING_KEY)).await.status(),
            200
        );
    }
    assert_eq!(
        app.get_with_key("/v1/surveys/nope/summary", Some(MARKETING_KEY))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_widget_configuration_is_public_cacheable_and_holds_no_secret() {
    let app = spawn_app().await;
    let response = app.get_with_key("/v1/surveys/support/widget", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET) && !text.contains("key"), "{text}");
    let config: pulsetap_wire::WidgetConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(config.scale, ["😠", "🙁", "😐", "🙂", "😍"]);
    assert_eq!(config.labels[4], "Great");
}
