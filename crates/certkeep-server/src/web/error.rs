//! The JSON API's one mapping from the domain error to HTTP (exhaustive: a new variant must be
//! decided here), and the finishing of every error response with the request id.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use certkeep_api::ErrorBody;

use crate::error::Error;

/// Status and code of a domain error, for the JSON API.
pub fn status_and_code(e: &Error) -> (StatusCode, &'static str) {
    match e {
        Error::InvalidInput(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
        Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// An error waiting for its request id: the request-id middleware renders the body.
#[derive(Debug, Clone)]
pub struct PendingError {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(&self);
        let message = match &self {
            Error::Internal(m) => {
                // Details go to the log, not to the caller.
                tracing::error!(error = %m, "internal error");
                "internal error; the request id identifies it in the server log".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(PendingError { code, message });
        resp
    }
}

/// Render the final JSON error body.
pub fn error_body_response(
    status: StatusCode,
    code: &str,
    message: String,
    request_id: &str,
) -> Response {
    let body = ErrorBody {
        code: code.to_string(),
        message,
        request_id: request_id.to_string(),
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
    let mut resp = (status, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Code for a bare error status that no handler explained (router 404/405, timeouts, …).
pub fn code_for_status(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("invalid_input", "the request is malformed"),
        401 => ("unauthenticated", "authentication required"),
        403 => ("forbidden", "forbidden"),
        404 => ("not_found", "no such route"),
        405 => (
            "method_not_allowed",
            "this method is not allowed on this route",
        ),
        408 => ("timeout", "the request took too long"),
        413 => ("payload_too_large", "the request body is too large"),
        415 => (
            "unsupported_media_type",
            "send Content-Type: application/json",
        ),
        s if s >= 500 => ("internal", "internal error"),
        _ => ("error", "request failed"),
    }
}

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                Error::InvalidInput(format!("invalid JSON body: {}", e.body_text()))
            }
            JsonRejection::JsonSyntaxError(e) => {
                Error::InvalidInput(format!("malformed JSON body: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => Error::InvalidInput(
                "the body must be JSON: send Content-Type: application/json".into(),
            ),
            JsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::TooLarge(format!("request body too large: {}", e.body_text()))
                } else {
                    Error::InvalidInput(format!("cannot read the request body: {}", e.body_text()))
                }
            }
            other => Error::InvalidInput(format!("bad JSON body: {}", other.body_text())),
        }
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::InvalidInput(format!("invalid query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        Error::InvalidInput(format!("invalid path: {}", r.body_text()))
    }
}
