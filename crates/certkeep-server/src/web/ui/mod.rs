//! The server-rendered web UI (askama templates under `templates/ui/`): sign-in with an API
//! token for a server-side session, then pages over the same use-cases as the JSON API, so a
//! page is authorized and audited exactly like the API call it stands for. Works without
//! JavaScript; every asset is compiled into the binary.

mod admin;
mod certificates;
mod channels;
mod form;
mod format;
mod orders;
mod session;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::App;
use crate::error::Error;

/// Largest form a page posts (an import carries up to a few 100 KiB inputs).
const FORM_LIMIT: usize = 2 * 1024 * 1024;

pub fn routes(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/", get(certificates::dashboard))
        .route(
            "/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/sign-out", post(session::sign_out))
        .route("/certificates", get(certificates::list))
        .route("/certificates/{id}", get(certificates::detail))
        .route(
            "/certificates/{id}/edit",
            get(certificates::edit_form).post(certificates::edit),
        )
        .route("/certificates/{id}/delete", post(certificates::delete))
        .route("/certificates/{id}/restore", post(certificates::restore))
        .route("/certificates/{id}/reimport", post(certificates::reimport))
        .route("/certificates/{id}/download", get(certificates::download))
        .route("/certificates/{id}/pkcs12", post(certificates::pkcs12))
        .route(
            "/import",
            get(certificates::import_form).post(certificates::import),
        )
        .route("/channels", get(channels::list))
        .route(
            "/channels/new",
            get(channels::new_form).post(channels::create),
        )
        .route("/channels/{id}", get(channels::detail))
        .route(
            "/channels/{id}/edit",
            get(channels::edit_form).post(channels::update),
        )
        .route("/channels/{id}/test", post(channels::test))
        .route("/channels/{id}/delete", post(channels::delete))
        .route("/certificates/{id}/renew", post(orders::renew))
        .route("/orders", get(orders::list))
        .route("/orders/new", get(orders::new_form).post(orders::create))
        .route("/orders/{id}", get(orders::detail))
        .route("/audit", get(admin::audit))
        .route("/tokens", get(admin::tokens).post(admin::token_create))
        .route("/tokens/{id}/revoke", post(admin::token_revoke))
        .route("/assets/app.css", get(asset_css))
        .route("/assets/logo.svg", get(asset_logo))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::from_fn_with_state(app, same_origin_posts))
}

/// What every page's frame needs: title, active navigation entry, who is signed in, and the
/// CSRF token its forms carry.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub user: Option<String>,
    pub role: &'static str,
    pub csrf: String,
    pub can_write: bool,
    pub can_manage: bool,
    pub is_admin: bool,
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    reason: String,
    message: String,
    request_id: String,
}

/// A failed page: what went wrong and for which request.
#[derive(Debug)]
pub enum UiError {
    /// No valid session: go and sign in.
    SignIn,
    /// A use-case refused or failed.
    Domain(Error, String),
    /// The form or query could not be read.
    BadRequest(String, String),
    /// The form's CSRF token is missing or wrong.
    Csrf(String),
}

impl UiError {
    pub fn domain(e: Error, request_id: &str) -> UiError {
        UiError::Domain(e, request_id.to_string())
    }
}

/// The UI's one mapping of the domain error (exhaustive, as in the JSON API).
fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput(_) => StatusCode::BAD_REQUEST,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The message a user sees: internal details stay in the server log.
pub fn user_message(e: &Error) -> String {
    match e {
        Error::Internal(m) => {
            tracing::error!(error = %m, "internal error");
            "internal error; the request id identifies it in the server log".into()
        }
        other => other.to_string(),
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message, request_id) = match self {
            UiError::SignIn | UiError::Domain(Error::Unauthenticated(_), _) => {
                return Redirect::to("/sign-in").into_response();
            }
            UiError::Domain(e, rid) => (status_of(&e), user_message(&e), rid),
            UiError::BadRequest(m, rid) => (StatusCode::BAD_REQUEST, m, rid),
            UiError::Csrf(rid) => (
                StatusCode::FORBIDDEN,
                "the form's security token is missing or out of date; reload the page and try again"
                    .into(),
                rid,
            ),
        };
        let page = ErrorPage {
            chrome: Chrome {
                title: status.canonical_reason().unwrap_or("Error").into(),
                ..Chrome::default()
            },
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").into(),
            message,
            request_id,
        };
        (status, render(&page)).into_response()
    }
}

/// Render a template; a template failure is a bug, shown as a plain 500.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><title>Error</title><p>internal error rendering the page</p>",
            )
                .into_response()
        }
    }
}

/// Refuse form posts sent from another origin (SameSite cookies and the CSRF token already
/// stop them; this also covers the sign-in form, which has no session yet).
async fn same_origin_posts(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::POST && !same_origin(req.headers(), &app.policy.public_url) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><title>Forbidden</title><p>cross-origin form posts are refused</p>",
        )
            .into_response();
    }
    next.run(req).await
}

/// A post is same-origin when its `Origin` (if the browser sent one) names the host it was
/// sent to, the host a proxy forwarded, or the public URL.
fn same_origin(h: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin
        .trim_end_matches('/')
        .eq_ignore_ascii_case(public_url.trim_end_matches('/'))
    {
        return true;
    }
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    [header::HOST.as_str(), "x-forwarded-host"]
        .iter()
        .filter_map(|name| h.get(*name).and_then(|v| v.to_str().ok()))
        .any(|host| origin_host.eq_ignore_ascii_case(host.trim()))
}

const APP_CSS: &str = include_str!("../../../assets/app.css");
const LOGO_SVG: &str = include_str!("../../../assets/logo.svg");

async fn asset_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn asset_logo() -> Response {
    asset("image/svg+xml", LOGO_SVG)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
