//! Channel settings: validation of what a caller sends, the split into non-secret settings
//! (stored as JSON) and secrets (sealed by the keyring), the API view (secrets never, token
//! URLs redacted), and the unsealed send target.

use std::collections::BTreeMap;

use base64::Engine;
use certkeep_api::{
    ChannelInfo, ChannelKind, ChannelScope, CreateChannelRequest, SmtpConfig, SmtpTlsMode,
    UpdateChannelRequest,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::event::EventType;
use super::senders::{ChannelTarget, SmtpSettings, SmtpTls};
use crate::domain::{self, notification};
use crate::error::{Error, Result};
use crate::keyring::Keyring;
use crate::store::{CertificateRecord, ChannelRecord};

pub const DEFAULT_EXPIRED_HOUR: u8 = 9;
const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const MAX_RECIPIENTS: usize = 50;

/// Non-secret settings, stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// `scheme://host/…` of a Slack or Teams URL (the full URL is a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_display: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<SmtpTlsMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_ca_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_to: Vec<String>,
}

/// Secrets, sealed at rest and never returned by the API.
#[derive(Default, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct ChannelSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<String>,
    /// Slack/Teams incoming-webhook URL (its path is the credential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_password: Option<String>,
}

fn secrets_context(id: Uuid) -> String {
    format!("channel-secrets:{id}")
}

pub fn kind_from_str(s: &str) -> Result<ChannelKind> {
    match s {
        "webhook" => Ok(ChannelKind::Webhook),
        "slack" => Ok(ChannelKind::Slack),
        "teams" => Ok(ChannelKind::Teams),
        "pagerduty" => Ok(ChannelKind::Pagerduty),
        "email" => Ok(ChannelKind::Email),
        other => Err(Error::Internal(format!(
            "stored channel kind {other:?} is unknown"
        ))),
    }
}

pub fn default_events(kind: ChannelKind) -> Vec<EventType> {
    match kind {
        ChannelKind::Webhook => EventType::ALL
            .into_iter()
            .filter(|e| *e != EventType::ChannelTest)
            .collect(),
        // People watch these: what is about to break, and failures (louder than warnings).
        ChannelKind::Slack | ChannelKind::Teams | ChannelKind::Email => vec![
            EventType::CertExpiring,
            EventType::CertExpired,
            EventType::CertOrderFailed,
            EventType::CertRenewFailed,
        ],
        // Pages for what is broken, resolved when it is replaced or deleted.
        ChannelKind::Pagerduty => vec![
            EventType::CertExpired,
            EventType::CertRenewFailed,
            EventType::CertReimported,
            EventType::CertRenewed,
            EventType::CertDeleted,
        ],
    }
}

fn parse_events(list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in list {
        let t = EventType::parse(e.trim())
            .filter(|t| *t != EventType::ChannelTest)
            .ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL
                    .iter()
                    .filter(|t| **t != EventType::ChannelTest)
                    .map(|t| t.as_str())
                    .collect();
                Error::InvalidInput(format!(
                    "unknown event type {e:?}; use one of {}",
                    known.join(", ")
                ))
            })?;
        if !out.contains(&t.as_str().to_string()) {
            out.push(t.as_str().to_string());
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidInput("`events` is empty".into()));
    }
    Ok(out)
}

/// Settings that decide which URLs a channel may point at.
#[derive(Debug, Clone, Copy)]
pub struct UrlPolicy {
    /// Allow `http://` (tests, or a relay on a trusted network).
    pub allow_http: bool,
}

fn check_url(field: &str, url: &str, policy: UrlPolicy) -> Result<reqwest::Url> {
    let u = reqwest::Url::parse(url.trim())
        .map_err(|e| Error::InvalidInput(format!("`{field}` is not a URL: {e}")))?;
    match u.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(Error::InvalidInput(format!(
                "`{field}` must be https:// (plain http is refused unless the server runs with --danger-allow-http-channels)"
            )));
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "`{field}` has scheme {other:?}; use https://"
            )));
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput(format!("`{field}` has no host")));
    }
    if url.len() > 2048 {
        return Err(Error::InvalidInput(format!(
            "`{field}` is longer than 2048 characters"
        )));
    }
    Ok(u)
}

/// `https://host/…`: enough to recognise a Slack or Teams URL without its token.
fn redacted(u: &reqwest::Url) -> String {
    format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or_default())
}

