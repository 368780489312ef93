//! Channel senders against real receivers on loopback: a webhook receiver that verifies the
//! Standard Webhooks HMAC and the JWS against the published JWKS on its own; stand-ins for
//! Slack, Teams and PagerDuty that record what they get, checked field by field; a real SMTP
//! server (Debian's aiosmtpd, `tests/support/smtp_sink.py`); and the receiver examples of
//! docs/webhooks.md run by Python and Node against a captured delivery.
//!
//! Tools: `/usr/bin/python3` with `aiosmtpd` and `node` must be there when `CI=true` (a missing
//! one fails the test); elsewhere a missing tool skips its test with a loud message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use certkeep_server::notify::event::{CertificateSummary, ChannelRef, EventType, Notification};
use certkeep_server::notify::senders::{
    self, ChannelTarget, SendContext, SendResult, SmtpSettings, SmtpTls,
};
use certkeep_server::notify::signing::{self, Signer};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use zeroize::Zeroizing;

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);
const HMAC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROUTING_KEY: &str = "R0UT1NG-k3y-d0-n0t-l3ak-0123456789";
const SMTP_PASSWORD: &str = "sm7p-pa55w0rd-never-shown";

// --- fixtures ------------------------------------------------------------------------------

fn cert(name: &str, days_left: i64, domains: &[&str]) -> CertificateSummary {
    let id = Uuid::now_v7();
    CertificateSummary {
        id,
        name: name.to_string(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        serial: "4f:1a:09".into(),
        fingerprint_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .into(),
        not_after: NOW + time::Duration::days(days_left),
        days_left,
        group: Some("production".into()),
        labels: BTreeMap::from([("team".to_string(), "payments".to_string())]),
        version: 3,
        threshold: Some("30d".into()),
        url: format!("https://certkeep.example/certificates/{id}"),
    }
}

fn notification(event: EventType, certificates: Vec<CertificateSummary>) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        event,
        time: NOW,
        channel: ChannelRef {
            id: Uuid::now_v7(),
            name: "ops".into(),
        },
        summary: format!("{} certificates need attention", certificates.len()),
        certificates,
        dns_record: None,
        failed_domain: None,
    }
}

fn http() -> reqwest::Client {
    senders::http_client().unwrap()
}

fn ctx<'a>(signer: &'a Signer, http: &'a reqwest::Client) -> SendContext<'a> {
    SendContext {
        now: NOW,
        signer,
        http,
    }
}

fn webhook(url: &str) -> ChannelTarget {
    ChannelTarget::Webhook {
        url: url.to_string(),
        hmac_secret: Zeroizing::new(HMAC_SECRET.to_string()),
    }
}

fn error_text(result: &SendResult) -> &str {
    match result {
        SendResult::Delivered { detail, .. } => detail,
        SendResult::Retry { error, .. } | SendResult::Failed { error, .. } => error,
    }
}

/// An address on loopback where nothing listens.
async fn refused_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

// --- an HTTP receiver on loopback ----------------------------------------------------------

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }
}

#[derive(Debug, Clone)]
struct Captured {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Captured {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Verifies a webhook the way a receiver would, with nothing from certkeep's own code: the
/// Standard Webhooks HMAC with the channel secret, and the JWS with a key picked by `kid` from
/// the JWKS document as served (a JSON text).
struct WebhookVerifier {
    secret: String,
    jwks: Value,
    now: OffsetDateTime,
}

impl WebhookVerifier {
    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("missing {name}"))
        };
        if get("content-type")? != "application/json" {
            return Err("content-type is not application/json".into());
        }
        // Standard Webhooks: HMAC-SHA256 over "{id}.{timestamp}.{body}", key = base64 after whsec_.
        let id = get("webhook-id")?;
        let timestamp = get("webhook-timestamp")?;
        let ts: i64 = timestamp.parse().map_err(|_| "bad timestamp")?;
        if (ts - self.now.unix_timestamp()).abs() > 300 {
            return Err("timestamp outside the tolerance".into());
        }
        let key = STANDARD
            .decode(self.secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
        let mut signed = format!("{id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        let hmac_ok = get("webhook-signature")?
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|s| STANDARD.decode(s).ok())
            .any(|sig| hmac::verify(&key, &signed, &sig).is_ok());
        if !hmac_ok {
            return Err("webhook-signature does not verify".into());
        }
        // Detached JWS: header..signature, signing input header "." b64url(body).
        let jws = get("certkeep-signature")?;
        let parts: Vec<&str> = jws.split('.').collect();
        let [header_b64, "", signature_b64] = parts.as_slice() else {
            return Err("certkeep-signature is not a detached compact JWS".into());
        };
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(header_b64)
                .map_err(|_| "bad header b64")?,
        )
        .map_err(|_| "bad header json")?;
        if header["alg"] != "ES256" {
            return Err("alg is not ES256".into());
        }
        let jwk = self.jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == header["kid"])
            .ok_or("unknown kid")?;
        if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
            return Err("JWK is not an EC P-256 key".into());
        }
        let mut point = vec![0x04];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let signing_input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(body));
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| "bad signature b64")?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| "certkeep-signature does not verify".to_string())
    }
}

#[derive(Default)]
struct ReceiverState {
    requests: Mutex<Vec<Captured>>,
    replies: Mutex<VecDeque<Reply>>,
    default_reply: Mutex<Option<Reply>>,
    verifier: Option<WebhookVerifier>,
}

struct Receiver {
    base: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let verdict = state.verifier.as_ref().map(|v| v.verify(&headers, &body));
    state.requests.lock().unwrap().push(Captured {
        method,
        path: uri.to_string(),
        headers,
        body,
    });
    if let Some(Err(reason)) = verdict {
        return (StatusCode::UNAUTHORIZED, reason).into_response();
    }
    let reply = state
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.default_reply.lock().unwrap().clone())
        .unwrap_or_else(|| Reply::new(200, ""));
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

impl Receiver {
    async fn start(default_reply: Reply) -> Receiver {
        Receiver::start_with(ReceiverState {
            default_reply: Mutex::new(Some(default_reply)),
            ..ReceiverState::default()
        })
        .await
    }

    async fn verifying(verifier: WebhookVerifier) -> Receiver {
        Receiver::start_with(ReceiverState {
            verifier: Some(verifier),
            ..ReceiverState::default()
        })
        .await
    }

