//! Email over SMTP: one message per notification, every recipient in `To`, the summary as
//! `Subject`, `multipart/alternative` with a plain-text and an HTML part that list the
//! certificates (name, domains, not after, days left, link).
//!
//! TLS: `Starttls` upgrades a plain connection and refuses to go on (and to authenticate) if the
//! server cannot; `Implicit` speaks TLS from the first byte; `None` is for loopback relays.
//! Server certificates are checked against the Mozilla roots (webpki-roots).
//! SMTP 5xx replies and malformed addresses fail; 4xx replies and connection/TLS errors retry.
//! `status` carries the SMTP reply code.

use std::time::{Duration, SystemTime};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{
    SendContext, SendResult, SmtpSettings, SmtpTls, days_left_phrase, domains_list, event_title,
    utc_minute,
};
use crate::notify::event::Notification;

/// lettre's async transport applies its timeout to connecting only; the whole exchange for one
/// message is bounded here, so a server that stops answering cannot hold a worker.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Domains listed per certificate before "+N more".
const MAX_DOMAINS: usize = 10;

pub(super) async fn send(
    smtp: &SmtpSettings,
    from: &str,
    to: &[String],
    n: &Notification,
    ctx: &SendContext<'_>,
) -> SendResult {
    send_within(SMTP_TIMEOUT, smtp, from, to, n, ctx).await
}

async fn send_within(
    limit: Duration,
    smtp: &SmtpSettings,
    from: &str,
    to: &[String],
    n: &Notification,
    ctx: &SendContext<'_>,
) -> SendResult {
    let message = match build_message(from, to, n, ctx) {
        Ok(message) => message,
        Err(error) => {
            return SendResult::Failed {
                status: None,
                error,
            };
        }
    };
    let transport = match transport(smtp, limit) {
        Ok(transport) => transport,
        Err(error) => {
            return SendResult::Failed {
                status: None,
                error,
            };
        }
    };
    let result = tokio::time::timeout(limit, transport.send(message)).await;
    // Closes the pooled connection with QUIT; bounded like the rest.
    let _ = tokio::time::timeout(Duration::from_secs(5), transport.shutdown()).await;
    let Ok(result) = result else {
        return SendResult::Retry {
            status: None,
            error: format!(
                "SMTP: no answer from {}:{} within {} s",
                smtp.host,
                smtp.port,
                limit.as_secs_f32()
            ),
            retry_after: None,
        };
    };
    match result {
        Ok(response) => SendResult::Delivered {
            status: reply_code(&response.code().to_string()),
            detail: format!(
                "SMTP {}: {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            ),
        },
        Err(e) => smtp_error(&e),
    }
}

fn transport(
    smtp: &SmtpSettings,
    limit: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match (smtp.tls, &smtp.ca_pem) {
        (SmtpTls::Starttls | SmtpTls::Implicit, Some(ca_pem)) => {
            let params = tls_with_extra_roots(&smtp.host, ca_pem)?;
            let b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str());
            Ok(match smtp.tls {
                SmtpTls::Implicit => b.tls(lettre::transport::smtp::client::Tls::Wrapper(params)),
                _ => b.tls(lettre::transport::smtp::client::Tls::Required(params)),
            })
        }
        (SmtpTls::Starttls, None) => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
        }
        (SmtpTls::Implicit, None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        (SmtpTls::None, _) => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            smtp.host.as_str(),
        )),
    }
    .map_err(|e| format!("SMTP host {:?}: {e}", smtp.host))?;
    let mut builder = builder.port(smtp.port).timeout(Some(limit));
    if let Some(username) = &smtp.username {
        let password = smtp
            .password
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok(builder.build())
}

/// TLS settings trusting the public roots and the certificates in `ca_pem`.
fn tls_with_extra_roots(
    host: &str,
    ca_pem: &str,
) -> Result<lettre::transport::smtp::client::TlsParameters, String> {
    use lettre::transport::smtp::client::{Certificate, TlsParameters};
    let blocks = pem::parse_many(ca_pem.as_bytes())
        .map_err(|e| format!("the SMTP CA certificates are not PEM: {e}"))?;
    let mut builder = TlsParameters::builder(host.to_string());
    let mut n = 0;
    for b in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
        let cert = Certificate::from_der(b.contents().to_vec())
            .map_err(|e| format!("SMTP CA certificate {}: {e}", n + 1))?;
        builder = builder.add_root_certificate(cert);
        n += 1;
    }
    if n == 0 {
        return Err("the SMTP CA PEM holds no CERTIFICATE block".into());
    }
    builder
        .build()
        .map_err(|e| format!("SMTP TLS settings: {e}"))
}

