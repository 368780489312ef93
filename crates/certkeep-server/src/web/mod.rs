//! HTTP: the axum router for the JSON API under `/api/v1` (OpenAPI document at
//! `/api/v1/openapi.json`), health endpoints, and the middleware every request passes: request
//! id, JSON error bodies for every failure, panic containment, body limits and timeouts.

mod acme;
mod api;
mod error;
mod extract;
pub mod tls;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
pub use acme::challenge_router;
pub use api::openapi_document;
pub use error::status_and_code;
use error::{PendingError, code_for_status, error_body_response};
use extract::RequestId;

/// Largest JSON body of an ordinary request; batch imports get their own, larger limit.
pub const BODY_LIMIT: usize = 1024 * 1024;
pub const BATCH_BODY_LIMIT: usize = 160 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub fn router(app: Arc<App>) -> Router {
    let (api, _) = api::routes().split_for_parts();
    let api = api.merge(ui::routes(app.clone()));
    let openapi = Arc::new(openapi_document());
    api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let doc = openapi.clone();
            async move { axum::Json((*doc).clone()) }
        }),
    )
    .fallback(|| async { crate::error::Error::NotFound("no such route".into()) })
    .with_state(app)
    .layer(CatchPanicLayer::custom(|_| {
        tracing::error!("a request handler panicked");
        axum::response::IntoResponse::into_response(crate::error::Error::Internal(
            "handler panicked".into(),
        ))
    }))
    .layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ))
    .layer(axum::middleware::from_fn(request_id_and_errors))
    .layer(TraceLayer::new_for_http())
}

fn acceptable_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Give every request an id (the caller's `x-request-id` when sane), echo it in the response,
/// and turn every error response into the JSON error body carrying it.
async fn request_id_and_errors(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    let status = resp.status();
    if let Some(pending) = resp.extensions_mut().remove::<PendingError>() {
        resp = error_body_response(status, pending.code, pending.message, &id);
    } else if (status.is_client_error() || status.is_server_error())
        && resp.headers().get(header::CONTENT_TYPE).is_none_or(|ct| {
            // JSON bodies and the web UI's own HTML error pages stay as they are.
            ct.as_bytes() != b"application/json" && !ct.as_bytes().starts_with(b"text/html")
        })
    {
        let (code, message) = code_for_status(status);
        resp = error_body_response(status, code, message.to_string(), &id);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
