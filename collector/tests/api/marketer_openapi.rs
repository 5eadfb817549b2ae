//! `GET /openapi.json`: an OpenAPI 3 description generated from the handlers.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_describes_every_public_route_and_its_bodies() {
    let app = spawn_app().await;
    let response = app.get_with_key("/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "OpenAPI 3"
    );

    let paths = document["paths"].as_object().unwrap();
    let mut routes: Vec<&str> = paths.keys().map(String::as_str).collect();
    routes.sort_unstable();
    assert_eq!(
        routes,
        [
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/v1/impressions",
            "/v1/responses",
            "/v1/surveys",
            "/v1/surveys/{survey}/breakdown",
            "/v1/surveys/{survey}/comments",
            "/v1/surveys/{survey}/email",
            "/v1/surveys/{survey}/live",
            "/v1/surveys/{survey}/responses",
            "/v1/surveys/{survey}/summary",
            "/v1/surveys/{survey}/timeseries",
            "/v1/surveys/{survey}/widget",
        ]
    );

    let summary = &paths["/v1/surveys/{survey}/summary"]["get"];
    assert_eq!(
        summary["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Summary"
    );
    assert_eq!(summary["security"][0]["read_key"], Value::Array(vec![]));
    let record = &paths["/v1/responses"]["post"]["requestBody"]["content"]["application/json"];
    assert_eq!(
        record["schema"]["$ref"],
        "#/components/schemas/RecordResponse"
    );

    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "RecordResponse",
        "WriteOutcome",
        "ErrorBody",
        "Summary",
        "Figures",
        "Timeseries",
        "Breakdown",
        "ResponseRecord",
        "SurveyList",
        "Comments",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is described");
    }
    for scheme in ["read_key", "write_key"] {
        assert_eq!(
            document["components"]["securitySchemes"][scheme]["scheme"],
            "bearer"
        );
    }
    // Signing is a write power; metrics need a read key.
    let email = &paths["/v1/surveys/{survey}/email"]["get"];
    assert_eq!(email["security"][0]["write_key"], Value::Array(vec![]));
    let metrics = &paths["/metrics"]["get"];
    assert_eq!(metrics["security"][0]["read_key"], Value::Array(vec![]));

    // A breakdown group carries figures unless it is too small to report.
    let group = &schemas["Group"]["allOf"];
    assert_eq!(
        group[0]["required"],
        serde_json::json!(["value", "too_few"])
    );
    assert_eq!(group[1]["anyOf"][0]["$ref"], "#/components/schemas/Figures");
    assert_eq!(
        group[1]["anyOf"][1]["properties"]["too_few"]["enum"],
        serde_json::json!([true])
    );
}
