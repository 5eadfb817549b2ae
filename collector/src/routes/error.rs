//! `ApiError`: every way a request can fail, each with its HTTP status and a stable code.
//!
//! Handlers return `Result<_, ApiError>`; the `IntoResponse` impl turns it into the JSON body
//! every error has: `{"error": "<code>", "message": "<human sentence>"}`. The layers below have
//! their own errors; the `From` impls here are the one place they meet HTTP.

use super::limits::{BODY_DEADLINE, MAX_BODY_BYTES, is_too_slow};
use crate::domain::calendar::until_tomorrow;
use crate::domain::report::{RangeError, TagFilterError};
use crate::domain::{Invalid, RatingError, Refusal};
use crate::email::LinkError;
use crate::service::ingest::IngestError;
use crate::service::registry::RegistryError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pulsetap_wire::ErrorBody;
use std::time::Duration;
use time::OffsetDateTime;
use utoipa::IntoResponses;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("{0}")]
    BadHeader(String),
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("there is no survey called {0:?}")]
    UnknownSurvey(String),
    #[error("this site ({0}) may not send ratings to this survey")]
    OriginNotAllowed(String),
    /// The body breaks a rule (422) or its signature does not hold (403).
    #[error(transparent)]
    Rating(#[from] RatingError),
    /// Well-formed, but what is stored does not let it change (409, or 403 for signed tags).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(
        "survey {0:?} has no secret, and email links must be signed: give it a `secret` in the configuration"
    )]
    NoSecret(String),
    #[error("too many ratings from this visitor today; try again tomorrow")]
    VisitorLimit { retry_after: Duration },
    #[error("too many requests; slow down")]
    TooManyRequests { retry_after: Duration },
    #[error("an API key is needed: send `Authorization: Bearer <key>`")]
    MissingKey,
    #[error("this API key is not valid")]
    UnknownKey,
    #[error("this API key may not read survey {0:?}")]
    KeyNotForSurvey(String),
    #[error("not found")]
    NotFound,
    /// It may have been stored: a write that failed to flush was already applied, and one not
    /// answered in time is still queued.
    #[error(
        "the server could not confirm that this was stored; it may have been, and sending the same request again is safe"
    )]
    Storage(StoreError),
    #[error("this path does not take that method")]
    MethodNotAllowed,
    #[error(
        "this is a read key, and signing is a write power: use a key from the configuration's write_keys (top level, or the survey's)"
    )]
    KeyCannotWrite,
    #[error(
        "this is a write key, and it may not read: use a key from the configuration's read_keys"
    )]
    KeyCannotRead,
    #[error("this API key may not write to survey {0:?}")]
    WriteKeyNotForSurvey(String),
    #[error("metrics cover every survey: use a key from the configuration's top-level read_keys")]
    KeyNotGlobal,
    #[error(
        "fewer than {min_group_size} responses carry this tag value in this range, so they are not shown: no customer may be singled out (the survey's min_group_size)"
    )]
    TooFew { min_group_size: u64 },
    /// The writer's queue is full: nothing was queued.
    #[error("the server is too busy to take this now; nothing was recorded, send it again later")]
    Overloaded { retry_after: Duration },
    #[error(
        "the request body did not arrive within {} s; nothing was recorded",
        BODY_DEADLINE.as_secs()
    )]
    BodyTimeout,
    #[error("{0}")]
    BackupFailed(String),
    /// A registration breaks a rule, or a request holds too many: nothing was registered.
    #[error(transparent)]
    InvalidRegistration(RegistryError),
}

/// How long an overloaded server asks clients to wait: a full writer queue is one to a few
/// seconds of work.
const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(2);

