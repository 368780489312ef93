//! PagerDuty Events API v2: one `POST <events_url>` per certificate, `dedup_key`
//! `certkeep:<certificate id>`, so one alert per certificate is opened and later resolved.
//!
//! | event | action | severity |
//! |---|---|---|
//! | `cert.expired` | trigger | critical |
//! | `cert.expiring` | trigger | warning |
//! | `cert.renew_failed`, `cert.order_failed` | trigger | error |
//! | `cert.reimported`, `cert.renewed` | resolve (the certificate was replaced) | — |
//! | `cert.deleted` | resolve (nothing left to expire) | — |
//! | `cert.imported`, `cert.issued`, DNS validation | nothing is sent (no incident) | — |
//! | `channel.test` | trigger (info) then resolve, `dedup_key` `certkeep:test:<notification id>` | info |
//!
//! The requests go one after the other (PagerDuty limits events per routing key). The delivery
//! is delivered only if every request was accepted (202), retried if any can be retried;
//! resending the accepted ones is harmless because PagerDuty deduplicates by `dedup_key`.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::{SendContext, SendResult, combine, post_json, truncate_chars, utc_minute};
use crate::notify::event::{CertificateSummary, EventType, Notification};

/// PagerDuty's limit on `payload.summary`.
const MAX_SUMMARY_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Trigger(&'static str),
    Resolve,
    Skip,
    /// Trigger (info) and at once resolve a test alert.
    Test,
}

fn action(event: EventType) -> Action {
    match event {
        EventType::CertExpired => Action::Trigger("critical"),
        EventType::CertExpiring => Action::Trigger("warning"),
        EventType::CertReimported | EventType::CertDeleted => Action::Resolve,
        EventType::CertOrderFailed | EventType::CertRenewFailed => Action::Trigger("error"),
        EventType::CertRenewed => Action::Resolve,
        EventType::CertImported
        | EventType::CertIssued
        | EventType::DnsValidationRequired
        | EventType::DnsValidationCompleted => Action::Skip,
        EventType::ChannelTest => Action::Test,
    }
}

/// Whether `event` opens (or keeps open) an incident.
pub(crate) fn triggers(event: EventType) -> bool {
    matches!(action(event), Action::Trigger(_))
}

pub(super) async fn send(
    events_url: &str,
    routing_key: &str,
    n: &Notification,
    ctx: &SendContext<'_>,
) -> SendResult {
    let events = render(routing_key, n);
    if events.is_empty() {
        return SendResult::Delivered {
            status: None,
            detail: format!("{} does not page: nothing sent", n.event.as_str()),
        };
    }
    let total = events.len();
    let mut results = Vec::with_capacity(total);
    for event in events {
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(e) => {
                results.push(SendResult::Failed {
                    status: None,
                    error: format!("the PagerDuty event cannot be serialized: {e}"),
                });
                continue;
            }
        };
        let result = post_json(ctx, events_url, body, &[]).await;
        // PagerDuty rejects a whole batch for the same reason; do not hammer it.
        let stop = matches!(result, SendResult::Retry { .. });
        results.push(result);
        if stop {
            break;
        }
    }
    combine(results, total)
}

/// The Events API v2 requests for `n`, in sending order.
pub(super) fn render(routing_key: &str, n: &Notification) -> Vec<Value> {
    match action(n.event) {
        Action::Skip => Vec::new(),
        Action::Resolve => n
            .certificates
            .iter()
            .map(|cert| resolve(routing_key, &dedup_key(cert)))
            .collect(),
        Action::Test => {
            let key = format!("certkeep:test:{}", n.id);
            let trigger = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": key,
                "payload": {
                    "summary": truncate_chars(&n.summary, MAX_SUMMARY_CHARS),
                    "source": "certkeep",
                    "severity": "info",
                    "timestamp": rfc3339(n.time),
                    "custom_details": {
                        "event": n.event.as_str(),
                        "notification_id": n.id,
                        "channel": n.channel.name,
                    },
                },
            });
            vec![trigger, resolve(routing_key, &key)]
        }
        Action::Trigger(severity) => n
            .certificates
            .iter()
            .map(|cert| {
                json!({
                    "routing_key": routing_key,
                    "event_action": "trigger",
                    "dedup_key": dedup_key(cert),
                    "payload": {
                        "summary": summary(n.event, cert),
                        "source": "certkeep",
                        "severity": severity,
                        "timestamp": rfc3339(n.time),
                        "custom_details": custom_details(n, cert),
                    },
                    "links": [{ "href": cert.url, "text": "certkeep" }],
                })
            })
            .collect(),
    }
}

fn resolve(routing_key: &str, dedup_key: &str) -> Value {
    json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key })
}

fn dedup_key(cert: &CertificateSummary) -> String {
    format!("certkeep:{}", cert.id)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// "Certificate api (api.example.com, www.example.com) expires in 5 days, at 2026-03-06 12:00 UTC"
fn summary(event: EventType, cert: &CertificateSummary) -> String {
    let mut domains = cert
        .domains
        .iter()
        .take(3)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if cert.domains.len() > 3 {
        domains.push_str(&format!(" +{} more", cert.domains.len() - 3));
    }
    let at = utc_minute(cert.not_after);
    let when = if event == EventType::CertExpired || cert.days_left < 0 {
        format!("expired at {at}")
    } else {
        match cert.days_left {
            0 => format!("expires today, at {at}"),
            1 => format!("expires in 1 day, at {at}"),
            d => format!("expires in {d} days, at {at}"),
        }
    };
    let text = if domains.is_empty() {
        format!("Certificate {} {when}", cert.name)
    } else {
        format!("Certificate {} ({domains}) {when}", cert.name)
    };
    truncate_chars(&text, MAX_SUMMARY_CHARS)
}

fn custom_details(n: &Notification, cert: &CertificateSummary) -> Value {
    json!({
        "event": n.event.as_str(),
        "notification_id": n.id,
        "certificate_id": cert.id,
        "name": cert.name,
        "domains": cert.domains,
        "serial": cert.serial,
        "fingerprint_sha256": cert.fingerprint_sha256,
        "not_after": rfc3339(cert.not_after),
        "days_left": cert.days_left,
        "threshold": cert.threshold,
        "group": cert.group,
        "labels": cert.labels,
        "version": cert.version,
        "url": cert.url,
    })
}