fn reply_code(code: &str) -> Option<u16> {
    code.parse().ok()
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> SendResult {
    let status = e.status().and_then(|code| reply_code(&code.to_string()));
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    // lettre nests connection errors and repeats their prefix.
    let text = text.replace("Connection error: Connection error: ", "Connection error: ");
    if e.is_permanent() || e.is_client() {
        SendResult::Failed {
            status,
            error: format!("SMTP: {text}"),
        }
    } else {
        SendResult::Retry {
            status,
            error: format!("SMTP: {text}"),
            retry_after: None,
        }
    }
}

fn build_message(
    from: &str,
    to: &[String],
    n: &Notification,
    ctx: &SendContext<'_>,
) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("the sender address {from:?} is invalid: {e}"))?;
    if to.is_empty() {
        return Err("the channel has no recipients".into());
    }
    // Stable across retries, so a mail accepted twice threads as one.
    let message_id = format!("<{}@{}>", n.id, from.email.domain());
    let mut builder = Message::builder()
        .from(from)
        .subject(n.summary.replace(['\r', '\n'], " "))
        .date(SystemTime::from(ctx.now))
        .message_id(Some(message_id))
        .user_agent(super::user_agent());
    for address in to {
        let mailbox: Mailbox = address
            .parse()
            .map_err(|e| format!("the recipient address {address:?} is invalid: {e}"))?;
        builder = builder.to(mailbox);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            render_text(n),
            render_html(n),
        ))
        .map_err(|e| format!("the message cannot be built: {e}"))
}

fn domains_line(domains: &[String]) -> String {
    domains_list(domains, MAX_DOMAINS, str::to_string)
}

/// The plain-text part.
pub(super) fn render_text(n: &Notification) -> String {
    let mut out = String::new();
    out.push_str(&n.summary);
    out.push_str("\n\n");
    out.push_str(event_title(n.event));
    out.push('\n');
    let mut certs: Vec<_> = n.certificates.iter().collect();
    certs.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.name.cmp(&b.name)));
    for cert in certs {
        out.push_str(&format!("\n* {}\n", cert.name));
        if !cert.domains.is_empty() {
            out.push_str(&format!("  Domains:   {}\n", domains_line(&cert.domains)));
        }
        out.push_str(&format!(
            "  Not after: {} ({})\n",
            utc_minute(cert.not_after),
            days_left_phrase(cert.days_left)
        ));
        if !cert.url.is_empty() {
            out.push_str(&format!("  Link:      {}\n", cert.url));
        }
    }
    out.push_str(&format!(
        "\n-- \nSent by certkeep to the channel \"{}\" (notification {}, {}).\n",
        n.channel.name,
        n.id,
        n.event.as_str()
    ));
    out
}

/// The HTML part. Every value from the notification is escaped.
pub(super) fn render_html(n: &Notification) -> String {
    let mut rows = String::new();
    let mut certs: Vec<_> = n.certificates.iter().collect();
    certs.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.name.cmp(&b.name)));
    let cell = r#"style="padding:4px 8px;border-bottom:1px solid #ddd;text-align:left""#;
    for cert in certs {
        let name = if is_web_url(&cert.url) {
            format!(
                r#"<a href="{}">{}</a>"#,
                escape_html(&cert.url),
                escape_html(&cert.name)
            )
        } else {
            escape_html(&cert.name)
        };
        rows.push_str(&format!(
            "<tr><td {cell}>{name}</td><td {cell}>{}</td><td {cell}>{}</td><td {cell}>{}</td></tr>\n",
            escape_html(&domains_line(&cert.domains)),
            escape_html(&utc_minute(cert.not_after)),
            escape_html(&days_left_phrase(cert.days_left)),
        ));
    }
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!(
            "<table style=\"border-collapse:collapse\">\n<thead><tr><th {cell}>Certificate</th>\
             <th {cell}>Domains</th><th {cell}>Not after</th><th {cell}>Days left</th></tr></thead>\n\
             <tbody>\n{rows}</tbody>\n</table>\n"
        )
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{summary}</title></head>\n\
         <body style=\"font-family:sans-serif\">\n<h2>{title}</h2>\n<p>{summary}</p>\n{table}\
         <p style=\"color:#666;font-size:small\">Sent by certkeep to the channel \
         &quot;{channel}&quot; (notification {id}, {event}).</p>\n</body></html>\n",
        summary = escape_html(&n.summary),
        title = escape_html(event_title(n.event)),
        channel = escape_html(&n.channel.name),
        id = n.id,
        event = n.event.as_str(),
    )
}

fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_that_never_answers_is_retried_within_the_limit() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let (signer, _) = crate::notify::signing::Signer::generate().unwrap();
        let http = reqwest::Client::new();
        let ctx = SendContext {
            now: time::macros::datetime!(2026-03-01 12:00 UTC),
            signer: &signer,
            http: &http,
        };
        let n = Notification {
            id: uuid::Uuid::nil(),
            event: crate::notify::event::EventType::ChannelTest,
            time: ctx.now,
            channel: crate::notify::event::ChannelRef {
                id: uuid::Uuid::nil(),
                name: "ops".into(),
            },
            summary: "test".into(),
            certificates: vec![],
            dns_record: None,
            failed_domain: None,
        };
        let smtp = SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            ca_pem: None,
        };
        let to = ["ops@example.com".to_string()];
        let started = std::time::Instant::now();
        let result = send_within(
            Duration::from_millis(500),
            &smtp,
            "certkeep@example.com",
            &to,
            &n,
            &ctx,
        )
        .await;
        holder.abort();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            result,
            SendResult::Retry {
                status: None,
                error: format!("SMTP: no answer from 127.0.0.1:{port} within 0.5 s"),
                retry_after: None,
            }
        );
    }

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape_html(r#"<b>"a" & 'b'</b>"#),
            "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;"
        );
        assert!(!is_web_url("javascript:alert(1)"));
        assert!(is_web_url("HTTPS://certkeep.example/c/1"));
    }
}
