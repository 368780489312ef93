//! Notifications end to end: channels through the API, lifecycle events enqueued with the
//! change, the expiry sweep driven across a certificate's lifetime with chosen times, and the
//! outbox delivering to a real local receiver that verifies the signatures, retrying while it
//! is down.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use certkeep_api::{
    ChannelKind, ChannelScope, CreateChannelRequest, DeliveryQuery, DeliveryStatus,
    ImportCertificateRequest, Role, UpdateChannelRequest,
};
use certkeep_server::jobs::{delivery_job, expiry_sweep_job};
use certkeep_testkit as tk;
use time::{Duration, OffsetDateTime};

use crate::certificates::root_ca;
use crate::helpers::TestApp;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub json: serde_json::Value,
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    retry_after: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

/// A local webhook receiver answering with a settable status.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    retry_after: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = ReceiverState {
            got: Arc::new(Mutex::new(Vec::new())),
            status: Arc::new(AtomicU16::new(200)),
            retry_after: Arc::new(Mutex::new(None)),
            hits: Arc::new(AtomicUsize::new(0)),
            delay_ms: Arc::new(AtomicU64::new(0)),
        };
        async fn hook(
            State(s): State<ReceiverState>,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            s.hits.fetch_add(1, Ordering::SeqCst);
            let delay = s.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            let status = s.status.load(Ordering::SeqCst);
            if status == 200 {
                let json = serde_json::from_slice(&body).unwrap_or_default();
                s.got.lock().unwrap().push(Received {
                    headers,
                    body: body.to_vec(),
                    json,
                });
            }
            let code = StatusCode::from_u16(status).unwrap();
            match s.retry_after.lock().unwrap().clone() {
                Some(v) => (code, [(axum::http::header::RETRY_AFTER, v)]).into_response(),
                None => code.into_response(),
            }
        }
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook"),
            got: state.got,
            status: state.status,
            retry_after: state.retry_after,
            hits: state.hits,
            delay_ms: state.delay_ms,
        }
    }

    /// Take this long to answer each request from now on.
    pub fn set_delay(&self, d: std::time::Duration) {
        self.delay_ms
            .store(u64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }

    /// Answer with this `Retry-After` header from now on (`None`: without).
    pub fn set_retry_after(&self, v: Option<&str>) {
        *self.retry_after.lock().unwrap() = v.map(str::to_string);
    }

    /// Requests received, whatever the answer.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn set_status(&self, s: u16) {
        self.status.store(s, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }
}

fn webhook(name: &str, url: &str) -> CreateChannelRequest {
    CreateChannelRequest {
        name: name.into(),
        kind: Some(ChannelKind::Webhook),
        url: Some(url.into()),
        ..Default::default()
    }
}