fn check_address(field: &str, a: &str) -> Result<String> {
    let a = a.trim();
    let ok = a.len() <= 254
        && a.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if ok {
        Ok(a.to_string())
    } else {
        Err(Error::InvalidInput(format!(
            "`{field}` {a:?} is not an e-mail address"
        )))
    }
}

/// PEM certificates to trust for an SMTP relay: at most 64 KiB, every block a certificate.
fn check_ca_pem(pem_text: &str) -> Result<String> {
    if pem_text.len() > 64 * 1024 {
        return Err(Error::InvalidInput(
            "`smtp.ca_pem` is larger than 64 KiB".into(),
        ));
    }
    let blocks = pem::parse_many(pem_text.as_bytes())
        .map_err(|e| Error::InvalidInput(format!("`smtp.ca_pem` is not PEM: {e}")))?;
    if blocks.is_empty() {
        return Err(Error::InvalidInput(
            "`smtp.ca_pem` holds no PEM block".into(),
        ));
    }
    for (i, b) in blocks.iter().enumerate() {
        if b.tag() != "CERTIFICATE" {
            return Err(Error::InvalidInput(format!(
                "`smtp.ca_pem` block {} is a {}, expected CERTIFICATE",
                i + 1,
                b.tag()
            )));
        }
        crate::pki::cert_info(b.contents())
            .map_err(|e| Error::InvalidInput(format!("`smtp.ca_pem` block {}: {e}", i + 1)))?;
    }
    Ok(pem_text.to_string())
}

/// A new webhook signing secret, Standard Webhooks style: `whsec_` + base64 of 32 random bytes.
pub fn generate_webhook_secret() -> Result<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(raw.as_mut())
        .map_err(|_| Error::Internal("cannot generate a webhook secret".into()))?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_ref())
    ))
}

fn check_webhook_secret(s: &str) -> Result<String> {
    let bad = || {
        Error::InvalidInput(
            "`secret` must be `whsec_` followed by base64 of 24 to 64 random bytes".into(),
        )
    };
    let b64 = s.trim().strip_prefix("whsec_").ok_or_else(bad)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad())?;
    if !(24..=64).contains(&raw.len()) {
        return Err(bad());
    }
    Ok(s.trim().to_string())
}

fn validate_scope(scope: &ChannelScope) -> Result<(Option<String>, BTreeMap<String, String>)> {
    let group = scope
        .group
        .as_deref()
        .filter(|g| !g.trim().is_empty())
        .map(domain::validate_group)
        .transpose()?;
    Ok((group, domain::validate_labels(&scope.labels)?))
}

fn validate_thresholds(list: &[String]) -> Result<Vec<String>> {
    Ok(notification::parse_thresholds(list)?
        .iter()
        .map(ToString::to_string)
        .collect())
}

fn validate_hour(h: u8) -> Result<u8> {
    if h > 23 {
        return Err(Error::InvalidInput(format!(
            "`expired_hour_utc` is {h}; it must be 0 to 23"
        )));
    }
    Ok(h)
}

/// The endpoint part of a create or update request.
struct EndpointInput<'a> {
    url: Option<&'a str>,
    secret: Option<&'a str>,
    routing_key: Option<&'a str>,
    events_url: Option<&'a str>,
    smtp: Option<&'a SmtpConfig>,
    email_from: Option<&'a str>,
    email_to: Option<&'a [String]>,
}

