//! ACME ordering against real peers: Pebble validating HTTP-01 against certkeep's challenge
//! listener and DNS-01 through BIND, with records written by RFC 2136 + TSIG. Orders run when
//! the test calls `order_job::run_once`, as the scheduler would.

use certkeep_api::{
    CertificateSource, ChallengeType, ChannelKind, CreateAcmeAccountRequest, CreateChannelRequest,
    CreateDnsProviderRequest, CreateOrderRequest, DeliveryQuery, DnsProviderKind, DownloadPart,
    DownloadQuery, EabCredentials, KeyType, OrderInfo, OrderStatus, RenewCertificateRequest,
    RevocationReason, RevokeCertificateRequest, Role, TsigAlgorithm, UpdateAcmeAccountRequest,
    UpdateRenewalRequest,
};
use certkeep_server::jobs::{delivery_job, order_job, renewal_job};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::acme_peers::{
    BLOCKED_DOMAIN, Bind, EAB_HMAC, EAB_KID, Pebble, TSIG_KEY_NAME, ZONE, openssl_verify,
    tools_available,
};
use crate::helpers::{TestApp, test_config};

pub struct Env {
    pub t: TestApp,
    pub bind: Bind,
    pub pebble: Pebble,
}

/// Peers (no EAB) and a server ordering from them; `None` when their tools are missing (the
/// test is skipped, or fails under CI).
pub async fn env(eab_required: bool) -> Option<Env> {
    env_with(eab_required, false).await
}

async fn env_with(eab_required: bool, reject_nonces: bool) -> Option<Env> {
    env_configured(eab_required, reject_nonces, |_| {}).await
}

async fn env_configured(
    eab_required: bool,
    reject_nonces: bool,
    tweak: impl FnOnce(&mut certkeep_server::config::Config),
) -> Option<Env> {
    env_scheduled(
        eab_required,
        reject_nonces,
        tweak,
        certkeep_server::jobs::Schedule::manual(),
    )
    .await
}

/// Peers and a server whose background jobs run on `schedule`.
async fn env_scheduled(
    eab_required: bool,
    reject_nonces: bool,
    tweak: impl FnOnce(&mut certkeep_server::config::Config),
    schedule: certkeep_server::jobs::Schedule,
) -> Option<Env> {
    if !tools_available() {
        return None;
    }
    let bind = Bind::start();
    let pebble = Pebble::start(&bind, eab_required, reject_nonces);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path()).await;
    tweak(&mut config);
    config.danger_allow_http_channels = true;
    config.public_url = Some("https://certkeep.example.test".into());
    config.acme_http_listen = Some(format!("127.0.0.1:{}", pebble.http_port).parse().unwrap());
    config.acme_dns_resolver = Some(bind.addr());
    config.acme_dns_port = bind.port;
    let t = TestApp::spawn_scheduled(dir, config, schedule).await;
    Some(Env { t, bind, pebble })
}

/// Peers without EAB and an account at the CA.
async fn env_and_account() -> Option<(Env, Uuid)> {
    let env = env(false).await?;
    let account = register(&env.t, &env.pebble).await;
    Some((env, account.id))
}

/// An account at `pebble` (trusting its listener's root).
async fn register(t: &TestApp, pebble: &Pebble) -> certkeep_api::AcmeAccountInfo {
    t.admin
        .acme_account_create(&account_request(pebble))
        .await
        .unwrap()
}

pub fn account_request(pebble: &Pebble) -> CreateAcmeAccountRequest {
    CreateAcmeAccountRequest {
        name: "pebble".into(),
        directory: pebble.directory_url.clone(),
        contact: vec!["ops@example.com".into()],
        terms_of_service_agreed: true,
        eab: None,
        ca_root_pem: Some(pebble.tls_root_pem.clone()),
    }
}

fn provider_request(server: String, secret: String) -> CreateDnsProviderRequest {
    CreateDnsProviderRequest {
        name: "bind".into(),
        kind: None,
        server,
        zone: ZONE.into(),
        tsig_key_name: TSIG_KEY_NAME.into(),
        tsig_algorithm: TsigAlgorithm::HmacSha256,
        tsig_secret: secret,
        channel_id: None,
        propagation_timeout_seconds: Some(20),
    }
}

pub fn order(
    name: &str,
    domains: &[&str],
    account: Uuid,
    challenge: ChallengeType,
) -> CreateOrderRequest {
    CreateOrderRequest {
        name: name.into(),
        description: None,
        domains: domains.iter().map(|d| d.to_string()).collect(),
        key_type: None,
        account_id: account,
        challenge,
        dns_provider_id: None,
        group: None,
        labels: Default::default(),
        auto_renew: None,
    }
}

/// Order `domains` through DNS provider `provider`.
async fn dns_order(
    t: &TestApp,
    name: &str,
    domains: &[&str],
    account: Uuid,
    provider: Uuid,
) -> OrderInfo {
    let mut req = order(name, domains, account, ChallengeType::Dns01);
    req.dns_provider_id = Some(provider);
    t.admin.order_create(&req).await.unwrap()
}

/// A webhook channel for the ordering events, pointing nowhere: its deliveries are the record.
async fn order_channel(t: &TestApp) -> Uuid {
    events_channel(t, &["cert.issued", "cert.order_failed"]).await
}

async fn events_channel(t: &TestApp, events: &[&str]) -> Uuid {
    t.admin
        .channel_create(&CreateChannelRequest {
            name: "orders".into(),
            kind: Some(ChannelKind::Webhook),
            url: Some("http://127.0.0.1:9/hook".into()),
            events: Some(events.iter().map(|e| e.to_string()).collect()),
            ..Default::default()
        })
        .await
        .unwrap()
        .channel
        .id
}

async fn events_of(t: &TestApp, channel: Uuid) -> Vec<(String, String)> {
    t.admin
        .channel_deliveries(channel, &DeliveryQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|d| (d.event, d.summary))
        .collect()
}

/// Run the order job until `id` has finished.
pub async fn run_order(t: &TestApp, id: Uuid) -> OrderInfo {
    for _ in 0..3 {
        order_job::run_once(&t.app, OffsetDateTime::now_utc())
            .await
            .unwrap();
        let o = t.admin.order_get(id).await.unwrap();
        if matches!(o.status, OrderStatus::Issued | OrderStatus::Failed) {
            return o;
        }
    }
    panic!("order {id} did not finish");
}

/// Deactivate at the CA every valid authorization of `account`'s orders, so that the next
/// order for the same names is validated again. Pebble otherwise reuses a valid authorization
/// now and then even with `PEBBLE_AUTHZREUSE=0` (a fresh one only when `rand.Intn(100) > 0`:
/// reused 1 % of the time), and an order meant to fail validation is issued instead.
async fn deactivate_authorizations(t: &TestApp, account: Uuid) {
    let rec = t
        .app
        .store
        .acme_account_get(account)
        .await
        .unwrap()
        .unwrap();
    let acme = t.app.load_account(&rec).await.unwrap();
    for o in t.app.store.order_list(1000).await.unwrap() {
        let Some(url) = o.order_url.filter(|_| o.account_id == account) else {
            continue;
        };
        // An order whose (reused) authorization was deactivated through another order is
        // itself "deactivated" at Pebble, a state instant-acme does not read: nothing is
        // left to do for it.
        let Ok(mut order) = acme.order(url).await else {
            continue;
        };
        let mut authzs = order.authorizations();
        while let Some(authz) = authzs.next().await {
            let mut authz = authz.unwrap();
            if authz.status == instant_acme::AuthorizationStatus::Valid {
                authz.deactivate().await.unwrap();
            }
        }
    }
}