/// How long to wait before sending again a write the store could not confirm.
const STORAGE_RETRY_AFTER: Duration = Duration::from_secs(1);

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Overloaded(_) => Self::Overloaded {
                retry_after: OVERLOADED_RETRY_AFTER,
            },
            StoreError::Backup(message) => Self::BackupFailed(message),
            other => Self::Storage(other),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadQuery(_) | Self::BadHeader(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnknownSurvey(_) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::OriginNotAllowed(_) | Self::KeyNotForSurvey(_) => StatusCode::FORBIDDEN,
            Self::Rating(RatingError::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Rating(_) => StatusCode::FORBIDDEN,
            Self::Refused(
                Refusal::SignedTagsChanged
                | Refusal::UnknownInteraction
                | Refusal::SignatureRequired,
            ) => StatusCode::FORBIDDEN,
            Self::Refused(Refusal::UnverifiedLimit { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Refused(Refusal::TooManyTagValues { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Refused(_) | Self::NoSecret(_) => StatusCode::CONFLICT,
            Self::VisitorLimit { .. } | Self::TooManyRequests { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::KeyCannotWrite
            | Self::KeyCannotRead
            | Self::WriteKeyNotForSurvey(_)
            | Self::KeyNotGlobal => StatusCode::FORBIDDEN,
            Self::TooFew { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BackupFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidRegistration(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The stable machine-readable code; clients and metrics key on it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BadQuery(_) => "bad_query",
            Self::BadHeader(_) => "bad_header",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::UnknownSurvey(_) => "unknown_survey",
            Self::NotFound => "not_found",
            Self::OriginNotAllowed(_) => "origin_not_allowed",
            Self::Rating(error) => error.code(),
            Self::Refused(refusal) => refusal.code(),
            Self::KeyNotForSurvey(_) => "key_not_for_survey",
            Self::NoSecret(_) => "no_secret",
            Self::VisitorLimit { .. } => "visitor_limit",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::MissingKey => "missing_api_key",
            Self::UnknownKey => "invalid_api_key",
            Self::Storage(_) => "storage_unavailable",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::KeyCannotWrite => "key_cannot_write",
            Self::KeyCannotRead => "key_cannot_read",
            Self::WriteKeyNotForSurvey(_) => "key_not_for_survey",
            Self::KeyNotGlobal => "key_not_global",
            Self::TooFew { .. } => "too_few",
            Self::Overloaded { .. } => "overloaded",
            Self::BodyTimeout => "timeout",
            Self::BackupFailed(_) => "backup_failed",
            Self::InvalidRegistration(RegistryError::Invalid { error, .. }) => error.code(),
            Self::InvalidRegistration(_) => "too_many_registrations",
        }
    }

    /// When a client may try again, for the answers that have such a time (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::VisitorLimit { retry_after }
            | Self::TooManyRequests { retry_after }
            | Self::Overloaded { retry_after } => Some(*retry_after),
            Self::Refused(Refusal::UnverifiedLimit { .. }) => {
                Some(until_tomorrow(OffsetDateTime::now_utc()))
            }
            Self::Storage(_) => Some(STORAGE_RETRY_AFTER),
            _ => None,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Rating(invalid.into())
    }
}

impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::UnknownSurvey(survey) => Self::UnknownSurvey(survey),
            IngestError::OriginNotAllowed(origin) => Self::OriginNotAllowed(origin),
            IngestError::Rating(error) => Self::Rating(error),
            IngestError::VisitorLimit { retry_after } => Self::VisitorLimit { retry_after },
            IngestError::Refused(refusal) => Self::Refused(refusal),
            IngestError::Storage(error) => error.into(),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Malformed(message) => Self::MalformedJson(format!(
                "the body is not a registration or an array of them: {message}"
            )),
            RegistryError::Storage(error) => error.into(),
            other => Self::InvalidRegistration(other),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::NoSecret(survey) => Self::NoSecret(survey),
            LinkError::BadSignature => Self::Rating(RatingError::BadSignature),
            LinkError::TagNotWritable(_) => Self::BadQuery(error.to_string()),
            LinkError::Invalid(invalid) => invalid.into(),
        }
    }
}

impl From<RangeError> for ApiError {
    fn from(error: RangeError) -> Self {
        Self::BadQuery(error.to_string())
    }
}

impl From<TagFilterError> for ApiError {
    fn from(error: TagFilterError) -> Self {
        match error {
            TagFilterError::Malformed(_) => Self::BadQuery(error.to_string()),
            TagFilterError::Unknown(invalid) => invalid.into(),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::BadQuery(if detail.starts_with("duplicate field") {
            format!("{detail}: give each parameter once (a read takes one `tag` filter)")
        } else {
            format!("the query is not valid: {detail}")
        })
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            }
        } else if is_too_slow(&rejection) {
            Self::BodyTimeout
        } else {
            Self::MalformedJson(rejection.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Storage(cause) = &self {
            tracing::error!(%cause, "storage failure; the write may or may not be stored");
        }
        let body = ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(retry_after) = self.retry_after() {
            // Whole seconds, rounded up: "0" would invite an immediate retry that fails again.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// What a read answers instead of its figures.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only describes the answers, in the OpenAPI document.
pub enum ReadErrors {
    /// A malformed parameter.
    #[response(status = 400)]
    BadQuery(ErrorBody),
    /// No key, or not a key of ours.
    #[response(status = 401)]
    NoKey(ErrorBody),
    /// The key may not read this survey.
    #[response(status = 403)]
    NotYours(ErrorBody),
    /// No such survey.
    #[response(status = 404)]
    NoSurvey(ErrorBody),
    /// A tag key the survey does not have.
    #[response(status = 422)]
    UnknownTag(ErrorBody),
}