/// Apply `input` to `config`/`secrets` of a channel of `kind`; `creating` requires every
/// mandatory field. Returns a newly generated webhook secret, if one was made.
fn apply_endpoint(
    kind: ChannelKind,
    input: &EndpointInput<'_>,
    config: &mut ChannelConfig,
    secrets: &mut ChannelSecrets,
    creating: bool,
    policy: UrlPolicy,
) -> Result<Option<String>> {
    let not_for = |field: &str| {
        Error::InvalidInput(format!(
            "`{field}` does not apply to a {} channel",
            kind.as_str()
        ))
    };
    let missing =
        |field: &str| Error::InvalidInput(format!("a {} channel needs `{field}`", kind.as_str()));
    let mut generated = None;
    match kind {
        ChannelKind::Webhook => {
            if input.routing_key.is_some() || input.events_url.is_some() {
                return Err(not_for("routing_key/events_url"));
            }
            if input.smtp.is_some() || input.email_from.is_some() || input.email_to.is_some() {
                return Err(not_for("smtp/email_from/email_to"));
            }
            if let Some(u) = input.url {
                config.webhook_url = Some(check_url("url", u, policy)?.to_string());
            } else if creating {
                return Err(missing("url"));
            }
            match input.secret {
                Some(s) => secrets.hmac_secret = Some(check_webhook_secret(s)?),
                None if creating => {
                    let s = generate_webhook_secret()?;
                    secrets.hmac_secret = Some(s.clone());
                    generated = Some(s);
                }
                None => {}
            }
        }
        ChannelKind::Slack | ChannelKind::Teams => {
            if input.secret.is_some() || input.routing_key.is_some() || input.events_url.is_some() {
                return Err(not_for("secret/routing_key/events_url"));
            }
            if input.smtp.is_some() || input.email_from.is_some() || input.email_to.is_some() {
                return Err(not_for("smtp/email_from/email_to"));
            }
            if let Some(u) = input.url {
                let parsed = check_url("url", u, policy)?;
                config.url_display = Some(redacted(&parsed));
                secrets.url = Some(parsed.to_string());
            } else if creating {
                return Err(missing("url"));
            }
        }
        ChannelKind::Pagerduty => {
            if input.url.is_some() || input.secret.is_some() {
                return Err(not_for("url/secret (use routing_key)"));
            }
            if input.smtp.is_some() || input.email_from.is_some() || input.email_to.is_some() {
                return Err(not_for("smtp/email_from/email_to"));
            }
            if let Some(k) = input.routing_key {
                let k = k.trim();
                if k.is_empty() || k.len() > 128 || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(Error::InvalidInput(
                        "`routing_key` must be the 32-character integration key of a PagerDuty service"
                            .into(),
                    ));
                }
                secrets.routing_key = Some(k.to_string());
            } else if creating {
                return Err(missing("routing_key"));
            }
            if let Some(u) = input.events_url {
                config.events_url = Some(check_url("events_url", u, policy)?.to_string());
            } else if creating {
                config.events_url = Some(PAGERDUTY_EVENTS_URL.to_string());
            }
        }
        ChannelKind::Email => {
            if input.url.is_some() || input.secret.is_some() || input.routing_key.is_some() {
                return Err(not_for("url/secret/routing_key"));
            }
            if let Some(smtp) = input.smtp {
                let host = smtp.host.trim();
                if host.is_empty()
                    || host.len() > 253
                    || host
                        .chars()
                        .any(|c| c.is_whitespace() || c == '/' || c == '@')
                {
                    return Err(Error::InvalidInput(format!(
                        "`smtp.host` {host:?} is not a host name"
                    )));
                }
                if smtp.tls == SmtpTlsMode::None && !policy.allow_http {
                    return Err(Error::InvalidInput(
                        "`smtp.tls: none` sends mail and credentials in clear; it is refused unless the server runs with --danger-allow-http-channels".into(),
                    ));
                }
                config.smtp_host = Some(host.to_string());
                config.smtp_port = Some(smtp.port.unwrap_or(match smtp.tls {
                    SmtpTlsMode::Starttls => 587,
                    SmtpTlsMode::Implicit => 465,
                    SmtpTlsMode::None => 25,
                }));
                config.smtp_tls = Some(smtp.tls);
                config.smtp_username = smtp
                    .username
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_string);
                if smtp.password.is_some() {
                    secrets.smtp_password = smtp.password.clone();
                }
                config.smtp_ca_pem = smtp
                    .ca_pem
                    .as_deref()
                    .filter(|p| !p.trim().is_empty())
                    .map(check_ca_pem)
                    .transpose()?;
            } else if creating {
                return Err(missing("smtp"));
            }
            if let Some(from) = input.email_from {
                config.email_from = Some(check_address("email_from", from)?);
            } else if creating {
                return Err(missing("email_from"));
            }
            if let Some(to) = input.email_to {
                if to.is_empty() || to.len() > MAX_RECIPIENTS {
                    return Err(Error::InvalidInput(format!(
                        "`email_to` has {} addresses; give 1 to {MAX_RECIPIENTS}",
                        to.len()
                    )));
                }
                config.email_to = to
                    .iter()
                    .map(|a| check_address("email_to", a))
                    .collect::<Result<_>>()?;
            } else if creating {
                return Err(missing("email_to"));
            }
        }
    }
    Ok(generated)
}

