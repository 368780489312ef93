//! Notification channel pages: list, detail with delivery history, create and edit, test (the
//! receiver's answer is shown), delete.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use certkeep_api::{
    ChannelInfo, ChannelKind, ChannelScope, ChannelTestResult, CreateChannelRequest, DeliveryInfo,
    DeliveryQuery, SmtpConfig, SmtpTlsMode, UpdateChannelRequest,
};
use uuid::Uuid;

use super::format::{date, relative};
use super::session::{Posted, Signed, UiForm, UiId};
use super::{Chrome, UiError, render, user_message};
use crate::app::App;
use crate::error::Error;

pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub enabled: bool,
    pub endpoint: String,
    pub events: String,
    pub scope: String,
}

fn scope_text(s: &ChannelScope) -> String {
    let mut parts = Vec::new();
    if let Some(g) = &s.group {
        parts.push(format!("group {g}"));
    }
    parts.extend(s.labels.iter().map(|(k, v)| format!("{k}={v}")));
    if parts.is_empty() {
        "all certificates".into()
    } else {
        parts.join(", ")
    }
}

fn channel_row(c: &ChannelInfo) -> ChannelRow {
    let endpoint = if c.kind == ChannelKind::Email {
        c.email_to.join(", ")
    } else {
        c.endpoint.clone()
    };
    ChannelRow {
        id: c.id.to_string(),
        name: c.name.clone(),
        kind: c.kind.as_str(),
        enabled: c.enabled,
        endpoint,
        events: c.events.join(", "),
        scope: scope_text(&c.scope),
    }
}

#[derive(Template)]
#[template(path = "ui/channels.html")]
struct ListPage {
    chrome: Chrome,
    channels: Vec<ChannelRow>,
}

pub async fn list(State(app): State<Arc<App>>, signed: Signed) -> Result<Response, UiError> {
    let list = app
        .channel_list(&signed.ctx)
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(render(&ListPage {
        chrome: signed.chrome("Notification channels", "channels"),
        channels: list.items.iter().map(channel_row).collect(),
    }))
}

pub struct DeliveryRow {
    pub channel_id: String,
    pub time: String,
    pub event: String,
    pub status: String,
    pub status_class: &'static str,
    pub attempts: u32,
    pub summary: String,
    pub answer: String,
    pub certificates: Vec<String>,
}

/// One delivery as the history tables show it.
pub fn delivery_row(d: &DeliveryInfo) -> DeliveryRow {
    let status = format!("{:?}", d.status).to_lowercase();
    DeliveryRow {
        channel_id: d.channel_id.to_string(),
        time: date(d.created_at),
        event: d.event.clone(),
        status_class: match status.as_str() {
            "delivered" => "ok",
            "failed" => "bad",
            _ => "warn",
        },
        status,
        attempts: d.attempts,
        summary: d.summary.clone(),
        answer: match (&d.last_status_code, &d.last_error) {
            (Some(code), Some(err)) => format!("HTTP {code}: {err}"),
            (Some(code), None) => format!("HTTP {code}"),
            (None, Some(err)) => err.clone(),
            (None, None) => String::new(),
        },
        certificates: d.certificates.iter().map(Uuid::to_string).collect(),
    }
}

#[derive(Template)]
#[template(path = "ui/channel.html")]
struct DetailPage {
    chrome: Chrome,
    c: ChannelRow,
    thresholds: String,
    expired_hour: u8,
    updated: String,
    deliveries: Vec<DeliveryRow>,
    test: Option<TestOutcome>,
}

pub struct TestOutcome {
    pub delivered: bool,
    pub status_code: String,
    pub detail: String,
}