fn pem_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn http01_order_becomes_an_inventory_entry_that_openssl_verifies() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env(false).await
    else {
        return;
    };
    let channel = order_channel(&t).await;
    let account = register(&t, &pebble).await;
    assert!(account.custom_ca_root);
    assert_eq!(account.contact, vec!["mailto:ops@example.com"]);
    assert!(account.account_url.starts_with("https://127.0.0.1:"));

    let mut req = order(
        "web",
        &["www.acme.test", "api.acme.test"],
        account.id,
        ChallengeType::Http01,
    );
    req.key_type = Some(KeyType::Rsa2048);
    req.labels.insert("team".into(), "web".into());
    let created = t.admin.order_create(&req).await.unwrap();
    assert_eq!(created.status, OrderStatus::Pending);
    assert_eq!(created.key_type, KeyType::Rsa2048);

    let done = run_order(&t, created.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    assert_eq!(done.attempts, 1);
    let cert_id = done.certificate_id.expect("the inventory entry");
    let meta = t.admin.certificate_get(cert_id).await.unwrap();
    assert_eq!(meta.source, CertificateSource::Ordered);
    assert_eq!(meta.name, "web");
    assert_eq!(meta.labels.get("team").map(String::as_str), Some("web"));
    assert!(meta.has_private_key);
    assert_eq!(meta.key_algorithm, "RSA");
    assert_eq!(meta.key_size, Some(2048));
    let mut domains = meta.domains.clone();
    domains.sort();
    assert_eq!(domains, vec!["api.acme.test", "www.acme.test"]);
    assert!(meta.chain_length >= 1);

    // Someone else checks the chain: openssl, with Pebble's issuing root as the only anchor.
    let q = |part| DownloadQuery {
        part: Some(part),
        ..Default::default()
    };
    let leaf = pem_text(
        t.admin
            .certificate_download(cert_id, &q(DownloadPart::Certificate))
            .await
            .unwrap(),
    );
    let chain = pem_text(
        t.admin
            .certificate_download(cert_id, &q(DownloadPart::Chain))
            .await
            .unwrap(),
    );
    let root = pebble.issuing_root_pem().await;
    let scratch = tempfile::tempdir().unwrap();
    openssl_verify(scratch.path(), &root, &chain, &leaf).unwrap();

    // The key is the one the certificate carries, and downloadable like an imported one.
    let key = pem_text(
        t.admin
            .certificate_download(cert_id, &q(DownloadPart::PrivateKey))
            .await
            .unwrap(),
    );
    assert!(key.contains("BEGIN PRIVATE KEY"));

    let events = events_of(&t, channel).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "cert.issued");
    assert!(events[0].1.contains("\"web\""), "{events:?}");

    // Audited: the request, and the job's run.
    let audit = t
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            target: Some(created.id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"order.create"), "{actions:?}");
    assert!(actions.contains(&"order.issue"), "{actions:?}");

    // A finished order is not run again.
    let r = order_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r, order_job::OrderReport::default());
    t.stop().await;
}

