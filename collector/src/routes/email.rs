//! The email channel over HTTP (CONTRACT §4): the snippet for one email, the landing page its
//! links open, the form that confirms a rating without the widget, and the landing script.
//!
//! Opening a link (`GET /r/…`) only counts an unconfirmed click; a `HEAD` counts nothing. A
//! rating is recorded by the page's widget, or by `POST /r/…/confirm`, which a scanner that only
//! fetches URLs never sends.

use super::ingest::{self, ClientAddress};
use super::read::authorize;
use crate::domain::{Score, Survey};
use crate::email::pages::{self, Problem};
use crate::email::{BaseUrl, EmailLinks, Invitation, LinkError, LinkQuery, parse_tags_text};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Recorded;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use time::OffsetDateTime;

/// A comment of `MAX_COMMENT_CHARS` characters, four bytes each and percent-encoded, with room
/// for the link's parameters.
const MAX_FORM_BYTES: usize = 32 * 1024;

/// The public pages behind email links.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/r/{survey}/{score}", get(landing))
        .route(
            "/r/{survey}/{score}/confirm",
            post(confirm).layer(DefaultBodyLimit::max(MAX_FORM_BYTES)),
        )
        .route("/r/landing.js", get(landing_script))
}

#[derive(Debug, Deserialize)]
pub struct EmailQuery {
    interaction: Option<String>,
    tags: Option<String>,
    format: Option<String>,
    base_url: Option<String>,
}

/// The emoji links for one email, signed for one interaction and its tags.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/email",
    tag = "read",
    security(("read_key" = [])),
    params(
        ("survey" = String, Path, description = "Survey id; the survey needs a `secret`"),
        ("interaction" = String, Query, description = "The ticket or chat the email is about: one response per interaction, shared with the web widget", example = "T-1042"),
        ("tags" = Option<String>, Query, description = "Signed tags, `key=value,key=value`", example = "agent=alice"),
        ("format" = Option<String>, Query, description = "`html` (default): the snippet to paste into an email; `json`: the links too"),
        ("base_url" = Option<String>, Query, description = "The collector as customers reach it, when not as this request did", example = "https://feedback.example.com"),
    ),
    responses(
        (status = 200, description = "The snippet (`text/html`), or with `format=json` every link and the snippet", body = EmailLinks),
        (status = 400, description = "No interaction, malformed tags, or a bad base_url", body = pulsetap_wire::ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = pulsetap_wire::ErrorBody),
        (status = 403, description = "The key may not read this survey", body = pulsetap_wire::ErrorBody),
        (status = 404, description = "No such survey", body = pulsetap_wire::ErrorBody),
        (status = 409, description = "The survey has no secret to sign links with", body = pulsetap_wire::ErrorBody),
        (status = 422, description = "An invalid interaction or an unknown tag key", body = pulsetap_wire::ErrorBody),
    )
)]
pub async fn email(
    State(state): State<AppState>,
    Path(survey): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EmailQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let survey = authorize(&state, &headers, &survey)?;
    let Query(query) = query?;
    let interaction = query.interaction.as_deref().ok_or_else(|| {
        ApiError::BadQuery(
            "email links need interaction=<ticket or chat id>: each email rates one interaction"
                .into(),
        )
    })?;
    let tags = parse_tags_text(query.tags.as_deref().unwrap_or("")).map_err(ApiError::BadQuery)?;
    let as_json = match query.format.as_deref().unwrap_or("html") {
        "html" => false,
        "json" => true,
        other => {
            return Err(ApiError::BadQuery(format!(
                "format must be html or json, got {other:?}"
            )));
        }
    };
    let base = match query.base_url.as_deref() {
        Some(text) => BaseUrl::parse(text).map_err(ApiError::BadQuery)?,
        None => base_from_headers(&headers)?,
    };
    let email = Invitation::new(survey, interaction, tags)?.email(&base);
    // Every answer holds signed links for one interaction: no shared cache may keep one.
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    Ok(if as_json {
        (no_store, Json(email)).into_response()
    } else {
        (
            no_store,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // Opened straight in a browser, the snippet shows as it will in an email.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            email.html,
        )
            .into_response()
    })
}

/// The collector as the caller reached it: a TLS proxy says so in `X-Forwarded-Proto` and
/// `X-Forwarded-Host`, else `Host` over http. Trusting these is safe here: only a read key's
/// holder asks, and the links go into their own emails.
fn base_from_headers(headers: &HeaderMap) -> Result<BaseUrl, ApiError> {
    let first = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let host = first(HeaderName::from_static("x-forwarded-host"))
        .or_else(|| first(header::HOST))
        .ok_or_else(|| {
            ApiError::BadQuery(
                "the request names no host to link to: pass base_url=https://…".into(),
            )
        })?;
    let scheme = match first(HeaderName::from_static("x-forwarded-proto")) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    BaseUrl::parse(&format!("{scheme}://{host}")).map_err(|_| {
        ApiError::BadQuery(format!(
            "cannot link to host {host:?}: pass base_url=https://…"
        ))
    })
}

