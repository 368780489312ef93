//! Notification channel pages: list, detail with delivery history, create and edit, test (the
//! receiver's answer is shown), delete.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use certkeep_api::{
    ChannelInfo, ChannelKind, ChannelScope, ChannelTestResult, CreateChannelRequest, DeliveryInfo,
    DeliveryQuery, Role, SmtpConfig, SmtpTlsMode, UpdateChannelRequest,
};
use uuid::Uuid;

use super::form::{Clues, FormError, labels_text, list_of, opt, parse_labels};
use super::format::{date, relative};
use super::session::{Posted, Signed, UiForm, UiId};
use super::{Chrome, UiError, render, user_message};
use crate::app::App;
use crate::error::Error;
use crate::notify::channels::DEFAULT_EXPIRED_HOUR;

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

/// An e-mail channel's relay as its page shows it.
pub struct RelayRow {
    pub address: String,
    pub tls: &'static str,
    pub username: String,
    pub from: String,
    /// Subjects of the custom CA certificates trusted for the relay.
    pub ca: Vec<String>,
    pub ca_pem: String,
}

fn relay_row(c: &ChannelInfo) -> Option<RelayRow> {
    let smtp = c.smtp.as_ref()?;
    let ca_pem = smtp.ca_pem.clone().unwrap_or_default();
    Some(RelayRow {
        address: format!("{}:{}", smtp.host, smtp.port.unwrap_or_default()),
        tls: match smtp.tls {
            SmtpTlsMode::Starttls => "STARTTLS",
            SmtpTlsMode::Implicit => "implicit TLS",
            SmtpTlsMode::None => "no TLS",
        },
        username: smtp.username.clone().unwrap_or_default(),
        from: c.email_from.clone().unwrap_or_default(),
        ca: ca_subjects(&ca_pem),
        ca_pem,
    })
}

/// `subject (until date)` of each certificate in `pem` (the server checked them on input).
fn ca_subjects(pem_text: &str) -> Vec<String> {
    pem::parse_many(pem_text.as_bytes())
        .unwrap_or_default()
        .iter()
        .filter_map(|b| crate::pki::cert_info(b.contents()).ok())
        .map(|i| format!("{} (until {})", i.subject, date(i.not_after)))
        .collect()
}

