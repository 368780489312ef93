//! Microsoft Teams incoming webhook: `POST <url>` with a legacy `MessageCard`.
//!
//! ```json
//! {"@type":"MessageCard","@context":"https://schema.org/extensions",
//!  "summary":<summary>,"themeColor":<hex>,"title":<event title>,"text":<summary>,
//!  "sections":[{"facts":[{"name":<certificate>,"value":"<domains> · expires <date> (<days>) · [Open](<url>)"}]}],
//!  "potentialAction":[{"@type":"OpenUri","name":"Open in certkeep","targets":[{"os":"default","uri":<url>}]}]}
//! ```
//!
//! `potentialAction` is there when the notification is about exactly one certificate; with
//! several, each fact carries its own link. At most 50 facts; the rest is summed up in the
//! section's `text`. Legacy connectors answer 200 with `1`, or 200 with "Webhook message
//! delivery failed with error: …" when Teams itself refused (throttling): that is retried.

use serde_json::{Value, json};

use super::{
    SendContext, SendResult, days_left_phrase, domains_list, event_title, post_json,
    truncate_chars, utc_date,
};
use crate::notify::event::{EventType, Notification};

const MAX_FACTS: usize = 50;
const MAX_DOMAINS: usize = 5;

pub(super) async fn send(url: &str, n: &Notification, ctx: &SendContext<'_>) -> SendResult {
    let body = match serde_json::to_vec(&render(n)) {
        Ok(body) => body,
        Err(e) => {
            return SendResult::Failed {
                status: None,
                error: format!("the Teams card cannot be serialized: {e}"),
            };
        }
    };
    match post_json(ctx, url, body, &[]).await {
        SendResult::Delivered { status, detail } if detail.contains("delivery failed") => {
            SendResult::Retry {
                status,
                error: detail,
                retry_after: None,
            }
        }
        other => other,
    }
}

fn theme_color(event: EventType) -> &'static str {
    match event {
        EventType::CertExpired => "D13438",
        EventType::CertExpiring => "FFB900",
        EventType::CertImported
        | EventType::CertReimported
        | EventType::CertIssued
        | EventType::CertRenewed => "2EB886",
        EventType::CertOrderFailed | EventType::CertRenewFailed => "D13438",
        EventType::CertDeleted => "808080",
        EventType::ChannelTest
        | EventType::DnsValidationRequired
        | EventType::DnsValidationCompleted => "0078D7",
    }
}

/// The MessageCard for `n`.
pub(super) fn render(n: &Notification) -> Value {
    let mut certs: Vec<_> = n.certificates.iter().collect();
    certs.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.name.cmp(&b.name)));
    let facts: Vec<Value> = certs
        .iter()
        .take(MAX_FACTS)
        .map(|cert| {
            let mut parts = Vec::new();
            if !cert.domains.is_empty() {
                parts.push(domains_list(&cert.domains, MAX_DOMAINS, escape));
            }
            parts.push(format!(
                "not after {} ({})",
                utc_date(cert.not_after),
                days_left_phrase(cert.days_left)
            ));
            if !cert.url.is_empty() {
                parts.push(format!("[Open]({})", link_target(&cert.url)));
            }
            json!({ "name": escape(&truncate_chars(&cert.name, 200)), "value": parts.join(" · ") })
        })
        .collect();
    let mut section = json!({ "facts": facts });
    if certs.len() > MAX_FACTS {
        section["text"] = json!(format!(
            "…and {} more certificates",
            certs.len() - MAX_FACTS
        ));
    }
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": truncate_chars(&n.summary, 200),
        "themeColor": theme_color(n.event),
        "title": event_title(n.event),
        "text": escape(&n.summary),
        "sections": [section],
    });
    if let [cert] = n.certificates.as_slice()
        && !cert.url.is_empty()
    {
        card["potentialAction"] = json!([{
            "@type": "OpenUri",
            "name": "Open in certkeep",
            "targets": [{ "os": "default", "uri": cert.url }],
        }]);
    }
    card
}

/// Teams renders a little HTML in card text: certificate names must not become markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL inside a markdown `(…)` link target.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}
