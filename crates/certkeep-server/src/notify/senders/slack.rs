//! Slack incoming webhook: `POST <url>` with `{"text": <summary>, "blocks": [...]}`.
//!
//! Blocks: a header (the event), a section with the summary, then one section per expiry date
//! (`not_after`, UTC) listing its certificates as `• <url|name> — domains — expires in N days`,
//! soonest first. Slack allows 50 blocks and 3,000 characters per section: a long date group is
//! split over several sections, and what does not fit ends in "…and N more certificates".
//! Slack answers 200 `ok`; 400/403/404 with a reason such as `invalid_payload` or
//! `no_service`; 429 with `Retry-After`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    SendContext, SendResult, days_left_phrase, domains_list, event_title, post_json,
    truncate_chars, utc_date,
};
use crate::notify::event::{CertificateSummary, Notification};

/// Slack's limit on blocks in one message.
pub(super) const MAX_BLOCKS: usize = 50;
/// Slack's limit on a section's text.
const MAX_SECTION_CHARS: usize = 3000;
/// Domains shown per certificate before "+N more".
const MAX_DOMAINS: usize = 5;

pub(super) async fn send(url: &str, n: &Notification, ctx: &SendContext<'_>) -> SendResult {
    let body = match serde_json::to_vec(&render(n)) {
        Ok(body) => body,
        Err(e) => {
            return SendResult::Failed {
                status: None,
                error: format!("the Slack message cannot be serialized: {e}"),
            };
        }
    };
    post_json(ctx, url, body, &[]).await
}

/// The Slack message for `n`.
pub(super) fn render(n: &Notification) -> Value {
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": { "type": "plain_text", "text": event_title(n.event), "emoji": true },
        }),
        section(&truncate_chars(&escape(&n.summary), MAX_SECTION_CHARS)),
    ];

    // Sections of certificate lines, each with the number of certificates it lists.
    let mut by_date: BTreeMap<String, Vec<&CertificateSummary>> = BTreeMap::new();
    for cert in &n.certificates {
        by_date
            .entry(utc_date(cert.not_after))
            .or_default()
            .push(cert);
    }
    let mut sections: Vec<(String, usize)> = Vec::new();
    for (date, mut certs) in by_date {
        certs.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.name.cmp(&b.name)));
        let heading = if certs.iter().all(|c| c.days_left < 0) {
            format!("*Expired {date}*")
        } else {
            format!("*Expires {date}*")
        };
        let mut text = heading.clone();
        let mut count = 0;
        for cert in certs {
            let line = cert_line(cert);
            if text.chars().count() + 1 + line.chars().count() > MAX_SECTION_CHARS && count > 0 {
                sections.push((text, count));
                text = format!("{heading} (continued)");
                count = 0;
            }
            text.push('\n');
            text.push_str(&line);
            count += 1;
        }
        sections.push((text, count));
    }

    let room = MAX_BLOCKS - blocks.len();
    if sections.len() > room {
        let kept = room - 1;
        let hidden: usize = sections[kept..].iter().map(|(_, count)| count).sum();
        sections.truncate(kept);
        for (text, _) in sections {
            blocks.push(section(&text));
        }
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("…and {hidden} more certificates") }],
        }));
    } else {
        for (text, _) in sections {
            blocks.push(section(&text));
        }
    }

    json!({ "text": escape(&n.summary), "blocks": blocks })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// `• <url|name> — a.example, b.example (+2 more) — expires in 5 days`
fn cert_line(cert: &CertificateSummary) -> String {
    let name = escape(&truncate_chars(&cert.name, 200));
    let link = if cert.url.is_empty() {
        format!("*{name}*")
    } else {
        format!("<{}|{name}>", escape(&cert.url).replace('|', "%7C"))
    };
    let mut line = format!("• {link}");
    if !cert.domains.is_empty() {
        line.push_str(" — ");
        line.push_str(&domains_list(&cert.domains, MAX_DOMAINS, escape));
    }
    line.push_str(" — ");
    line.push_str(&days_left_phrase(cert.days_left));
    line
}

/// Slack's three control characters in text (<https://api.slack.com/reference/surfaces/formatting#escaping>).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