async fn key_of(t: &TestApp, id: Uuid, version: u32) -> String {
    pem_text(
        t.admin
            .certificate_download(
                id,
                &DownloadQuery {
                    part: Some(DownloadPart::PrivateKey),
                    version: Some(version),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn renewals_run_when_due_add_versions_and_back_off_after_failures() {
    let Some(Env { t, pebble, bind }) = env(false).await else {
        return;
    };
    let channel = events_channel(&t, &["cert.renewed", "cert.renew_failed"]).await;
    let account = register(&t, &pebble).await;
    let first = t
        .admin
        .order_create(&order(
            "renew",
            &["renew.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    assert!(first.auto_renew);
    let done = run_order(&t, first.id).await;
    let id = done.certificate_id.unwrap();
    let v1 = t.admin.certificate_get(id).await.unwrap();
    let now = OffsetDateTime::now_utc();

    // Not due yet; due once 2/3 of Pebble's five-year lifetime has passed.
    assert_eq!(renewal_job::run_once(&t.app, now).await.unwrap(), Some(0));
    let later = v1.not_before + (v1.not_after - v1.not_before) * 0.7;
    // Automatic renewal turned off: the job leaves it alone although it is due; only a Manager
    // may turn it back on; bad input names the field.
    let switch = |on: bool| UpdateRenewalRequest { auto_renew: on };
    let off = t
        .admin
        .certificate_renewal_update(id, &switch(false))
        .await
        .unwrap();
    assert!(!off.auto_renew);
    assert_eq!(off.order_id, first.id);
    assert_eq!(renewal_job::run_once(&t.app, later).await.unwrap(), Some(0));
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    assert!(!reader.certificate_renewal_get(id).await.unwrap().auto_renew);
    let e = reader
        .certificate_renewal_update(id, &switch(true))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    let raw = t
        .admin
        .raw(
            reqwest::Method::PATCH,
            &format!("/api/v1/certificates/{id}/renewal"),
        )
        .json(&serde_json::json!({"auto_renew": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.text().await.unwrap().contains("auto_renew"));
    assert!(
        t.admin
            .certificate_renewal_update(id, &switch(true))
            .await
            .unwrap()
            .auto_renew
    );
    assert_eq!(renewal_job::run_once(&t.app, later).await.unwrap(), Some(1));
    // Started once: the unfinished renewal is not started again.
    assert_eq!(renewal_job::run_once(&t.app, later).await.unwrap(), Some(0));
    let r = order_job::run_once(&t.app, now).await.unwrap();
    assert_eq!(r.issued, 1, "{r:?}");
    let v2 = t.admin.certificate_get(id).await.unwrap();
    assert_eq!(v2.version, 2);
    // Turned off now, it stays off through the next renewal.
    t.admin
        .certificate_renewal_update(id, &switch(false))
        .await
        .unwrap();
    assert_eq!(v2.source, CertificateSource::Ordered);
    assert_ne!(v2.fingerprint_sha256, v1.fingerprint_sha256);
    assert_ne!(
        key_of(&t, id, 1).await,
        key_of(&t, id, 2).await,
        "automatic renewals re-key"
    );

    // By hand, keeping the key; one at a time.
    let manual = t
        .admin
        .certificate_renew(id, &RenewCertificateRequest { rekey: false })
        .await
        .unwrap();
    assert_eq!(manual.renews_certificate_id, Some(id));
    assert!(!manual.rekey);
    let e = t
        .admin
        .certificate_renew(id, &RenewCertificateRequest { rekey: true })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert_eq!(run_order(&t, manual.id).await.status, OrderStatus::Issued);
    assert_eq!(t.admin.certificate_get(id).await.unwrap().version, 3);
    assert_eq!(key_of(&t, id, 2).await, key_of(&t, id, 3).await);
    assert!(
        !t.admin
            .certificate_renewal_get(id)
            .await
            .unwrap()
            .auto_renew
    );
    t.admin
        .certificate_renewal_update(id, &switch(true))
        .await
        .unwrap();

    // The name now points where certkeep does not answer: the renewal fails, says so at once,
    // and is tried again after a pause.
    bind.nsupdate("update add renew.acme.test 60 A 127.0.0.2");
    deactivate_authorizations(&t, account.id).await;
    let failing = t
        .admin
        .certificate_renew(id, &RenewCertificateRequest { rekey: true })
        .await
        .unwrap();
    let failed = run_order(&t, failing.id).await;
    assert_eq!(failed.status, OrderStatus::Failed);
    assert_eq!(failed.failed_domain.as_deref(), Some("renew.acme.test"));
    let state = t.app.store.acme_certificate_get(id).await.unwrap().unwrap();
    assert_eq!(state.failures, 1);
    let now = OffsetDateTime::now_utc();
    assert!(state.renew_at > now && state.renew_at <= now + time::Duration::minutes(6));
    assert_eq!(
        renewal_job::run_once(&t.app, now + time::Duration::minutes(1))
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        renewal_job::run_once(&t.app, now + time::Duration::minutes(6))
            .await
            .unwrap(),
        Some(1)
    );
    let r = order_job::run_once(&t.app, now).await.unwrap();
    assert_eq!(r.failed, 1, "{r:?}");
    let state = t.app.store.acme_certificate_get(id).await.unwrap().unwrap();
    assert_eq!(state.failures, 2);
    assert!(state.renew_at >= now + time::Duration::minutes(9));
    // The entry still serves its last good version.
    assert_eq!(t.admin.certificate_get(id).await.unwrap().version, 3);

    let events: Vec<String> = events_of(&t, channel)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    let count = |name: &str| events.iter().filter(|e| *e == name).count();
    assert_eq!(count("cert.renewed"), 2, "{events:?}");
    assert_eq!(count("cert.renew_failed"), 2, "{events:?}");

    // Only ordered certificates can be renewed here.
    let e = t
        .admin
        .certificate_renew(Uuid::now_v7(), &RenewCertificateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    t.stop().await;
}

#[tokio::test]
async fn renewal_information_from_the_ca_brings_renewal_forward() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env(false).await
    else {
        return;
    };
    let stub = crate::ari_stub::AriStub::start(&pebble).await;
    let mut req = account_request(&pebble);
    req.directory = stub.directory_url.clone();
    let account = t.admin.acme_account_create(&req).await.unwrap();
    let o = t
        .admin
        .order_create(&order(
            "ari",
            &["ari.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let id = run_order(&t, o.id).await.certificate_id.unwrap();
    let now = OffsetDateTime::now_utc();

    // A window in ten days: well before Pebble's five-year lifetime ends, not yet due.
    stub.set_window(
        now + time::Duration::days(10),
        now + time::Duration::days(11),
    );
    assert_eq!(renewal_job::run_once(&t.app, now).await.unwrap(), Some(0));
    assert_eq!(stub.asked().len(), 1, "asked once");
    assert!(
        stub.asked()[0].contains('.'),
        "an RFC 9773 certificate id: {:?}",
        stub.asked()
    );
    let state = t.app.store.acme_certificate_get(id).await.unwrap().unwrap();
    assert!(state.renew_at >= now + time::Duration::days(10));
    assert!(state.renew_at <= now + time::Duration::days(11));

    // The CA moves the window into the past (a mass revocation, say): once its Retry-After
    // (an hour) has passed, certkeep asks again and renews at once.
    stub.set_window(
        now - time::Duration::hours(2),
        now - time::Duration::hours(1),
    );
    assert_eq!(renewal_job::run_once(&t.app, now).await.unwrap(), Some(0));
    assert_eq!(stub.asked().len(), 1, "not asked again before Retry-After");
    let later = now + time::Duration::minutes(61);
    assert_eq!(renewal_job::run_once(&t.app, later).await.unwrap(), Some(1));
    assert_eq!(stub.asked().len(), 2);
    let r = order_job::run_once(&t.app, now).await.unwrap();
    let orders = t.admin.order_list().await.unwrap().items;
    assert_eq!(r.issued, 1, "{:?}", orders[0].error);
    assert_eq!(t.admin.certificate_get(id).await.unwrap().version, 2);
    t.stop().await;
}

#[tokio::test]
async fn orders_wait_for_their_accounts_hourly_budget() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env_configured(false, false, |c| c.acme_orders_per_account_per_hour = 1).await
    else {
        return;
    };
    let account = register(&t, &pebble).await;
    for name in ["one", "two"] {
        let domain = format!("{name}.acme.test");
        t.admin
            .order_create(&order(
                name,
                &[domain.as_str()],
                account.id,
                ChallengeType::Http01,
            ))
            .await
            .unwrap();
    }
    let now = OffsetDateTime::now_utc();
    let r = order_job::run_once(&t.app, now).await.unwrap();
    assert_eq!((r.issued, r.waiting), (1, 1), "{r:?}");
    let r = order_job::run_once(&t.app, now).await.unwrap();
    assert_eq!((r.issued, r.waiting), (0, 1), "{r:?}");
    let waiting = t.admin.order_list().await.unwrap().items;
    assert_eq!(
        waiting
            .iter()
            .filter(|o| o.status == OrderStatus::Pending)
            .count(),
        1
    );
    let r = order_job::run_once(&t.app, now + time::Duration::minutes(61))
        .await
        .unwrap();
    assert_eq!((r.issued, r.waiting), (1, 0), "{r:?}");
    t.stop().await;
}

#[tokio::test]
async fn revocation_goes_through_the_ca() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env(false).await
    else {
        return;
    };
    let account = register(&t, &pebble).await;
    let o = t
        .admin
        .order_create(&order(
            "gone",
            &["gone.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let id = run_order(&t, o.id).await.certificate_id.unwrap();
    let serial = t.admin.certificate_get(id).await.unwrap().serial;
    assert!(!pebble.cert_status(&serial).await.contains("Revoked"));

    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    let e = reader
        .certificate_revoke(id, &RevokeCertificateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");

    let r = t
        .admin
        .certificate_revoke(
            id,
            &RevokeCertificateRequest {
                reason: Some(RevocationReason::KeyCompromise),
            },
        )
        .await
        .unwrap();
    assert_eq!((r.version, r.reason), (1, RevocationReason::KeyCompromise));
    assert_eq!(r.serial, serial);
    let status = pebble.cert_status(&serial).await;
    assert!(status.contains("Revoked"), "{status}");

    // Twice: the CA's answer, as a conflict.
    let e = t
        .admin
        .certificate_revoke(id, &RevokeCertificateRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert!(e.to_string().contains("the CA refused"), "{e}");

    let audit = t
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            target: Some(id.to_string()),
            action: Some("certificate.revoke".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        audit.items.len(),
        3,
        "the denied, the done and the refused attempt"
    );
    t.stop().await;
}

#[tokio::test]
async fn dns01_wildcard_order_through_rfc2136_into_bind() {
    let Some(Env { t, pebble, bind }) = env_with(false, true).await else {
        return;
    };
    let account = register(&t, &pebble).await;
    let provider = t
        .admin
        .dns_provider_create(&provider_request(
            bind.addr().to_string(),
            bind.tsig_secret.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(provider.zone, ZONE);
    let mut req = order(
        "wild",
        &["wild.acme.test", "*.wild.acme.test"],
        account.id,
        ChallengeType::Dns01,
    );
    req.dns_provider_id = Some(provider.id);
    req.key_type = Some(KeyType::EcP384);
    let created = t.admin.order_create(&req).await.unwrap();
    let done = run_order(&t, created.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    let meta = t
        .admin
        .certificate_get(done.certificate_id.unwrap())
        .await
        .unwrap();
    let mut domains = meta.domains.clone();
    domains.sort();
    assert_eq!(domains, vec!["*.wild.acme.test", "wild.acme.test"]);
    assert_eq!(meta.key_curve.as_deref(), Some("P-384"));
    // The challenge records are gone again.
    assert_eq!(bind.dig("TXT", "_acme-challenge.wild.acme.test"), "");

    // A delegated validation name: `_acme-challenge` is a CNAME to a name the provider updates.
    bind.nsupdate("update add _acme-challenge.cname.acme.test 60 CNAME validation.acme.test.");
    let mut req = order(
        "cname",
        &["cname.acme.test"],
        account.id,
        ChallengeType::Dns01,
    );
    req.dns_provider_id = Some(provider.id);
    let done = run_order(&t, t.admin.order_create(&req).await.unwrap().id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    assert_eq!(bind.dig("TXT", "validation.acme.test"), "");
    t.stop().await;
}

#[tokio::test]
async fn accounts_need_eab_when_the_ca_requires_it() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env(true).await
    else {
        return;
    };
    let e = t
        .admin
        .acme_account_create(&account_request(&pebble))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("the CA refused"), "{e}");
    let mut req = account_request(&pebble);
    req.eab = Some(EabCredentials {
        kid: EAB_KID.into(),
        hmac_key: EAB_HMAC.into(),
    });
    let a = t.admin.acme_account_create(&req).await.unwrap();
    assert_eq!(a.eab_kid.as_deref(), Some(EAB_KID));
    assert_eq!(t.admin.acme_account_list().await.unwrap().items.len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn failed_orders_say_why_and_notify() {
    let Some(Env { t, pebble, bind }) = env(false).await else {
        return;
    };
    let channel = order_channel(&t).await;
    let account = register(&t, &pebble).await;

    // The CA refuses a domain.
    let blocked = t
        .admin
        .order_create(&order(
            "blocked",
            &[BLOCKED_DOMAIN],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    // A TSIG key the server does not know.
    let wrong_key = t
        .admin
        .dns_provider_create(&provider_request(
            bind.addr().to_string(),
            "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=".into(),
        ))
        .await
        .unwrap();
    let tsig = dns_order(
        &t,
        "wrong-key",
        &["tsig.acme.test"],
        account.id,
        wrong_key.id,
    )
    .await;
    // Updates go to a hidden primary whose data never reach the zone's nameserver.
    let hidden = Bind::start();
    let mut p = provider_request(hidden.addr().to_string(), hidden.tsig_secret.clone());
    p.name = "hidden".into();
    p.propagation_timeout_seconds = Some(3);
    let hidden_provider = t.admin.dns_provider_create(&p).await.unwrap();
    let never = dns_order(
        &t,
        "never",
        &["never.acme.test"],
        account.id,
        hidden_provider.id,
    )
    .await;

    // An order whose runs were all cut short (crashes) is not run again forever.
    let interrupted = t
        .admin
        .order_create(&order(
            "cut",
            &["cut.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    for _ in 0..3 {
        assert!(
            t.app
                .store
                .order_start(interrupted.id, OffsetDateTime::now_utc())
                .await
                .unwrap()
        );
    }

    let r = order_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.failed, 4, "{r:?}");
    let o = t.admin.order_get(interrupted.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Failed);
    assert!(
        o.error
            .unwrap()
            .contains("gave up after 3 interrupted attempts")
    );

    let o = t.admin.order_get(blocked.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Failed);
    let problem = o.problem.expect("the CA's problem document");
    assert_eq!(
        problem.kind.as_deref(),
        Some("urn:ietf:params:acme:error:rejectedIdentifier"),
        "{problem:?}"
    );
    assert!(o.error.unwrap().contains("the CA refused"));

    let o = t.admin.order_get(tsig.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Failed);
    assert_eq!(o.failed_domain.as_deref(), Some("tsig.acme.test"));
    let err = o.error.unwrap();
    assert!(err.contains("RFC 2136") || err.contains("refused"), "{err}");

    let o = t.admin.order_get(never.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Failed);
    assert_eq!(o.failed_domain.as_deref(), Some("never.acme.test"));
    let err = o.error.unwrap();
    assert!(
        err.contains("did not appear on every authoritative nameserver"),
        "{err}"
    );
    // The record written on the hidden primary was removed.
    assert_eq!(hidden.dig("TXT", "_acme-challenge.never.acme.test"), "");

    let events = events_of(&t, channel).await;
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        events.iter().all(|(e, _)| e == "cert.order_failed"),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(_, s)| s.contains("did not appear")),
        "{events:?}"
    );
    // No inventory entry came of them.
    assert_eq!(
        t.admin
            .certificate_list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        0
    );
    t.stop().await;
}

#[tokio::test]
async fn bad_orders_and_settings_are_refused_naming_the_field() {
    // No peers needed: everything here is refused before any CA is asked.
    let t = TestApp::spawn_manual().await;
    let no_account = Uuid::now_v7();
    for (req, needle) in [
        (
            order("x", &[], no_account, ChallengeType::Http01),
            "`domains` is empty",
        ),
        (
            order("x", &["*.a.example"], no_account, ChallengeType::Http01),
            "wildcards need `challenge` dns-01",
        ),
        (
            order("x", &["a..example"], no_account, ChallengeType::Dns01),
            "`domains[0]`",
        ),
        (
            order(
                "x",
                &["a.example", "A.example"],
                no_account,
                ChallengeType::Dns01,
            ),
            "`domains[1]`",
        ),
        (
            order("x", &["a.example"], no_account, ChallengeType::Dns01),
            "`dns_provider_id` is required",
        ),
    ] {
        let e = t.admin.order_create(&req).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }
    let raw = t
        .admin
        .raw(reqwest::Method::POST, "/api/v1/orders")
        .json(
            &serde_json::json!({"name": "x", "domains": ["a.example"], "account_id": no_account,
                                   "challenge": "http-01", "key_type": "dsa-1024"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.text().await.unwrap().contains("key_type"));

    for (req, needle) in [
        (
            CreateAcmeAccountRequest {
                name: "x".into(),
                directory: "http://ca.example/dir".into(),
                terms_of_service_agreed: true,
                ..Default::default()
            },
            "`directory`",
        ),
        (
            CreateAcmeAccountRequest {
                name: "x".into(),
                directory: "letsencrypt-staging".into(),
                ..Default::default()
            },
            "`terms_of_service_agreed`",
        ),
        (
            CreateAcmeAccountRequest {
                name: "x".into(),
                directory: "letsencrypt".into(),
                terms_of_service_agreed: true,
                contact: vec!["not an address".into()],
                ..Default::default()
            },
            "`contact[0]`",
        ),
        (
            CreateAcmeAccountRequest {
                name: "x".into(),
                directory: "letsencrypt".into(),
                terms_of_service_agreed: true,
                eab: Some(EabCredentials {
                    kid: "k".into(),
                    hmac_key: "***".into(),
                }),
                ..Default::default()
            },
            "`eab.hmac_key`",
        ),
        (
            CreateAcmeAccountRequest {
                name: "x".into(),
                directory: "letsencrypt".into(),
                terms_of_service_agreed: true,
                ca_root_pem: Some(
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
                ),
                ..Default::default()
            },
            "`ca_root_pem`",
        ),
    ] {
        let e = t.admin.acme_account_create(&req).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }

    let good = CreateDnsProviderRequest {
        name: "p".into(),
        kind: None,
        server: "ns1.example.com:53".into(),
        zone: "example.com".into(),
        tsig_key_name: "k".into(),
        tsig_algorithm: TsigAlgorithm::HmacSha512,
        tsig_secret: "c2VjcmV0".into(),
        channel_id: None,
        propagation_timeout_seconds: None,
    };
    // Callback providers name a webhook channel that sends both DNS events.
    let no_dns_events = events_channel(&t, &["cert.issued"]).await;
    let callback = CreateDnsProviderRequest {
        name: "cb".into(),
        kind: Some(DnsProviderKind::Callback),
        zone: "example.com".into(),
        ..Default::default()
    };
    for (req, needle) in [
        (
            CreateDnsProviderRequest {
                zone: "".into(),
                ..good.clone()
            },
            "`zone`",
        ),
        (
            CreateDnsProviderRequest {
                server: "ns1:port".into(),
                ..good.clone()
            },
            "`server`",
        ),
        (
            CreateDnsProviderRequest {
                tsig_secret: "!!".into(),
                ..good.clone()
            },
            "`tsig_secret`",
        ),
        (
            CreateDnsProviderRequest {
                propagation_timeout_seconds: Some(0),
                ..good.clone()
            },
            "`propagation_timeout_seconds`",
        ),
        (callback.clone(), "`channel_id` is required"),
        (
            CreateDnsProviderRequest {
                channel_id: Some(Uuid::now_v7()),
                ..callback.clone()
            },
            "names no notification channel",
        ),
        (
            CreateDnsProviderRequest {
                channel_id: Some(no_dns_events),
                ..callback.clone()
            },
            "does not send dns.validation_required",
        ),
        (
            CreateDnsProviderRequest {
                channel_id: Some(no_dns_events),
                server: "ns1.example.com".into(),
                ..callback.clone()
            },
            "`server` applies only",
        ),
        (
            CreateDnsProviderRequest {
                channel_id: Some(no_dns_events),
                ..good.clone()
            },
            "`channel_id` applies only",
        ),
        (
            CreateDnsProviderRequest {
                kind: Some(DnsProviderKind::Manual),
                tsig_key_name: "k".into(),
                ..callback.clone()
            },
            "`tsig_key_name` applies only",
        ),
    ] {
        let e = t.admin.dns_provider_create(&req).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }
    let p = t.admin.dns_provider_create(&good).await.unwrap();
    assert_eq!(p.propagation_timeout_seconds, 300);
    assert_eq!(p.tsig_algorithm, Some(TsigAlgorithm::HmacSha512));
    let shown = serde_json::to_string(&t.admin.dns_provider_get(p.id).await.unwrap()).unwrap();
    assert!(!shown.contains("c2VjcmV0"), "the secret is never shown");

    // A provider only goes with dns-01; HTTP-01 needs the challenge listener, off here.
    let mut req = order("x", &["a.example"], no_account, ChallengeType::Http01);
    req.dns_provider_id = Some(p.id);
    let e = t.admin.order_create(&req).await.unwrap_err();
    assert!(
        e.to_string().contains("`dns_provider_id` applies only"),
        "{e}"
    );
    req.dns_provider_id = None;
    let e = t.admin.order_create(&req).await.unwrap_err();
    assert!(e.to_string().contains("HTTP-01 listener"), "{e}");
    let mut req = order("x", &["a.example"], no_account, ChallengeType::Dns01);
    req.dns_provider_id = Some(p.id);
    let e = t.admin.order_create(&req).await.unwrap_err();
    assert!(e.to_string().contains("`account_id`"), "{e}");

    // Roles: readers may look, not order; group-limited managers may not touch accounts.
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    assert_eq!(reader.dns_provider_list().await.unwrap().items.len(), 1);
    let e = reader
        .order_create(&order(
            "x",
            &["a.example"],
            no_account,
            ChallengeType::Dns01,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    let (team, _) = t.client_with_role(Role::Manager, Some("team")).await;
    let e = team.dns_provider_delete(p.id).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    t.admin.dns_provider_delete(p.id).await.unwrap();
    assert_eq!(
        t.admin.dns_provider_get(p.id).await.unwrap_err().status(),
        Some(404)
    );
    t.stop().await;
}

/// A webhook receiver standing in for "any other DNS provider": what it was sent, with the
/// signature header, in arrival order.
struct DnsReceiver {
    url: String,
    received: tokio::sync::mpsc::UnboundedReceiver<(bool, serde_json::Value)>,
}

async fn dns_receiver() -> DnsReceiver {
    let (tx, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let signed = headers.contains_key("webhook-signature")
                        && headers.contains_key("certkeep-signature");
                    let _ = tx.send((signed, serde_json::from_slice(&body).unwrap()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    DnsReceiver { url, received }
}

async fn dns_channel(t: &TestApp, url: &str) -> Uuid {
    t.admin
        .channel_create(&CreateChannelRequest {
            name: "dns".into(),
            kind: Some(ChannelKind::Webhook),
            url: Some(url.into()),
            events: Some(
                [
                    "dns.validation_required",
                    "dns.validation_completed",
                    "cert.order_failed",
                ]
                .iter()
                .map(|e| e.to_string())
                .collect(),
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .channel
        .id
}

/// A receiver, its webhook channel and a callback provider `name` sending to it.
async fn callback_setup(
    t: &TestApp,
    name: &str,
    timeout: u32,
) -> (DnsReceiver, Uuid, certkeep_api::DnsProviderInfo) {
    let receiver = dns_receiver().await;
    let channel = dns_channel(t, &receiver.url).await;
    let provider = t
        .admin
        .dns_provider_create(&CreateDnsProviderRequest {
            name: name.into(),
            kind: Some(DnsProviderKind::Callback),
            zone: ZONE.into(),
            channel_id: Some(channel),
            propagation_timeout_seconds: Some(timeout),
            ..Default::default()
        })
        .await
        .unwrap();
    (receiver, channel, provider)
}

/// Deliver the outbox and hand what `receiver` got to `handle`, until `order` finishes, then
/// once more for what the end of the order sent.
async fn run_with_receiver(
    t: &TestApp,
    order: Uuid,
    receiver: &mut DnsReceiver,
    mut handle: impl FnMut(&serde_json::Value),
) -> (OrderInfo, Vec<serde_json::Value>) {
    let mut seen = Vec::new();
    // The order runs in its own task, as in the server: one task polling both would stop the
    // order while a delivery waits for the database connection the order holds.
    let (app, admin) = (t.app.clone(), t.admin.clone());
    let mut run = tokio::spawn(async move {
        for _ in 0..3 {
            order_job::run_once(&app, OffsetDateTime::now_utc())
                .await
                .unwrap();
            let o = admin.order_get(order).await.unwrap();
            if matches!(o.status, OrderStatus::Issued | OrderStatus::Failed) {
                return o;
            }
        }
        panic!("order {order} did not finish");
    });
    let done = loop {
        tokio::select! {
            o = &mut run => break o.unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                for e in deliver_round(t, receiver).await {
                    handle(&e);
                    seen.push(e);
                }
            }
        }
    };
    for e in deliver_round(t, receiver).await {
        handle(&e);
        seen.push(e);
    }
    (done, seen)
}

/// A delivery round as the scheduler runs it (one that fails, a busy database under the whole
/// suite's load, is tried again at the next tick), and what `receiver` got, each checked to be
/// signed. The receiver has them once the round is over: it answers after taking them.
async fn deliver_round(t: &TestApp, receiver: &mut DnsReceiver) -> Vec<serde_json::Value> {
    if let Err(e) = delivery_job::run_once(&t.app, OffsetDateTime::now_utc()).await {
        eprintln!("delivery round failed, retrying: {e}");
    }
    let mut got = Vec::new();
    while let Ok((signed, event)) = receiver.received.try_recv() {
        assert!(signed, "deliveries are signed: {event}");
        got.push(event);
    }
    got
}

fn of_type<'a>(seen: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    seen.iter().filter(|e| e["type"] == event).collect()
}

#[tokio::test]
async fn callback_provider_has_a_webhook_receiver_write_the_records() {
    let Some((
        Env {
            t,
            bind,
            pebble: _pebble,
        },
        account,
    )) = env_and_account().await
    else {
        return;
    };
    let (mut receiver, channel, provider) = callback_setup(&t, "callback", 20).await;
    assert_eq!(provider.kind, DnsProviderKind::Callback);
    assert_eq!(provider.channel_id, Some(channel));
    assert_eq!(provider.server, None);

    let created = dns_order(
        &t,
        "callback",
        &["cb.acme.test", "*.cb.acme.test"],
        account,
        provider.id,
    )
    .await;
    // The receiver writes each record into BIND and removes it when told.
    let (done, seen) = run_with_receiver(&t, created.id, &mut receiver, |e| {
        let r = &e["dns_record"];
        let (name, value) = (
            r["record_name"].as_str().unwrap(),
            r["value"].as_str().unwrap(),
        );
        match e["type"].as_str().unwrap() {
            "dns.validation_required" => {
                bind.nsupdate(&format!("update add {name} 60 TXT \"{value}\""))
            }
            "dns.validation_completed" => {
                bind.nsupdate(&format!("update delete {name} TXT \"{value}\""))
            }
            _ => {}
        }
    })
    .await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    let required = of_type(&seen, "dns.validation_required");
    let completed = of_type(&seen, "dns.validation_completed");
    assert_eq!(required.len(), 2, "{seen:?}");
    assert_eq!(completed.len(), 2, "{seen:?}");
    let mut domains: Vec<&str> = required
        .iter()
        .map(|e| e["dns_record"]["domain"].as_str().unwrap())
        .collect();
    domains.sort();
    assert_eq!(domains, vec!["*.cb.acme.test", "cb.acme.test"]);
    for e in required.iter().chain(&completed) {
        let r = &e["dns_record"];
        assert_eq!(r["order_id"], created.id.to_string());
        assert_eq!(r["record_name"], "_acme-challenge.cb.acme.test.");
        assert_eq!(r["record_type"], "TXT");
        assert_eq!(e["certificates"][0]["name"], "callback");
    }
    assert_eq!(bind.dig("TXT", "_acme-challenge.cb.acme.test"), "");
    let meta = t
        .admin
        .certificate_get(done.certificate_id.unwrap())
        .await
        .unwrap();
    assert_eq!(meta.source, CertificateSource::Ordered);

    // A receiver that never creates the record: the order fails once the deadline passes.
    let (mut silent, _, silent_provider) = callback_setup(&t, "silent", 2).await;
    let created = dns_order(
        &t,
        "never",
        &["nobody.acme.test"],
        account,
        silent_provider.id,
    )
    .await;
    let (done, seen) = run_with_receiver(&t, created.id, &mut silent, |_| {}).await;
    assert_eq!(done.status, OrderStatus::Failed);
    assert_eq!(done.failed_domain.as_deref(), Some("nobody.acme.test"));
    let err = done.error.unwrap();
    assert!(
        err.contains("did not appear on every authoritative nameserver"),
        "{err}"
    );
    assert_eq!(
        of_type(&seen, "dns.validation_required").len(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        of_type(&seen, "dns.validation_completed").len(),
        1,
        "{seen:?}"
    );
    let failed = of_type(&seen, "cert.order_failed");
    assert_eq!(failed.len(), 1, "{seen:?}");
    assert!(
        failed[0]["summary"]
            .as_str()
            .unwrap()
            .contains("did not appear"),
        "{seen:?}"
    );
    t.stop().await;
}

/// Orders of one account run side by side, at most four at once: six orders through a callback
/// provider whose receiver never writes the record each wait out a 6-second deadline; the
/// first four ask for their records at once, the last two only once a first one has ended.
#[tokio::test]
async fn orders_of_one_account_run_side_by_side_at_most_four_at_once() {
    let Some((
        Env {
            t,
            bind: _bind,
            pebble: _pebble,
        },
        account,
    )) = env_and_account().await
    else {
        return;
    };
    let (mut receiver, _, provider) = callback_setup(&t, "bounded", 6).await;
    for i in 0..6 {
        dns_order(
            &t,
            &format!("bounded{i}"),
            &[&format!("bounded{i}.acme.test")],
            account,
            provider.id,
        )
        .await;
    }
    // The events of each delivery round, in rounds.
    let mut rounds: Vec<Vec<serde_json::Value>> = Vec::new();
    // The round runs in its own task, as in the server: one task polling both would stop the
    // round while a delivery waits for the database connection the round holds.
    let report = {
        let app = t.app.clone();
        let mut round =
            tokio::spawn(async move { order_job::run_once(&app, OffsetDateTime::now_utc()).await });
        loop {
            tokio::select! {
                r = &mut round => break r.unwrap().unwrap(),
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                    rounds.push(deliver_round(&t, &mut receiver).await);
                }
            }
        }
    };
    rounds.push(deliver_round(&t, &mut receiver).await);
    assert_eq!(report.failed, 6, "{report:?}");
    let count = |rounds: &[Vec<serde_json::Value>], event: &str| {
        rounds
            .iter()
            .flatten()
            .filter(|e| e["type"] == event)
            .count()
    };
    let first_end = rounds
        .iter()
        .position(|r| r.iter().any(|e| e["type"] == "dns.validation_completed"))
        .expect("orders ended");
    assert_eq!(
        count(&rounds[..first_end], "dns.validation_required"),
        4,
        "four orders wait at once, no more: {:?}",
        rounds
            .iter()
            .map(|r| r.iter().map(|e| e["type"].clone()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    assert_eq!(count(&rounds, "dns.validation_required"), 6);
    assert_eq!(count(&rounds, "dns.validation_completed"), 6);
    assert_eq!(count(&rounds, "cert.order_failed"), 6);
    // Each event is stamped with when it happened: the record's end seconds after its start.
    let time_of = |event: &str, domain: &str| {
        let e = rounds
            .iter()
            .flatten()
            .find(|e| e["type"] == event && e["dns_record"]["domain"] == domain)
            .unwrap();
        OffsetDateTime::parse(
            e["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    for i in 0..6 {
        let domain = format!("bounded{i}.acme.test");
        let waited = time_of("dns.validation_completed", &domain)
            - time_of("dns.validation_required", &domain);
        assert!(waited >= time::Duration::seconds(3), "{domain}: {waited}");
    }
    t.stop().await;
}

#[tokio::test]
async fn manual_provider_order_waits_for_records_and_validate() {
    let Some((
        Env {
            t,
            bind,
            pebble: _pebble,
        },
        account,
    )) = env_and_account().await
    else {
        return;
    };
    let provider = t
        .admin
        .dns_provider_create(&CreateDnsProviderRequest {
            name: "by hand".into(),
            kind: Some(DnsProviderKind::Manual),
            zone: ZONE.into(),
            propagation_timeout_seconds: Some(20),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(provider.kind, DnsProviderKind::Manual);
    let created = dns_order(
        &t,
        "manual",
        &["man.acme.test", "*.man.acme.test"],
        account,
        provider.id,
    )
    .await;
    // Nothing to validate yet.
    let e = t.admin.order_validate(created.id).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert!(e.to_string().contains("not awaiting_dns"), "{e}");

    let r = order_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.awaiting_dns, 1, "{r:?}");
    let waiting = t.admin.order_get(created.id).await.unwrap();
    assert_eq!(waiting.status, OrderStatus::AwaitingDns);
    assert_eq!(waiting.dns_records.len(), 2, "{waiting:?}");
    let mut domains: Vec<&str> = waiting
        .dns_records
        .iter()
        .map(|r| r.domain.as_str())
        .collect();
    domains.sort();
    assert_eq!(domains, vec!["*.man.acme.test", "man.acme.test"]);
    for r in &waiting.dns_records {
        assert_eq!(r.record_name, "_acme-challenge.man.acme.test.");
        assert_eq!(r.record_type, "TXT");
    }
    // A waiting order is left alone by the job, and only a Manager may let it go on.
    let r = order_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r, order_job::OrderReport::default());
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    let e = reader.order_validate(created.id).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");

    // The person creates the records, then says so.
    for r in &waiting.dns_records {
        bind.nsupdate(&format!(
            "update add {} 60 TXT \"{}\"",
            r.record_name, r.value
        ));
    }
    let resumed = t.admin.order_validate(created.id).await.unwrap();
    assert_eq!(resumed.status, OrderStatus::Pending);
    let e = t.admin.order_validate(created.id).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    let done = run_order(&t, created.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    let meta = t
        .admin
        .certificate_get(done.certificate_id.unwrap())
        .await
        .unwrap();
    let mut domains = meta.domains.clone();
    domains.sort();
    assert_eq!(domains, vec!["*.man.acme.test", "man.acme.test"]);
    t.stop().await;
}

#[tokio::test]
async fn accounts_change_contacts_and_roll_their_key_over() {
    let Some((
        Env {
            t,
            bind: _bind,
            pebble: _pebble,
        },
        account,
    )) = env_and_account().await
    else {
        return;
    };
    let changed = t
        .admin
        .acme_account_update(
            account,
            &UpdateAcmeAccountRequest {
                name: Some("pebble-ops".into()),
                contact: Some(vec!["security@example.com".into()]),
                rollover_key: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "pebble-ops");
    assert_eq!(changed.contact, vec!["mailto:security@example.com"]);
    let before = t
        .app
        .store
        .acme_account_get(account)
        .await
        .unwrap()
        .unwrap();

    // A new key at the CA; orders go on with it.
    let rolled = t
        .admin
        .acme_account_update(
            account,
            &UpdateAcmeAccountRequest {
                rollover_key: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rolled.account_url, changed.account_url);
    assert_eq!(rolled.contact, changed.contact);
    let after = t
        .app
        .store
        .acme_account_get(account)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(after.credentials_sealed, before.credentials_sealed);
    let created = t
        .admin
        .order_create(&order(
            "after-rollover",
            &["rolled.acme.test"],
            account,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = run_order(&t, created.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);

    // Bad input names the field; only a Manager not limited to a group may change accounts.
    let e = t
        .admin
        .acme_account_update(
            account,
            &UpdateAcmeAccountRequest {
                contact: Some(vec!["not an address".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("`contact[0]`"), "{e}");
    let raw = t
        .admin
        .raw(
            reqwest::Method::PATCH,
            &format!("/api/v1/acme/accounts/{account}"),
        )
        .json(&serde_json::json!({"rollover_key": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(raw.text().await.unwrap().contains("rollover_key"));
    let (team, _) = t.client_with_role(Role::Manager, Some("team")).await;
    let e = team
        .acme_account_update(account, &UpdateAcmeAccountRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    let e = t
        .admin
        .acme_account_update(Uuid::now_v7(), &UpdateAcmeAccountRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    t.stop().await;
}

/// The web UI's order pages: the form (with the server's message next to it), the order's
/// state while it runs and once issued, renewing from the certificate page, a failed renewal's
/// reason and failing domain, and the dashboard counting it; a Reader cannot order.
#[tokio::test]
async fn orders_are_placed_followed_and_renewed_from_the_web_ui() {
    use crate::ui::{Browser, admin_token, csrf_of};
    use axum::http::StatusCode;
    let Some(Env { t, pebble, bind }) = env(false).await else {
        return;
    };
    let account = register(&t, &pebble).await;
    let b = Browser::signed_in(&t.base_url, &admin_token(&t).await).await;
    let (status, form) = b.page("/orders/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains(&account.id.to_string()),
        "the account is offered"
    );
    let csrf = csrf_of(&form);
    let account_id = account.id.to_string();
    let fields = |domains: &'static str, challenge: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "ui-order".to_string()),
            ("domains", domains.to_string()),
            ("account_id", account_id.clone()),
            ("challenge", challenge.to_string()),
            ("key_type", "ec-p256".to_string()),
            ("auto_renew", "1".to_string()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post("/orders/new", &pairs).await
        }
    };

    // A wildcard needs DNS-01: refused with the server's reason on the form itself.
    let r = post(fields("*.ui.acme.test", "http-01")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("field-error") && html.contains("dns-01"),
        "{html}"
    );
    assert!(
        html.contains("*.ui.acme.test"),
        "the form keeps what was typed"
    );

    let r = post(fields("ui.acme.test", "http-01")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let at = r.headers()["location"].to_str().unwrap().to_string();
    let id: Uuid = at.trim_start_matches("/orders/").parse().unwrap();
    let (_, page) = b.page(&at).await;
    assert!(page.contains(">pending<"), "{page}");
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "it reloads while running"
    );

    let issued = run_order(&t, id).await;
    assert_eq!(issued.status, OrderStatus::Issued);
    let cert = issued.certificate_id.unwrap();
    let (_, page) = b.page(&at).await;
    assert!(page.contains(">issued<") && page.contains(&format!("/certificates/{cert}")));
    assert!(!page.contains("http-equiv=\"refresh\""));
    let (_, list) = b.page("/orders").await;
    assert!(list.contains("ui-order") && list.contains(">issued<"));

    // Renew from the certificate page; the name now points where certkeep does not answer.
    let (_, detail) = b.page(&format!("/certificates/{cert}")).await;
    assert!(detail.contains("Renew now") && detail.contains("ordered from an ACME CA"));
    bind.nsupdate("update add ui.acme.test 60 A 127.0.0.2");
    deactivate_authorizations(&t, account.id).await;
    let r = b
        .post(
            &format!("/certificates/{cert}/renew"),
            &[("csrf", csrf_of(&detail).as_str()), ("rekey", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let renewal: Uuid = r.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/orders/")
        .parse()
        .unwrap();
    assert_eq!(run_order(&t, renewal).await.status, OrderStatus::Failed);
    let (_, page) = b.page(&format!("/orders/{renewal}")).await;
    assert!(page.contains("Why it failed"), "{page}");
    assert!(page.contains("<strong>ui.acme.test</strong>"), "{page}");
    let (_, dash) = b.page("/").await;
    assert!(
        dash.contains("<span class=\"n\">1</span><span>renewal failing</span>"),
        "{dash}"
    );

    // A Reader sees the orders but cannot place one.
    let (_, reader) = t.client_with_role(Role::Reader, None).await;
    let rb = Browser::signed_in(&t.base_url, &reader).await;
    let (_, list) = rb.page("/orders").await;
    assert!(list.contains("ui-order") && !list.contains("New order"));
    let r = rb
        .post(
            "/orders/new",
            &[
                ("csrf", rb.csrf("/orders").await.as_str()),
                ("name", "nope"),
                ("domains", "nope.acme.test"),
                ("account_id", account_id.as_str()),
                ("challenge", "http-01"),
                ("key_type", "ec-p256"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    t.stop().await;
}

/// Another replica on the test's database (its own instance id), with leases on orders of
/// `lease`, asking `bind` about DNS.
async fn replica(t: &TestApp, bind: &Bind, lease: time::Duration) -> certkeep_server::app::App {
    let config = certkeep_server::config::Config {
        data_dir: t.data_dir(),
        database_url: Some(t.database_url.clone()),
        danger_allow_http_channels: true,
        acme_dns_resolver: Some(bind.addr()),
        acme_dns_port: bind.port,
        ..Default::default()
    };
    let mut app = certkeep_server::app::App::open(&config).await.unwrap();
    app.policy.acme.order_lease = lease;
    app
}

/// The audit events of the order job's runs of `order`.
async fn issue_events(t: &TestApp, order: Uuid) -> usize {
    t.admin
        .audit_list(&certkeep_api::AuditQuery {
            target: Some(order.to_string()),
            action: Some("order.issue".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

/// A DNS-01 wait far longer than the order's lease: the replica running the order keeps its
/// lease, a second replica polling all along never takes the order over, and the order is
/// issued once. A run whose lease is taken over anyway stops at once, removes its record and
/// records nothing.
#[tokio::test]
async fn a_long_dns_wait_keeps_the_orders_lease_and_the_order_finishes_once() {
    let Some((
        Env {
            t,
            bind,
            pebble: _pebble,
        },
        account,
    )) = env_and_account().await
    else {
        return;
    };
    let (mut receiver, _, provider) = callback_setup(&t, "slow", 60).await;
    let lease = time::Duration::seconds(2);
    let two_leases = lease.unsigned_abs() * 2;
    let record_delay = std::time::Duration::from_secs(5);
    // Each replica's rounds in their own task, as in two processes: a round of b that waits
    // on a's lock must not stop a's run from being polled.
    let (a, b) = (
        std::sync::Arc::new(replica(&t, &bind, lease).await),
        replica(&t, &bind, lease).await,
    );
    let round_of_a = || {
        let a = a.clone();
        tokio::spawn(async move { order_job::run_once(&a, OffsetDateTime::now_utc()).await })
    };
    let created = dns_order(&t, "slow", &["slow.acme.test"], account, provider.id).await;

    // Replica a runs the order; the receiver creates the record only after `record_delay`.
    let started = std::time::Instant::now();
    let mut run = round_of_a();
    let mut to_create: Vec<(std::time::Instant, String)> = Vec::new();
    let mut seen = Vec::new();
    let mut b_rounds = Vec::new();
    let report = loop {
        tokio::select! {
            r = &mut run => break r.unwrap().unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {
                for e in deliver_round(&t, &mut receiver).await {
                    let r = &e["dns_record"];
                    let (name, value) = (r["record_name"].as_str().unwrap(), r["value"].as_str().unwrap());
                    match e["type"].as_str().unwrap() {
                        "dns.validation_required" => to_create.push((
                            std::time::Instant::now() + record_delay,
                            format!("update add {name} 60 TXT \"{value}\""),
                        )),
                        "dns.validation_completed" => {
                            bind.nsupdate(&format!("update delete {name} TXT \"{value}\""))
                        }
                        _ => {}
                    }
                    seen.push(e);
                }
                to_create.retain(|(at, update)| {
                    let due = *at <= std::time::Instant::now();
                    if due {
                        bind.nsupdate(update);
                    }
                    !due
                });
                // Replica b polls as its scheduler would, all through the wait.
                let r = order_job::run_once(&b, OffsetDateTime::now_utc()).await.unwrap();
                b_rounds.push((started.elapsed(), r));
            }
        }
    };
    let took = started.elapsed();
    assert_eq!(
        report,
        order_job::OrderReport {
            issued: 1,
            ..Default::default()
        }
    );
    assert!(
        took > record_delay && took > two_leases,
        "the wait outlasted the lease: {took:?}"
    );
    assert!(
        b_rounds.iter().all(|(_, r)| r.issued
            + r.failed
            + r.retrying
            + r.lease_lost
            + r.awaiting_dns
            == 0),
        "{b_rounds:?}"
    );
    assert!(
        b_rounds
            .iter()
            .any(|(at, r)| *at > two_leases && r.skipped == 1),
        "b found the order held well after the first lease would have lapsed: {b_rounds:?}"
    );
    let done = t.admin.order_get(created.id).await.unwrap();
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    assert_eq!(done.attempts, 1, "started once");
    assert_eq!(issue_events(&t, created.id).await, 1);
    assert_eq!(
        t.admin
            .certificate_list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(of_type(&seen, "dns.validation_required").len(), 1);

    // Another replica takes the lease over (as after a partition): the run stops within a
    // heartbeat instead of waiting out its 60 s deadline, says the record may go, and records
    // nothing; the order stays with the new holder.
    let stolen = dns_order(&t, "stolen", &["stolen.acme.test"], account, provider.id).await;
    let started = std::time::Instant::now();
    let mut run = round_of_a();
    let mut taken = false;
    let mut seen = Vec::new();
    let report = loop {
        tokio::select! {
            r = &mut run => break r.unwrap().unwrap(),
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {
                seen.extend(deliver_round(&t, &mut receiver).await);
                if !taken && !of_type(&seen, "dns.validation_required").is_empty() {
                    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
                    assert!(
                        b.store
                            .lease_acquire(&order_job::lease_name(stolen.id), "elsewhere", later, later + lease)
                            .await
                            .unwrap()
                    );
                    taken = true;
                }
            }
        }
    };
    assert!(taken);
    assert_eq!(
        report,
        order_job::OrderReport {
            lease_lost: 1,
            ..Default::default()
        }
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "stopped long before the deadline: {:?}",
        started.elapsed()
    );
    seen.extend(deliver_round(&t, &mut receiver).await);
    let of_stolen = |event: &str| {
        of_type(&seen, event)
            .into_iter()
            .filter(|e| e["dns_record"]["order_id"] == stolen.id.to_string())
            .count()
    };
    assert_eq!(of_stolen("dns.validation_required"), 1, "{seen:?}");
    assert_eq!(of_stolen("dns.validation_completed"), 1, "{seen:?}");
    let o = t.admin.order_get(stolen.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Validating);
    assert_eq!(o.attempts, 1);
    assert_eq!(issue_events(&t, stolen.id).await, 0);
    // The new holder's lease is left alone.
    let r = order_job::run_once(&b, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.skipped, 1, "{r:?}");
    t.stop().await;
}

/// A notification channel that callback DNS providers send their records to cannot be deleted
/// (409 naming them) until they are; a delete racing a provider's creation ends one way or the
/// other, never with a provider whose channel is gone.
#[tokio::test]
async fn channels_used_by_callback_providers_cannot_be_deleted() {
    // No peers needed: nothing here talks to a CA or a nameserver.
    let t = TestApp::spawn_manual().await;
    let channel = dns_channel(&t, "http://127.0.0.1:9/hook").await;
    let callback = |name: &str, channel: Uuid| CreateDnsProviderRequest {
        name: name.into(),
        kind: Some(DnsProviderKind::Callback),
        zone: "example.com".into(),
        channel_id: Some(channel),
        ..Default::default()
    };
    let one = t
        .admin
        .dns_provider_create(&callback("hook-one", channel))
        .await
        .unwrap();
    let two = t
        .admin
        .dns_provider_create(&callback("hook-two", channel))
        .await
        .unwrap();
    let e = t.admin.channel_delete(channel).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    let msg = e.to_string();
    for p in [&one, &two] {
        assert!(
            msg.contains(&p.name) && msg.contains(&p.id.to_string()),
            "{msg}"
        );
    }
    assert!(msg.contains("callback DNS providers"), "{msg}");
    assert_eq!(t.admin.channel_get(channel).await.unwrap().id, channel);
    let refused = t
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            target: Some(channel.to_string()),
            action: Some("channel.delete".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(refused.items.len(), 1, "the refusal is audited");

    t.admin.dns_provider_delete(one.id).await.unwrap();
    let e = t.admin.channel_delete(channel).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert!(
        e.to_string().contains("provider \"hook-two\"") && !e.to_string().contains("hook-one"),
        "{e}"
    );
    t.admin.dns_provider_delete(two.id).await.unwrap();
    t.admin.channel_delete(channel).await.unwrap();
    assert_eq!(
        t.admin.channel_get(channel).await.unwrap_err().status(),
        Some(404)
    );

    // Deleting a channel while a provider is being created on it: whichever goes first wins.
    let (mut deleted, mut created) = (0, 0);
    for i in 0..12 {
        let channel = dns_channel(&t, "http://127.0.0.1:9/hook").await;
        let name = format!("race-{i}");
        let req = callback(&name, channel);
        let (p, d) = tokio::join!(
            t.admin.dns_provider_create(&req),
            t.admin.channel_delete(channel),
        );
        match (p, d) {
            (Ok(p), Err(e)) => {
                assert_eq!(e.status(), Some(409), "{e}");
                assert!(e.to_string().contains(&name), "{e}");
                assert_eq!(t.admin.channel_get(channel).await.unwrap().id, channel);
                t.admin.dns_provider_delete(p.id).await.unwrap();
                created += 1;
            }
            (Err(e), Ok(())) => {
                assert_eq!(e.status(), Some(400), "{e}");
                assert!(
                    e.to_string().contains("names no notification channel"),
                    "{e}"
                );
                deleted += 1;
            }
            (p, d) => panic!("both or neither went through: {p:?} {d:?}"),
        }
    }
    assert_eq!(deleted + created, 12);
    assert!(t.admin.dns_provider_list().await.unwrap().items.is_empty());
    t.stop().await;
}

/// A TXT record set too large for a UDP answer: the nameserver sets the TC bit and leaves the
/// answer out, so the propagation check asks again over TCP and finds the value there.
#[tokio::test]
async fn propagation_check_asks_again_over_tcp_when_the_answer_is_truncated() {
    use certkeep_server::acme::dns;
    if !tools_available() {
        return;
    }
    let bind = Bind::start();
    let name = "_acme-challenge.big.acme.test";
    // Twelve values of 200 characters: some 2.5 kB, over the 1232 bytes a UDP answer holds.
    for i in 0..12 {
        bind.nsupdate(&format!(
            "update add {name} 60 TXT \"{}\"",
            format!("{i:02}").repeat(100)
        ));
    }
    let value = "the-value-looked-for";
    bind.nsupdate(&format!("update add {name} 60 TXT \"{value}\""));
    let udp = std::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &bind.port.to_string(),
            "+ignore",
            "+bufsize=1232",
            "TXT",
            name,
        ])
        .output()
        .unwrap();
    let udp = String::from_utf8_lossy(&udp.stdout);
    assert!(udp.contains(" tc"), "the UDP answer is truncated: {udp}");

    let lookup = dns::Lookup {
        resolver: bind.addr(),
        nameserver_port: bind.port,
    };
    let zone = dns::parse_name("zone", ZONE).unwrap();
    let record = dns::parse_name("name", name).unwrap();
    let timeout = std::time::Duration::from_secs(2);
    dns::wait_propagated(&lookup, &zone, &record, value, timeout)
        .await
        .unwrap();
    let e = dns::wait_propagated(&lookup, &zone, &record, "not-there", timeout)
        .await
        .unwrap_err();
    assert!(e.contains("does not serve it yet"), "{e}");
}

/// Renewal information is asked for several certificates at once, never more than eight at a
/// time, and every one of them is checked.
#[tokio::test]
async fn renewal_information_is_asked_for_a_bounded_number_at_once() {
    let Some(Env {
        t,
        pebble,
        bind: _bind,
    }) = env(false).await
    else {
        return;
    };
    let stub = crate::ari_stub::AriStub::start(&pebble).await;
    let mut req = account_request(&pebble);
    req.directory = stub.directory_url.clone();
    let account = t.admin.acme_account_create(&req).await.unwrap();
    for i in 0..12 {
        let name = format!("ari{i}.acme.test");
        t.admin
            .order_create(&order(
                &name,
                &[name.as_str()],
                account.id,
                ChallengeType::Http01,
            ))
            .await
            .unwrap();
    }
    let mut issued = 0;
    for _ in 0..10 {
        issued += order_job::run_once(&t.app, OffsetDateTime::now_utc())
            .await
            .unwrap()
            .issued;
        if issued == 12 {
            break;
        }
    }
    assert_eq!(issued, 12);
    let now = OffsetDateTime::now_utc();
    stub.set_window(
        now + time::Duration::days(10),
        now + time::Duration::days(11),
    );
    stub.set_delay(std::time::Duration::from_millis(400));
    assert_eq!(renewal_job::run_once(&t.app, now).await.unwrap(), Some(0));
    let mut asked = stub.asked();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), 12, "each certificate once: {asked:?}");
    let most = stub.max_in_flight();
    assert!((2..=8).contains(&most), "{most} at once");
    for c in t
        .admin
        .certificate_list(&Default::default())
        .await
        .unwrap()
        .items
    {
        let state = t
            .app
            .store
            .acme_certificate_get(c.id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            state.renew_at <= now + time::Duration::days(11),
            "{state:?}"
        );
    }
    t.stop().await;
}

/// Poll order `id` until `done` holds of it (at most 30 s).
async fn order_until(t: &TestApp, id: Uuid, done: impl Fn(&OrderInfo) -> bool) -> OrderInfo {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = t.admin.order_get(id).await.unwrap();
        if done(&o) {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {id} stayed {o:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// With the scheduler running, an order waiting for its DNS record (ten minutes at most) holds
/// up no other order; at shutdown it stops at once, says its record may go, and releases its
/// lease, so the next start (or another replica) takes it up without waiting for the lease.
#[tokio::test]
async fn an_order_waiting_for_dns_holds_up_no_other_and_stops_at_shutdown() {
    let schedule = certkeep_server::jobs::Schedule {
        order_poll: std::time::Duration::from_millis(200),
        ..Default::default()
    };
    let Some(Env { t, pebble, bind }) = env_scheduled(false, false, |_| {}, schedule).await else {
        return;
    };
    let account = register(&t, &pebble).await;
    // Its receiver never creates the record.
    let (_receiver, channel, provider) = callback_setup(&t, "never", 600).await;
    let waiting = dns_order(
        &t,
        "waiting",
        &["waiting.acme.test"],
        account.id,
        provider.id,
    )
    .await;
    order_until(&t, waiting.id, |o| o.status == OrderStatus::Validating).await;

    let quick = t
        .admin
        .order_create(&order(
            "quick",
            &["quick.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = order_until(&t, quick.id, |o| {
        matches!(o.status, OrderStatus::Issued | OrderStatus::Failed)
    })
    .await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    assert_eq!(
        t.admin.order_get(waiting.id).await.unwrap().status,
        OrderStatus::Validating
    );

    let other = replica(&t, &bind, certkeep_server::acme::DEFAULT_ORDER_LEASE).await;
    let began = std::time::Instant::now();
    t.stop().await;
    assert!(
        began.elapsed() < std::time::Duration::from_secs(20),
        "shutdown took {:?}",
        began.elapsed()
    );
    let o = other.store.order_get(waiting.id).await.unwrap().unwrap();
    assert_eq!((o.status.as_str(), o.attempts), ("validating", 1));
    let now = OffsetDateTime::now_utc();
    assert!(
        other
            .store
            .lease_acquire(&order_job::lease_name(waiting.id), "next", now, now)
            .await
            .unwrap(),
        "the lease was released"
    );
    let sent: Vec<String> = other
        .store
        .outbox_list(channel, None, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    assert!(
        sent.iter().any(|e| e == "dns.validation_completed"),
        "{sent:?}"
    );
}