async fn detail_page(
    app: &App,
    signed: &Signed,
    id: Uuid,
    test: Option<ChannelTestResult>,
) -> Result<Response, UiError> {
    let c = app
        .channel_get(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    let deliveries = app
        .channel_deliveries(
            &signed.ctx,
            id,
            DeliveryQuery {
                limit: Some(50),
                ..DeliveryQuery::default()
            },
        )
        .await
        .map_err(|e| signed.fail(e))?;
    let now = signed.ctx.now;
    Ok(render(&DetailPage {
        chrome: signed.chrome(c.name.clone(), "channels"),
        thresholds: c.thresholds.join(", "),
        expired_hour: c.expired_hour_utc,
        updated: format!("{} ({})", date(c.updated_at), relative(c.updated_at, now)),
        deliveries: deliveries.items.iter().map(delivery_row).collect(),
        test: test.map(|t| TestOutcome {
            delivered: t.delivered,
            status_code: t.status_code.map(|c| c.to_string()).unwrap_or_default(),
            detail: t.detail,
        }),
        c: channel_row(&c),
    }))
}

pub async fn detail(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
) -> Result<Response, UiError> {
    detail_page(&app, &signed, id, None).await
}

pub async fn test(
    State(app): State<Arc<App>>,
    UiId(id): UiId,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    let result = app
        .channel_test(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    detail_page(&app, &signed, id, Some(result)).await
}

pub async fn delete(
    State(app): State<Arc<App>>,
    UiId(id): UiId,
    Posted(signed): Posted,
) -> Result<Response, UiError> {
    let done = app.channel_delete(&signed.ctx, id).await;
    signed.redirect(done, "/channels")
}

/// The channel form: every kind's fields; those of other kinds are ignored.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    smtp_host: String,
    #[serde(default)]
    smtp_port: String,
    #[serde(default)]
    smtp_tls: String,
    #[serde(default)]
    smtp_username: String,
    #[serde(default)]
    smtp_password: String,
    #[serde(default)]
    email_from: String,
    #[serde(default)]
    email_to: String,
    #[serde(default)]
    events: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    thresholds: String,
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn list_of(s: &str) -> Vec<String> {
    s.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

impl ChannelForm {
    fn kind(&self) -> Result<ChannelKind, Error> {
        match self.kind.as_str() {
            "webhook" => Ok(ChannelKind::Webhook),
            "slack" => Ok(ChannelKind::Slack),
            "teams" => Ok(ChannelKind::Teams),
            "pagerduty" => Ok(ChannelKind::Pagerduty),
            "email" => Ok(ChannelKind::Email),
            other => Err(Error::InvalidInput(format!(
                "unknown channel kind {other:?}"
            ))),
        }
    }

    fn smtp(&self) -> Result<Option<SmtpConfig>, Error> {
        let Some(host) = opt(&self.smtp_host) else {
            return Ok(None);
        };
        let port = match opt(&self.smtp_port) {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| {
                Error::InvalidInput(format!("SMTP port {p:?} is not a port number"))
            })?),
        };
        let tls = match self.smtp_tls.as_str() {
            "" | "starttls" => SmtpTlsMode::Starttls,
            "implicit" => SmtpTlsMode::Implicit,
            "none" => SmtpTlsMode::None,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown SMTP TLS mode {other:?}"
                )));
            }
        };
        Ok(Some(SmtpConfig {
            host,
            port,
            tls,
            username: opt(&self.smtp_username),
            password: opt(&self.smtp_password),
            ca_pem: None,
        }))
    }

    fn scope(&self) -> ChannelScope {
        ChannelScope {
            group: opt(&self.group),
            ..ChannelScope::default()
        }
    }

    fn events(&self) -> Option<Vec<String>> {
        Some(list_of(&self.events)).filter(|v| !v.is_empty())
    }

    fn thresholds(&self) -> Option<Vec<String>> {
        Some(list_of(&self.thresholds)).filter(|v| !v.is_empty())
    }

    fn from_info(c: &ChannelInfo) -> ChannelForm {
        ChannelForm {
            name: c.name.clone(),
            kind: c.kind.as_str().into(),
            enabled: c.enabled.then(|| "1".into()),
            url: if matches!(c.kind, ChannelKind::Email | ChannelKind::Pagerduty) {
                String::new()
            } else {
                c.endpoint.clone()
            },
            email_from: c.email_from.clone().unwrap_or_default(),
            email_to: c.email_to.join(", "),
            events: c.events.join(", "),
            group: c.scope.group.clone().unwrap_or_default(),
            thresholds: c.thresholds.join(", "),
            ..ChannelForm::default()
        }
    }
}