    async fn start_with(state: ReceiverState) -> Receiver {
        let state = Arc::new(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver { base, state, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn push(&self, reply: Reply) {
        self.state.replies.lock().unwrap().push_back(reply);
    }

    fn requests(&self) -> Vec<Captured> {
        self.state.requests.lock().unwrap().clone()
    }
}

// --- webhook -------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_is_signed_with_standard_webhooks_hmac_and_a_jws_from_the_jwks() {
    let (previous, _) = Signer::generate().unwrap();
    let (current, _) = Signer::generate().unwrap();
    // The JWKS as a receiver gets it: the served JSON text, old and new key during a rotation.
    let jwks_text = signing::jwks(&[&previous, &current]).to_string();
    let receiver = Receiver::verifying(WebhookVerifier {
        secret: HMAC_SECRET.into(),
        jwks: serde_json::from_str(&jwks_text).unwrap(),
        now: NOW,
    })
    .await;
    let http = http();
    let n = notification(
        EventType::CertExpiring,
        vec![cert("api", 29, &["api.example.com", "www.example.com"])],
    );

    let result = senders::send(
        &webhook(&receiver.url("/hooks/certkeep")),
        &n,
        &ctx(&current, &http),
    )
    .await;

    assert_eq!(
        result,
        SendResult::Delivered {
            status: Some(200),
            detail: "HTTP 200".into()
        }
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.path, "/hooks/certkeep");
    assert_eq!(req.header("content-type"), "application/json");
    assert_eq!(
        req.header("user-agent"),
        format!("certkeep/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(req.header("webhook-id"), n.id.to_string());
    assert_eq!(
        req.header("webhook-timestamp"),
        NOW.unix_timestamp().to_string()
    );
    assert!(req.header("webhook-signature").starts_with("v1,"));
    // The body is the notification, byte for byte as serde writes it.
    assert_eq!(
        req.body.as_ref(),
        serde_json::to_vec(&n).unwrap().as_slice()
    );
    let back: Notification = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(back, n);
    assert_eq!(req.json()["type"], "cert.expiring");
    // The JWS header names the current key.
    let jws = req.header("certkeep-signature");
    let header_b64 = jws.split("..").next().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "ES256", "kid": current.kid(), "typ": "JOSE"})
    );
    assert_ne!(previous.kid(), current.kid());
}

#[tokio::test]
async fn webhook_receiver_refuses_a_wrong_secret_an_unpublished_key_or_a_stale_timestamp() {
    // Negative controls for the verifying receiver, so the test above cannot pass vacuously.
    let (published, _) = Signer::generate().unwrap();
    let (unpublished, _) = Signer::generate().unwrap();
    let receiver = Receiver::verifying(WebhookVerifier {
        secret: HMAC_SECRET.into(),
        jwks: signing::jwks(&[&published]),
        now: NOW,
    })
    .await;
    let http = http();
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -1, &["api.example.com"])],
    );
    let url = receiver.url("/");

    let wrong_secret = ChannelTarget::Webhook {
        url: url.clone(),
        hmac_secret: Zeroizing::new(format!("whsec_{}", STANDARD.encode([7u8; 32]))),
    };
    let result = senders::send(&wrong_secret, &n, &ctx(&published, &http)).await;
    assert_eq!(
        result,
        SendResult::Failed {
            status: Some(401),
            error: "HTTP 401: webhook-signature does not verify".into()
        }
    );

    let result = senders::send(&webhook(&url), &n, &ctx(&unpublished, &http)).await;
    assert_eq!(
        result,
        SendResult::Failed {
            status: Some(401),
            error: "HTTP 401: unknown kid".into()
        }
    );

    let stale = SendContext {
        now: NOW - time::Duration::hours(1),
        signer: &published,
        http: &http,
    };
    let result = senders::send(&webhook(&url), &n, &stale).await;
    assert_eq!(
        result,
        SendResult::Failed {
            status: Some(401),
            error: "HTTP 401: timestamp outside the tolerance".into()
        }
    );

    let result = senders::send(&webhook(&url), &n, &ctx(&published, &http)).await;
    assert!(matches!(
        result,
        SendResult::Delivered {
            status: Some(200),
            ..
        }
    ));
}

#[tokio::test]
async fn webhook_answers_map_to_delivered_retry_or_failed() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -2, &["api.example.com"])],
    );
    let receiver = Receiver::start(Reply::new(200, "")).await;
    let elsewhere = Receiver::start(Reply::new(200, "")).await;
    let retry_at = "Sun, 01 Mar 2026 12:01:30 GMT"; // NOW + 90 s
    receiver.push(Reply::new(200, "ok"));
    receiver.push(Reply::new(503, "maintenance").header("retry-after", "7"));
    receiver.push(Reply::new(429, "").header("retry-after", retry_at));
    receiver.push(Reply::new(429, "slow down"));
    receiver.push(Reply::new(408, ""));
    receiver.push(Reply::new(500, &"x".repeat(1000)));
    receiver.push(Reply::new(400, "bad payload"));
    receiver.push(Reply::new(410, "gone"));
    receiver.push(Reply::new(302, "").header("location", &elsewhere.url("/moved")));
    let target = webhook(&receiver.url("/"));
    let mut results = Vec::new();
    for _ in 0..9 {
        results.push(senders::send(&target, &n, &ctx(&signer, &http)).await);
    }

    let secs = |s| Some(Duration::from_secs(s));
    assert_eq!(
        results[0],
        SendResult::Delivered {
            status: Some(200),
            detail: "HTTP 200: ok".into()
        }
    );
    assert_eq!(
        results[1],
        SendResult::Retry {
            status: Some(503),
            error: "HTTP 503: maintenance".into(),
            retry_after: secs(7)
        }
    );
    assert_eq!(
        results[2],
        SendResult::Retry {
            status: Some(429),
            error: "HTTP 429".into(),
            retry_after: secs(90)
        }
    );
    assert_eq!(
        results[3],
        SendResult::Retry {
            status: Some(429),
            error: "HTTP 429: slow down".into(),
            retry_after: None
        }
    );
    assert!(matches!(
        results[4],
        SendResult::Retry {
            status: Some(408),
            ..
        }
    ));
    // Long bodies are cut to 200 characters.
    let SendResult::Retry {
        status: Some(500),
        error,
        ..
    } = &results[5]
    else {
        panic!("{:?}", results[5])
    };
    assert_eq!(error.chars().count(), 200);
    assert!(error.starts_with("HTTP 500: xxx"));
    assert_eq!(
        results[6],
        SendResult::Failed {
            status: Some(400),
            error: "HTTP 400: bad payload".into()
        }
    );
    assert_eq!(
        results[7],
        SendResult::Failed {
            status: Some(410),
            error: "HTTP 410: gone".into()
        }
    );
    assert_eq!(
        results[8],
        SendResult::Failed {
            status: Some(302),
            error: "HTTP 302: redirects are not followed; configure the final URL".into()
        }
    );
    assert!(
        elsewhere.requests().is_empty(),
        "a redirect must not be followed"
    );
    // Every attempt carries the same webhook-id: receivers deduplicate on it.
    let ids: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect();
    assert_eq!(ids.len(), 9);
    assert!(ids.iter().all(|id| *id == n.id.to_string()));
}

