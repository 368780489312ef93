//! Extractors whose rejections are domain errors (so they get the JSON error body), and the
//! caller context every handler passes to the use-cases.

use std::convert::Infallible;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use time::OffsetDateTime;

use crate::app::RequestCtx;
use crate::error::Error;

/// A JSON body, parsed. A parse failure is kept, not rejected, so the handler authenticates
/// and audits before answering (an unauthenticated caller gets 401 whatever it sent).
#[derive(Debug)]
pub struct ApiJson<T>(pub Result<T, Error>);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiJson(
            axum::Json::<T>::from_request(req, state)
                .await
                .map(|j| j.0)
                .map_err(Error::from),
        ))
    }
}

/// A query string, parsed; failures kept as for [`ApiJson`].
#[derive(Debug)]
pub struct ApiQuery<T>(pub Result<T, Error>);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ApiQuery(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map(|q| q.0)
                .map_err(Error::from),
        ))
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

/// The id of the request being served (set by the request-id middleware).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The caller: request id, bearer token (if any) and the time the request is served at.
pub struct Caller(pub RequestCtx);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim().to_string())
            })
            .filter(|t| !t.is_empty());
        Ok(Caller(RequestCtx {
            request_id,
            bearer,
            now: OffsetDateTime::now_utc(),
        }))
    }
}