#[derive(Template)]
#[template(path = "ui/channel_form.html")]
struct FormPage {
    chrome: Chrome,
    action: String,
    editing: bool,
    f: ChannelForm,
    error: Option<String>,
    created_secret: Option<String>,
    created_id: String,
}

pub async fn new_form(signed: Signed) -> Response {
    render(&FormPage {
        chrome: signed.chrome("New channel", "channels"),
        action: "/channels/new".into(),
        editing: false,
        f: ChannelForm {
            kind: "webhook".into(),
            enabled: Some("1".into()),
            ..ChannelForm::default()
        },
        error: None,
        created_secret: None,
        created_id: String::new(),
    })
}

fn form_failed(
    signed: &Signed,
    action: String,
    editing: bool,
    f: ChannelForm,
    e: Error,
) -> Result<Response, UiError> {
    match &e {
        Error::InvalidInput(_) | Error::Conflict(_) | Error::TooLarge(_) => {
            let status = super::status_of(&e);
            let page = FormPage {
                chrome: signed.chrome("Channel", "channels"),
                action,
                editing,
                f: ChannelForm {
                    secret: String::new(),
                    routing_key: String::new(),
                    smtp_password: String::new(),
                    ..f
                },
                error: Some(user_message(&e)),
                created_secret: None,
                created_id: String::new(),
            };
            Ok((status, render(&page)).into_response())
        }
        _ => Err(signed.fail(e)),
    }
}

pub async fn create(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiForm(f): UiForm<ChannelForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let req = f.kind().and_then(|kind| {
        Ok(CreateChannelRequest {
            name: f.name.clone(),
            kind: Some(kind),
            enabled: Some(f.enabled.is_some()),
            url: opt(&f.url),
            secret: opt(&f.secret),
            routing_key: opt(&f.routing_key),
            events_url: None,
            smtp: f.smtp()?,
            email_from: opt(&f.email_from),
            email_to: list_of(&f.email_to),
            events: f.events(),
            scope: Some(f.scope()),
            thresholds: f.thresholds(),
            expired_hour_utc: None,
        })
    });
    let result = match req {
        Ok(req) => app.channel_create(&signed.ctx, req).await,
        Err(e) => Err(e),
    };
    match result {
        // A generated webhook secret is shown once, like a new token.
        Ok(created) => match created.secret {
            Some(secret) => Ok(render(&FormPage {
                chrome: signed.chrome("Channel created", "channels"),
                action: String::new(),
                editing: false,
                f: ChannelForm::default(),
                error: None,
                created_secret: Some(secret),
                created_id: created.channel.id.to_string(),
            })),
            None => Ok(Redirect::to(&format!("/channels/{}", created.channel.id)).into_response()),
        },
        Err(e) => form_failed(&signed, "/channels/new".into(), false, f, e),
    }
}

pub async fn edit_form(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
) -> Result<Response, UiError> {
    let c = app
        .channel_get(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(render(&FormPage {
        chrome: signed.chrome(format!("Edit {}", c.name), "channels"),
        action: format!("/channels/{id}/edit"),
        editing: true,
        f: ChannelForm::from_info(&c),
        error: None,
        created_secret: None,
        created_id: String::new(),
    }))
}

pub async fn update(
    State(app): State<Arc<App>>,
    signed: Signed,
    UiId(id): UiId,
    UiForm(f): UiForm<ChannelForm>,
) -> Result<Response, UiError> {
    signed.check_csrf(&f.csrf)?;
    let req = f.smtp().map(|smtp| UpdateChannelRequest {
        name: opt(&f.name),
        enabled: Some(f.enabled.is_some()),
        url: opt(&f.url),
        secret: opt(&f.secret),
        routing_key: opt(&f.routing_key),
        events_url: None,
        smtp,
        email_from: opt(&f.email_from),
        email_to: Some(list_of(&f.email_to)).filter(|v| !v.is_empty()),
        events: f.events(),
        scope: Some(f.scope()),
        thresholds: f.thresholds(),
        expired_hour_utc: None,
    });
    let result = match req {
        Ok(req) => app.channel_update(&signed.ctx, id, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/channels/{id}")).into_response()),
        Err(e) => form_failed(&signed, format!("/channels/{id}/edit"), true, f, e),
    }
}
