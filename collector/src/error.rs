//! `ApiError`: every way a request can fail, each with its HTTP status and a stable code.
//!
//! Handlers return `Result<_, ApiError>`; the `IntoResponse` impl turns it into the contract's
//! JSON body `{"error": "<code>", "message": "<human sentence>"}`.

use axum::Json;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pulsetap_wire::ErrorBody;

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
    #[error("the signature does not match this survey, interaction and tags")]
    BadSignature,
    #[error("this survey accepts an interaction or tags only with a valid signature")]
    SignatureRequired,
    #[error("{0}")]
    Invalid(Invalid),
    #[error(
        "survey {0:?} has no secret, and email links must be signed: give it a `secret` in the configuration"
    )]
    NoSecret(String),
    #[error("this interaction was already answered from another device or page")]
    AlreadyAnswered,
    #[error("this answer can no longer be changed: the survey's edit window has closed")]
    EditWindowClosed,
    #[error("too many ratings from this visitor today; try again tomorrow")]
    VisitorLimit,
    #[error("too many requests; slow down")]
    TooManyRequests,
    #[error("an API key is needed: send `Authorization: Bearer <key>`")]
    MissingKey,
    #[error("this API key is not valid")]
    UnknownKey,
    #[error("this API key may not read survey {0:?}")]
    KeyNotForSurvey(String),
    #[error("not found")]
    NotFound,
    #[error("the server could not store this; it was not recorded, please retry")]
    Storage(#[from] crate::store::StoreError),
}

/// A well-formed request whose content breaks a rule (HTTP 422).
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("score must be between 1 and {max}, got {got}")]
    ScoreOutOfRange { got: u8, max: u8 },
    #[error("response_id must be a UUID")]
    ResponseId,
    #[error("interaction must be 1 to 200 characters without control characters")]
    Interaction,
    #[error("tag key {0:?} is not one of this survey's tags")]
    UnknownTag(String),
    #[error("tag {0:?} must have a value of 1 to 200 characters without control characters")]
    TagValue(String),
    #[error("a response may carry at most {0} tags")]
    TooManyTags(usize),
    #[error("comment is longer than {max} characters")]
    CommentTooLong { max: usize },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadQuery(_) | Self::BadHeader(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnknownSurvey(_) | Self::NotFound => StatusCode::NOT_FOUND,
            Self::OriginNotAllowed(_)
            | Self::BadSignature
            | Self::SignatureRequired
            | Self::KeyNotForSurvey(_) => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::AlreadyAnswered | Self::EditWindowClosed | Self::NoSecret(_) => {
                StatusCode::CONFLICT
            }
            Self::VisitorLimit | Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::MissingKey | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            Self::BadSignature => "bad_signature",
            Self::SignatureRequired => "signature_required",
            Self::KeyNotForSurvey(_) => "key_not_for_survey",
            Self::Invalid(invalid) => match invalid {
                Invalid::ScoreOutOfRange { .. } => "score_out_of_range",
                Invalid::ResponseId => "invalid_response_id",
                Invalid::Interaction => "invalid_interaction",
                Invalid::UnknownTag(_) => "unknown_tag",
                Invalid::TagValue(_) => "invalid_tag",
                Invalid::TooManyTags(_) => "too_many_tags",
                Invalid::CommentTooLong { .. } => "comment_too_long",
            },
            Self::NoSecret(_) => "no_secret",
            Self::AlreadyAnswered => "already_answered",
            Self::EditWindowClosed => "edit_window_closed",
            Self::VisitorLimit => "visitor_limit",
            Self::TooManyRequests => "rate_limited",
            Self::MissingKey => "missing_api_key",
            Self::UnknownKey => "invalid_api_key",
            Self::Storage(_) => "storage_unavailable",
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::Invalid(invalid)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadQuery(rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::BodyTooLarge {
                limit: crate::routes::MAX_BODY_BYTES,
            }
        } else {
            Self::MalformedJson(rejection.body_text())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Storage(cause) = &self {
            tracing::error!(%cause, "storage failure; the request was not recorded");
        }
        let body = ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}