#[tokio::test]
async fn webhook_network_failures_are_retried() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -2, &["api.example.com"])],
    );

    let refused = format!("http://{}/hook", refused_addr().await);
    let result = senders::send(&webhook(&refused), &n, &ctx(&signer, &http)).await;
    let SendResult::Retry {
        status: None,
        error,
        retry_after: None,
    } = &result
    else {
        panic!("{result:?}")
    };
    assert!(error.contains("onnect"), "{error}");
    assert!(!error.contains("/hook"), "the URL is left out: {error}");

    // A receiver that accepts the connection and never answers: the 10 s limit applies.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/", silent.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let result = senders::send(&webhook(&silent_url), &n, &ctx(&signer, &http)).await;
    let elapsed = started.elapsed();
    holder.abort();
    let SendResult::Retry {
        status: None,
        error,
        ..
    } = &result
    else {
        panic!("{result:?}")
    };
    assert!(error.starts_with("timed out after 10 s"), "{error}");
    assert!(
        elapsed >= Duration::from_secs(9) && elapsed < Duration::from_secs(20),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn webhook_with_a_malformed_secret_or_url_fails_without_sending() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let receiver = Receiver::start(Reply::new(200, "")).await;
    let n = notification(EventType::ChannelTest, vec![]);
    let bad_secret = ChannelTarget::Webhook {
        url: receiver.url("/"),
        hmac_secret: Zeroizing::new("whsec_!!not-base64!!".into()),
    };
    let result = senders::send(&bad_secret, &n, &ctx(&signer, &http)).await;
    assert_eq!(
        result,
        SendResult::Failed {
            status: None,
            error: "the channel's webhook secret is not `whsec_` followed by base64".into()
        }
    );
    assert!(receiver.requests().is_empty());

    for url in ["not a url", "ftp://127.0.0.1/x"] {
        let result = senders::send(&webhook(url), &n, &ctx(&signer, &http)).await;
        assert!(
            matches!(result, SendResult::Failed { status: None, .. }),
            "{url}: {result:?}"
        );
    }
}

// --- Slack ---------------------------------------------------------------------------------

#[tokio::test]
async fn slack_message_groups_certificates_by_expiry_date() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let slack = Receiver::start(Reply::new(200, "ok")).await;
    let api = cert("api", 5, &["api.example.com", "www.example.com"]);
    let mut evil = cert("<b>evil</b> & co", 5, &["evil.example.com"]);
    evil.not_after += time::Duration::hours(3); // same day, later
    let wild = cert(
        "wild",
        30,
        &[
            "a.example",
            "b.example",
            "c.example",
            "d.example",
            "e.example",
            "f.example",
            "g.example",
        ],
    );
    let mut n = notification(
        EventType::CertExpiring,
        vec![wild.clone(), evil.clone(), api.clone()],
    );
    n.summary = "3 certificates expire within 30 days".into();
    let target = ChannelTarget::Slack {
        url: Zeroizing::new(slack.url("/services/T000/B000/abcdefSECRET1234")),
    };

    let result = senders::send(&target, &n, &ctx(&signer, &http)).await;

    assert_eq!(
        result,
        SendResult::Delivered {
            status: Some(200),
            detail: "HTTP 200: ok".into()
        }
    );
    let requests = slack.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/services/T000/B000/abcdefSECRET1234");
    assert_eq!(requests[0].header("content-type"), "application/json");
    let expected = json!({
        "text": "3 certificates expire within 30 days",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Certificates expiring soon", "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "3 certificates expire within 30 days"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*Expires 2026-03-06*\n\
                 • <{}|api> — api.example.com, www.example.com — expires in 5 days\n\
                 • <{}|&lt;b&gt;evil&lt;/b&gt; &amp; co> — evil.example.com — expires in 5 days",
                api.url, evil.url)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*Expires 2026-03-31*\n\
                 • <{}|wild> — a.example, b.example, c.example, d.example, e.example (+2 more) — expires in 30 days",
                wild.url)}},
        ],
    });
    assert_eq!(requests[0].json(), expected);
}

#[tokio::test]
async fn slack_message_stays_within_fifty_blocks() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let slack = Receiver::start(Reply::new(200, "ok")).await;
    let certs: Vec<_> = (0..100)
        .map(|i| cert(&format!("cert-{i:03}"), i, &["x.example"]))
        .collect();
    let n = notification(EventType::CertExpiring, certs);
    let target = ChannelTarget::Slack {
        url: Zeroizing::new(slack.url("/services/T/B/secret")),
    };
    let result = senders::send(&target, &n, &ctx(&signer, &http)).await;
    assert!(matches!(result, SendResult::Delivered { .. }), "{result:?}");
    let body = slack.requests()[0].json();
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 50);
    // header + summary + 47 dates shown (one certificate each) + the rest summed up.
    assert_eq!(
        blocks[49],
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "…and 53 more certificates"}]})
    );
    assert!(
        blocks[48]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("cert-046")
    );
    for block in blocks {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= 3000);
        }
    }

    // One date with 100 certificates: split into sections of at most 3,000 characters.
    let same_day: Vec<_> = (0..100)
        .map(|i| cert(&format!("{i:03}-{}", "n".repeat(60)), 3, &["x.example"]))
        .collect();
    let n = notification(EventType::CertExpiring, same_day);
    senders::send(&target, &n, &ctx(&signer, &http)).await;
    let body = slack.requests()[1].json();
    let sections: Vec<&str> = body["blocks"].as_array().unwrap()[2..]
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert!(sections.len() > 1);
    assert!(sections.iter().all(|t| t.chars().count() <= 3000));
    assert!(sections[1].starts_with("*Expires 2026-03-04* (continued)\n"));
    let lines: usize = sections.iter().map(|t| t.matches("\n• ").count()).sum();
    assert_eq!(lines, 100);
}

