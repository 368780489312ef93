//! Channel senders: render a [`Notification`] in a channel's format and send it once.
//! Retries, backoff and bookkeeping belong to the delivery worker, not here; a sender only says
//! what the receiver answered ([`SendResult`]). One submodule per channel kind; the HTTP status
//! mapping, `Retry-After` parsing and secret scrubbing they share live here.
//!
//! Error and detail texts never contain secrets: reqwest errors are stripped of their URL (a
//! Slack or Teams URL is itself the secret), and every text is scrubbed of the target's secrets
//! and cut to [`MAX_ERROR_CHARS`] characters.

mod email;
pub(crate) mod pagerduty;
mod slack;
mod teams;
mod webhook;

use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::event::{EventType, Notification};
use super::signing::Signer;

/// Where and how a channel delivers. Secrets are already unsealed; never log them.
pub enum ChannelTarget {
    /// POST JSON; JWS (ES256, instance key) and Standard Webhooks HMAC headers.
    Webhook {
        url: String,
        /// `whsec_<base64>`: the Standard Webhooks secret.
        hmac_secret: Zeroizing<String>,
    },
    /// Slack incoming webhook.
    Slack { url: Zeroizing<String> },
    /// Microsoft Teams incoming webhook (MessageCard).
    Teams { url: Zeroizing<String> },
    /// PagerDuty Events API v2.
    Pagerduty {
        routing_key: Zeroizing<String>,
        /// `https://events.pagerduty.com/v2/enqueue` unless overridden.
        events_url: String,
    },
    /// SMTP.
    Email {
        smtp: SmtpSettings,
        from: String,
        to: Vec<String>,
    },
}

impl std::fmt::Debug for ChannelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelTarget::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .finish_non_exhaustive(),
            ChannelTarget::Slack { .. } => f.write_str("Slack { .. }"),
            ChannelTarget::Teams { .. } => f.write_str("Teams { .. }"),
            ChannelTarget::Pagerduty { events_url, .. } => f
                .debug_struct("Pagerduty")
                .field("events_url", events_url)
                .finish_non_exhaustive(),
            ChannelTarget::Email { smtp, from, to } => f
                .debug_struct("Email")
                .field("smtp", smtp)
                .field("from", from)
                .field("to", to)
                .finish(),
        }
    }
}

impl ChannelTarget {
    /// The channel kind as stored and logged.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelTarget::Webhook { .. } => "webhook",
            ChannelTarget::Slack { .. } => "slack",
            ChannelTarget::Teams { .. } => "teams",
            ChannelTarget::Pagerduty { .. } => "pagerduty",
            ChannelTarget::Email { .. } => "email",
        }
    }

    /// Every secret of this target, for scrubbing error texts.
    fn secrets(&self) -> Vec<&str> {
        let secrets = match self {
            ChannelTarget::Webhook { hmac_secret, .. } => {
                let s = hmac_secret.as_str();
                vec![s, s.strip_prefix("whsec_").unwrap_or(s)]
            }
            // The whole URL is the credential, and its path alone nearly so.
            ChannelTarget::Slack { url } | ChannelTarget::Teams { url } => {
                let path = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                    .filter(|p| p.len() >= 8);
                std::iter::once(url.as_str()).chain(path).collect()
            }
            ChannelTarget::Pagerduty { routing_key, .. } => vec![routing_key.as_str()],
            ChannelTarget::Email { smtp, .. } => smtp
                .password
                .as_ref()
                .map(|p| vec![p.as_str()])
                .unwrap_or_default(),
        };
        // Scrubbing an empty or one-character "secret" would shred the whole text.
        secrets.into_iter().filter(|s| s.len() >= 4).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587).
    Starttls,
    /// TLS from the first byte (465).
    Implicit,
    /// No TLS: loopback relays only.
    None,
}

pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
    /// Extra trust anchors (PEM certificates) for a relay behind a private CA; the public
    /// roots stay trusted too.
    pub ca_pem: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What the sender needs besides the target.
