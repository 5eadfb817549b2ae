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
    let routes = routes_in_the_source();
    assert!(routes.len() > 20, "the routes were found: {routes:?}");
    for route in &routes {
        assert!(paths.contains_key(route), "{route} is in /openapi.json");
    }

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

/// Every path the router serves, read from `collector/src/routes` (`.route("…"`,
/// `.route_service("…"`, and `.nest_service("…"` as `…/{file}`), with `{…}` parameters named
/// as the document names them and a trailing slash taken as the same page. `admin.rs` is left
/// out: its routes are served only on the admin socket, never on the public port.
fn routes_in_the_source() -> std::collections::BTreeSet<String> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut routes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("admin.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (call, suffix) in [
            (".route(", ""),
            (".route_service(", ""),
            (".nest_service(", "/{file}"),
        ] {
            for (at, _) in text.match_indices(call) {
                let Some(rest) = text[at + call.len()..].trim_start().strip_prefix('"') else {
                    continue;
                };
                let route = &rest[..rest.find('"').unwrap()];
                let route = route
                    .strip_suffix('/')
                    .filter(|r| !r.is_empty())
                    .unwrap_or(route);
                routes.insert(format!("{route}{suffix}"));
            }
        }
    }
    routes
}
