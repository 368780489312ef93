//! Admin pages: API tokens (create, shown once; list; revoke) and the audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use certkeep_api::{AuditOrder, AuditQuery, CreateTokenRequest, Role};
use time::OffsetDateTime;

use super::format::{date, relative, url_encode};
use super::session::{Posted, Signed, UiForm, UiId, UiQuery};
use super::{Chrome, UiError, render, user_message};
use crate::app::App;
use crate::error::Error;

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub group: String,
    pub prefix: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: String,
}

#[derive(Template)]
#[template(path = "ui/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    created: Option<String>,
    error: Option<String>,
}

async fn tokens_page(
    app: &App,
    signed: &Signed,
    created: Option<String>,
    error: Option<String>,
) -> Result<Response, UiError> {
    let list = app
        .token_list(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?;
    let now = signed.ctx.now;
    let when = |t: Option<OffsetDateTime>| {
        t.map(|t| format!("{} ({})", date(t), relative(t, now)))
            .unwrap_or_default()
    };
    let page = TokensPage {
        chrome: signed.chrome("API tokens", "tokens"),
        tokens: list
            .items
            .iter()
            .map(|t| TokenRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                role: t.role.as_str(),
                group: t.group.clone().unwrap_or_default(),
                prefix: t.prefix.clone(),
                created: date(t.created_at),
                expires: when(t.expires_at),
                last_used: when(t.last_used_at),
                revoked: when(t.revoked_at),
            })
            .collect(),
        created,
        error: error.clone(),
    };
    let status = if error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

pub async fn tokens(State(app): State<Arc<App>>, signed: Signed) -> Result<Response, UiError> {
    tokens_page(&app, &signed, None, None).await
}

#[derive(serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    expires_days: String,
}

pub async fn token_create(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiForm(f): UiForm<TokenForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let role = Role::parse(&f.role);
    let expires_at = match f.expires_days.trim() {
        "" => Ok(None),
        d => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .map(|d| Some(signed.ctx.now + time::Duration::days(d)))
            .ok_or_else(|| {
                format!("\"expires in\" must be a number of days from 1 to 3650, not {d:?}")
            }),
    };
    let result = match (role, expires_at) {
        (None, _) => Err(Error::InvalidInput(format!("unknown role {:?}", f.role))),
        (_, Err(m)) => Err(Error::InvalidInput(m)),
        (Some(role), Ok(expires_at)) => {
            app.token_create(
                &signed.ctx,
                CreateTokenRequest {
                    name: f.name.clone(),
                    role: Some(role),
                    group: Some(f.group.trim().to_string()).filter(|g| !g.is_empty()),
                    expires_at,
                },
            )
            .await
        }
    };
    match result {
        Ok(t) => tokens_page(&app, &signed, Some(t.token), None).await,
        Err(e @ (Error::InvalidInput(_) | Error::Conflict(_))) => {
            tokens_page(&app, &signed, None, Some(user_message(&e))).await
        }
        Err(e) => Err(signed.fail(e)),
    }
}

pub async fn token_revoke(
    State(app): State<Arc<App>>,
    UiId(id): UiId,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    let done = app.token_revoke(&signed.ctx, id).await;
    signed.redirect(done, "/tokens")
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    /// The page's cursor: events older than this `seq`.
    #[serde(default)]
    before: Option<i64>,
}

/// A UTC time from a form: `2026-11-24`, `2026-11-24T09:30` (a `datetime-local` field) or RFC 3339.
fn form_time(field: &str, v: &str) -> Result<Option<OffsetDateTime>, String> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let minute = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let day = format_description!("[year]-[month]-[day]");
    OffsetDateTime::parse(v, &Rfc3339)
        .ok()
        .or_else(|| {
            time::PrimitiveDateTime::parse(v, minute)
                .ok()
                .map(|t| t.assume_utc())
        })
        .or_else(|| {
            time::Date::parse(v, day)
                .ok()
                .map(|d| d.midnight().assume_utc())
        })
        .map(Some)
        .ok_or_else(|| format!("{field} {v:?} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)"))
}

pub struct EventRow {
    pub seq: i64,
    pub time: String,
    pub action: String,
    pub target: String,
    pub target_href: Option<String>,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub token: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "ui/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    target: String,
    token: String,
    since: String,
    until: String,
    events: Vec<EventRow>,
    next: Option<String>,
}

pub async fn audit(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiQuery(f): UiQuery<AuditForm>,
) -> Result<Response, UiError> {
    let trimmed = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let token_id = match trimmed(&f.token) {
        None => None,
        Some(t) => Some(
            uuid::Uuid::parse_str(&t)
                .map_err(|_| signed.bad(format!("token {t:?} is not a token id")))?,
        ),
    };
    let since = form_time("\"from\"", &f.since).map_err(|m| signed.bad(m))?;
    let until = form_time("\"until\"", &f.until).map_err(|m| signed.bad(m))?;
    let page = app
        .audit_list(
            &signed.ctx,
            AuditQuery {
                before: f.before,
                order: Some(AuditOrder::Desc),
                limit: Some(100),
                action: trimmed(&f.action),
                target: trimmed(&f.target),
                token_id,
                since,
                until,
                after: None,
            },
        )
        .await
        .map_err(|e| signed.fail(e))?;
    let events = page
        .items
        .iter()
        .map(|e| {
            let outcome = format!("{:?}", e.outcome).to_lowercase();
            let target = e.target.clone().unwrap_or_default();
            EventRow {
                seq: e.seq,
                time: date(e.time),
                target_href: (e.action.starts_with("certificate.") && !target.is_empty())
                    .then(|| format!("/certificates/{target}")),
                target,
                outcome_class: match outcome.as_str() {
                    "success" => "ok",
                    "denied" => "bad",
                    _ => "warn",
                },
                outcome,
                action: e.action.clone(),
                token: e.token_id.map(|t| t.to_string()).unwrap_or_default(),
                detail: e.detail.to_string(),
            }
        })
        .collect();
    let next = page.next_before.map(|b| {
        format!(
            "/audit?action={}&target={}&token={}&since={}&until={}&before={b}",
            url_encode(f.action.trim()),
            url_encode(f.target.trim()),
            url_encode(f.token.trim()),
            url_encode(f.since.trim()),
            url_encode(f.until.trim()),
        )
    });
    Ok(render(&AuditPage {
        chrome: signed.chrome("Audit log", "audit"),
        action: f.action,
        target: f.target,
        token: f.token,
        since: f.since,
        until: f.until,
        events,
        next,
    }))
}
