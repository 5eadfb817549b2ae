//! `GET /openapi.json`: the API described in OpenAPI 3, generated at compile time from the
//! handlers' `#[utoipa::path]` attributes and the wire types' `ToSchema`, so it can't drift from
//! the code the way a hand-kept file would.

use super::{dashboard, email, export, ingest, interactions, live, ops, read, surveys};
use axum::Json;
use std::sync::LazyLock;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pulsetap",
        description = "Per-interaction one-tap emoji feedback: record ratings, read aggregates, export and follow responses live. Reads need `Authorization: Bearer <read key>`, signing (email snippets) a write key; a key for one survey reaches only that survey, and neither kind of key does the other's job."
    ),
    paths(
        ingest::record_response,
        ingest::record_impression,
        read::widget_config,
        surveys::list,
        read::summary,
        read::timeseries,
        read::breakdown,
        surveys::comments,
        surveys::refusals,
        surveys::undelivered_alerts,
        export::responses,
        email::email,
        interactions::register,
        email::landing,
        email::confirm,
        email::landing_script,
        live::live,
        ops::healthz,
        ops::metrics,
        ops::favicon,
        dashboard::page,
        dashboard::script,
        dashboard::style,
        openapi,
    ),
    modifiers(&Keys, &WidgetAssets),
    tags(
        (name = "widget", description = "What the widget calls from customers' browsers, and the files it is made of"),
        (name = "read", description = "What marketers read; every call needs a read key"),
        (name = "write", description = "What a site's or helpdesk's server signs; every call needs a write key"),
        (name = "email", description = "The pages behind email links"),
        (name = "pages", description = "The dashboard and its files"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer schemes the operations refer to as `read_key` and `write_key`.
struct Keys;

impl Modify for Keys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in [
            (
                "read_key",
                "A read key from the configuration (`read_keys`)",
            ),
            (
                "write_key",
                "A write key from the configuration (`write_keys`): it signs, and reads nothing",
            ),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

/// The widget's files, served from `--assets` by file services rather than handlers, so they
/// are described here.
struct WidgetAssets;

impl Modify for WidgetAssets {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
        use utoipa::openapi::{PathItem, ResponseBuilder};
        let file = |summary: &str, description: &str, content: &str| {
            let ok = ResponseBuilder::new()
                .description(description)
                .content(content, Default::default())
                .build();
            OperationBuilder::new()
                .tag("widget")
                .summary(Some(summary))
                .response("200", ok)
                .response(
                    "404",
                    ResponseBuilder::new()
                        .description("Not built, or no such file")
                        .build(),
                )
        };
        let loader = file(
            "The loader a page's script tag loads",
            "pulsetap.js, cached for five minutes",
            "text/javascript",
        );
        let hashed = file(
            "The widget's content-hashed files (its module and its WebAssembly)",
            "The file, cached for a year",
            "application/octet-stream",
        )
        .parameter(
            ParameterBuilder::new()
                .name("file")
                .parameter_in(ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .build(),
        );
        openapi.paths.paths.insert(
            "/pulsetap.js".into(),
            PathItem::new(HttpMethod::Get, loader.build()),
        );
        openapi.paths.paths.insert(
            "/assets/{file}".into(),
            PathItem::new(HttpMethod::Get, hashed.build()),
        );
    }
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 description of this API", content_type = "application/json"))
)]
pub async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}