pub struct SendContext<'a> {
    pub now: OffsetDateTime,
    pub signer: &'a Signer,
    /// Build it with [`http_client`]: redirects must not be followed.
    pub http: &'a reqwest::Client,
}

/// The receiver's answer, as the worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// 2xx (or, for email, the SMTP server accepted the message).
    Delivered { status: Option<u16>, detail: String },
    /// Worth retrying: network errors, 408, 429, 5xx. `retry_after` from the receiver's header.
    Retry {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help: other 4xx, a rejected address, a malformed target.
    Failed { status: Option<u16>, error: String },
}

/// Per-request time limit for HTTP channels (connect, send, and read the answer).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Error and detail texts are cut to this many characters.
pub const MAX_ERROR_CHARS: usize = 200;
/// A `Retry-After` beyond this is clamped: the worker's own backoff takes over.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How much of a response body is read (the rest is dropped unread).
const MAX_BODY_BYTES: usize = 4096;

/// `certkeep/<version>`, sent as `user-agent` by every HTTP channel.
pub fn user_agent() -> String {
    format!("certkeep/{}", env!("CARGO_PKG_VERSION"))
}

/// The HTTP client the senders expect: no redirects (a 3xx is reported, never followed, so a
/// signed body is never replayed to another host), 10 s per request, 5 s to connect, the
/// `certkeep/<version>` user agent. Share one per process: it pools connections.
pub fn http_client() -> Result<reqwest::Client, crate::error::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(user_agent())
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| crate::error::Error::Internal(format!("building the HTTP client: {e}")))
}

/// Render `n` for `target` and send it once.
#[tracing::instrument(skip_all, fields(notification_id = %n.id, channel_id = %n.channel.id, kind = target.kind()))]
pub async fn send(target: &ChannelTarget, n: &Notification, ctx: &SendContext<'_>) -> SendResult {
    let result = match target {
        ChannelTarget::Webhook { url, hmac_secret } => {
            webhook::send(url, hmac_secret, n, ctx).await
        }
        ChannelTarget::Slack { url } => slack::send(url, n, ctx).await,
        ChannelTarget::Teams { url } => teams::send(url, n, ctx).await,
        ChannelTarget::Pagerduty {
            routing_key,
            events_url,
        } => pagerduty::send(events_url, routing_key, n, ctx).await,
        ChannelTarget::Email { smtp, from, to } => email::send(smtp, from, to, n, ctx).await,
    };
    let result = scrub_result(result, &target.secrets());
    match &result {
        SendResult::Delivered { status, .. } => tracing::debug!(?status, "delivered"),
        SendResult::Retry { status, error, .. } => tracing::info!(?status, %error, "will retry"),
        SendResult::Failed { status, error } => tracing::warn!(?status, %error, "failed"),
    }
    result
}

/// A short title for an event, used as a heading by the chat and email channels.
fn event_title(event: EventType) -> &'static str {
    match event {
        EventType::CertExpiring => "Certificates expiring soon",
        EventType::CertExpired => "Certificates expired",
        EventType::CertImported => "Certificates imported",
        EventType::CertReimported => "Certificates replaced",
        EventType::CertDeleted => "Certificates deleted",
        EventType::ChannelTest => "certkeep test notification",
        EventType::CertIssued => "Certificates issued",
        EventType::CertOrderFailed => "Certificate order failed",
        EventType::CertRenewed => "Certificates renewed",
        EventType::CertRenewFailed => "Certificate renewal failed",
        EventType::DnsValidationRequired => "DNS validation record required",
        EventType::DnsValidationCompleted => "DNS validation record no longer needed",
    }
}

/// "expires in 5 days", "expires today", "expired 3 days ago".
fn days_left_phrase(days_left: i64) -> String {
    match days_left {
        d if d < -1 => format!("expired {} days ago", -d),
        -1 => "expired 1 day ago".to_string(),
        0 => "expires today".to_string(),
        1 => "expires in 1 day".to_string(),
        d => format!("expires in {d} days"),
    }
}