/// Verify a delivery as a receiver would: Standard Webhooks HMAC with the channel secret, and
/// the detached JWS against the served JWKS.
fn verify(r: &Received, secret: &str, jwks: &serde_json::Value) {
    let h = |n: &str| {
        r.headers
            .get(n)
            .unwrap_or_else(|| panic!("no {n} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let id = h("webhook-id");
    let ts = h("webhook-timestamp");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&r.body);
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
        &signed,
    );
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    );
    assert!(
        h("webhook-signature").split(' ').any(|s| s == expected),
        "HMAC does not verify"
    );
    assert_eq!(
        r.json["id"].as_str().unwrap(),
        id,
        "webhook-id is the event id"
    );

    let jws = h("certkeep-signature");
    let (header_b64, sig_b64) = jws.split_once("..").expect("detached compact JWS");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(header_b64).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the JWS kid is in the JWKS");
    let mut point = vec![4u8];
    point.extend(b64.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(b64.decode(jwk["y"].as_str().unwrap()).unwrap());
    let input = format!("{header_b64}.{}", b64.encode(&r.body));
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .verify(input.as_bytes(), &b64.decode(sig_b64).unwrap())
    .expect("the JWS verifies with the JWKS key");
}

fn leaf_pem(
    ca: &tk::Ca,
    cn: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> String {
    ca.leaf(&tk::LeafSpec::new(cn, not_before, not_after))
        .unwrap()
        .cert_pem
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_keep_secrets_sealed_and_follow_roles() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let created = t
        .admin
        .channel_create(&webhook("ops", &rx.url))
        .await
        .unwrap();
    let secret = created
        .secret
        .clone()
        .expect("a generated secret, shown once");
    assert!(secret.starts_with("whsec_"));
    let id = created.channel.id;
    assert_eq!(created.channel.endpoint, rx.url);
    assert_eq!(
        created.channel.thresholds,
        vec!["90d", "60d", "30d", "10d", "1d"]
    );
    let got = t.admin.channel_get(id).await.unwrap();
    assert!(
        !serde_json::to_string(&got)
            .unwrap()
            .contains(&secret[6..20])
    );
    let listed = serde_json::to_string(&t.admin.channel_list().await.unwrap()).unwrap();
    assert!(!listed.contains(&secret[6..20]));

    // Slack URLs are secrets too: shown redacted.
    let slack = t
        .admin
        .channel_create(&CreateChannelRequest {
            name: "slack".into(),
            kind: Some(ChannelKind::Slack),
            url: Some("https://hooks.slack.com/services/T000/B000/zzSECRETzz1234".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(slack.channel.endpoint, "https://hooks.slack.com/…");
    assert!(slack.secret.is_none());

    // Bad settings are refused with the field named.
    for (req, needle) in [
        (
            CreateChannelRequest {
                name: "x".into(),
                kind: Some(ChannelKind::Webhook),
                ..Default::default()
            },
            "url",
        ),
        (
            CreateChannelRequest {
                name: "x".into(),
                kind: Some(ChannelKind::Webhook),
                url: Some("ftp://x".into()),
                ..Default::default()
            },
            "scheme",
        ),
        (
            CreateChannelRequest {
                thresholds: Some(vec!["0d".into()]),
                ..webhook("x", &rx.url)
            },
            "threshold",
        ),
        (
            CreateChannelRequest {
                events: Some(vec!["cert.exploded".into()]),
                ..webhook("x", &rx.url)
            },
            "event type",
        ),
        (
            CreateChannelRequest {
                secret: Some("plain".into()),
                ..webhook("x", &rx.url)
            },
            "whsec_",
        ),
        (
            CreateChannelRequest {
                name: "x".into(),
                kind: Some(ChannelKind::Email),
                ..Default::default()
            },
            "smtp",
        ),
        (
            CreateChannelRequest {
                routing_key: Some("abc".into()),
                ..webhook("x", &rx.url)
            },
            "does not apply",
        ),
        (
            CreateChannelRequest {
                name: "mail".into(),
                kind: Some(ChannelKind::Email),
                smtp: Some(certkeep_api::SmtpConfig {
                    host: "smtp.example.com".into(),
                    ca_pem: Some(
                        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into(),
                    ),
                    ..Default::default()
                }),
                email_from: Some("certkeep@example.com".into()),
                email_to: vec!["ops@example.com".into()],
                ..Default::default()
            },
            "smtp.ca_pem",
        ),
    ] {
        let e = t.admin.channel_create(&req).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }

    // An e-mail channel trusting a private CA for its relay.
    let ca = root_ca("Mail Relay CA", OffsetDateTime::now_utc());
    t.admin
        .channel_create(&CreateChannelRequest {
            name: "mail".into(),
            kind: Some(ChannelKind::Email),
            smtp: Some(certkeep_api::SmtpConfig {
                host: "smtp.example.com".into(),
                username: Some("certkeep".into()),
                password: Some("smtp-pw-secret".into()),
                ca_pem: Some(ca.cert_pem()),
                ..Default::default()
            }),
            email_from: Some("certkeep@example.com".into()),
            email_to: vec!["ops@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();

    // Readers list and test; only managers change.
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    assert_eq!(reader.channel_list().await.unwrap().items.len(), 3);
    let tested = reader.channel_test(id).await.unwrap();
    assert!(tested.delivered, "{tested:?}");
    assert_eq!(tested.status_code, Some(200));
    let e = reader
        .channel_create(&webhook("r", &rx.url))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = reader
        .channel_update(
            id,
            &UpdateChannelRequest {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));

    // The test event arrived signed, and is in the history.
    let jwks = t.client(None).notification_jwks().await.unwrap();
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json["type"], "channel.test");
    verify(&got[0], &secret, &jwks);
    let history = t
        .admin
        .channel_deliveries(id, &DeliveryQuery::default())
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1);
    assert_eq!(history.items[0].status, DeliveryStatus::Delivered);
    assert_eq!(
        history.items[0].id.to_string(),
        got[0].json["id"].as_str().unwrap()
    );

    // A group-limited manager sees only its group's channels and makes channels for it.
    let (web, _) = t.client_with_role(Role::Manager, Some("web")).await;
    assert!(web.channel_list().await.unwrap().items.is_empty());
    let mine = web
        .channel_create(&webhook("web-hook", &rx.url))
        .await
        .unwrap();
    assert_eq!(mine.channel.scope.group.as_deref(), Some("web"));
    assert_eq!(web.channel_get(id).await.unwrap_err().status(), Some(404));

    // The secret never reaches the database in clear.
    let raw = crate::certificates::raw_database_bytes(&t).await;
    let needle = secret.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "webhook secret stored in clear"
    );
    let smtp_password = b"smtp-pw-secret";
    assert!(
        !raw.windows(smtp_password.len()).any(|w| w == smtp_password),
        "SMTP password stored in clear"
    );
    let slack_token = b"zzSECRETzz1234";
    assert!(
        !raw.windows(slack_token.len()).any(|w| w == slack_token),
        "Slack URL stored in clear"
    );

    // Update and delete.
    let changed = t
        .admin
        .channel_update(
            id,
            &UpdateChannelRequest {
                enabled: Some(false),
                name: Some("ops2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!changed.enabled);
    assert_eq!(changed.name, "ops2");
    t.admin.channel_delete(id).await.unwrap();
    assert_eq!(
        t.admin.channel_get(id).await.unwrap_err().status(),
        Some(404)
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_are_enqueued_with_the_change_and_delivered_signed() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let created = t
        .admin
        .channel_create(&webhook("all", &rx.url))
        .await
        .unwrap();
    let secret = created.secret.unwrap();
    // A second channel limited to a label, and one that only wants deletions.
    let mut labelled = webhook("prod-only", &rx.url);
    labelled.scope = Some(ChannelScope {
        group: None,
        labels: BTreeMap::from([("env".into(), "prod".into())]),
    });
    let labelled = t.admin.channel_create(&labelled).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let ca = root_ca("Lifecycle CA", now);
    let m = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "www".into(),
            certificate: leaf_pem(
                &ca,
                "www.example.test",
                now - Duration::days(1),
                now + Duration::days(200),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    // Nothing is sent until the worker runs; the delivery waits in the outbox.
    assert!(rx.received().is_empty());
    let r = delivery_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.delivered, 1);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let n = &got[0].json;
    assert_eq!(n["type"], "cert.imported");
    assert_eq!(n["channel"]["id"], created.channel.id.to_string());
    let c = &n["certificates"][0];
    assert_eq!(c["id"], m.id.to_string());
    assert_eq!(c["name"], "www");
    assert_eq!(c["serial"], m.serial);
    assert_eq!(c["fingerprint_sha256"], m.fingerprint_sha256);
    assert_eq!(c["domains"][0], "www.example.test");
    assert_eq!(c["days_left"], 199);
    assert_eq!(
        c["url"],
        format!("https://certkeep.example.test/certificates/{}", m.id)
    );
    let body = String::from_utf8(got[0].body.clone()).unwrap();
    assert!(!body.contains("PRIVATE KEY"));
    verify(
        &got[0],
        &secret,
        &t.client(None).notification_jwks().await.unwrap(),
    );
    // The label-scoped channel got nothing for an unlabelled certificate.
    let h = t
        .admin
        .channel_deliveries(labelled.channel.id, &DeliveryQuery::default())
        .await
        .unwrap();
    assert!(h.items.is_empty());
    // Reimport and delete each produce their event.
    rx.clear();
    t.admin
        .certificate_reimport(
            m.id,
            &certkeep_api::ReimportCertificateRequest {
                certificate: leaf_pem(&ca, "www.example.test", now, now + Duration::days(300)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    t.admin.certificate_delete(m.id).await.unwrap();
    delivery_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    // Deliveries go out concurrently: receivers order by the event `time`, not by arrival.
    let mut types: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.json["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(types, vec!["cert.deleted", "cert.reimported"]);
    t.stop().await;
}

/// The receiver's notices since the last call, as sorted (event type, name, threshold, version).
fn notices(rx: &Receiver) -> Vec<(String, String, String, u64)> {
    let mut out = Vec::new();
    for r in rx.received() {
        for c in r.json["certificates"].as_array().unwrap() {
            out.push((
                r.json["type"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["threshold"].as_str().unwrap_or("").to_string(),
                c["version"].as_u64().unwrap(),
            ));
        }
    }
    rx.clear();
    out.sort();
    out
}

/// Run the sweep and the worker at `at`; return the notices the receiver got, as
/// (event type, certificate name, threshold).
async fn day(t: &TestApp, rx: &Receiver, at: OffsetDateTime) -> Vec<(String, String, String)> {
    rx.clear();
    expiry_sweep_job::run_once(&t.app, at)
        .await
        .unwrap()
        .expect("the sweep lease is free");
    delivery_job::run_once(&t.app, at).await.unwrap();
    notices(rx)
        .into_iter()
        .map(|(event, name, threshold, _)| (event, name, threshold))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_notices_go_out_exactly_on_their_days_across_a_lifetime() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let mut ch = webhook("expiry", &rx.url);
    ch.events = Some(vec!["cert.expiring".into(), "cert.expired".into()]);
    ch.expired_hour_utc = Some(9);
    t.admin.channel_create(&ch).await.unwrap();
    // A short-lived certificate too, on a channel that counts in percent of the lifetime.
    let mut pct = webhook("percent", &rx.url);
    pct.events = Some(vec!["cert.expiring".into()]);
    pct.thresholds = Some(vec!["50%".into(), "10%".into()]);
    pct.scope = Some(ChannelScope {
        group: Some("short".into()),
        labels: BTreeMap::new(),
    });
    t.admin.channel_create(&pct).await.unwrap();

    // Day 0 is a midnight; the one-year certificate expires at noon on day 365.
    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let ca = root_ca("Sweep CA", day0 - Duration::days(10));
    let expires = day0 + Duration::days(365) + Duration::hours(12);
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "year".into(),
            certificate: leaf_pem(&ca, "year.example.test", day0 - Duration::days(1), expires),
            ..Default::default()
        })
        .await
        .unwrap();
    let short_end = day0 + Duration::days(10);
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "short".into(),
            group: Some("short".into()),
            certificate: leaf_pem(&ca, "short.example.test", day0, short_end),
            ..Default::default()
        })
        .await
        .unwrap();
    delivery_job::run_once(&t.app, day0).await.unwrap();

    let mut log: Vec<(i64, String, String, String)> = Vec::new();
    // Every day at 10:00 UTC (after the 09:00 reminder hour), for 368 days.
    for d in 0..368 {
        let at = day0 + Duration::days(d) + Duration::hours(10);
        for (ev, name, th) in day(&t, &rx, at).await {
            log.push((d, ev, name, th));
        }
    }
    let of = |name: &str| -> Vec<(i64, String, String)> {
        log.iter()
            .filter(|l| l.2 == name)
            .map(|l| (l.0, l.1.clone(), l.3.clone()))
            .collect()
    };
    let e = |d: i64, ev: &str, th: &str| (d, ev.to_string(), th.to_string());
    // The n-day threshold is crossed at 12:00 on day 365 - n, so seen at 10:00 the day after.
    assert_eq!(
        of("year"),
        vec![
            e(276, "cert.expiring", "90d"),
            e(306, "cert.expiring", "60d"),
            e(336, "cert.expiring", "30d"),
            e(356, "cert.expiring", "10d"),
            e(365, "cert.expiring", "1d"),
            e(366, "cert.expired", ""),
            e(367, "cert.expired", ""),
        ],
        "notices for the one-year certificate"
    );
    // The 10-day certificate: on its first sweep the first channel sends only the most urgent
    // threshold already crossed (10d); the percent channel sends 50 % on day 5 and 10 % on
    // day 9; then a reminder every day once it has expired.
    let mut want = vec![
        e(0, "cert.expiring", "10d"),
        e(5, "cert.expiring", "50%"),
        e(9, "cert.expiring", "10%"),
        e(9, "cert.expiring", "1d"),
    ];
    want.extend((10..368).map(|d| e(d, "cert.expired", "")));
    assert_eq!(of("short"), want, "notices for the 10-day certificate");
    // Running the sweep again on the same day sends nothing twice.
    let again = day(&t, &rx, day0 + Duration::days(367) + Duration::hours(11)).await;
    assert!(again.is_empty(), "{again:?}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_everything_once_it_is_back() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let ch = t
        .admin
        .channel_create(&webhook("flaky", &rx.url))
        .await
        .unwrap()
        .channel;
    let now = OffsetDateTime::now_utc();
    let ca = root_ca("Retry CA", now);
    rx.set_status(503);
    for i in 0..5 {
        t.admin
            .certificate_import(&ImportCertificateRequest {
                name: format!("r{i}"),
                certificate: leaf_pem(
                    &ca,
                    &format!("r{i}.example.test"),
                    now,
                    now + Duration::days(300),
                ),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // Down for six hours: retried with backoff, nothing lost, nothing delivered.
    let mut at = now;
    for _ in 0..30 {
        let r = delivery_job::run_once(&t.app, at).await.unwrap();
        assert_eq!(r.delivered, 0);
        at += Duration::minutes(12);
    }
    let h = t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap();
    assert_eq!(h.items.len(), 5);
    for d in &h.items {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert!(d.attempts >= 3, "{d:?}");
        assert_eq!(d.last_status_code, Some(503));
    }
    // Back up: the next round after the backoff delivers all five, each once.
    rx.set_status(200);
    let r = delivery_job::run_once(&t.app, at + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(r.delivered, 5);
    let got = rx.received();
    assert_eq!(got.len(), 5);
    let mut ids: Vec<_> = got
        .iter()
        .map(|g| g.json["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert_eq!(
        delivery_job::run_once(&t.app, at + Duration::hours(3))
            .await
            .unwrap()
            .attempts(),
        0
    );

    // A 4xx other than 408/429 stops retrying at once.
    rx.set_status(410);
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "gone".into(),
            certificate: leaf_pem(&ca, "gone.example.test", now, now + Duration::days(300)),
            ..Default::default()
        })
        .await
        .unwrap();
    let r = delivery_job::run_once(&t.app, at + Duration::hours(4))
        .await
        .unwrap();
    assert_eq!(r.failed, 1);
    let failed = t
        .admin
        .channel_deliveries(
            ch.id,
            &DeliveryQuery {
                status: Some(DeliveryStatus::Failed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].last_status_code, Some(410));

    // After a day of failures a delivery is given up.
    rx.set_status(500);
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "never".into(),
            certificate: leaf_pem(&ca, "never.example.test", now, now + Duration::days(300)),
            ..Default::default()
        })
        .await
        .unwrap();
    // Retried for at least a day: still pending at 23 h 50 min, then given up at the first
    // failure a day or more after it was written.
    let written = OffsetDateTime::now_utc();
    let mut at2 = written;
    let mut gave_up_at = None;
    while at2 < written + Duration::hours(30) && gave_up_at.is_none() {
        let r = delivery_job::run_once(&t.app, at2).await.unwrap();
        if r.failed == 1 {
            gave_up_at = Some(at2);
        }
        at2 += Duration::minutes(10);
    }
    let gave_up_at = gave_up_at.expect("a delivery failing for a day is marked failed");
    assert!(
        gave_up_at >= written + Duration::hours(24),
        "given up after {} only",
        gave_up_at - written
    );
    let given_up = t
        .admin
        .channel_deliveries(
            ch.id,
            &DeliveryQuery {
                status: Some(DeliveryStatus::Failed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let never = given_up
        .items
        .iter()
        .find(|d| d.last_status_code == Some(500))
        .expect("the given-up delivery");
    assert!(
        never.attempts >= 10,
        "retried with backoff: {}",
        never.attempts
    );
    assert!(
        never
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after"),
        "{never:?}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let ch = t
        .admin
        .channel_create(&webhook("busy", &rx.url))
        .await
        .unwrap()
        .channel;
    let now = OffsetDateTime::now_utc();
    let ca = root_ca("Retry-After CA", now);
    // 429 with Retry-After in seconds: two hours, far beyond the first backoff (5-10 s).
    rx.set_status(429);
    rx.set_retry_after(Some("7200"));
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "busy".into(),
            certificate: leaf_pem(&ca, "busy.example.test", now, now + Duration::days(300)),
            ..Default::default()
        })
        .await
        .unwrap();
    let r = delivery_job::run_once(&t.app, now).await.unwrap();
    assert_eq!((r.retrying, rx.hits()), (1, 1));
    let d = &t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.last_status_code, Some(429));
    let next = d.next_attempt_at.expect("a next attempt");
    assert!(
        // Times are stored to the second.
        next >= now + Duration::hours(2) - Duration::seconds(1)
            && next <= now + Duration::hours(2) + Duration::minutes(1),
        "next attempt at {next}, sent at {now}"
    );
    // Nothing is sent before the receiver said.
    for minutes in [1, 30, 60, 119] {
        let r = delivery_job::run_once(&t.app, now + Duration::minutes(minutes))
            .await
            .unwrap();
        assert_eq!(r.attempts(), 0, "at +{minutes} min");
    }
    assert_eq!(rx.hits(), 1);
    // Retry-After as an HTTP date, then accepted.
    let date = (now + Duration::hours(5))
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap()
        .replace("+0000", "GMT");
    rx.set_retry_after(Some(&date));
    let r = delivery_job::run_once(&t.app, next).await.unwrap();
    assert_eq!((r.retrying, rx.hits()), (1, 2));
    let d = &t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap()
        .items[0];
    let next2 = d.next_attempt_at.expect("a next attempt");
    assert!(
        next2 >= now + Duration::hours(5) - Duration::minutes(1),
        "an HTTP-date Retry-After: next attempt at {next2}"
    );
    let r = delivery_job::run_once(&t.app, now + Duration::hours(4))
        .await
        .unwrap();
    assert_eq!(r.attempts(), 0);
    rx.set_status(200);
    rx.set_retry_after(None);
    let r = delivery_job::run_once(&t.app, next2).await.unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(rx.received().len(), 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_rotates_with_an_overlap() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let created = t
        .admin
        .channel_create(&webhook("rot", &rx.url))
        .await
        .unwrap();
    let secret = created.secret.unwrap();
    let anon = t.client(None);
    let before = anon.notification_jwks().await.unwrap();
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    let old_kid = before["keys"][0]["kid"].as_str().unwrap().to_string();
    // Only an unrestricted admin rotates.
    let (mgr, _) = t.client_with_role(Role::Manager, None).await;
    assert_eq!(
        mgr.notification_signing_key_rotate()
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    // Another replica on the same database, with the keys loaded before the rotation.
    let replica = certkeep_server::app::App::open(&certkeep_server::config::Config {
        data_dir: t.dir.path().to_path_buf(),
        database_url: Some(t.database_url.clone()),
        danger_allow_http_channels: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(replica.notification_jwks().await, before);
    let after = t.admin.notification_signing_key_rotate().await.unwrap();
    let kids: Vec<String> = after["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kids.len(), 2, "the new key and the previous one");
    assert_eq!(kids[1], old_kid);
    assert_eq!(anon.notification_jwks().await.unwrap(), after);
    // New deliveries are signed with the new key and verify against the served JWKS.
    t.admin.channel_test(created.channel.id).await.unwrap();
    let got = rx.received();
    let jws = got[0].headers["certkeep-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split_once("..").unwrap().0)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"].as_str().unwrap(), kids[0]);
    verify(&got[0], &secret, &after);
    // The other replica signs with the new key at once, and serves the new JWKS.
    rx.clear();
    let ca = root_ca("Rotation CA", OffsetDateTime::now_utc() - Duration::days(1));
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "kilo".into(),
            certificate: leaf_pem(
                &ca,
                "kilo.example.test",
                OffsetDateTime::now_utc() - Duration::days(1),
                OffsetDateTime::now_utc() + Duration::days(300),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let r = delivery_job::run_once(&replica, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.delivered, 1);
    let got = rx.received();
    assert_eq!(got[0].json["type"], "cert.imported");
    let jws = got[0].headers["certkeep-signature"].to_str().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jws.split_once("..").unwrap().0)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"].as_str().unwrap(), kids[0]);
    verify(&got[0], &secret, &after);
    assert_eq!(replica.notification_jwks().await, after);
    // A second rotation drops the oldest key.
    let again = t.admin.notification_signing_key_rotate().await.unwrap();
    let kids2: Vec<&str> = again["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids2.len(), 2);
    assert_eq!(kids2[1], kids[0]);
    assert!(!kids2.contains(&old_kid.as_str()));
    t.stop().await;
}

/// Certificates stored, replaced, edited and purged at chosen times between sweeps; channel
/// edits; two sweeps racing on one channel; deliveries rendered after their certificate was
/// replaced. Every notice goes out once, about the version it was due for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_sends_each_notice_once_through_changes_between_runs() {
    use certkeep_api::{EditCertificateRequest, ReimportCertificateRequest};
    use certkeep_server::app::RequestCtx;
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let (_, token) = t.client_with_role(Role::Admin, None).await;
    let at = |now| RequestCtx {
        request_id: "test".into(),
        bearer: Some(token.clone()),
        now,
    };
    let mut ch = webhook("expiry", &rx.url);
    ch.events = Some(vec!["cert.expiring".into(), "cert.expired".into()]);
    ch.expired_hour_utc = Some(9);
    let ch = t.admin.channel_create(&ch).await.unwrap().channel;

    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let h = |d: i64, hour: i64| day0 + Duration::days(d) + Duration::hours(hour);
    let ca = root_ca("Changes CA", day0 - Duration::days(400));
    let import = |name: &str, not_after: OffsetDateTime, when: OffsetDateTime| {
        let req = ImportCertificateRequest {
            name: name.into(),
            certificate: leaf_pem(
                &ca,
                &format!("{name}.example.test"),
                day0 - Duration::days(300),
                not_after,
            ),
            ..Default::default()
        };
        let ctx = at(when);
        let app = t.app.clone();
        async move { app.certificate_import(&ctx, req).await.unwrap() }
    };
    let sweep = |now: OffsetDateTime| {
        let app = t.app.clone();
        async move {
            expiry_sweep_job::run_once(&app, now)
                .await
                .unwrap()
                .expect("the sweep lease is free");
            delivery_job::run_once(&app, now).await.unwrap();
        }
    };
    let e = |ev: &str, name: &str, th: &str, v: u64| {
        (ev.to_string(), name.to_string(), th.to_string(), v)
    };

    let a = import("alpha", h(100, 12), h(0, 7)).await;
    import("bravo", day0 - Duration::days(5), h(0, 7)).await;
    // First run, before the reminder hour: it counts as the day's reminder.
    sweep(h(0, 8)).await;
    assert_eq!(notices(&rx), vec![e("cert.expired", "bravo", "", 1)]);
    sweep(h(0, 10)).await;
    assert_eq!(
        notices(&rx),
        vec![],
        "no second cert.expired on the first day"
    );

    // Editing a certificate or the channel sends nothing again.
    t.app
        .certificate_edit(
            &at(h(0, 11)),
            a.id,
            EditCertificateRequest {
                labels: Some(BTreeMap::from([("team".into(), "web".into())])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    t.app
        .channel_update(
            &at(h(0, 11)),
            ch.id,
            UpdateChannelRequest {
                name: Some("expiry renamed".into()),
                thresholds: Some(vec!["90d".into(), "30d".into(), "10d".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    sweep(h(0, 12)).await;
    assert_eq!(notices(&rx), vec![]);

    // A new version already inside the 30-day window: once it has settled (five minutes by
    // default), its most urgent threshold, once; the day's reminder comes in the same run.
    let v2_end = h(20, 12);
    t.app
        .certificate_reimport(
            &at(h(1, 8)),
            a.id,
            ReimportCertificateRequest {
                certificate: leaf_pem(&ca, "alpha.example.test", day0 - Duration::days(70), v2_end),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    sweep(h(1, 8) + Duration::minutes(2)).await;
    assert_eq!(notices(&rx), vec![], "not settled yet");
    sweep(h(1, 9)).await;
    assert_eq!(
        notices(&rx),
        vec![
            e("cert.expired", "bravo", "", 1),
            e("cert.expiring", "alpha", "30d", 2)
        ]
    );
    sweep(h(1, 10)).await;
    assert_eq!(notices(&rx), vec![]);

    // Imported already expired after the day's reminder: told once now, then daily.
    let c = import("charlie", day0 - Duration::days(1), h(1, 11)).await;
    sweep(h(1, 12)).await;
    assert_eq!(notices(&rx), vec![e("cert.expired", "charlie", "", 1)]);
    sweep(h(2, 10)).await;
    assert_eq!(
        notices(&rx),
        vec![
            e("cert.expired", "bravo", "", 1),
            e("cert.expired", "charlie", "", 1)
        ]
    );

    // Two sweeps racing on the same channel: one of them enqueues, the other nothing.
    let (r1, r2) = tokio::join!(
        certkeep_server::notify::sweep::sweep(&t.app, h(3, 10)),
        certkeep_server::notify::sweep::sweep(&t.app, h(3, 10)),
    );
    assert_eq!(r1.unwrap().notices + r2.unwrap().notices, 2);
    delivery_job::run_once(&t.app, h(3, 10)).await.unwrap();
    assert_eq!(notices(&rx).len(), 2);

    // Expiring ten minutes before midnight, seen expired by the first run after it: the next
    // morning's reminder leaves it out (it was told a few hours before), the one after has it.
    import("delta", h(4, 0) - Duration::minutes(10), h(3, 11)).await;
    sweep(h(3, 12)).await;
    assert_eq!(notices(&rx), vec![e("cert.expiring", "delta", "10d", 1)]);
    sweep(h(3, 23)).await;
    assert_eq!(notices(&rx), vec![]);
    sweep(h(4, 0) + Duration::minutes(20)).await;
    assert_eq!(notices(&rx), vec![e("cert.expired", "delta", "", 1)]);
    sweep(h(4, 10)).await;
    assert_eq!(
        notices(&rx),
        vec![
            e("cert.expired", "bravo", "", 1),
            e("cert.expired", "charlie", "", 1)
        ]
    );
    sweep(h(5, 10)).await;
    assert_eq!(notices(&rx).len(), 3);

    // Enqueued for version 2, sent after version 3 replaced it: the notice is about version 2.
    expiry_sweep_job::run_once(&t.app, h(10, 13))
        .await
        .unwrap()
        .unwrap();
    t.app
        .certificate_reimport(
            &at(h(10, 14)),
            a.id,
            ReimportCertificateRequest {
                certificate: leaf_pem(&ca, "alpha.example.test", h(10, 0), h(400, 0)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // And charlie is purged before the day's reminder about it is sent.
    expiry_sweep_job::run_once(&t.app, h(11, 10))
        .await
        .unwrap()
        .unwrap();
    t.app
        .certificate_delete(&at(h(11, 10)), c.id)
        .await
        .unwrap();
    t.app.certificate_purge(&at(h(11, 10)), c.id).await.unwrap();
    delivery_job::run_once(&t.app, h(11, 11)).await.unwrap();
    let got = rx.received();
    let alpha: Vec<_> = got
        .iter()
        .flat_map(|r| r.json["certificates"].as_array().unwrap().clone())
        .filter(|c| c["name"] == "alpha")
        .collect();
    assert_eq!(alpha.len(), 1, "{got:?}");
    assert_eq!(alpha[0]["version"], 2);
    assert_eq!(alpha[0]["threshold"], "10d");
    assert_eq!(alpha[0]["days_left"], 9);
    assert_eq!(
        alpha[0]["not_after"],
        v2_end
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    assert_eq!(
        notices(&rx),
        vec![
            e("cert.expired", "bravo", "", 1),
            e("cert.expired", "bravo", "", 1),
            e("cert.expired", "delta", "", 1),
            e("cert.expired", "delta", "", 1),
            e("cert.expiring", "alpha", "10d", 2),
        ],
        "charlie was purged before its reminder went out"
    );

    // Each certificate's own history: the deliveries about it, newest first, over the API and
    // on its page.
    let history = t.admin.certificate_notifications(a.id).await.unwrap().items;
    let events: Vec<&str> = history.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(
        events,
        vec!["cert.expiring", "cert.expiring"],
        "{history:?}"
    );
    assert!(history.iter().all(|d| d.status == DeliveryStatus::Delivered
        && d.channel_id == ch.id
        && d.certificates.contains(&a.id)));
    assert!(history[0].created_at >= history[1].created_at);
    let b = crate::ui::Browser::signed_in(&t.base_url, &token).await;
    let (_, page) = b.page(&format!("/certificates/{}", a.id)).await;
    assert!(page.contains("Notifications sent about it") && page.contains("cert.expiring"));
    let e = t.admin.certificate_notifications(c.id).await.unwrap_err();
    assert_eq!(e.status(), Some(404), "purged: {e}");
    t.stop().await;
}

/// Imports as an Admin at chosen times (the version counts as stored then, and the sweep lets
/// it settle from there), of leaves from one CA.
struct Importer {
    app: Arc<certkeep_server::app::App>,
    token: String,
    ca: tk::Ca,
}

impl Importer {
    async fn new(t: &TestApp, ca_name: &str, ca_from: OffsetDateTime) -> Importer {
        let (_, token) = t.client_with_role(Role::Admin, None).await;
        Importer {
            app: t.app.clone(),
            token,
            ca: root_ca(ca_name, ca_from),
        }
    }

    fn ctx(&self, now: OffsetDateTime) -> certkeep_server::app::RequestCtx {
        certkeep_server::app::RequestCtx {
            request_id: "test".into(),
            bearer: Some(self.token.clone()),
            now,
        }
    }

    fn pem(&self, name: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> String {
        leaf_pem(
            &self.ca,
            &format!("{name}.example.test"),
            not_before,
            not_after,
        )
    }

    async fn import(
        &self,
        name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        now: OffsetDateTime,
    ) -> certkeep_api::CertificateMetadata {
        let req = ImportCertificateRequest {
            name: name.into(),
            certificate: self.pem(name, not_before, not_after),
            ..Default::default()
        };
        self.app
            .certificate_import(&self.ctx(now), req)
            .await
            .unwrap()
    }
}

/// A certificate first seen by a sweep that runs within the second it expires: the sweep's
/// windows are whole seconds, so it is told `cert.expired` by one run, not by this one (found
/// newly stored) and again by the next (found expired since the last run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_within_the_second_of_a_sweep_is_told_once() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let mut ch = webhook("expiry", &rx.url);
    ch.events = Some(vec!["cert.expiring".into(), "cert.expired".into()]);
    ch.expired_hour_utc = Some(9);
    t.admin.channel_create(&ch).await.unwrap();
    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let h = |hour: i64| day0 + Duration::hours(hour);
    let certs = Importer::new(&t, "Second CA", day0 - Duration::days(10)).await;
    certs
        .import("echo", day0 - Duration::days(5), h(12), h(7))
        .await;
    // The channel's first run, before the version has settled: nothing.
    assert_eq!(day(&t, &rx, h(7) + Duration::minutes(1)).await, vec![]);
    let mut told = day(&t, &rx, h(12) + Duration::milliseconds(500)).await;
    told.extend(day(&t, &rx, h(13)).await);
    assert_eq!(
        told,
        vec![(
            "cert.expired".to_string(),
            "echo".to_string(),
            String::new()
        )]
    );
    // From the next day's reminder hour on, once a day.
    assert_eq!(day(&t, &rx, h(24 + 8)).await, vec![]);
    assert_eq!(day(&t, &rx, h(24 + 10)).await.len(), 1);
    t.stop().await;
}

/// Certificates crossing the same threshold in one run go out together, at most 100 a
/// delivery, each exactly once; other thresholds go in deliveries of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_due_together_are_batched_at_most_a_hundred_a_delivery() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let mut ch = webhook("batches", &rx.url);
    ch.events = Some(vec!["cert.expiring".into()]);
    t.admin.channel_create(&ch).await.unwrap();
    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let certs = Importer::new(&t, "Batch CA", day0 - Duration::days(100)).await;
    // 230 inside the 10-day threshold, 3 inside the 30-day one.
    for i in 0..233 {
        let not_after = if i < 230 {
            day0 + Duration::days(5) + Duration::minutes(i)
        } else {
            day0 + Duration::days(20)
        };
        certs
            .import(
                &format!("b{i:03}"),
                day0 - Duration::days(80),
                not_after,
                day0,
            )
            .await;
    }
    let r = expiry_sweep_job::run_once(&t.app, day0 + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.notices, r.deliveries), (233, 4));
    let d = delivery_job::run_once(&t.app, day0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(d.delivered, 4);
    let mut sizes: Vec<(String, usize)> = rx
        .received()
        .iter()
        .map(|r| {
            let certs = r.json["certificates"].as_array().unwrap();
            let threshold = certs[0]["threshold"].as_str().unwrap().to_string();
            assert!(certs.iter().all(|c| c["threshold"] == threshold.as_str()));
            (threshold, certs.len())
        })
        .collect();
    sizes.sort();
    assert_eq!(
        sizes,
        vec![
            ("10d".to_string(), 30),
            ("10d".to_string(), 100),
            ("10d".to_string(), 100),
            ("30d".to_string(), 3)
        ]
    );
    let names: Vec<String> = notices(&rx).into_iter().map(|n| n.1).collect();
    let mut once = names.clone();
    once.dedup();
    assert_eq!(
        (names.len(), once.len()),
        (233, 233),
        "each certificate once"
    );
    t.stop().await;
}

/// A certificate deleted between the sweep and the delivery is left out of the notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_deleted_before_its_notice_is_sent_is_left_out() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let mut ch = webhook("deleted", &rx.url);
    ch.events = Some(vec!["cert.expiring".into()]);
    t.admin.channel_create(&ch).await.unwrap();
    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let certs = Importer::new(&t, "Deleted CA", day0 - Duration::days(100)).await;
    let mut ids = Vec::new();
    for name in ["lima", "mike"] {
        let c = certs
            .import(
                name,
                day0 - Duration::days(80),
                day0 + Duration::days(5),
                day0,
            )
            .await;
        ids.push(c.id);
    }
    let r = expiry_sweep_job::run_once(&t.app, day0 + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.notices, r.deliveries), (2, 1));
    t.admin.certificate_delete(ids[0]).await.unwrap();
    delivery_job::run_once(&t.app, day0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        notices(&rx),
        vec![(
            "cert.expiring".to_string(),
            "mike".to_string(),
            "10d".to_string(),
            1
        )]
    );
    t.stop().await;
}

/// A PagerDuty trigger still being retried when the certificate is replaced is not sent after
/// the resolve: it would open the incident again for a certificate that is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pagerduty_trigger_retried_after_its_resolve_is_not_sent() {
    use certkeep_api::ReimportCertificateRequest;
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let ch = t
        .admin
        .channel_create(&CreateChannelRequest {
            name: "pager".into(),
            kind: Some(ChannelKind::Pagerduty),
            routing_key: Some("R0123456789abcdef0123456789abcde".into()),
            events_url: Some(rx.url.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .channel;
    let day0 = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT) + Duration::days(1);
    let h = |hour: i64| day0 + Duration::hours(hour);
    let certs = Importer::new(&t, "Pager CA", day0 - Duration::days(100)).await;
    let from = day0 - Duration::days(90);
    let golf = certs
        .import("golf", from, day0 - Duration::days(1), h(6))
        .await;
    // The expired certificate pages; PagerDuty is down, so the trigger waits for a retry.
    rx.set_status(503);
    expiry_sweep_job::run_once(&t.app, h(8))
        .await
        .unwrap()
        .unwrap();
    let r = delivery_job::run_once(&t.app, h(8)).await.unwrap();
    assert_eq!(r.retrying, 1);
    // Replaced meanwhile: the resolve and the trigger's retry are both due when it is back.
    t.app
        .certificate_reimport(
            &certs.ctx(h(8) + Duration::minutes(5)),
            golf.id,
            ReimportCertificateRequest {
                certificate: certs.pem("golf", from, day0 + Duration::days(90)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    rx.set_status(200);
    let r = delivery_job::run_once(&t.app, h(10)).await.unwrap();
    assert_eq!(r.delivered, 2, "{r:?}");
    let sent: Vec<(String, String)> = rx
        .received()
        .iter()
        .map(|r| {
            (
                r.json["event_action"].as_str().unwrap().to_string(),
                r.json["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        vec![("resolve".to_string(), format!("certkeep:{}", golf.id))]
    );
    let history = t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap()
        .items;
    let expired = history.iter().find(|d| d.event == "cert.expired").unwrap();
    assert_eq!(expired.status, DeliveryStatus::Delivered);
    assert_eq!(expired.attempts, 2);
    t.stop().await;
}

/// Deliveries to a disabled channel wait for it: nothing is sent or given up while it is
/// disabled, and everything goes out once it is enabled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_channel_keeps_its_deliveries_until_enabled_again() {
    let t = TestApp::spawn_manual().await;
    let rx = Receiver::start().await;
    let mut req = webhook("paused", &rx.url);
    req.events = Some(vec!["cert.imported".into()]);
    let ch = t.admin.channel_create(&req).await.unwrap().channel;
    let day0 = OffsetDateTime::now_utc();
    let ca = root_ca("Paused CA", day0 - Duration::days(10));
    for name in ["hotel", "india"] {
        t.admin
            .certificate_import(&ImportCertificateRequest {
                name: name.into(),
                certificate: leaf_pem(
                    &ca,
                    &format!("{name}.example.test"),
                    day0 - Duration::days(1),
                    day0 + Duration::days(200),
                ),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let disable = |enabled| UpdateChannelRequest {
        enabled: Some(enabled),
        ..Default::default()
    };
    t.admin
        .channel_update(ch.id, &disable(false))
        .await
        .unwrap();
    // Two days of rounds while disabled: nothing sent, nothing failed.
    for hours in [0, 1, 30, 49] {
        let r = delivery_job::run_once(&t.app, day0 + Duration::hours(hours))
            .await
            .unwrap();
        assert_eq!(r.attempts(), 0, "{r:?}");
    }
    assert_eq!(rx.hits(), 0);
    let pending = t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
    t.admin.channel_update(ch.id, &disable(true)).await.unwrap();
    let r = delivery_job::run_once(&t.app, day0 + Duration::hours(50))
        .await
        .unwrap();
    assert_eq!(r.delivered, 2, "{r:?}");
    let mut names: Vec<String> = notices(&rx).into_iter().map(|n| n.1).collect();
    names.sort();
    assert_eq!(names, vec!["hotel", "india"]);
    t.stop().await;
}

/// A receiver slower than the delivery lease: the worker sending renews its lease, so a second
/// worker (another replica) finds nothing to take over and the delivery goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_keeps_its_delivery_with_the_worker_sending_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::helpers::test_config(dir.path()).await;
    config.danger_allow_http_channels = true;
    config.delivery_lease = Duration::seconds(3);
    let t = TestApp::spawn_scheduled(dir, config, certkeep_server::jobs::Schedule::manual()).await;
    let rx = Receiver::start().await;
    let ch = t
        .admin
        .channel_create(&webhook("slow", &rx.url))
        .await
        .unwrap()
        .channel;
    let now = OffsetDateTime::now_utc();
    let ca = root_ca("Slow CA", now);
    rx.set_delay(std::time::Duration::from_secs(8));
    t.admin
        .certificate_import(&ImportCertificateRequest {
            name: "slow".into(),
            certificate: leaf_pem(&ca, "slow.example.test", now, now + Duration::days(300)),
            ..Default::default()
        })
        .await
        .unwrap();
    let app = t.app.clone();
    let first = tokio::spawn(async move {
        certkeep_server::notify::outbox::deliver_due(&app, "replica-a", now).await
    });
    // Past the 3-second lease twice over, while the first worker still waits for the answer.
    for (pause, wait) in [(4, 4), (3, 7)] {
        tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
        let r = certkeep_server::notify::outbox::deliver_due(
            &t.app,
            "replica-b",
            now + Duration::seconds(wait),
        )
        .await
        .unwrap();
        assert_eq!(r.attempts(), 0, "taken over at +{wait} s");
    }
    let r = first.await.unwrap().unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(rx.hits(), 1);
    assert_eq!(rx.received().len(), 1);
    let d = &t
        .admin
        .channel_deliveries(ch.id, &DeliveryQuery::default())
        .await
        .unwrap()
        .items[0];
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 1));
    t.stop().await;
}