/// `GET /r/{survey}/{score}?i=…&t=…&s=…`: the page an emoji link opens.
pub async fn landing(
    State(state): State<AppState>,
    ClientAddress(ip): ClientAddress,
    method: Method,
    Path((survey, score)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let Some(survey) = state.surveys.get(&survey) else {
        return Problem::UnknownSurvey.page();
    };
    let link = query.ok().map(|Query(link)| link);
    let (invitation, score) = match verify(survey, &score, link.as_ref()) {
        Ok(verified) => verified,
        Err(problem) => return problem.page(),
    };
    // A HEAD only asks whether the page is there: nobody clicked.
    if method != Method::HEAD {
        let now = OffsetDateTime::now_utc();
        let visitor = state
            .visitors
            .visitor(ip, ingest::user_agent(&headers), now);
        // A flood of opens is not counted, but the page still shows: a person behind a busy
        // address can still rate.
        if state.visitors.allow_request(visitor)
            && let Err(error) =
                state
                    .store
                    .record_unconfirmed_click(survey, score.get(), invitation.tags(), now)
        {
            tracing::warn!(%error, "an email link click was not counted");
        }
    }
    pages::respond(StatusCode::OK, pages::landing(&invitation, score))
}

/// The landing page's form: the link's signed parameters and an optional comment.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    i: String,
    #[serde(default)]
    t: String,
    s: String,
    #[serde(default)]
    comment: String,
}

/// `POST /r/{survey}/{score}/confirm`: records the rating for a browser without the widget.
///
/// No `Origin` check: a browser posting this form from a `no-referrer` page sends
/// `Origin: null`, and the link's signature is what authorizes the rating, wherever it is
/// posted from.
pub async fn confirm(
    State(state): State<AppState>,
    ClientAddress(ip): ClientAddress,
    Path((survey, score)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let Some(survey) = state.surveys.get(&survey) else {
        return Problem::UnknownSurvey.page();
    };
    let (link, comment) = match form {
        Ok(Form(form)) => (
            LinkQuery {
                i: form.i,
                t: form.t,
                s: form.s,
            },
            form.comment,
        ),
        Err(_) => return Problem::DamagedLink.page(),
    };
    let (invitation, score) = match verify(survey, &score, Some(&link)) {
        Ok(verified) => verified,
        Err(problem) => {
            ingest::count_outcome(&state, Err(&ApiError::BadSignature));
            return problem.page();
        }
    };
    let commented = !comment.trim().is_empty();
    let saved = save(&state, ip, &headers, &invitation, score, comment).await;
    ingest::count_outcome(&state, saved.as_ref().map(|recorded| recorded.status));
    match saved {
        Ok(_) => pages::respond(StatusCode::OK, pages::thanks(&invitation, score, commented)),
        Err(error) => Problem::from(&error).page(),
    }
}

async fn save(
    state: &AppState,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    invitation: &Invitation<'_>,
    score: Score,
    comment: String,
) -> Result<Recorded, ApiError> {
    let now = OffsetDateTime::now_utc();
    let visitor = state.visitors.visitor(ip, ingest::user_agent(headers), now);
    if !state.visitors.allow_request(visitor) {
        return Err(ApiError::TooManyRequests);
    }
    let rating = invitation.rating(score, Some(comment))?;
    ingest::save_rating(state, invitation.survey(), rating, now).await
}

/// The link in the path and query, checked: anything not signed by us is a damaged link; a
/// signed link that the survey's current configuration refuses is outdated.
fn verify<'a>(
    survey: &'a Survey,
    score: &str,
    link: Option<&LinkQuery>,
) -> Result<(Invitation<'a>, Score), Problem> {
    let (Ok(score), Some(link)) = (score.parse::<u8>(), link) else {
        return Err(Problem::DamagedLink);
    };
    Invitation::from_link(survey, score, link).map_err(|error| match error {
        LinkError::NoSecret(_) | LinkError::BadSignature => Problem::DamagedLink,
        LinkError::Invalid(_) | LinkError::TagNotWritable(_) => Problem::Outdated,
    })
}

/// `GET /r/landing.js`.
pub async fn landing_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        pages::LANDING_SCRIPT,
    )
}