#[tokio::test]
async fn slack_errors_map_like_slack_answers() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let slack = Receiver::start(Reply::new(200, "ok")).await;
    slack.push(Reply::new(400, "invalid_payload"));
    slack.push(Reply::new(404, "no_service"));
    slack.push(Reply::new(429, "rate_limited").header("retry-after", "30"));
    let target = ChannelTarget::Slack {
        url: Zeroizing::new(slack.url("/services/T/B/secret")),
    };
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -1, &["api.example.com"])],
    );
    let c = ctx(&signer, &http);
    assert_eq!(
        senders::send(&target, &n, &c).await,
        SendResult::Failed {
            status: Some(400),
            error: "HTTP 400: invalid_payload".into()
        }
    );
    assert_eq!(
        senders::send(&target, &n, &c).await,
        SendResult::Failed {
            status: Some(404),
            error: "HTTP 404: no_service".into()
        }
    );
    assert_eq!(
        senders::send(&target, &n, &c).await,
        SendResult::Retry {
            status: Some(429),
            error: "HTTP 429: rate_limited".into(),
            retry_after: Some(Duration::from_secs(30))
        }
    );
}

// --- Teams ---------------------------------------------------------------------------------

#[tokio::test]
async fn teams_message_card_for_one_certificate() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let teams = Receiver::start(Reply::new(200, "1")).await;
    let api = cert("api <prod>", -1, &["api.example.com"]);
    let mut n = notification(EventType::CertExpired, vec![api.clone()]);
    n.summary = "1 certificate has expired".into();
    let target = ChannelTarget::Teams {
        url: Zeroizing::new(teams.url("/webhookb2/abc/IncomingWebhook/def/ghi")),
    };
    let result = senders::send(&target, &n, &ctx(&signer, &http)).await;
    assert_eq!(
        result,
        SendResult::Delivered {
            status: Some(200),
            detail: "HTTP 200: 1".into()
        }
    );
    let expected = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "1 certificate has expired",
        "themeColor": "D13438",
        "title": "Certificates expired",
        "text": "1 certificate has expired",
        "sections": [{"facts": [{
            "name": "api &lt;prod&gt;",
            "value": format!("api.example.com · not after 2026-02-28 (expired 1 day ago) · [Open]({})", api.url),
        }]}],
        "potentialAction": [{
            "@type": "OpenUri",
            "name": "Open in certkeep",
            "targets": [{"os": "default", "uri": api.url}],
        }],
    });
    let requests = teams.requests();
    assert_eq!(requests[0].header("content-type"), "application/json");
    assert_eq!(requests[0].json(), expected);
}

#[tokio::test]
async fn teams_lists_many_certificates_and_retries_throttled_deliveries() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let teams = Receiver::start(Reply::new(200, "1")).await;
    teams.push(Reply::new(
        200,
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-canary-eus2-0,cv=abc",
    ));
    let certs = vec![
        cert("b", 10, &["b.example"]),
        cert("a", 10, &["a.example"]),
        cert("c", 60, &[]),
    ];
    let n = notification(EventType::CertExpiring, certs);
    let target = ChannelTarget::Teams {
        url: Zeroizing::new(teams.url("/webhookb2/abc")),
    };
    let c = ctx(&signer, &http);
    let first = senders::send(&target, &n, &c).await;
    assert!(
        matches!(first, SendResult::Retry { status: Some(200), ref error, .. } if error.contains("HTTP error 429")),
        "{first:?}"
    );
    let second = senders::send(&target, &n, &c).await;
    assert!(matches!(second, SendResult::Delivered { .. }), "{second:?}");
    let card = teams.requests()[1].json();
    assert_eq!(card["themeColor"], "FFB900");
    assert_eq!(card["title"], "Certificates expiring soon");
    assert!(card.get("potentialAction").is_none());
    let facts = card["sections"][0]["facts"].as_array().unwrap();
    let names: Vec<&str> = facts.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        facts[2]["value"],
        format!(
            "not after 2026-04-30 (expires in 60 days) · [Open]({})",
            n.certificates[2].url
        )
    );
}

// --- PagerDuty -----------------------------------------------------------------------------

fn pagerduty(receiver: &Receiver) -> ChannelTarget {
    ChannelTarget::Pagerduty {
        routing_key: Zeroizing::new(ROUTING_KEY.into()),
        events_url: receiver.url("/v2/enqueue"),
    }
}

fn pd_accepted() -> Reply {
    Reply::new(
        202,
        r#"{"status":"success","message":"Event processed","dedup_key":"x"}"#,
    )
    .header("content-type", "application/json")
}

#[tokio::test]
async fn pagerduty_triggers_one_critical_alert_per_expired_certificate() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let pd = Receiver::start(pd_accepted()).await;
    let api = cert("api", -2, &["api.example.com", "www.example.com"]);
    let db = cert("db", 0, &[]);
    let n = notification(EventType::CertExpired, vec![api.clone(), db.clone()]);

    let result = senders::send(&pagerduty(&pd), &n, &ctx(&signer, &http)).await;

    assert!(
        matches!(&result, SendResult::Delivered { status: Some(202), detail } if detail.starts_with("2 of 2 sent")),
        "{result:?}"
    );
    let requests = pd.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.path == "/v2/enqueue"
        && r.method == Method::POST
        && r.header("content-type") == "application/json"));
    assert_eq!(
        requests[0].json(),
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": format!("certkeep:{}", api.id),
            "payload": {
                "summary": "Certificate api (api.example.com, www.example.com) expired at 2026-02-27 12:00 UTC",
                "source": "certkeep",
                "severity": "critical",
                "timestamp": "2026-03-01T12:00:00Z",
                "custom_details": {
                    "event": "cert.expired",
                    "notification_id": n.id,
                    "certificate_id": api.id,
                    "name": "api",
                    "domains": ["api.example.com", "www.example.com"],
                    "serial": "4f:1a:09",
                    "fingerprint_sha256": api.fingerprint_sha256,
                    "not_after": "2026-02-27T12:00:00Z",
                    "days_left": -2,
                    "threshold": "30d",
                    "group": "production",
                    "labels": {"team": "payments"},
                    "version": 3,
                    "url": api.url,
                },
            },
            "links": [{"href": api.url, "text": "certkeep"}],
        })
    );
    let second = requests[1].json();
    assert_eq!(second["dedup_key"], format!("certkeep:{}", db.id));
    assert_eq!(
        second["payload"]["summary"],
        "Certificate db expired at 2026-03-01 12:00 UTC"
    );
}

