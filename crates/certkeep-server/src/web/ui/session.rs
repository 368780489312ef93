//! Sign-in, sign-out and the session every other page runs under: the `Signed` extractor
//! resolves the cookie to a session and hands handlers a caller context carrying its token.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use certkeep_api::Role;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Chrome, UiError, render, user_message};
use crate::app::{App, RequestCtx, Session};
use crate::web::extract::RequestId;

pub const SESSION_COOKIE: &str = "certkeep_session";

/// A request from a signed-in browser.
pub struct Signed {
    pub ctx: RequestCtx,
    pub session: Session,
}

impl Signed {
    pub fn chrome(&self, title: impl Into<String>, nav: &'static str) -> Chrome {
        let role = self.session.role;
        Chrome {
            title: title.into(),
            nav,
            user: Some(self.session.token_name.clone()),
            role: role.as_str(),
            csrf: self.session.csrf.clone(),
            can_write: role >= Role::Writer,
            can_manage: role >= Role::Manager,
            is_admin: role >= Role::Admin,
        }
    }

    /// Check the CSRF token a form posted.
    pub fn check_csrf(&self, given: &str) -> Result<(), UiError> {
        if bool::from(given.as_bytes().ct_eq(self.session.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(UiError::Csrf(self.ctx.request_id.clone()))
        }
    }

    /// Refuse a form page to a session whose role could not submit it (the submission would
    /// be refused by the use-case anyway; this says so before anything is typed).
    pub fn require(&self, role: Role, what: &str) -> Result<(), UiError> {
        if self.session.role >= role {
            return Ok(());
        }
        Err(self.fail(crate::error::Error::Forbidden(format!(
            "{what} needs the {} role; you are signed in as {}",
            role.as_str(),
            self.session.role.as_str()
        ))))
    }

    pub fn fail(&self, e: crate::error::Error) -> UiError {
        UiError::domain(e, &self.ctx.request_id)
    }

    pub fn bad(&self, message: impl Into<String>) -> UiError {
        UiError::BadRequest(message.into(), self.ctx.request_id.clone())
    }
}

pub fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<Arc<App>> for Signed {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, UiError> {
        let rid = request_id(parts);
        let now = OffsetDateTime::now_utc();
        let secret = cookie_value(&parts.headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
        let session = app
            .session_resolve(secret, now)
            .await
            .map_err(|e| UiError::domain(e, &rid))?
            .ok_or(UiError::SignIn)?;
        Ok(Signed {
            ctx: RequestCtx {
                request_id: rid,
                bearer: Some(session.bearer.to_string()),
                now,
            },
            session,
        })
    }
}

/// Cookies are `Secure` when users reach the server over https (its public URL, or a
/// TLS-terminating proxy saying so).
fn secure(app: &App, headers: &HeaderMap) -> bool {
    app.policy.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(max_age);
    let expires = expires
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let s = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}; Expires={expires}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s)
        .unwrap_or_else(|_| HeaderValue::from_static("certkeep_session=; Max-Age=0"))
}

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    error: Option<String>,
}

pub async fn sign_in_form() -> Response {
    render(&SignInPage {
        chrome: Chrome {
            title: "Sign in".into(),
            ..Chrome::default()
        },
        error: None,
    })
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    token: String,
}

pub async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    parts: axum::extract::Extension<RequestId>,
    form: Result<Form<SignInForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let token = form.map(|f| Zeroizing::new(f.0.token)).unwrap_or_default();
    let ctx = RequestCtx {
        request_id: parts.0.0.clone(),
        bearer: Some(token.trim().to_string()).filter(|t| !t.is_empty()),
        now: OffsetDateTime::now_utc(),
    };
    match app.session_create(&ctx).await {
        Ok(s) => {
            let max_age = (s.expires_at - ctx.now).whole_seconds().max(1);
            let mut resp = Redirect::to("/").into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&s.secret, max_age, secure(&app, &headers)),
            );
            resp
        }
        Err(e) => {
            let status = match &e {
                crate::error::Error::Unauthenticated(_) => axum::http::StatusCode::UNAUTHORIZED,
                _ => super::status_of(&e),
            };
            let page = SignInPage {
                chrome: Chrome {
                    title: "Sign in".into(),
                    ..Chrome::default()
                },
                error: Some(user_message(&e)),
            };
            (status, render(&page)).into_response()
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    if let Some(secret) = cookie_value(&headers, SESSION_COOKIE) {
        app.session_end(&signed.ctx, secret)
            .await
            .map_err(|e| signed.fail(e))?;
    }
    let mut resp = Redirect::to("/sign-in").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, secure(&app, &headers)),
    );
    Ok(resp)
}

/// A signed-in button press: a form that carries nothing but its CSRF token, checked.
pub struct Posted(pub Signed);

impl axum::extract::FromRequest<Arc<App>> for Posted {
    type Rejection = UiError;

    async fn from_request(req: axum::extract::Request, app: &Arc<App>) -> Result<Self, UiError> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, app).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let UiForm(form) = UiForm::<CsrfForm>::from_request(req, app).await?;
        signed.check_csrf(&form.csrf)?;
        Ok(Posted(signed))
    }
}

impl Signed {
    /// After a change: on to `to`, or the error page.
    pub fn redirect<T>(
        &self,
        done: crate::error::Result<T>,
        to: &str,
    ) -> Result<Response, UiError> {
        done.map_err(|e| self.fail(e))?;
        Ok(Redirect::to(to).into_response())
    }
}

/// A urlencoded form whose rejection is an HTML error page.
pub struct UiForm<T>(pub T);

impl<T> axum::extract::FromRequest<Arc<App>> for UiForm<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = UiError;

    async fn from_request(req: axum::extract::Request, app: &Arc<App>) -> Result<Self, UiError> {
        let rid = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Form::<T>::from_request(req, app)
            .await
            .map(|f| UiForm(f.0))
            .map_err(|e| {
                UiError::BadRequest(format!("the form is invalid: {}", e.body_text()), rid)
            })
    }
}

/// A query string whose rejection is an HTML error page.
pub struct UiQuery<T>(pub T);

impl<T> FromRequestParts<Arc<App>> for UiQuery<T>
where
    T: serde::de::DeserializeOwned,
{
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, UiError> {
        axum::extract::Query::<T>::from_request_parts(parts, app)
            .await
            .map(|q| UiQuery(q.0))
            .map_err(|e| {
                UiError::BadRequest(
                    format!("the query string is invalid: {}", e.body_text()),
                    request_id(parts),
                )
            })
    }
}

/// A path id whose rejection is an HTML 404-style error page.
pub struct UiId(pub uuid::Uuid);

impl FromRequestParts<Arc<App>> for UiId {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, UiError> {
        axum::extract::Path::<uuid::Uuid>::from_request_parts(parts, app)
            .await
            .map(|p| UiId(p.0))
            .map_err(|_| {
                UiError::BadRequest(
                    "the address does not name a valid id".into(),
                    request_id(parts),
                )
            })
    }
}
