//! More ordering against real peers (helpers from `acme`): short-lived certificates and the
//! renewal rule, a full order from a CA requiring External Account Binding, the revocation
//! reason as the CA recorded it, and the domain a CA refused in a multi-domain order.

use certkeep_api::{
    ChallengeType, ChannelKind, CreateChannelRequest, EabCredentials, OrderStatus,
    RevocationReason, RevokeCertificateRequest,
};
use certkeep_server::jobs::{order_job, renewal_job};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::acme::{Env, account_request, env, order, run_order};
use crate::acme_peers::{BLOCKED_DOMAIN, Bind, EAB_HMAC, EAB_KID, Pebble, tools_available};
use crate::helpers::{TestApp, test_config};

/// Peers whose Pebble issues certificates valid for `validity`, and certkeep on them.
async fn env_with_validity(validity: Duration) -> Env {
    let bind = Bind::start();
    let seconds = u64::try_from(validity.whole_seconds()).unwrap();
    let pebble = Pebble::start_with_validity(&bind, false, false, Some(seconds));
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path()).await;
    config.acme_http_listen = Some(format!("127.0.0.1:{}", pebble.http_port).parse().unwrap());
    config.acme_dns_resolver = Some(bind.addr());
    config.acme_dns_port = bind.port;
    let t = TestApp::spawn_scheduled(dir, config, certkeep_server::jobs::Schedule::manual()).await;
    Env { t, bind, pebble }
}

