//! The email channel over HTTP: the snippet for one email, the landing page its links open,
//! the form that confirms a rating without the widget, and the landing script.
//!
//! Opening a link (`GET /r/…`) only counts an unconfirmed click; a `HEAD` counts nothing. A
//! rating is recorded by the page's widget, or by `POST /r/…/confirm`, which a scanner that only
//! fetches URLs never sends.

use super::error::ApiError;
use super::extract::{Params, Visitor, Writable};
use crate::domain::{RatingError, Refusal, Score, Survey};
use crate::email::pages::{self, Problem};
use crate::email::{BaseUrl, EmailLinks, Invitation, LinkError, LinkQuery, Template};
use crate::service::registry;
use crate::state::AppState;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use pulsetap_wire::{ErrorBody, tags};
use serde::Deserialize;
use utoipa::IntoParams;

/// A comment of `MAX_COMMENT_CHARS` characters, four bytes each and percent-encoded, with room
/// for the link's parameters.
const MAX_FORM_BYTES: usize = 32 * 1024;

/// Scripts only from here (the loader, the widget's module, `landing.js`), WebAssembly
/// compilation for the widget, requests only back here, forms only to here. Styles may be
/// inline: the widget puts its stylesheet in a `<style>` inside its shadow root, and that style
/// has no nonce it could carry.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

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

/// What the email snippet is for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// The ticket or chat the email is about: one response per interaction, shared with the
    /// web widget.
    #[param(example = "T-1042")]
    interaction: Option<String>,
    /// Signed tags, as tag text: `key=value,key=value`.
    #[param(example = "agent=alice")]
    tags: Option<String>,
    /// `html` (default): the snippet to paste into an email; `json`: the links too.
    #[param(inline)]
    #[serde(default)]
    format: SnippetFormat,
    /// The collector as customers reach it, when not as this request did.
    #[param(example = "https://feedback.example.com")]
    base_url: Option<String>,
    /// A helpdesk's template instead of one email's links: its placeholder for the ticket id
    /// stays in every link as it is (`{{ticket.id}}`, `{%conversation.number%}`), and the links
    /// carry no signature nor tags: the helpdesk registers each ticket with its tags
    /// (`POST /v1/surveys/{survey}/interactions`). Takes no `interaction` or `tags`.
    #[param(inline)]
    template: Option<Template>,
    /// The customer's languages, most wanted first (`pt-BR,en`): the email, its links and their
    /// landing page are in the first the survey has (`pt-BR` falling back to `pt`), else in its
    /// default texts.
    #[param(example = "fr")]
    lang: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnippetFormat {
    #[default]
    Html,
    Json,
}

