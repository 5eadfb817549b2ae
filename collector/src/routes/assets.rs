//! The loader (`/pulsetap.js`) and the widget's content-hashed assets (`/assets/*`).
//!
//! Both are fetched cross-origin by host pages (a module import and a wasm fetch need CORS), so
//! they carry `Access-Control-Allow-Origin: *`; they hold nothing private. Hashed names never
//! change content, so they are cached for a year; the loader, whose name is fixed, for minutes.
//! `scripts/build-widget.sh` writes `.br` and `.gz` beside each file and they are served as is.

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use std::path::Path;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn routes(assets: Option<&Path>) -> Router<AppState> {
    let Some(assets) = assets else {
        return Router::new();
    };
    let cross_origin = SetResponseHeaderLayer::overriding(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    let loader = Router::new()
        .route_service(
            "/pulsetap.js",
            ServeFile::new(assets.join("pulsetap.js"))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ));
    let hashed = Router::new()
        .nest_service(
            "/assets",
            ServeDir::new(assets.join("assets"))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ));
    // Lets host pages measure what the widget costs them (Resource Timing sizes and phases
    // are hidden cross-origin without it).
    let timing = SetResponseHeaderLayer::overriding(
        HeaderName::from_static("timing-allow-origin"),
        HeaderValue::from_static("*"),
    );
    loader.merge(hashed).layer(cross_origin).layer(timing)
}