/// A webhook channel for `events`, pointing nowhere: its outbox is the record.
async fn channel_for(t: &TestApp, events: &[&str]) -> Uuid {
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

/// The JSON bodies queued for `channel`, newest first.
async fn payloads(t: &TestApp, channel: Uuid) -> Vec<serde_json::Value> {
    t.app
        .store
        .outbox_list(channel, None, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|o| serde_json::from_str(&o.payload).unwrap())
        .collect()
}

#[tokio::test]
async fn short_lived_certificates_renew_at_half_their_lifetime_not_at_issuance() {
    if !tools_available() {
        return;
    }
    let Env {
        t,
        pebble,
        bind: _bind,
    } = env_with_validity(Duration::hours(24)).await;
    let account = t
        .admin
        .acme_account_create(&account_request(&pebble))
        .await
        .unwrap();
    let o = t
        .admin
        .order_create(&order(
            "daily",
            &["daily.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = run_order(&t, o.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    let id = done.certificate_id.unwrap();
    let v1 = t.admin.certificate_get(id).await.unwrap();
    let lifetime = v1.not_after - v1.not_before;
    assert!(
        lifetime > Duration::hours(23) && lifetime <= Duration::hours(24),
        "Pebble issued for {lifetime}"
    );

    // Due at half the lifetime (less a jitter of at most 2 % of it), not at issuance although
    // the certificate lives less than 30 days.
    let state = t.app.store.acme_certificate_get(id).await.unwrap().unwrap();
    let half = v1.not_before + lifetime / 2;
    assert!(
        state.renew_at <= half && state.renew_at >= half - lifetime / 50,
        "renew_at {} for {} .. {}",
        state.renew_at,
        v1.not_before,
        v1.not_after
    );
    let issued = OffsetDateTime::now_utc();
    assert_eq!(
        renewal_job::run_once(&t.app, issued).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        renewal_job::run_once(&t.app, v1.not_before + Duration::hours(6))
            .await
            .unwrap(),
        Some(0)
    );
    assert_eq!(
        renewal_job::run_once(&t.app, state.renew_at - Duration::seconds(1))
            .await
            .unwrap(),
        Some(0)
    );
    assert!(t.admin.order_list().await.unwrap().items.len() == 1);

    // At its time it is renewed, once.
    assert_eq!(
        renewal_job::run_once(&t.app, state.renew_at).await.unwrap(),
        Some(1)
    );
    let r = order_job::run_once(&t.app, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(r.issued, 1, "{r:?}");
    let v2 = t.admin.certificate_get(id).await.unwrap();
    assert_eq!(v2.version, 2);
    // The new certificate is not due at once either.
    let next = t.app.store.acme_certificate_get(id).await.unwrap().unwrap();
    assert!(
        next.renew_at >= v2.not_before + (v2.not_after - v2.not_before) / 2 - lifetime / 50,
        "{} for {} .. {}",
        next.renew_at,
        v2.not_before,
        v2.not_after
    );
    assert_eq!(
        renewal_job::run_once(&t.app, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        Some(0)
    );
    t.stop().await;
}

#[tokio::test]
async fn a_ca_requiring_eab_issues_an_http01_order() {
    if !tools_available() {
        return;
    }
    let Env {
        t,
        pebble,
        bind: _bind,
    } = env(true).await.expect("peers are available");
    let mut req = account_request(&pebble);
    req.eab = Some(EabCredentials {
        kid: EAB_KID.into(),
        hmac_key: EAB_HMAC.into(),
    });
    let account = t.admin.acme_account_create(&req).await.unwrap();
    assert_eq!(account.eab_kid.as_deref(), Some(EAB_KID));
    let o = t
        .admin
        .order_create(&order(
            "bound",
            &["bound.acme.test", "www.bound.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = run_order(&t, o.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);
    let meta = t
        .admin
        .certificate_get(done.certificate_id.unwrap())
        .await
        .unwrap();
    let mut domains = meta.domains.clone();
    domains.sort();
    assert_eq!(domains, vec!["bound.acme.test", "www.bound.acme.test"]);
    assert_eq!(meta.source, certkeep_api::CertificateSource::Ordered);
    // Pebble knows the certificate by its serial.
    let status: serde_json::Value =
        serde_json::from_str(&pebble.cert_status(&meta.serial).await).unwrap();
    assert_eq!(status["Status"], "Valid", "{status}");
    t.stop().await;
}

#[tokio::test]
async fn the_revocation_reason_reaches_the_ca() {
    if !tools_available() {
        return;
    }
    let Env {
        t,
        pebble,
        bind: _bind,
    } = env(false).await.expect("peers are available");
    let account = t
        .admin
        .acme_account_create(&account_request(&pebble))
        .await
        .unwrap();
    // RFC 5280 reason codes, as Pebble records them.
    for (name, reason, code) in [
        ("compromised", RevocationReason::KeyCompromise, 1),
        ("replaced", RevocationReason::Superseded, 4),
        ("closed", RevocationReason::CessationOfOperation, 5),
    ] {
        let o = t
            .admin
            .order_create(&order(
                name,
                &[&format!("{name}.acme.test")],
                account.id,
                ChallengeType::Http01,
            ))
            .await
            .unwrap();
        let id = run_order(&t, o.id).await.certificate_id.unwrap();
        let serial = t.admin.certificate_get(id).await.unwrap().serial;
        let r = t
            .admin
            .certificate_revoke(
                id,
                &RevokeCertificateRequest {
                    reason: Some(reason),
                },
            )
            .await
            .unwrap();
        assert_eq!(r.reason, reason);
        let status: serde_json::Value =
            serde_json::from_str(&pebble.cert_status(&serial).await).unwrap();
        assert_eq!(status["Status"], "Revoked", "{status}");
        assert_eq!(status["Reason"], code, "{name}: {status}");
    }
    t.stop().await;
}

#[tokio::test]
async fn a_refused_domain_in_a_multi_domain_order_is_named() {
    if !tools_available() {
        return;
    }
    let Env {
        t,
        pebble,
        bind: _bind,
    } = env(false).await.expect("peers are available");
    let channel = channel_for(&t, &["cert.order_failed"]).await;
    let account = t
        .admin
        .acme_account_create(&account_request(&pebble))
        .await
        .unwrap();
    let o = t
        .admin
        .order_create(&order(
            "mixed",
            &["fine.acme.test", BLOCKED_DOMAIN, "also-fine.acme.test"],
            account.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = run_order(&t, o.id).await;
    assert_eq!(done.status, OrderStatus::Failed);
    assert_eq!(
        done.failed_domain.as_deref(),
        Some(BLOCKED_DOMAIN),
        "{done:?}"
    );
    let problem = done.problem.expect("the CA's problem document");
    assert_eq!(
        problem.kind.as_deref(),
        Some("urn:ietf:params:acme:error:rejectedIdentifier"),
        "{problem:?}"
    );

    let sent = payloads(&t, channel).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "cert.order_failed");
    assert_eq!(sent[0]["failed_domain"], BLOCKED_DOMAIN, "{}", sent[0]);
    assert!(
        sent[0]["summary"]
            .as_str()
            .unwrap()
            .contains("the CA refused"),
        "{}",
        sent[0]
    );
    t.stop().await;
}

/// A self-signed CA certificate (PEM) and its key (PEM), unrelated to Pebble.
fn unrelated_root() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "some other private root");
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

#[tokio::test]
async fn every_root_of_a_custom_bundle_is_trusted_and_bad_bundles_are_refused() {
    if !tools_available() {
        return;
    }
    let Env {
        t,
        pebble,
        bind: _bind,
    } = env(false).await.expect("peers are available");
    let (other, other_key) = unrelated_root();
    // Pebble's listener root second in the bundle: trusted all the same.
    let mut req = account_request(&pebble);
    req.ca_root_pem = Some(format!("{other}{}", pebble.tls_root_pem));
    let a = t.admin.acme_account_create(&req).await.unwrap();
    assert!(a.custom_ca_root);
    let o = t
        .admin
        .order_create(&order(
            "bundle",
            &["bundle.acme.test"],
            a.id,
            ChallengeType::Http01,
        ))
        .await
        .unwrap();
    let done = run_order(&t, o.id).await;
    assert_eq!(done.status, OrderStatus::Issued, "{:?}", done.error);

    // Only the unrelated root: the CA's TLS is not trusted.
    let mut req = account_request(&pebble);
    req.name = "untrusted".into();
    req.ca_root_pem = Some(other.clone());
    let e = t.admin.acme_account_create(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");

    for (bundle, needle) in [
        (
            "no PEM here".to_string(),
            "`ca_root_pem` holds no CERTIFICATE block",
        ),
        (
            format!("{other}{other_key}"),
            "`ca_root_pem`: PEM block 2 is a PRIVATE KEY, expected CERTIFICATE",
        ),
    ] {
        let mut req = account_request(&pebble);
        req.ca_root_pem = Some(bundle);
        let e = t.admin.acme_account_create(&req).await.unwrap_err();
        assert_eq!(e.status(), Some(400), "{e}");
        assert!(e.to_string().contains(needle), "{e} should say {needle}");
    }
    assert_eq!(t.admin.acme_account_list().await.unwrap().items.len(), 1);
    t.stop().await;
}