#[derive(Template)]
#[template(path = "ui/channel.html")]
struct DetailPage {
    chrome: Chrome,
    c: ChannelRow,
    endpoint_label: &'static str,
    group: String,
    labels: Vec<String>,
    relay: Option<RelayRow>,
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
        endpoint_label: match c.kind {
            ChannelKind::Webhook => "Webhook URL",
            ChannelKind::Slack | ChannelKind::Teams => "Sends to",
            ChannelKind::Pagerduty => "Events API URL",
            ChannelKind::Email => "Recipients",
        },
        group: c.scope.group.clone().unwrap_or_default(),
        labels: c
            .scope
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        relay: relay_row(&c),
        thresholds: c.thresholds.join(", "),
        expired_hour: c.expired_hour_utc,
        updated: format!("{} ({})", date(c.updated_at), relative(c.updated_at, now)),
        deliveries: deliveries.items.iter().map(delivery_row).collect(),
        test: test.map(|t| {
            let status_code = t.status_code.map(|c| c.to_string()).unwrap_or_default();
            // The sender's detail starts with the status the page already shows beside it.
            let detail = match t.detail.strip_prefix(&format!("HTTP {status_code}")) {
                Some(rest) if !status_code.is_empty() => {
                    rest.strip_prefix(": ").unwrap_or(rest).to_string()
                }
                _ => t.detail,
            };
            TestOutcome {
                delivered: t.delivered,
                status_code,
                detail,
            }
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

/// The channel form: every kind's fields; those of other kinds are ignored. No `Debug`: it
/// holds the channel's secrets.
#[derive(Default, Clone, serde::Deserialize)]
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
    events_url: String,
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
    smtp_ca_pem: String,
    #[serde(default)]
    email_from: String,
    #[serde(default)]
    email_to: String,
    #[serde(default)]
    events: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    thresholds: String,
    #[serde(default)]
    expired_hour: String,
}

/// Where the server's messages about a channel go: each names its field (`` `url` ``,
/// `` `smtp.ca_pem` ``…), the form's own checks too. More specific clues come first.
const CLUES: Clues<'static> = &[
    ("smtp_ca_pem", &["`smtp.ca_pem`"]),
    ("smtp_port", &["smtp port"]),
    ("smtp_tls", &["smtp tls", "`smtp.tls"]),
    ("smtp_host", &["`smtp.host`", "`smtp`", "`smtp/"]),
    ("events_url", &["`events_url`"]),
    ("expired_hour", &["`expired_hour_utc`"]),
    ("email_from", &["`email_from`"]),
    ("email_to", &["`email_to`"]),
    ("url", &["`url`", "`url/"]),
    ("secret", &["`secret`", "`secret/"]),
    ("routing_key", &["routing_key"]),
    ("events", &["event type", "`events`"]),
    ("thresholds", &["threshold"]),
    ("labels", &["label"]),
    ("group", &["`group`"]),
    ("name", &["`name`"]),
    ("kind", &["channel kind", "`kind`"]),
];

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
            if opt(&self.smtp_ca_pem).is_some() {
                return Err(Error::InvalidInput(
                    "`smtp.ca_pem` needs the relay it is for: give the SMTP host too".into(),
                ));
            }
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
            ca_pem: opt(&self.smtp_ca_pem),
        }))
    }

    fn scope(&self) -> Result<ChannelScope, Error> {
        Ok(ChannelScope {
            group: opt(&self.group),
            labels: parse_labels(&self.labels).map_err(Error::InvalidInput)?,
        })
    }

    fn events(&self) -> Option<Vec<String>> {
        Some(list_of(&self.events)).filter(|v| !v.is_empty())
    }

    fn thresholds(&self) -> Option<Vec<String>> {
        Some(list_of(&self.thresholds)).filter(|v| !v.is_empty())
    }

    /// The hour of the daily `cert.expired` reminder; empty leaves it to the server.
    fn expired_hour(&self) -> Result<Option<u8>, Error> {
        match opt(&self.expired_hour) {
            None => Ok(None),
            Some(h) => h.parse::<u8>().map(Some).map_err(|_| {
                Error::InvalidInput(format!(
                    "`expired_hour_utc` {h:?} is not an hour; give 0 to 23"
                ))
            }),
        }
    }

    fn create_request(&self) -> Result<CreateChannelRequest, Error> {
        Ok(CreateChannelRequest {
            name: self.name.clone(),
            kind: Some(self.kind()?),
            enabled: Some(self.enabled.is_some()),
            url: opt(&self.url),
            secret: opt(&self.secret),
            routing_key: opt(&self.routing_key),
            events_url: opt(&self.events_url),
            smtp: self.smtp()?,
            email_from: opt(&self.email_from),
            email_to: list_of(&self.email_to),
            events: self.events(),
            scope: Some(self.scope()?),
            thresholds: self.thresholds(),
            expired_hour_utc: self.expired_hour()?,
        })
    }

    fn update_request(&self) -> Result<UpdateChannelRequest, Error> {
        Ok(UpdateChannelRequest {
            name: opt(&self.name),
            enabled: Some(self.enabled.is_some()),
            url: opt(&self.url),
            secret: opt(&self.secret),
            routing_key: opt(&self.routing_key),
            events_url: opt(&self.events_url),
            smtp: self.smtp()?,
            email_from: opt(&self.email_from),
            email_to: Some(list_of(&self.email_to)).filter(|v| !v.is_empty()),
            events: self.events(),
            scope: Some(self.scope()?),
            thresholds: self.thresholds(),
            expired_hour_utc: self.expired_hour()?,
        })
    }

    /// The form of an existing channel: everything but its secrets.
    fn from_info(c: &ChannelInfo) -> ChannelForm {
        let smtp = c.smtp.clone().unwrap_or_default();
        ChannelForm {
            name: c.name.clone(),
            kind: c.kind.as_str().into(),
            enabled: c.enabled.then(|| "1".into()),
            url: if c.kind == ChannelKind::Webhook {
                c.endpoint.clone()
            } else {
                String::new()
            },
            events_url: if c.kind == ChannelKind::Pagerduty {
                c.endpoint.clone()
            } else {
                String::new()
            },
            smtp_host: smtp.host,
            smtp_port: smtp.port.map(|p| p.to_string()).unwrap_or_default(),
            smtp_tls: match c.smtp {
                Some(_) => smtp_tls_str(smtp.tls).into(),
                None => String::new(),
            },
            smtp_username: smtp.username.unwrap_or_default(),
            smtp_ca_pem: smtp.ca_pem.unwrap_or_default(),
            email_from: c.email_from.clone().unwrap_or_default(),
            email_to: c.email_to.join(", "),
            events: c.events.join(", "),
            group: c.scope.group.clone().unwrap_or_default(),
            labels: labels_text(&c.scope.labels),
            thresholds: c.thresholds.join(", "),
            expired_hour: c.expired_hour_utc.to_string(),
            ..ChannelForm::default()
        }
    }
}

fn smtp_tls_str(t: SmtpTlsMode) -> &'static str {
    match t {
        SmtpTlsMode::Starttls => "starttls",
        SmtpTlsMode::Implicit => "implicit",
        SmtpTlsMode::None => "none",
    }
}

#[derive(Template)]
#[template(path = "ui/channel_form.html")]
struct FormPage {
    chrome: Chrome,
    action: String,
    editing: bool,
    f: ChannelForm,
    error: FormError,
    created_secret: Option<String>,
    created_id: String,
}

pub async fn new_form(signed: Signed) -> Result<Response, UiError> {
    signed.require(Role::Manager, "creating notification channels")?;
    Ok(render(&FormPage {
        chrome: signed.chrome("New channel", "channels"),
        action: "/channels/new".into(),
        editing: false,
        f: ChannelForm {
            kind: "webhook".into(),
            enabled: Some("1".into()),
            expired_hour: DEFAULT_EXPIRED_HOUR.to_string(),
            ..ChannelForm::default()
        },
        error: FormError::none(),
        created_secret: None,
        created_id: String::new(),
    }))
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
                // Secrets are never sent back to the browser, not even the ones just typed.
                f: ChannelForm {
                    secret: String::new(),
                    routing_key: String::new(),
                    smtp_password: String::new(),
                    ..f
                },
                error: FormError::place(user_message(&e), CLUES),
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
    let result = match f.create_request() {
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
                error: FormError::none(),
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
    signed.require(Role::Manager, "changing notification channels")?;
    let c = app
        .channel_get(&signed.ctx, id)
        .await
        .map_err(|e| signed.fail(e))?;
    Ok(render(&FormPage {
        chrome: signed.chrome(format!("Edit {}", c.name), "channels"),
        action: format!("/channels/{id}/edit"),
        editing: true,
        f: ChannelForm::from_info(&c),
        error: FormError::none(),
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
    let result = match f.update_request() {
        Ok(req) => app.channel_update(&signed.ctx, id, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/channels/{id}")).into_response()),
        Err(e) => form_failed(&signed, format!("/channels/{id}/edit"), true, f, e),
    }
}