/// The first `max` domains, each escaped and cut to 100 characters, then "(+N more)".
fn domains_list(domains: &[String], max: usize, escape: impl Fn(&str) -> String) -> String {
    let mut out = domains
        .iter()
        .take(max)
        .map(|d| escape(&truncate_chars(d, 100)))
        .collect::<Vec<_>>()
        .join(", ");
    if domains.len() > max {
        out.push_str(&format!(" (+{} more)", domains.len() - max));
    }
    out
}

/// `YYYY-MM-DD` of a timestamp, in UTC.
fn utc_date(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYY-MM-DD HH:MM UTC`.
fn utc_minute(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", utc_date(t), t.hour(), t.minute())
}

/// Cut `s` to at most `max` characters, marking the cut with `…`.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, "[redacted]");
        }
    }
    truncate_chars(&out, MAX_ERROR_CHARS)
}

fn scrub_result(result: SendResult, secrets: &[&str]) -> SendResult {
    match result {
        SendResult::Delivered { status, detail } => SendResult::Delivered {
            status,
            detail: scrub(&detail, secrets),
        },
        SendResult::Retry {
            status,
            error,
            retry_after,
        } => SendResult::Retry {
            status,
            error: scrub(&error, secrets),
            retry_after,
        },
        SendResult::Failed { status, error } => SendResult::Failed {
            status,
            error: scrub(&error, secrets),
        },
    }
}

/// POST `body` as JSON to `url` and map the answer. `extra` headers are added as given.
async fn post_json(
    ctx: &SendContext<'_>,
    url: &str,
    body: Vec<u8>,
    extra: &[(&str, String)],
) -> SendResult {
    let mut request = ctx
        .http
        .post(url)
        .timeout(HTTP_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, user_agent());
    for (name, value) in extra {
        request = request.header(*name, value.as_str());
    }
    http_outcome(request.body(body).send().await, ctx.now).await
}

/// Map an HTTP exchange to a [`SendResult`]: 2xx delivered; 408, 429 and 5xx retried (with the
/// receiver's `Retry-After`); network errors and timeouts retried; anything else failed.
async fn http_outcome(
    result: Result<reqwest::Response, reqwest::Error>,
    now: OffsetDateTime,
) -> SendResult {
    let mut response = match result {
        Ok(response) => response,
        Err(e) => return transport_error(e),
    };
    let status = response.status();
    let code = status.as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let body = read_body_prefix(&mut response).await;
    let body = body.trim();
    // Not cut here: `send` scrubs secrets first, then cuts, so no partial secret survives.
    let with_body = |what: String| {
        if body.is_empty() {
            what
        } else {
            format!("{what}: {body}")
        }
    };
    if status.is_success() {
        SendResult::Delivered {
            status: Some(code),
            detail: with_body(format!("HTTP {code}")),
        }
    } else if code == 408 || code == 429 || status.is_server_error() {
        SendResult::Retry {
            status: Some(code),
            error: with_body(format!("HTTP {code}")),
            retry_after,
        }
    } else if status.is_redirection() {
        // The Location may carry a token; it is not repeated here.
        SendResult::Failed {
            status: Some(code),
            error: format!("HTTP {code}: redirects are not followed; configure the final URL"),
        }
    } else {
        SendResult::Failed {
            status: Some(code),
            error: with_body(format!("HTTP {code}")),
        }
    }
}

fn transport_error(e: reqwest::Error) -> SendResult {
    let builder = e.is_builder();
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    if builder {
        SendResult::Failed {
            status: None,
            error: format!("invalid request: {text}"),
        }
    } else if timeout {
        SendResult::Retry {
            status: None,
            error: format!("timed out after {} s: {text}", HTTP_TIMEOUT.as_secs()),
            retry_after: None,
        }
    } else {
        SendResult::Retry {
            status: None,
            error: text,
            retry_after: None,
        }
    }
}

async fn read_body_prefix(response: &mut reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < MAX_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(MAX_BODY_BYTES);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), relative to `now`,
/// clamped to [`MAX_RETRY_AFTER`]. A date in the past means "now" (zero).
fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let format = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let at = time::PrimitiveDateTime::parse(value, &format)
            .ok()?
            .assume_utc();
        let secs = (at - now).whole_seconds().max(0);
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// Combine the results of the requests that together make one delivery of `total` requests
/// (fewer results when the sender stopped early): delivered only if all were; retried if any
/// can be retried (the longest `Retry-After` wins); else failed.
fn combine(results: Vec<SendResult>, total: usize) -> SendResult {
    let mut delivered = 0usize;
    let mut first_retry: Option<(Option<u16>, String)> = None;
    let mut retry_after: Option<Duration> = None;
    let mut first_failed: Option<(Option<u16>, String)> = None;
    let mut last_detail = (None, String::new());
    for result in results {
        match result {
            SendResult::Delivered { status, detail } => {
                delivered += 1;
                last_detail = (status, detail);
            }
            SendResult::Retry {
                status,
                error,
                retry_after: after,
            } => {
                retry_after = retry_after.max(after);
                first_retry.get_or_insert((status, error));
            }
            SendResult::Failed { status, error } => {
                first_failed.get_or_insert((status, error));
            }
        }
    }
    if let Some((status, error)) = first_retry {
        SendResult::Retry {
            status,
            error: format!("{delivered} of {total} sent; {error}"),
            retry_after,
        }
    } else if let Some((status, error)) = first_failed {
        SendResult::Failed {
            status,
            error: format!("{delivered} of {total} sent; {error}"),
        }
    } else {
        SendResult::Delivered {
            status: last_detail.0,
            detail: format!("{total} of {total} sent; {}", last_detail.1),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = datetime!(2026-03-01 12:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("9999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn scrub_removes_secrets_and_cuts_long_texts() {
        let text = format!("failed for token abcd1234 {}", "x".repeat(500));
        let out = scrub(&text, &["abcd1234"]);
        assert!(!out.contains("abcd1234"));
        assert!(out.contains("[redacted]"));
        assert_eq!(out.chars().count(), MAX_ERROR_CHARS);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn days_left_phrases() {
        assert_eq!(days_left_phrase(-3), "expired 3 days ago");
        assert_eq!(days_left_phrase(-1), "expired 1 day ago");
        assert_eq!(days_left_phrase(0), "expires today");
        assert_eq!(days_left_phrase(1), "expires in 1 day");
        assert_eq!(days_left_phrase(30), "expires in 30 days");
    }

    #[test]
    fn combine_prefers_retry_over_failure_and_takes_the_longest_wait() {
        let ok = SendResult::Delivered {
            status: Some(202),
            detail: "HTTP 202".into(),
        };
        let retry = |s| SendResult::Retry {
            status: Some(429),
            error: "HTTP 429".into(),
            retry_after: Some(Duration::from_secs(s)),
        };
        let failed = SendResult::Failed {
            status: Some(400),
            error: "HTTP 400".into(),
        };
        assert!(matches!(
            combine(vec![ok.clone(), ok.clone()], 2),
            SendResult::Delivered { .. }
        ));
        assert_eq!(
            combine(vec![ok.clone(), failed.clone(), retry(3), retry(9)], 5),
            SendResult::Retry {
                status: Some(429),
                error: "1 of 5 sent; HTTP 429".into(),
                retry_after: Some(Duration::from_secs(9)),
            }
        );
        assert_eq!(
            combine(vec![ok, failed], 2),
            SendResult::Failed {
                status: Some(400),
                error: "1 of 2 sent; HTTP 400".into()
            }
        );
    }
}
