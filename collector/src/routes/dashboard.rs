//! `/dashboard`: the marketers' page. One static HTML page with its stylesheet and script,
//! compiled into the binary (no build step, nothing to deploy beside the collector). The page
//! signs in with a read key, keeps it in `sessionStorage`, and reads the same JSON API as
//! anyone else with `Authorization: Bearer`.
//!
//! Comments are customers' text shown to staff, the classic stored-XSS path. The script only
//! ever puts them in the page with `textContent`, and the Content-Security-Policy below allows
//! no inline script at all, so even a slip there could not run a comment as code.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/app.css");

/// Only this origin's script and style; no inline script, no plugins, no framing, no forms
/// posting elsewhere. `fetch()` goes to the same origin only.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/", get(page))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/app.css", get(style))
}

/// The marketers' dashboard (also at `/dashboard/`). It signs in with a read key and reads the
/// same JSON API as anyone else.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "pages",
    responses((status = 200, description = "The dashboard page", content_type = "text/html"))
)]
pub async fn page() -> impl IntoResponse {
    served("text/html; charset=utf-8", PAGE)
}

/// The dashboard's script.
#[utoipa::path(
    get,
    path = "/dashboard/app.js",
    tag = "pages",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript"))
)]
pub async fn script() -> impl IntoResponse {
    served("text/javascript; charset=utf-8", SCRIPT)
}

/// The dashboard's stylesheet.
#[utoipa::path(
    get,
    path = "/dashboard/app.css",
    tag = "pages",
    responses((status = 200, description = "CSS", content_type = "text/css"))
)]
pub async fn style() -> impl IntoResponse {
    served("text/css; charset=utf-8", STYLE)
}

fn served(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // The page URL holds nothing secret, but nothing it links to needs to know it.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            // Revalidate every time, so a new collector's page and script arrive together.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        body,
    )
}