/// A validated new channel and, for webhooks without a given secret, the generated secret.
pub fn build_new(
    id: Uuid,
    req: &CreateChannelRequest,
    keyring: &Keyring,
    policy: UrlPolicy,
    now: OffsetDateTime,
) -> Result<(ChannelRecord, Option<String>)> {
    let name = domain::validate_name("name", &req.name)?;
    let kind = req.kind.ok_or_else(|| {
        Error::InvalidInput("`kind` is required: webhook, slack, teams, pagerduty or email".into())
    })?;
    let mut config = ChannelConfig::default();
    let mut secrets = ChannelSecrets::default();
    let generated = apply_endpoint(
        kind,
        &EndpointInput {
            url: req.url.as_deref(),
            secret: req.secret.as_deref(),
            routing_key: req.routing_key.as_deref(),
            events_url: req.events_url.as_deref(),
            smtp: req.smtp.as_ref(),
            email_from: req.email_from.as_deref(),
            email_to: (!req.email_to.is_empty()).then_some(req.email_to.as_slice()),
        },
        &mut config,
        &mut secrets,
        true,
        policy,
    )?;
    let events = match &req.events {
        Some(list) => parse_events(list)?,
        None => default_events(kind)
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
    };
    let (scope_group, scope_labels) = validate_scope(&req.scope.clone().unwrap_or_default())?;
    let thresholds = match &req.thresholds {
        Some(t) => validate_thresholds(t)?,
        None => notification::DEFAULT_THRESHOLDS
            .iter()
            .map(ToString::to_string)
            .collect(),
    };
    let rec = ChannelRecord {
        id,
        name,
        kind: kind.as_str().to_string(),
        enabled: req.enabled.unwrap_or(true),
        config: serde_json::to_string(&config)
            .map_err(|e| Error::Internal(format!("channel config: {e}")))?,
        secrets_sealed: seal(keyring, id, &secrets)?,
        events,
        scope_group,
        scope_labels,
        thresholds,
        expired_hour: validate_hour(req.expired_hour_utc.unwrap_or(DEFAULT_EXPIRED_HOUR))?,
        swept_until: None,
        reminded_on: None,
        day_from: None,
        created_at: now,
        updated_at: now,
    };
    Ok((rec, generated))
}

/// Apply an update to `rec`. A change of what the channel watches (events, scope, thresholds)
/// applies from the next sweep on; what was already sent is not sent again.
pub fn apply_update(
    rec: &mut ChannelRecord,
    req: &UpdateChannelRequest,
    keyring: &Keyring,
    policy: UrlPolicy,
    now: OffsetDateTime,
) -> Result<()> {
    let kind = kind_from_str(&rec.kind)?;
    if let Some(n) = &req.name {
        rec.name = domain::validate_name("name", n)?;
    }
    if let Some(e) = req.enabled {
        rec.enabled = e;
    }
    let mut config = config_of(rec)?;
    let mut secrets = unseal(keyring, rec)?;
    apply_endpoint(
        kind,
        &EndpointInput {
            url: req.url.as_deref(),
            secret: req.secret.as_deref(),
            routing_key: req.routing_key.as_deref(),
            events_url: req.events_url.as_deref(),
            smtp: req.smtp.as_ref(),
            email_from: req.email_from.as_deref(),
            email_to: req.email_to.as_deref(),
        },
        &mut config,
        &mut secrets,
        false,
        policy,
    )?;
    rec.config = serde_json::to_string(&config)
        .map_err(|e| Error::Internal(format!("channel config: {e}")))?;
    rec.secrets_sealed = seal(keyring, rec.id, &secrets)?;
    if let Some(list) = &req.events {
        rec.events = parse_events(list)?;
    }
    if let Some(scope) = &req.scope {
        let (g, l) = validate_scope(scope)?;
        rec.scope_group = g;
        rec.scope_labels = l;
    }
    if let Some(t) = &req.thresholds {
        rec.thresholds = validate_thresholds(t)?;
    }
    if let Some(h) = req.expired_hour_utc {
        rec.expired_hour = validate_hour(h)?;
    }
    rec.updated_at = now;
    Ok(())
}

fn seal(keyring: &Keyring, id: Uuid, secrets: &ChannelSecrets) -> Result<Vec<u8>> {
    let json = Zeroizing::new(
        serde_json::to_vec(secrets)
            .map_err(|e| Error::Internal(format!("channel secrets: {e}")))?,
    );
    keyring.seal(&secrets_context(id), &json)
}

fn unseal(keyring: &Keyring, rec: &ChannelRecord) -> Result<ChannelSecrets> {
    let json = keyring.open(&secrets_context(rec.id), &rec.secrets_sealed)?;
    serde_json::from_slice(&json).map_err(|e| {
        Error::Internal(format!(
            "sealed secrets of channel {} are corrupt: {e}",
            rec.id
        ))
    })
}

