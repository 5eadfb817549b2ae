//! The HTTP layer: `router(state)`, the whole API, callable from tests without a socket.
//!
//! # Layout
//!
//! - [`error`]: `ApiError`, the JSON error every handler answers with, and where the errors of
//!   the layers below become HTTP statuses.
//! - [`extract`]: extractors for what many handlers need (the visitor past its flood limit, the
//!   page a write was posted from, the API key's scope and the survey it may read, query
//!   parameters).
//! - [`query`]: the read endpoints' query parameters as typed values.
//! - [`limits`]: how much one request may ask of the server.
//! - one module per area: `ingest` (the widget's POSTs), `read` (aggregates), `export`
//!   (streamed CSV/NDJSON), `live` (SSE), `surveys` (survey list, comments), `email`
//!   (snippet, landing page, confirm), `interactions` (a helpdesk's registrations), `dashboard` (the page, embedded), `openapi`, `assets`
//!   (loader and widget), `ops` (health, metrics).
//! - [`admin`]: the admin socket's routes (backups), never served on the public port.

pub mod admin;
mod assets;
mod dashboard;
mod email;
pub mod error;
mod export;
pub mod extract;
mod ingest;
mod interactions;
pub mod limits;
mod live;
pub mod openapi;
mod ops;
pub mod query;
mod read;
mod surveys;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use error::ApiError;
pub use limits::MAX_BODY_BYTES;
use std::time::Duration;
use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower::util::MapResponseLayer;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// A read that takes longer than this is cut off (`408`: a read changes nothing, so nothing is
/// lost), so slow clients can't hold workers. Writes are bounded otherwise, without a `408`
/// that would lie about a write still queued: their body must arrive within
/// `limits::BODY_DEADLINE` (`408`, nothing queued), and once queued a write is waited for
/// `store::writer::ANSWER_DEADLINE` at most (`503`: it may be stored, sending it again is safe).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router(state: AppState) -> Router {
    let allowed = state.surveys.all_allowed_origins();
    let any_origin = allowed.contains("*");
    // The browser asks before it posts, and the preflight carries no body, so no survey: answer
    // for every origin some survey allows; each handler then checks the survey it is about.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            any_origin || origin.to_str().is_ok_and(|origin| allowed.contains(origin))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        // The loader waits as long as a 429 or 503 says before it retries.
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600));

    // Every `Router::layer` call wraps each route in one more boxed service, and each of those
    // clones everything inside it on every request (axum's `Route`), so a stack of n layers
    // costs about n²/2 clones per request. Layers that go together are one `ServiceBuilder`:
    // on the widget's posts that took a tenth of the collector's CPU. The posts, the busiest
    // routes by far, also get the layers every response shares in that one builder instead
    // of a second level around the merged router: about a tenth more ratings a second
    // (BENCHMARKS.md).
    let widget_writes = Router::new()
        .route("/v1/responses", post(ingest::record_response))
        .route("/v1/impressions", post(ingest::record_impression))
        .layer(
            every_response()
                .map_request(limits::body_deadline)
                .layer(cors.clone())
                // Enforced by the body extractor, so the handler sees (and counts) a refusal,
                // even one announced by `Content-Length` before any byte of the body.
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        );

    let reads = Router::new()
        .route("/v1/surveys/{survey}/summary", get(read::summary))
        .route("/v1/surveys/{survey}/timeseries", get(read::timeseries))
        .route("/v1/surveys/{survey}/breakdown", get(read::breakdown))
        .route("/v1/surveys/{survey}/responses", get(export::responses))
        .route("/v1/surveys", get(surveys::list))
        .route("/v1/surveys/{survey}/comments", get(surveys::comments))
        .route("/v1/surveys/{survey}/refusals", get(surveys::refusals))
        .route(
            "/v1/surveys/{survey}/undelivered-alerts",
            get(surveys::undelivered_alerts),
        )
        // Never compressed: the compression layer leaves `text/event-stream` alone.
        .route("/v1/surveys/{survey}/live", get(live::live))
        .route("/v1/surveys/{survey}/email", get(email::email))
        .layer(CompressionLayer::new());

    let pages = dashboard::routes()
        .route("/openapi.json", get(openapi::openapi))
        .layer(CompressionLayer::new());

    let reads = Router::new()
        .merge(reads)
        .route("/v1/surveys/{survey}/widget", get(read::widget_config))
        .layer(cors)
        .merge(assets::routes(state.assets.as_deref()))
        .merge(pages)
        .route("/healthz", get(ops::healthz))
        .route("/favicon.ico", get(ops::favicon))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::NotFound })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));

    // Everything else that writes: the email links' click and confirmation, registrations.
    // Every write's body must arrive within its deadline.
    let other_writes = email::routes()
        .merge(interactions::routes())
        .layer(ServiceBuilder::new().map_request(limits::body_deadline));

    let rest = Router::new()
        .merge(other_writes)
        .merge(reads)
        .layer(every_response());
    Router::new()
        .merge(widget_writes)
        .merge(rest)
        .with_state(state)
}

/// The layers of [`every_response`], as `ServiceBuilder` nests them.
type EveryResponse = Stack<
    MapResponseLayer<fn(Response) -> Response>,
    Stack<
        SetResponseHeaderLayer<HeaderValue>,
        Stack<TraceLayer<SharedClassifier<ServerErrorsAsFailures>>, Identity>,
    >,
>;

/// The layers every response passes through, outermost first; more may follow inside.
fn every_response() -> ServiceBuilder<EveryResponse> {
    ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        // Responses echo what customers typed (comments, tags); a browser must never sniff
        // one into HTML. Outside the rewriting of errors, which makes new responses.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Outside the timeout, so its 408 is rewritten too.
        .map_response(json_for_bare_errors as fn(Response) -> Response)
}

/// Middleware that answers some requests before any handler runs (a method the path does not
/// take, a body over a limit, the timeout) with empty or plain-text bodies. Every error is JSON,
/// so those are rewritten here.
fn json_for_bare_errors(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = response.headers().get(header::ALLOW).cloned();
            let mut json = ApiError::MethodNotAllowed.into_response();
            if let Some(allow) = allow {
                json.headers_mut().insert(header::ALLOW, allow);
            }
            json
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge {
            limit: MAX_BODY_BYTES,
        }
        .into_response(),
        StatusCode::REQUEST_TIMEOUT => {
            let body = pulsetap_wire::ErrorBody {
                error: "timeout".into(),
                message: "the request took too long and was not processed".into(),
            };
            (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response()
        }
        _ => response,
    }
}