#[tokio::test]
async fn pagerduty_resolves_replaced_or_deleted_certificates() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let pd = Receiver::start(pd_accepted()).await;
    let api = cert("api", 80, &["api.example.com"]);
    let db = cert("db", 80, &["db.example.com"]);
    for event in [EventType::CertReimported, EventType::CertDeleted] {
        let n = notification(event, vec![api.clone(), db.clone()]);
        let result = senders::send(&pagerduty(&pd), &n, &ctx(&signer, &http)).await;
        assert!(
            matches!(
                result,
                SendResult::Delivered {
                    status: Some(202),
                    ..
                }
            ),
            "{result:?}"
        );
    }
    let bodies: Vec<Value> = pd.requests().iter().map(Captured::json).collect();
    assert_eq!(bodies.len(), 4);
    for (body, c) in bodies.iter().zip([&api, &db, &api, &db]) {
        assert_eq!(
            *body,
            json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": format!("certkeep:{}", c.id)})
        );
    }
}

#[tokio::test]
async fn pagerduty_expiring_warns_imported_sends_nothing_and_a_test_triggers_then_resolves() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let pd = Receiver::start(pd_accepted()).await;
    let c = ctx(&signer, &http);

    let api = cert("api", 1, &["api.example.com"]);
    let n = notification(EventType::CertExpiring, vec![api.clone()]);
    senders::send(&pagerduty(&pd), &n, &c).await;
    let body = pd.requests()[0].json();
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["payload"]["severity"], "warning");
    assert_eq!(
        body["payload"]["summary"],
        "Certificate api (api.example.com) expires in 1 day, at 2026-03-02 12:00 UTC"
    );

    let n = notification(EventType::CertImported, vec![api.clone()]);
    let result = senders::send(&pagerduty(&pd), &n, &c).await;
    assert_eq!(
        result,
        SendResult::Delivered {
            status: None,
            detail: "cert.imported does not page: nothing sent".into()
        }
    );
    assert_eq!(pd.requests().len(), 1);

    let mut n = notification(EventType::ChannelTest, vec![]);
    n.summary = "certkeep test notification".into();
    let result = senders::send(&pagerduty(&pd), &n, &c).await;
    assert!(
        matches!(
            result,
            SendResult::Delivered {
                status: Some(202),
                ..
            }
        ),
        "{result:?}"
    );
    let requests = pd.requests();
    assert_eq!(requests.len(), 3);
    let key = format!("certkeep:test:{}", n.id);
    assert_eq!(
        requests[1].json(),
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": "certkeep test notification",
                "source": "certkeep",
                "severity": "info",
                "timestamp": "2026-03-01T12:00:00Z",
                "custom_details": {"event": "channel.test", "notification_id": n.id, "channel": "ops"},
            },
        })
    );
    assert_eq!(
        requests[2].json(),
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key})
    );
}

#[tokio::test]
async fn pagerduty_partial_failures_retry_or_fail_the_whole_delivery() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let pd = Receiver::start(pd_accepted()).await;
    let c = ctx(&signer, &http);
    let certs: Vec<_> = (0..3)
        .map(|i| cert(&format!("c{i}"), -1, &["x.example"]))
        .collect();
    let n = notification(EventType::CertExpired, certs);

    // Throttled on the second: stop there, retry the delivery after the longest wait.
    pd.push(pd_accepted());
    pd.push(
        Reply::new(429, r#"{"status":"throttle event","message":"Requests for this service are arriving too quickly."}"#)
            .header("retry-after", "60"),
    );
    let result = senders::send(&pagerduty(&pd), &n, &c).await;
    assert!(
        matches!(&result, SendResult::Retry { status: Some(429), retry_after: Some(d), error }
            if *d == Duration::from_secs(60) && error.starts_with("1 of 3 sent; HTTP 429")),
        "{result:?}"
    );
    assert_eq!(pd.requests().len(), 2);

    // A rejected event fails the delivery, the others are still sent.
    pd.push(pd_accepted());
    pd.push(Reply::new(
        400,
        r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#,
    ));
    let result = senders::send(&pagerduty(&pd), &n, &c).await;
    assert!(
        matches!(&result, SendResult::Failed { status: Some(400), error } if error.starts_with("2 of 3 sent; HTTP 400")),
        "{result:?}"
    );
    assert_eq!(pd.requests().len(), 5);
}

// --- secrets -------------------------------------------------------------------------------

/// A receiver that answers 400 with everything it got: the path, the routing key if the body
/// has one (as an API that quotes bad fields would), the headers and the body.
async fn echoing_receiver() -> (String, tokio::task::JoinHandle<()>) {
    async fn echo(uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let mut text = format!("{uri} ");
        if let Ok(json) = serde_json::from_slice::<Value>(&body)
            && let Some(key) = json["routing_key"].as_str()
        {
            text.push_str(&format!("invalid routing_key {key} "));
        }
        for (name, value) in &headers {
            text.push_str(&format!("{name}={} ", value.to_str().unwrap_or("?")));
        }
        text.push_str(&String::from_utf8_lossy(&body));
        (StatusCode::BAD_REQUEST, text).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(echo))
            .await
            .unwrap();
    });
    (base, task)
}