/// The links for one email (one per emoji or number), signed for one interaction, its tags and
/// its language.
#[utoipa::path(
    get,
    path = "/v1/surveys/{survey}/email",
    tag = "write",
    security(("write_key" = [])),
    params(("survey" = String, Path, description = "Survey id; the survey needs a `secret`"), EmailQuery),
    responses(
        (status = 200, description = "The snippet (`text/html`), or with `format=json` every link and the snippet", body = EmailLinks,
            headers(("Content-Language" = String, description = "The language of the email"))),
        (status = 400, description = "A malformed parameter", body = ErrorBody),
        (status = 401, description = "No key, or not a key of ours", body = ErrorBody),
        (status = 403, description = "A read key (`key_cannot_write`), or a write key for another survey", body = ErrorBody),
        (status = 404, description = "No such survey", body = ErrorBody),
        (status = 409, description = "The survey has no secret to sign links with", body = ErrorBody),
        (status = 422, description = "An interaction or tag the survey refuses", body = ErrorBody),
    )
)]
pub async fn email(
    Writable(survey): Writable,
    headers: HeaderMap,
    Params(query): Params<EmailQuery>,
) -> Result<Response, ApiError> {
    let base = match query.base_url.as_deref() {
        Some(text) => BaseUrl::parse(text).map_err(ApiError::BadQuery)?,
        None => base_from_headers(&headers)?,
    };
    let email = match query.template {
        Some(template) => template_email(&survey, template, &query, &base)?,
        None => signed_email(&survey, &query, &base)?,
    };
    // Every answer holds signed links for one interaction: no shared cache may keep one.
    let no_store = [
        (header::CACHE_CONTROL, "no-store".to_owned()),
        (header::CONTENT_LANGUAGE, email.lang.clone()),
    ];
    Ok(match query.format {
        SnippetFormat::Json => (no_store, Json(email)).into_response(),
        SnippetFormat::Html => (
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
            .into_response(),
    })
}

/// One email's signed links.
fn signed_email(
    survey: &Survey,
    query: &EmailQuery,
    base: &BaseUrl,
) -> Result<EmailLinks, ApiError> {
    let interaction = query.interaction.as_deref().ok_or_else(|| {
        ApiError::BadQuery(
            "email links need interaction=<ticket or chat id>: each email rates one interaction \
             (or ask for a helpdesk's template with template=zendesk|freshdesk|helpscout|gorgias|plain)"
                .into(),
        )
    })?;
    let tags = tags::parse(query.tags.as_deref().unwrap_or(""))
        .map_err(|error| ApiError::BadQuery(error.to_string()))?;
    Ok(Invitation::new(survey, interaction, tags)?
        .speaking(query.lang.as_deref().unwrap_or_default())
        .email(base))
}

/// A helpdesk's template: the same links for every ticket, its placeholder where the id goes.
fn template_email(
    survey: &Survey,
    template: Template,
    query: &EmailQuery,
    base: &BaseUrl,
) -> Result<EmailLinks, ApiError> {
    if query.interaction.is_some() || query.tags.is_some() {
        return Err(ApiError::BadQuery(format!(
            "a template takes no interaction or tags: the helpdesk fills {} with the ticket id, and \
             the tags are the ones it registers (POST /v1/surveys/{}/interactions)",
            template.placeholder(),
            survey.id
        )));
    }
    let lang = survey.negotiate(query.lang.as_deref().unwrap_or_default());
    Ok(template.email(survey, base, lang))
}

/// The collector as the caller reached it: a TLS proxy says so in `X-Forwarded-Proto` and
/// `X-Forwarded-Host`, else `Host` over http. Trusting these is safe here: only a write key's
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
#[utoipa::path(
    get,
    path = "/r/{survey}/{score}",
    tag = "email",
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("score" = u8, Path, description = "The emoji's score"),
        ("i" = String, Query, description = "The interaction"),
        ("t" = Option<String>, Query, description = "The tags, as tag text"),
        ("l" = Option<String>, Query, description = "The language of the email and of this page"),
        ("s" = String, Query, description = "The link's signature"),
    ),
    responses(
        (status = 200, description = "The landing page: the widget with this emoji chosen, or a form to confirm it. Opening it counts an unconfirmed click, never a rating.", content_type = "text/html"),
        (status = 403, description = "An edited or cut-short link: a page that says so; nothing recorded", content_type = "text/html"),
        (status = 404, description = "No such survey", content_type = "text/html"),
        (status = 410, description = "A link the survey's configuration no longer accepts", content_type = "text/html"),
    )
)]
pub async fn landing(
    State(state): State<AppState>,
    visitor: Result<Visitor, ApiError>,
    method: Method,
    Path((survey, score)): Path<(String, String)>,
    link: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let Some(survey) = state.surveys.get(&survey) else {
        return problem(Problem::UnknownSurvey);
    };
    let link = link.ok().map(|Query(link)| link);
    let (invitation, score) = match verify(&state, survey, &score, link.as_ref()).await {
        Ok(verified) => verified,
        Err(problem_found) => return problem(problem_found),
    };
    // A HEAD only asks whether the page is there: nobody clicked. A flood of opens is not
    // counted, but the page still shows: a person behind a busy address can still rate.
    if method != Method::HEAD
        && visitor.is_ok()
        && let Err(error) = state.ingest.email_click(&invitation, score).await
    {
        tracing::warn!(%error, "an email link click was not counted");
    }
    page(StatusCode::OK, pages::landing(&invitation, score))
}

/// The landing page's form: the link's signed parameters and an optional comment.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    i: String,
    #[serde(default)]
    t: String,
    #[serde(default)]
    l: Option<String>,
    /// Empty for a helpdesk's template link, which the registry vouches for.
    #[serde(default)]
    s: String,
    #[serde(default)]
    comment: String,
}

/// `POST /r/{survey}/{score}/confirm`: records the rating for a browser without the widget.
#[utoipa::path(
    post,
    path = "/r/{survey}/{score}/confirm",
    tag = "email",
    params(
        ("survey" = String, Path, description = "Survey id"),
        ("score" = u8, Path, description = "The emoji's score"),
    ),
    request_body(content_type = "application/x-www-form-urlencoded", description = "The link's `i`, `t`, `l` and `s`, and an optional `comment`"),
    responses(
        (status = 200, description = "Recorded: a thank-you page", content_type = "text/html"),
        (status = 403, description = "A link that is not ours: nothing recorded", content_type = "text/html"),
        (status = 409, description = "The answer can no longer change", content_type = "text/html"),
        (status = 422, description = "The comment is too long", content_type = "text/html"),
        (status = 429, description = "Too many requests from this visitor", content_type = "text/html"),
    )
)]
///
/// No `Origin` check: a browser posting this form from a `no-referrer` page sends
/// `Origin: null`, and the link's signature is what authorizes the rating, wherever it is
/// posted from.
pub async fn confirm(
    State(state): State<AppState>,
    visitor: Result<Visitor, ApiError>,
    Path((survey, score)): Path<(String, String)>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let Some(survey) = state.surveys.get(&survey) else {
        return problem(Problem::UnknownSurvey);
    };
    let refused = |error: &ApiError| {
        let message = error.to_string();
        state
            .metrics
            .refused(Some(survey.id.as_str()), error.code(), message);
        problem(problem_of(error))
    };
    if let Err(error) = visitor {
        return refused(&error);
    }
    let Ok(Form(form)) = form else {
        return problem(Problem::DamagedLink);
    };
    let link = LinkQuery {
        i: form.i,
        t: form.t,
        l: form.l,
        s: form.s,
    };
    let (invitation, score) = match verify(&state, survey, &score, Some(&link)).await {
        Ok(verified) => verified,
        Err(problem_found) => {
            let error = ApiError::Rating(RatingError::BadSignature);
            let message = format!("an email link: {error}");
            state
                .metrics
                .refused(Some(survey.id.as_str()), error.code(), message);
            return problem(problem_found);
        }
    };
    let saved = state
        .ingest
        .email_confirm(&invitation, score, &form.comment)
        .await
        .map_err(ApiError::from);
    match saved {
        Ok(recorded) => {
            state.metrics.count_rating(Ok(recorded.status));
            page(StatusCode::OK, pages::thanks(&invitation, score))
        }
        Err(error) => refused(&error),
    }
}