fn config_of(rec: &ChannelRecord) -> Result<ChannelConfig> {
    serde_json::from_str(&rec.config)
        .map_err(|e| Error::Internal(format!("settings of channel {} are corrupt: {e}", rec.id)))
}

/// The channel as the API shows it.
pub fn to_api(rec: &ChannelRecord) -> Result<ChannelInfo> {
    let kind = kind_from_str(&rec.kind)?;
    let c = config_of(rec)?;
    let endpoint = match kind {
        ChannelKind::Webhook => c.webhook_url.clone().unwrap_or_default(),
        ChannelKind::Slack | ChannelKind::Teams => c.url_display.clone().unwrap_or_default(),
        ChannelKind::Pagerduty => c.events_url.clone().unwrap_or_default(),
        ChannelKind::Email => format!(
            "smtp://{}:{}",
            c.smtp_host.clone().unwrap_or_default(),
            c.smtp_port.unwrap_or_default()
        ),
    };
    Ok(ChannelInfo {
        id: rec.id,
        name: rec.name.clone(),
        kind,
        enabled: rec.enabled,
        endpoint,
        email_from: c.email_from.clone(),
        email_to: c.email_to.clone(),
        smtp: c.smtp_host.clone().map(|host| SmtpConfig {
            host,
            port: c.smtp_port,
            tls: c.smtp_tls.unwrap_or_default(),
            username: c.smtp_username.clone(),
            password: None,
            ca_pem: c.smtp_ca_pem.clone(),
        }),
        events: rec.events.clone(),
        scope: ChannelScope {
            group: rec.scope_group.clone(),
            labels: rec.scope_labels.clone(),
        },
        thresholds: rec.thresholds.clone(),
        expired_hour_utc: rec.expired_hour,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
    })
}

/// Where to send, with secrets unsealed.
pub fn target(keyring: &Keyring, rec: &ChannelRecord) -> Result<ChannelTarget> {
    let kind = kind_from_str(&rec.kind)?;
    let c = config_of(rec)?;
    let s = unseal(keyring, rec)?;
    let missing = |what: &str| Error::Internal(format!("channel {} has no {what}", rec.id));
    Ok(match kind {
        ChannelKind::Webhook => ChannelTarget::Webhook {
            url: c.webhook_url.clone().ok_or_else(|| missing("URL"))?,
            hmac_secret: Zeroizing::new(s.hmac_secret.clone().ok_or_else(|| missing("secret"))?),
        },
        ChannelKind::Slack => ChannelTarget::Slack {
            url: Zeroizing::new(s.url.clone().ok_or_else(|| missing("URL"))?),
        },
        ChannelKind::Teams => ChannelTarget::Teams {
            url: Zeroizing::new(s.url.clone().ok_or_else(|| missing("URL"))?),
        },
        ChannelKind::Pagerduty => ChannelTarget::Pagerduty {
            routing_key: Zeroizing::new(
                s.routing_key
                    .clone()
                    .ok_or_else(|| missing("routing key"))?,
            ),
            events_url: c
                .events_url
                .clone()
                .unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_string()),
        },
        ChannelKind::Email => ChannelTarget::Email {
            smtp: SmtpSettings {
                host: c.smtp_host.clone().ok_or_else(|| missing("SMTP host"))?,
                port: c.smtp_port.unwrap_or(587),
                tls: match c.smtp_tls.unwrap_or_default() {
                    SmtpTlsMode::Starttls => SmtpTls::Starttls,
                    SmtpTlsMode::Implicit => SmtpTls::Implicit,
                    SmtpTlsMode::None => SmtpTls::None,
                },
                username: c.smtp_username.clone(),
                password: s.smtp_password.clone().map(Zeroizing::new),
                ca_pem: c.smtp_ca_pem.clone(),
            },
            from: c.email_from.clone().ok_or_else(|| missing("sender"))?,
            to: c.email_to.clone(),
        },
    })
}

/// Whether the channel sends `event` at all.
pub fn wants(rec: &ChannelRecord, event: EventType) -> bool {
    rec.events.iter().any(|e| e == event.as_str())
}

/// Whether `cert` is in the channel's scope.
pub fn covers(rec: &ChannelRecord, cert: &CertificateRecord) -> bool {
    rec.scope_group
        .as_deref()
        .is_none_or(|g| cert.group.as_deref() == Some(g))
        && rec
            .scope_labels
            .iter()
            .all(|(k, v)| cert.labels.get(k) == Some(v))
}