#[tokio::test]
async fn no_secret_appears_in_any_result_text() {
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let c = ctx(&signer, &http);
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -1, &["api.example.com"])],
    );
    let (echo, task) = echoing_receiver().await;
    let refused = format!("http://{}", refused_addr().await);
    let slack_path = "/services/T0SECRET/B0SECRET/abcdefSLACKSECRET";
    let teams_path = "/webhookb2/TEAMSSECRET@tenant/IncomingWebhook/xyzTEAMSSECRET";
    let whsec_body = HMAC_SECRET.strip_prefix("whsec_").unwrap();

    let mut cases = Vec::new();
    for base in [&echo, &refused] {
        cases.push(ChannelTarget::Pagerduty {
            routing_key: Zeroizing::new(ROUTING_KEY.into()),
            events_url: format!("{base}/v2/enqueue"),
        });
        cases.push(ChannelTarget::Slack {
            url: Zeroizing::new(format!("{base}{slack_path}")),
        });
        cases.push(ChannelTarget::Teams {
            url: Zeroizing::new(format!("{base}{teams_path}")),
        });
        cases.push(webhook(&format!("{base}/hook")));
    }
    for target in &cases {
        let result = senders::send(target, &n, &c).await;
        assert!(!matches!(result, SendResult::Delivered { .. }));
        let text = error_text(&result);
        for secret in [
            ROUTING_KEY,
            "SLACKSECRET",
            "TEAMSSECRET",
            HMAC_SECRET,
            whsec_body,
        ] {
            assert!(!text.contains(secret), "{target:?} leaked {secret}: {text}");
        }
        // Debug output of a target is safe to log too.
        let debug = format!("{target:?}");
        for secret in [ROUTING_KEY, "SLACKSECRET", "TEAMSSECRET", whsec_body] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
    task.abort();
}

// --- email through a real SMTP server -------------------------------------------------------

/// `true` when the tool is there; without it, a failure under `CI=true`, else a loud skip.
fn tool_available(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing and CI=true: scripts/test.sh installs it");
    }
    eprintln!(
        "\n*** SKIPPED: {what} is missing (scripts/test.sh installs it; CI fails without it) ***\n"
    );
    false
}

fn python_has(module: &str) -> bool {
    std::process::Command::new("/usr/bin/python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn aiosmtpd_available() -> bool {
    tool_available(
        "/usr/bin/python3 with aiosmtpd (Debian package python3-aiosmtpd)",
        python_has("aiosmtpd"),
    )
}

fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    /// The private CA that issued the sink's TLS certificate, when it speaks TLS.
    ca_pem: Option<String>,
    _child: tokio::process::Child,
}

#[derive(Default)]
struct SinkOptions {
    auth: bool,
    tls: Option<&'static str>, // "starttls" or "implicit"
}

