//! Extractors for what many handlers need: who the client is (for the visitor limits), which
//! page it posted from, and what its API key may read or write.

use super::error::ApiError;
use crate::domain::survey::{ReadScope, Scope, WriteScope};
use crate::domain::{Survey, SurveyId};
use crate::service::ingest::Page;
use crate::service::visitors::VisitorKey;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use time::OffsetDateTime;

/// The client's address, used only inside the visitor hash and never kept.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        // The last X-Forwarded-For entry is the one our own proxy wrote; earlier ones come from
        // the client and can say anything.
        let forwarded = state
            .surveys
            .trusts_forwarded_for()
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(Self(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// Today's key for the visitor making this request, once it has passed the flood limit. A
/// client over the limit is refused here (429), before its body is even read, so malformed
/// requests count against a flood like any other.
pub struct Visitor(pub VisitorKey);

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Ok(ClientAddress(ip)) = ClientAddress::from_request_parts(parts, state).await;
        let visitor = state.visitors.visitor(ip, OffsetDateTime::now_utc());
        match state.visitors.allow_request(visitor) {
            Ok(()) => Ok(Self(visitor)),
            Err(retry_after) => Err(ApiError::TooManyRequests { retry_after }),
        }
    }
}

/// The page a browser posted from, read from its `Origin` and `Host` alone: an extractor, so
/// that a handler needn't take a copy of every header to learn it.
pub struct PostedFrom(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for PostedFrom {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(page(&parts.headers)))
    }
}

/// The page a browser posted from, by its `Origin`: none (a server), the collector's own page
/// (the same host as the request names), or another site.
fn page(headers: &HeaderMap) -> Page {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Page::Server;
    };
    let origin = origin.to_str().unwrap_or("");
    let own_host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_origin = own_host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(host)
    });
    if same_origin {
        Page::Collector
    } else {
        Page::Site(origin.to_owned())
    }
}

/// What the request's API key may read: `Authorization: Bearer <key>` (the scheme in any case).
/// A write key is refused here (403): it signs, and reads nothing.
pub struct ReadKey(pub ReadScope);

impl FromRequestParts<AppState> for ReadKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer_key(&parts.headers).ok_or(ApiError::MissingKey)?;
        match state.surveys.read_scope(key) {
            Some(scope) => Ok(Self(scope)),
            None if state.surveys.write_scope(key).is_some() => Err(ApiError::KeyCannotRead),
            None => Err(ApiError::UnknownKey),
        }
    }
}

/// What the request's API key may sign for (`write_keys`). A read key is refused here (403):
/// signing decides who a rating counts for, so it is a write power.
pub struct WriteKey(pub WriteScope);

impl FromRequestParts<AppState> for WriteKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer_key(&parts.headers).ok_or(ApiError::MissingKey)?;
        match state.surveys.write_scope(key) {
            Some(scope) => Ok(Self(scope)),
            None if state.surveys.read_scope(key).is_some() => Err(ApiError::KeyCannotWrite),
            None => Err(ApiError::UnknownKey),
        }
    }
}

/// A read key for every survey (the configuration's top-level `read_keys`), for what spans them
/// all (`/metrics`).
pub struct GlobalReadKey;

impl FromRequestParts<AppState> for GlobalReadKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match ReadKey::from_request_parts(parts, state).await? {
            ReadKey(Scope::Everything) => Ok(Self),
            ReadKey(Scope::Surveys(_)) => Err(ApiError::KeyNotGlobal),
        }
    }
}

/// The key of an `Authorization: Bearer <key>` header; auth schemes are case-insensitive.
fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// The survey named by the `{survey}` path segment, which the request's API key may read.
pub struct Readable(pub Arc<Survey>);

impl FromRequestParts<AppState> for Readable {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ReadKey(scope) = ReadKey::from_request_parts(parts, state).await?;
        survey_in_scope(parts, state, &scope, ApiError::KeyNotForSurvey)
            .await
            .map(Self)
    }
}

/// The survey named by the `{survey}` path segment, which the request's API key may write to
/// (sign for). A key for survey A never reaches survey B.
pub struct Writable(pub Arc<Survey>);

impl FromRequestParts<AppState> for Writable {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let WriteKey(scope) = WriteKey::from_request_parts(parts, state).await?;
        survey_in_scope(parts, state, &scope, ApiError::WriteKeyNotForSurvey)
            .await
            .map(Self)
    }
}

/// The `{survey}` of the path, when `scope` reaches it; `not_yours` names the refusal.
async fn survey_in_scope(
    parts: &mut Parts,
    state: &AppState,
    scope: &Scope,
    not_yours: fn(String) -> ApiError,
) -> Result<Arc<Survey>, ApiError> {
    let Path(survey) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::NotFound)?;
    // A key for other surveys learns nothing, not even whether this survey exists.
    let reaches = SurveyId::parse(&survey).is_some_and(|id| scope.includes(&id));
    if !reaches && *scope != Scope::Everything {
        return Err(not_yours(survey));
    }
    state
        .surveys
        .get(&survey)
        .cloned()
        .ok_or(ApiError::UnknownSurvey(survey))
}

/// Query parameters; a malformed query is a JSON `bad_query` error like every other.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_other_schemes_are_not_keys() {
        assert_eq!(bearer_key(&authorization("Bearer k1")), Some("k1"));
        assert_eq!(bearer_key(&authorization("bearer  k1 ")), Some("k1"));
        assert_eq!(bearer_key(&authorization("BEARER k1")), Some("k1"));
        assert_eq!(bearer_key(&authorization("Basic k1")), None);
        assert_eq!(bearer_key(&authorization("Bearer ")), None);
        assert_eq!(bearer_key(&HeaderMap::new()), None);
    }
}