/// The page for a failed confirmation.
fn problem_of(error: &ApiError) -> Problem {
    match error {
        ApiError::Rating(RatingError::Invalid(crate::domain::Invalid::CommentTooLong {
            ..
        })) => Problem::CommentTooLong,
        // Signed by us, but the survey's configuration refuses it now (a tag removed).
        ApiError::Rating(RatingError::Invalid(_)) => Problem::Outdated,
        ApiError::Rating(_) | ApiError::Refused(Refusal::SignedTagsChanged) => Problem::DamagedLink,
        // A template link whose registration expired between the page and the tap.
        ApiError::Refused(Refusal::UnknownInteraction | Refusal::SignatureRequired) => {
            Problem::NotRegistered
        }
        ApiError::UnknownSurvey(_) | ApiError::NotFound => Problem::UnknownSurvey,
        ApiError::Refused(_) => Problem::EditWindowClosed,
        ApiError::VisitorLimit { .. } | ApiError::TooManyRequests { .. } => {
            Problem::TooManyRequests
        }
        ApiError::Storage(_) => Problem::Unavailable,
        ApiError::Overloaded { .. } => Problem::Busy,
        _ => Problem::Outdated,
    }
}

/// A problem's page, with its status.
fn problem(problem: Problem) -> Response {
    let status = match problem {
        Problem::DamagedLink | Problem::NotRegistered => StatusCode::FORBIDDEN,
        Problem::UnknownSurvey => StatusCode::NOT_FOUND,
        Problem::Outdated => StatusCode::GONE,
        Problem::EditWindowClosed => StatusCode::CONFLICT,
        Problem::CommentTooLong => StatusCode::UNPROCESSABLE_ENTITY,
        Problem::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Problem::Unavailable | Problem::Busy => StatusCode::SERVICE_UNAVAILABLE,
    };
    page(status, problem.page())
}

/// An HTML page with the headers every page behind a signed link needs: never stored by a
/// cache or a browser's history cache, never sent on as a referrer, never framed.
fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The page's URL holds the link's signature: no request from it may carry it away.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
            (
                HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex, nofollow"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ],
        html,
    )
        .into_response()
}

/// The link in the path and query, checked: anything not signed by us is a damaged link; a
/// signed link that the survey's current configuration refuses is outdated. A helpdesk's
/// template link (no signature) holds only when the registry vouches for its interaction.
async fn verify<'a>(
    state: &AppState,
    survey: &'a Survey,
    score: &str,
    link: Option<&LinkQuery>,
) -> Result<(Invitation<'a>, Score), Problem> {
    let (Ok(score), Some(link)) = (score.parse::<u8>(), link) else {
        return Err(Problem::DamagedLink);
    };
    if link.is_unsigned() {
        let score = Score::parse(score, survey).map_err(|_| Problem::DamagedLink)?;
        let registration = match registry::vouching(&state.store, survey, &link.i).await {
            Ok(Some(registration)) => registration,
            Ok(None) => return Err(Problem::NotRegistered),
            Err(_) => return Err(Problem::Unavailable),
        };
        let invitation = Invitation::registered(survey, &link.i, registration.tags)
            .map_err(|_| Problem::NotRegistered)?
            .speaking(link.l.as_deref().unwrap_or_default());
        return Ok((invitation, score));
    }
    Invitation::from_link(survey, score, link).map_err(|error| match error {
        LinkError::NoSecret(_) | LinkError::BadSignature => Problem::DamagedLink,
        LinkError::Invalid(_) | LinkError::TagNotWritable(_) => Problem::Outdated,
    })
}

/// `GET /r/landing.js`: reveals the landing page's form when the widget can't run.
#[utoipa::path(
    get,
    path = "/r/landing.js",
    tag = "email",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript"))
)]
pub async fn landing_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        pages::LANDING_SCRIPT,
    )
}