impl SmtpSink {
    async fn start(options: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_pem = None;
        let mut cmd = tokio::process::Command::new("/usr/bin/python3");
        cmd.arg(support_dir().join("smtp_sink.py")).arg(dir.path());
        if options.auth {
            cmd.args(["--user", "certkeep", "--password", SMTP_PASSWORD]);
        }
        if let Some(mode) = options.tls {
            let now = OffsetDateTime::now_utc();
            let ca = certkeep_testkit::Ca::new_root(
                certkeep_testkit::KeyKind::EcP256,
                "sink test root",
                now - time::Duration::days(1),
                now + time::Duration::days(30),
            )
            .unwrap();
            let leaf = ca
                .leaf(&certkeep_testkit::LeafSpec::new(
                    "localhost",
                    now - time::Duration::days(1),
                    now + time::Duration::days(30),
                ))
                .unwrap();
            ca_pem = Some(ca.cert_pem());
            std::fs::write(dir.path().join("cert.pem"), &leaf.cert_pem).unwrap();
            std::fs::write(dir.path().join("key.pem"), &leaf.key_pem).unwrap();
            cmd.arg("--cert")
                .arg(dir.path().join("cert.pem"))
                .arg("--key")
                .arg(dir.path().join("key.pem"));
            if mode == "implicit" {
                cmd.arg("--implicit-tls");
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the SMTP sink did not start in 20 s")
        .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected sink output {line:?}"))
            .parse()
            .unwrap();
        SmtpSink {
            port,
            dir,
            ca_pem,
            _child: child,
        }
    }

    fn messages(&self) -> Vec<Value> {
        let mut found: Vec<(u32, Value)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                let n: u32 = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                Some((n, serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    fn auth_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("auth.log")).unwrap_or_default()
    }

    fn target(
        &self,
        host: &str,
        tls: SmtpTls,
        password: Option<&str>,
        to: &[&str],
    ) -> ChannelTarget {
        ChannelTarget::Email {
            smtp: SmtpSettings {
                host: host.into(),
                port: self.port,
                tls,
                username: password.map(|_| "certkeep".to_string()),
                password: password.map(|p| Zeroizing::new(p.to_string())),
                ca_pem: None,
            },
            from: "certkeep <certkeep@example.com>".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[tokio::test]
async fn email_goes_through_a_real_smtp_server_with_text_and_escaped_html() {
    if !aiosmtpd_available() {
        return;
    }
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let sink = SmtpSink::start(SinkOptions {
        auth: true,
        tls: None,
    })
    .await;
    let api = cert("api", 5, &["api.example.com", "www.example.com"]);
    let evil = cert("<b>evil</b>", 12, &["evil.example.com"]);
    let mut n = notification(EventType::CertExpiring, vec![evil.clone(), api.clone()]);
    n.summary = "2 certificates expire within 30 days".into();
    let target = sink.target(
        "127.0.0.1",
        SmtpTls::None,
        Some(SMTP_PASSWORD),
        &["ops@example.com", "Security Team <security@example.org>"],
    );

    let result = senders::send(&target, &n, &ctx(&signer, &http)).await;

    assert!(
        matches!(&result, SendResult::Delivered { status: Some(250), detail } if detail.starts_with("SMTP 250")),
        "{result:?}"
    );
    assert_eq!(sink.auth_log(), "PLAIN certkeep ok\n");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one mail for all recipients");
    let m = &messages[0];
    assert_eq!(m["mail_from"], "certkeep@example.com");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ops@example.com", "security@example.org"])
    );
    assert_eq!(m["headers"]["from"], "certkeep <certkeep@example.com>");
    assert_eq!(
        m["headers"]["to"],
        "ops@example.com, Security Team <security@example.org>"
    );
    assert_eq!(
        m["headers"]["subject"],
        "2 certificates expire within 30 days"
    );
    assert_eq!(m["headers"]["date"], "Sun, 01 Mar 2026 12:00:00 +0000");
    assert_eq!(
        m["headers"]["message-id"],
        format!("<{}@example.com>", n.id)
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[1]["content_type"], "text/html");
    // SMTP carries CRLF line ends; compare with LF.
    let text = parts[0]["text"].as_str().unwrap().replace("\r\n", "\n");
    let html = parts[1]["text"].as_str().unwrap().replace("\r\n", "\n");

    assert!(text.contains("\n* api\n  Domains:   api.example.com, www.example.com\n  Not after: 2026-03-06 12:00 UTC (expires in 5 days)\n"), "{text}");
    assert!(text.contains(&format!("  Link:      {}\n", api.url)));
    assert!(
        text.contains("* <b>evil</b>\n"),
        "plain text is not escaped: {text}"
    );
    assert!(text.find("* api").unwrap() < text.find("* <b>evil</b>").unwrap());

    assert!(
        html.contains(&format!(r#"<a href="{}">api</a>"#, api.url)),
        "{html}"
    );
    assert!(html.contains(&format!(
        r#"<a href="{}">&lt;b&gt;evil&lt;/b&gt;</a>"#,
        evil.url
    )));
    assert!(
        !html.contains("<b>evil</b>"),
        "HTML must be escaped: {html}"
    );
    assert!(html.contains("api.example.com, www.example.com"));
    assert!(html.contains("2026-03-13 12:00 UTC"));
    assert!(html.contains("expires in 12 days"));
}

#[tokio::test]
async fn email_smtp_errors_map_to_retry_or_failure() {
    if !aiosmtpd_available() {
        return;
    }
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let c = ctx(&signer, &http);
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -1, &["api.example.com"])],
    );
    let sink = SmtpSink::start(SinkOptions {
        auth: true,
        tls: None,
    })
    .await;

    let rejected = sink.target(
        "127.0.0.1",
        SmtpTls::None,
        Some(SMTP_PASSWORD),
        &["ok@example.com", "reject@example.com"],
    );
    let result = senders::send(&rejected, &n, &c).await;
    assert!(
        matches!(
            result,
            SendResult::Failed {
                status: Some(550),
                ..
            }
        ),
        "{result:?}"
    );

    let busy = sink.target(
        "127.0.0.1",
        SmtpTls::None,
        Some(SMTP_PASSWORD),
        &["busy@example.com"],
    );
    let result = senders::send(&busy, &n, &c).await;
    assert!(
        matches!(
            result,
            SendResult::Retry {
                status: Some(451),
                ..
            }
        ),
        "{result:?}"
    );

    let wrong_password = sink.target(
        "127.0.0.1",
        SmtpTls::None,
        Some("wrong-password-xyz"),
        &["ok@example.com"],
    );
    let result = senders::send(&wrong_password, &n, &c).await;
    assert!(
        matches!(
            result,
            SendResult::Failed {
                status: Some(535),
                ..
            }
        ),
        "{result:?}"
    );
    assert!(!error_text(&result).contains("wrong-password-xyz"));

    let bad_address = sink.target(
        "127.0.0.1",
        SmtpTls::None,
        Some(SMTP_PASSWORD),
        &["not an address"],
    );
    let result = senders::send(&bad_address, &n, &c).await;
    assert!(
        matches!(&result, SendResult::Failed { status: None, error } if error.contains("\"not an address\"")),
        "{result:?}"
    );
    assert!(sink.messages().is_empty());

    let refused_port: u16 = refused_addr()
        .await
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let refused = ChannelTarget::Email {
        smtp: SmtpSettings {
            host: "127.0.0.1".into(),
            port: refused_port,
            tls: SmtpTls::None,
            username: Some("certkeep".into()),
            password: Some(Zeroizing::new(SMTP_PASSWORD.into())),
            ca_pem: None,
        },
        from: "certkeep@example.com".into(),
        to: vec!["ops@example.com".into()],
    };
    let result = senders::send(&refused, &n, &c).await;
    assert!(
        matches!(result, SendResult::Retry { status: None, .. }),
        "{result:?}"
    );
    for target in [&rejected, &busy, &refused] {
        assert!(!format!("{target:?}").contains(SMTP_PASSWORD));
    }
}

#[tokio::test]
async fn email_tls_modes_never_send_credentials_in_clear_or_to_an_untrusted_server() {
    if !aiosmtpd_available() {
        return;
    }
    let (signer, _) = Signer::generate().unwrap();
    let http = http();
    let c = ctx(&signer, &http);
    let n = notification(
        EventType::CertExpired,
        vec![cert("api", -1, &["api.example.com"])],
    );

    // STARTTLS required, the server does not offer it: stop before AUTH.
    let plain = SmtpSink::start(SinkOptions {
        auth: true,
        tls: None,
    })
    .await;
    let target = plain.target(
        "127.0.0.1",
        SmtpTls::Starttls,
        Some(SMTP_PASSWORD),
        &["ops@example.com"],
    );
    let result = senders::send(&target, &n, &c).await;
    assert!(
        matches!(&result, SendResult::Failed { status: None, error } if error.contains("STARTTLS")),
        "{result:?}"
    );
    assert_eq!(plain.auth_log(), "");
    assert!(plain.messages().is_empty());

    // STARTTLS offered with a certificate from an unknown CA, and implicit TLS likewise: the
    // handshake fails, nothing is authenticated or sent.
    for (mode, tls) in [
        ("starttls", SmtpTls::Starttls),
        ("implicit", SmtpTls::Implicit),
    ] {
        let sink = SmtpSink::start(SinkOptions {
            auth: true,
            tls: Some(mode),
        })
        .await;
        let target = sink.target("localhost", tls, Some(SMTP_PASSWORD), &["ops@example.com"]);
        let result = senders::send(&target, &n, &c).await;
        assert!(
            matches!(&result, SendResult::Retry { status: None, .. }),
            "{mode}: {result:?}"
        );
        let text = error_text(&result).to_lowercase();
        assert!(
            text.contains("certificate") || text.contains("issuer"),
            "{mode}: {text}"
        );
        assert_eq!(sink.auth_log(), "", "{mode}");
        assert!(sink.messages().is_empty(), "{mode}");

        // Trusting the relay's private CA (the channel's `smtp.ca_pem`), the same server gets
        // the mail, over TLS, authenticated.
        let mut trusted = sink.target("localhost", tls, Some(SMTP_PASSWORD), &["ops@example.com"]);
        if let ChannelTarget::Email { smtp, .. } = &mut trusted {
            smtp.ca_pem = sink.ca_pem.clone();
        }
        let result = senders::send(&trusted, &n, &c).await;
        assert!(
            matches!(result, SendResult::Delivered { .. }),
            "{mode}: {result:?}"
        );
        assert_eq!(sink.messages().len(), 1, "{mode}");
        assert!(
            sink.auth_log().contains("certkeep"),
            "{mode}: {}",
            sink.auth_log()
        );
    }
}

// --- docs/webhooks.md examples, run for real ------------------------------------------------

/// The fenced block that follows `<!-- test: NAME -->` in docs/webhooks.md.
fn doc_snippet(name: &str) -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md"),
    )
    .unwrap();
    let marker = format!("<!-- test: {name} -->");
    let after = &doc[doc.find(&marker).unwrap_or_else(|| panic!("no {marker}")) + marker.len()..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].to_string()
}

/// A real delivery, captured by a receiver: what the examples verify.
async fn captured_delivery(now: OffsetDateTime) -> (Value, Captured) {
    let (previous, _) = Signer::generate().unwrap();
    let (current, _) = Signer::generate().unwrap();
    let receiver = Receiver::start(Reply::new(204, "")).await;
    let http = http();
    let mut n = notification(
        EventType::CertExpiring,
        vec![cert("api ✓ ünïcödé", 29, &["api.example.com"])],
    );
    n.time = now;
    let c = SendContext {
        now,
        signer: &current,
        http: &http,
    };
    let result = senders::send(&webhook(&receiver.url("/")), &n, &c).await;
    assert!(matches!(result, SendResult::Delivered { .. }), "{result:?}");
    let req = receiver.requests().remove(0);
    let input = json!({
        "secret": HMAC_SECRET,
        "headers": {
            "webhook-id": req.header("webhook-id"),
            "webhook-timestamp": req.header("webhook-timestamp"),
            "webhook-signature": req.header("webhook-signature"),
        },
        "jws": req.header("certkeep-signature"),
        "jwks": signing::jwks(&[&previous, &current]),
        "body_b64": STANDARD.encode(&req.body),
    });
    (input, req)
}

fn run_example(program: &str, script: &str, input: &Value, extension: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join(format!("example.{extension}"));
    let input_path = dir.path().join("input.json");
    std::fs::write(&script_path, script).unwrap();
    std::fs::write(&input_path, input.to_string()).unwrap();
    let out = std::process::Command::new(program)
        .arg(&script_path)
        .arg(&input_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn docs_hmac_python_example_verifies_a_real_delivery() {
    if !tool_available("/usr/bin/python3", Path::new("/usr/bin/python3").exists()) {
        return;
    }
    // The example checks the timestamp against the clock: sign with the real time.
    let (input, _) = captured_delivery(OffsetDateTime::now_utc()).await;
    let script = format!(
        "{}\n\nimport json, sys\n\
         i = json.load(open(sys.argv[1]))\n\
         body = base64.b64decode(i['body_b64'])\n\
         other = 'whsec_' + base64.b64encode(b'x' * 32).decode()\n\
         print(verify_standard_webhook(i['secret'], i['headers'], body),\n\
               verify_standard_webhook(i['secret'], i['headers'], body + b' '),\n\
               verify_standard_webhook(other, i['headers'], body))\n",
        doc_snippet("hmac-python")
    );
    assert_eq!(
        run_example("/usr/bin/python3", &script, &input, "py"),
        "True False False"
    );
}

#[tokio::test]
async fn docs_jws_node_example_verifies_a_real_delivery() {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !tool_available("node (Node.js)", node) {
        return;
    }
    let (input, _) = captured_delivery(NOW).await;
    let script = format!(
        "{}\n\nconst fs = require('node:fs');\n\
         const i = JSON.parse(fs.readFileSync(process.argv[2]));\n\
         const body = Buffer.from(i.body_b64, 'base64');\n\
         console.log(verifyCertkeepSignature(i.jwks, i.jws, body),\n\
           verifyCertkeepSignature(i.jwks, i.jws, Buffer.concat([body, Buffer.from(' ')])),\n\
           verifyCertkeepSignature({{ keys: [i.jwks.keys[0]] }}, i.jws, body));\n",
        doc_snippet("jws-node")
    );
    assert_eq!(
        run_example("node", &script, &input, "js"),
        "true false false"
    );
}

#[tokio::test]
async fn docs_jws_python_example_verifies_a_real_delivery() {
    // scripts/test.sh installs python3-cryptography; only a run outside CI may go without.
    if !python_has("cryptography") {
        assert!(
            std::env::var("CI").is_err(),
            "/usr/bin/python3 has no `cryptography` (Debian: python3-cryptography): run scripts/test.sh as root to install it"
        );
        eprintln!(
            "\n*** SKIPPED outside CI: /usr/bin/python3 has no `cryptography` (Debian: python3-cryptography) ***\n"
        );
        return;
    }
    let (input, _) = captured_delivery(NOW).await;
    let script = format!(
        "{}\n\nimport sys\n\
         i = json.load(open(sys.argv[1]))\n\
         body = base64.b64decode(i['body_b64'])\n\
         print(verify_certkeep_signature(i['jwks'], i['jws'], body),\n\
               verify_certkeep_signature(i['jwks'], i['jws'], body + b' '),\n\
               verify_certkeep_signature({{'keys': [i['jwks']['keys'][0]]}}, i['jws'], body))\n",
        doc_snippet("jws-python")
    );
    assert_eq!(
        run_example("/usr/bin/python3", &script, &input, "py"),
        "True False False"
    );
}

#[test]
fn docs_body_example_is_a_notification() {
    let example: Notification = serde_json::from_str(&doc_snippet("body-example")).unwrap();
    assert_eq!(example.event, EventType::CertExpiring);
    assert_eq!(example.certificates[0].days_left, 29);
    // And it shows every field the body has.
    let mut n = notification(EventType::CertExpiring, vec![cert("api", 29, &[])]);
    n.id = example.id;
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let ours = serde_json::to_value(&n).unwrap();
    let theirs = serde_json::to_value(&example).unwrap();
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(
        keys(&ours["certificates"][0]),
        keys(&theirs["certificates"][0])
    );
}

#[test]
fn docs_dns_example_is_a_notification() {
    let example: Notification = serde_json::from_str(&doc_snippet("dns-example")).unwrap();
    assert_eq!(example.event, EventType::DnsValidationRequired);
    let record = example.dns_record.expect("the record");
    assert_eq!(record.record_type, "TXT");
    assert_eq!(record.record_name, "_acme-challenge.api.example.com.");
    assert_eq!(example.certificates.len(), 1);
}

// --- throughput ----------------------------------------------------------------------------
