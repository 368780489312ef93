//! The certificate inventory through the API: import in every format, metadata, reimport and
//! versions, edit, delete/restore/purge, listing and search, downloads, roles and groups, keys
//! sealed at rest, concurrency.

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine;
use certkeep_api::{
    BatchImportRequest, CertificateListQuery, CertificateSort, CertificateStatus, DownloadFormat,
    DownloadPart, DownloadQuery, EditCertificateRequest, ImportCertificateRequest,
    Pkcs12ExportRequest, ReimportCertificateRequest, Role,
};
use certkeep_testkit as tk;
use time::{Duration, OffsetDateTime};

use crate::helpers::{TestApp, is_postgres};

pub const KEY_PASSWORD: &str = "hunter2 ünïcode";
pub const P12_PASSWORD: &str = "p12-pass";

/// One consistent set of test inputs from the checked-in generator.
pub struct Fixtures {
    pub root_pem: String,
    pub intermediate_der: Vec<u8>,
    pub intermediate_pem: String,
    pub leaf_der: Vec<u8>,
    pub leaf_pem: String,
    pub leaf_key_der: Vec<u8>,
    pub leaf_key_pem: String,
    pub leaf_key_encrypted_pem: String,
    pub other_key_pem: String,
    pub pkcs12: Vec<u8>,
    pub domains: Vec<String>,
}

pub fn fixtures() -> Fixtures {
    fixtures_for(
        tk::KeyKind::EcP256,
        "www.example.test",
        OffsetDateTime::now_utc(),
    )
}

pub fn fixtures_for(kind: tk::KeyKind, cn: &str, now: OffsetDateTime) -> Fixtures {
    let (nb, na) = (now - Duration::days(1), now + Duration::days(3650));
    let root = tk::Ca::new_root(tk::KeyKind::EcP384, "certkeep Test Root", nb, na).unwrap();
    let int = root
        .intermediate(tk::KeyKind::EcP256, "certkeep Test Intermediate", nb, na)
        .unwrap();
    let domains = vec![cn.to_string(), format!("api.{cn}")];
    let leaf = int
        .leaf(
            &tk::LeafSpec::new(cn, now - Duration::days(1), now + Duration::days(90))
                .dns(domains.clone())
                .ip("192.0.2.7".parse().unwrap())
                .key(kind),
        )
        .unwrap();
    let other = tk::Key::generate(kind).unwrap();
    let pkcs12 = tk::pkcs12(&leaf, &[int.cert_der()], P12_PASSWORD).unwrap();
    Fixtures {
        root_pem: root.cert_pem(),
        intermediate_der: int.cert_der().to_vec(),
        intermediate_pem: int.cert_pem(),
        leaf_der: leaf.cert_der.clone(),
        leaf_pem: leaf.cert_pem.clone(),
        leaf_key_der: leaf.key_pkcs8_der.clone(),
        leaf_key_pem: leaf.key_pem.clone(),
        leaf_key_encrypted_pem: tk::encrypted_pkcs8_pem(&leaf.key_pkcs8_der, KEY_PASSWORD).unwrap(),
        other_key_pem: other.pkcs8_pem(),
        pkcs12,
        domains,
    }
}

/// A root CA valid for ten years around `now`.
pub fn root_ca(cn: &str, now: OffsetDateTime) -> tk::Ca {
    tk::Ca::new_root(
        tk::KeyKind::EcP256,
        cn,
        now - Duration::days(1),
        now + Duration::days(3650),
    )
    .unwrap()
}

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

pub fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl command line is needed for cross-checks (apt-get install openssl)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn import(name: &str, fx: &Fixtures) -> ImportCertificateRequest {
    ImportCertificateRequest {
        name: name.into(),
        certificate: fx.leaf_pem.clone(),
        private_key: Some(fx.leaf_key_pem.clone()),
        // Out of order, root included.
        chain: vec![fx.root_pem.clone(), fx.intermediate_pem.clone()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_import_yields_complete_metadata_checked_against_openssl() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let mut req = import("www", &fx);
    req.description = Some("front door".into());
    req.group = Some("web".into());
    req.labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    let m = t.admin.certificate_import(&req).await.unwrap();

    assert_eq!(m.name, "www");
    assert_eq!(m.description, "front door");
    assert_eq!(m.group.as_deref(), Some("web"));
    assert_eq!(m.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(m.source, certkeep_api::CertificateSource::Imported);
    assert_eq!(m.status, CertificateStatus::Valid);
    assert_eq!(m.domains, fx.domains);
    assert_eq!(m.ip_addresses, vec!["192.0.2.7".to_string()]);
    assert_eq!(m.key_algorithm, "EC");
    assert_eq!(m.key_curve.as_deref(), Some("P-256"));
    assert_eq!(m.key_size, Some(256));
    assert_eq!(m.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(m.fingerprint_sha256, sha256_hex(&fx.leaf_der));
    assert!(!m.is_ca);
    assert!(m.has_private_key);
    assert_eq!(m.chain_length, 2, "intermediate and root, in order");
    assert!(m.chain_complete, "{:?}", m.chain_issues);
    assert_eq!(m.version, 1);
    assert_eq!(m.x509_version, 3);

    // The same facts, read by OpenSSL.
    let text = String::from_utf8(openssl(
        &[
            "x509", "-noout", "-serial", "-subject", "-issuer", "-nameopt", "RFC2253", "-enddate",
        ],
        Some(fx.leaf_pem.as_bytes()),
    ))
    .unwrap();
    let serial = text
        .lines()
        .find_map(|l| l.strip_prefix("serial="))
        .unwrap()
        .trim_start_matches('0')
        .to_lowercase();
    assert_eq!(m.serial, serial);
    assert!(!m.serial.starts_with('0'));
    assert!(text.contains(&format!("CN={}", fx.domains[0])), "{text}");
    assert!(
        m.subject.contains(&format!("CN={}", fx.domains[0])),
        "{}",
        m.subject
    );
    assert!(
        m.issuer.contains("CN=certkeep Test Intermediate"),
        "{}",
        m.issuer
    );

    // cert get returns the same object.
    let got = t.admin.certificate_get(m.id).await.unwrap();
    assert_eq!(got, m);

    // The chain download is leaf→root ordered.
    let chain = t
        .admin
        .certificate_download(
            m.id,
            &DownloadQuery {
                part: Some(DownloadPart::Chain),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let chain = String::from_utf8(chain).unwrap();
    let first = chain
        .find(&fx.intermediate_pem.lines().nth(1).unwrap()[..40])
        .unwrap();
    let second = chain
        .find(&fx.root_pem.lines().nth(1).unwrap()[..40])
        .unwrap();
    assert!(first < second, "chain is not leaf→root ordered");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn der_pkcs12_encrypted_key_and_single_bundle_imports() {
    let t = TestApp::spawn().await;
    let fx = fixtures();

    // DER certificate, DER key, DER chain (base64 over the API).
    let m = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "der".into(),
            certificate: b64(&fx.leaf_der),
            private_key: Some(b64(&fx.leaf_key_der)),
            chain: vec![b64(&fx.intermediate_der)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(m.has_private_key);
    assert_eq!(m.chain_length, 1);
    assert_eq!(m.fingerprint_sha256, sha256_hex(&fx.leaf_der));

    // PKCS#12 with its password holds everything.
    let m = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "p12".into(),
            certificate: b64(&fx.pkcs12),
            password: Some(P12_PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(m.has_private_key);
    assert_eq!(m.chain_length, 1);
    assert_eq!(m.fingerprint_sha256, sha256_hex(&fx.leaf_der));
    let e = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "p12".into(),
            certificate: b64(&fx.pkcs12),
            password: Some("wrong".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().to_lowercase().contains("password"), "{e}");

    // Encrypted PKCS#8 with its password; without it, a clear error.
    let mut req = import("enc", &fx);
    req.private_key = Some(fx.leaf_key_encrypted_pem.clone());
    let e = t.admin.certificate_import(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("password"), "{e}");
    req.password = Some(KEY_PASSWORD.into());
    assert!(
        t.admin
            .certificate_import(&req)
            .await
            .unwrap()
            .has_private_key
    );

    // One PEM holding key, chain and leaf, in a scrambled order.
    let bundle = format!("{}{}{}", fx.intermediate_pem, fx.leaf_key_pem, fx.leaf_pem);
    let m = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "bundle".into(),
            certificate: bundle,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(m.has_private_key);
    assert_eq!(m.chain_length, 1);
    assert_eq!(m.domains, fx.domains);

    // A key that belongs to another certificate is refused, and nothing is stored.
    let before = t
        .admin
        .certificate_list(&Default::default())
        .await
        .unwrap()
        .items
        .len();
    let mut req = import("mismatch", &fx);
    req.private_key = Some(fx.other_key_pem.clone());
    let e = t.admin.certificate_import(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("does not match"), "{e}");
    let after = t
        .admin
        .certificate_list(&Default::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(before, after);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ed25519_keys_and_expired_and_future_certificates() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    for (kind, alg, size, curve) in [
        (tk::KeyKind::Rsa2048, "RSA", 2048, None),
        (tk::KeyKind::EcP384, "EC", 384, Some("P-384")),
        (tk::KeyKind::EcP521, "EC", 521, Some("P-521")),
        (tk::KeyKind::Ed25519, "Ed25519", 256, None),
    ] {
        let fx = fixtures_for(kind, "k.example.test", now);
        let m = t.admin.certificate_import(&import("k", &fx)).await.unwrap();
        assert_eq!(m.key_algorithm, alg);
        assert_eq!(m.key_size, Some(size));
        assert_eq!(m.key_curve.as_deref(), curve);
        assert!(m.has_private_key);
    }
    let root = root_ca("Old Root", now);
    for (name, nb, na, status) in [
        (
            "expired",
            now - Duration::days(400),
            now - Duration::days(10),
            CertificateStatus::Expired,
        ),
        (
            "future",
            now + Duration::days(10),
            now + Duration::days(400),
            CertificateStatus::NotYetValid,
        ),
        (
            "soon",
            now - Duration::days(80),
            now + Duration::days(5),
            CertificateStatus::Expiring,
        ),
    ] {
        let leaf = root
            .leaf(&tk::LeafSpec::new(&format!("{name}.example.test"), nb, na))
            .unwrap();
        let m = t
            .admin
            .certificate_import(&ImportCertificateRequest {
                name: name.into(),
                certificate: leaf.cert_pem.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(m.status, status, "{name}");
        assert!(!m.has_private_key);
        assert_eq!(m.not_after.unix_timestamp(), na.unix_timestamp());
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reimport_keeps_every_version_downloadable() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let v1 = fixtures_for(tk::KeyKind::EcP256, "renew.example.test", now);
    let v2 = fixtures_for(tk::KeyKind::Rsa2048, "renew.example.test", now);
    let m1 = t
        .admin
        .certificate_import(&import("renew", &v1))
        .await
        .unwrap();
    let m2 = t
        .admin
        .certificate_reimport(
            m1.id,
            &ReimportCertificateRequest {
                certificate: v2.leaf_pem.clone(),
                private_key: Some(v2.leaf_key_pem.clone()),
                chain: vec![v2.intermediate_pem.clone()],
                password: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(m2.id, m1.id);
    assert_eq!(m2.version, 2);
    assert_eq!(m2.name, "renew");
    assert_eq!(m2.key_algorithm, "RSA");
    assert_eq!(m2.created_at, m1.created_at);
    let versions = t.admin.certificate_versions(m1.id).await.unwrap();
    assert_eq!(versions.items.len(), 2);
    assert_eq!(
        versions.items[0].fingerprint_sha256,
        sha256_hex(&v1.leaf_der)
    );
    assert!(!versions.items[0].current && versions.items[1].current);
    assert!(versions.items.iter().all(|v| v.has_private_key));
    for (version, fx) in [(1, &v1), (2, &v2)] {
        let der = t
            .admin
            .certificate_download(
                m1.id,
                &DownloadQuery {
                    part: Some(DownloadPart::Certificate),
                    format: Some(DownloadFormat::Der),
                    version: Some(version),
                },
            )
            .await
            .unwrap();
        assert_eq!(der, fx.leaf_der, "version {version}");
        let key = t
            .admin
            .certificate_download(
                m1.id,
                &DownloadQuery {
                    part: Some(DownloadPart::PrivateKey),
                    format: Some(DownloadFormat::Der),
                    version: Some(version),
                },
            )
            .await
            .unwrap();
        assert_eq!(key, fx.leaf_key_der, "version {version}");
    }
    let e = t
        .admin
        .certificate_download(
            m1.id,
            &DownloadQuery {
                version: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_file_names_name_an_explicit_version_and_survive_any_entry_name() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let v1 = fixtures_for(tk::KeyKind::EcP256, "names.example.test", now);
    let v2 = fixtures_for(tk::KeyKind::EcP256, "names.example.test", now);
    // Quotes, a path, spaces and letters beyond ASCII: none may reach the header as they are.
    let m = t
        .admin
        .certificate_import(&import("Bäckerei \"prod\"/../www", &v1))
        .await
        .unwrap();
    t.admin
        .certificate_reimport(
            m.id,
            &ReimportCertificateRequest {
                certificate: v2.leaf_pem.clone(),
                private_key: Some(v2.leaf_key_pem.clone()),
                chain: vec![v2.intermediate_pem.clone()],
                password: None,
            },
        )
        .await
        .unwrap();
    let stem_ascii = "B_ckerei__prod__.._www";
    let stem_utf8 = "B%C3%A4ckerei__prod__.._www";
    let disposition = |file: &str| {
        format!("attachment; filename=\"{stem_ascii}{file}\"; filename*=UTF-8''{stem_utf8}{file}")
    };
    let cases = [
        ("", ".pem"),
        ("?version=2", "-v2.pem"),
        ("?version=1&format=der", "-v1.der"),
        ("?part=chain&version=1", "-chain-v1.pem"),
        ("?part=fullchain", "-fullchain.pem"),
        ("?part=fullchain&version=2", "-fullchain-v2.pem"),
        ("?part=private_key&version=1", "-key-v1.pem"),
        ("?part=private_key&format=der", "-key.der"),
    ];
    for (query, file) in cases {
        let resp = t
            .admin
            .raw(
                reqwest::Method::GET,
                &format!("/api/v1/certificates/{}/download{query}", m.id),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{query}");
        assert_eq!(
            resp.headers()["content-disposition"],
            disposition(file).as_str(),
            "{query}"
        );
    }
    for (version, file) in [(None, ".p12"), (Some(1), "-v1.p12")] {
        let resp = t
            .admin
            .raw(
                reqwest::Method::POST,
                &format!("/api/v1/certificates/{}/pkcs12", m.id),
            )
            .json(&Pkcs12ExportRequest {
                password: P12_PASSWORD.into(),
                version,
                include_key: Some(true),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{version:?}");
        assert_eq!(
            resp.headers()["content-disposition"],
            disposition(file).as_str()
        );
    }
    // A plain ASCII name keeps the simple form.
    let plain = t
        .admin
        .certificate_import(&import("www", &v1))
        .await
        .unwrap();
    let resp = t
        .admin
        .raw(
            reqwest::Method::GET,
            &format!("/api/v1/certificates/{}/download?version=1", plain.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"www-v1.pem\""
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_in_every_format_and_readers_never_get_keys() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let m = t
        .admin
        .certificate_import(&import("dl", &fx))
        .await
        .unwrap();
    let get = |part, format| DownloadQuery {
        part: Some(part),
        format: Some(format),
        version: None,
    };
    let pem = t
        .admin
        .certificate_download(m.id, &get(DownloadPart::Certificate, DownloadFormat::Pem))
        .await
        .unwrap();
    assert_eq!(String::from_utf8(pem).unwrap().trim(), fx.leaf_pem.trim());
    let full = String::from_utf8(
        t.admin
            .certificate_download(m.id, &get(DownloadPart::Fullchain, DownloadFormat::Pem))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(full.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(full.starts_with(fx.leaf_pem.trim_end().lines().next().unwrap()));
    let key_pem = t
        .admin
        .certificate_download(m.id, &get(DownloadPart::PrivateKey, DownloadFormat::Pem))
        .await
        .unwrap();
    // OpenSSL reads the key, and it is the certificate's.
    let pub_from_key = openssl(&["pkey", "-pubout"], Some(&key_pem));
    let pub_from_cert = openssl(&["x509", "-noout", "-pubkey"], Some(fx.leaf_pem.as_bytes()));
    assert_eq!(pub_from_key, pub_from_cert);

    // PKCS#12 with a caller-chosen password, read back by OpenSSL.
    let p12 = t
        .admin
        .certificate_pkcs12(
            m.id,
            &Pkcs12ExportRequest {
                password: "export-pw".into(),
                version: None,
                include_key: None,
            },
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p12_path = dir.path().join("x.p12");
    std::fs::write(&p12_path, &p12).unwrap();
    let dump = String::from_utf8(openssl(
        &[
            "pkcs12",
            "-in",
            p12_path.to_str().unwrap(),
            "-passin",
            "pass:export-pw",
            "-nodes",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(dump.matches("BEGIN CERTIFICATE").count(), 3, "{dump}");
    assert!(dump.contains("PRIVATE KEY"));

    // A reader gets certificates and chains, never keys.
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    reader
        .certificate_download(m.id, &get(DownloadPart::Fullchain, DownloadFormat::Pem))
        .await
        .unwrap();
    let e = reader
        .certificate_download(m.id, &get(DownloadPart::PrivateKey, DownloadFormat::Pem))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("writer"), "{e}");
    let e = reader
        .certificate_pkcs12(
            m.id,
            &Pkcs12ExportRequest {
                password: "x".into(),
                version: None,
                include_key: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let certs_only = reader
        .certificate_pkcs12(
            m.id,
            &Pkcs12ExportRequest {
                password: "x".into(),
                version: None,
                include_key: Some(false),
            },
        )
        .await
        .unwrap();
    std::fs::write(&p12_path, &certs_only).unwrap();
    let dump = String::from_utf8(openssl(
        &[
            "pkcs12",
            "-in",
            p12_path.to_str().unwrap(),
            "-passin",
            "pass:x",
            "-nodes",
        ],
        None,
    ))
    .unwrap();
    assert!(!dump.contains("PRIVATE KEY"));
    // A writer may download the key; the download is audited under its own action.
    let (writer, _) = t.client_with_role(Role::Writer, None).await;
    writer
        .certificate_download(m.id, &get(DownloadPart::PrivateKey, DownloadFormat::Der))
        .await
        .unwrap();
    let audit = t
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            action: Some("certificate.download_key".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.outcome == certkeep_api::AuditOutcome::Denied)
    );
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.outcome == certkeep_api::AuditOutcome::Success)
    );
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("PRIVATE KEY") && !text.contains(&b64(&fx.leaf_key_der)[..40]));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_delete_restore_and_purge() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let m = t
        .admin
        .certificate_import(&import("edit-me", &fx))
        .await
        .unwrap();
    let edited = t
        .admin
        .certificate_edit(
            m.id,
            &EditCertificateRequest {
                name: Some("edited".into()),
                description: Some("new text".into()),
                group: Some("ops".into()),
                labels: Some(BTreeMap::from([("tier".to_string(), "gold".to_string())])),
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.name, "edited");
    assert_eq!(edited.group.as_deref(), Some("ops"));
    assert_eq!(edited.labels.len(), 1);
    assert!(edited.updated_at >= m.updated_at);
    let e = t
        .admin
        .certificate_edit(
            m.id,
            &EditCertificateRequest {
                name: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));

    t.admin.certificate_delete(m.id).await.unwrap();
    assert!(
        t.admin
            .certificate_list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let deleted = t
        .admin
        .certificate_list(&CertificateListQuery {
            deleted: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    assert!(deleted.items[0].deleted_at.is_some());
    assert_eq!(
        t.admin.certificate_delete(m.id).await.unwrap_err().status(),
        Some(409)
    );
    let restored = t.admin.certificate_restore(m.id).await.unwrap();
    assert!(restored.deleted_at.is_none());
    assert_eq!(
        t.admin
            .certificate_list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Purge refuses a live entry, then removes a deleted one for good.
    assert_eq!(
        t.admin.certificate_purge(m.id).await.unwrap_err().status(),
        Some(409)
    );
    t.admin.certificate_delete(m.id).await.unwrap();
    t.admin.certificate_purge(m.id).await.unwrap();
    assert_eq!(
        t.admin.certificate_get(m.id).await.unwrap_err().status(),
        Some(404)
    );

    // The retention job purges what was deleted longer ago than the retention period.
    let m2 = t
        .admin
        .certificate_import(&import("old", &fx))
        .await
        .unwrap();
    t.admin.certificate_delete(m2.id).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let n = certkeep_server::jobs::purge_deleted_job::run_once(&t.app, now + Duration::days(29))
        .await
        .unwrap();
    assert_eq!(n, 0, "still within retention");
    assert!(t.admin.certificate_get(m2.id).await.is_ok());
    let n = certkeep_server::jobs::purge_deleted_job::run_once(&t.app, now + Duration::days(31))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        t.admin.certificate_get(m2.id).await.unwrap_err().status(),
        Some(404)
    );
    assert!(
        t.app
            .store
            .certificate_versions(m2.id)
            .await
            .unwrap()
            .is_empty()
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_filters_sorts_and_pages() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let root = root_ca("Acme Issuing CA", now);
    let other = root_ca("Other CA", now);
    let mut items = Vec::new();
    for i in 0..30 {
        let ca = if i % 3 == 0 { &other } else { &root };
        let kind = if i % 5 == 0 {
            tk::KeyKind::Rsa2048
        } else {
            tk::KeyKind::EcP256
        };
        let leaf = ca
            .leaf(
                &tk::LeafSpec::new(
                    &format!("host{i:02}.example.test"),
                    now - Duration::days(10),
                    now + Duration::days(i * 5 + 1),
                )
                .key(kind),
            )
            .unwrap();
        items.push(ImportCertificateRequest {
            name: format!("cert-{:02}", 29 - i),
            certificate: leaf.cert_pem.clone(),
            private_key: Some(leaf.key_pem.clone()),
            group: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
            labels: BTreeMap::from([("idx".to_string(), i.to_string())]),
            ..Default::default()
        });
    }
    let batch = t
        .admin
        .certificate_import_batch(&BatchImportRequest { items })
        .await
        .unwrap();
    assert_eq!(batch.items.len(), 30);

    let list = |q: CertificateListQuery| {
        let c = t.admin.clone();
        async move { c.certificate_list(&q).await.unwrap() }
    };
    // Default order: soonest expiry first.
    let all = list(CertificateListQuery {
        limit: Some(1000),
        ..Default::default()
    })
    .await;
    assert_eq!(all.items.len(), 30);
    assert!(
        all.items
            .windows(2)
            .all(|w| w[0].not_after <= w[1].not_after)
    );
    // Expiring within 30 days: i*5+1 < 30 → i in 0..=5.
    let expiring = list(CertificateListQuery {
        status: Some(CertificateStatus::Expiring),
        ..Default::default()
    })
    .await;
    assert_eq!(expiring.items.len(), 6);
    assert!(
        expiring
            .items
            .iter()
            .all(|m| m.status == CertificateStatus::Expiring)
    );
    let valid = list(CertificateListQuery {
        status: Some(CertificateStatus::Valid),
        limit: Some(1000),
        ..Default::default()
    })
    .await;
    assert_eq!(valid.items.len(), 24);
    // expires_before / expires_after.
    let window = list(CertificateListQuery {
        expires_after: Some(now + Duration::days(20)),
        expires_before: Some(now + Duration::days(50)),
        ..Default::default()
    })
    .await;
    assert!(
        window
            .items
            .iter()
            .all(|m| m.not_after > now + Duration::days(20)
                && m.not_after < now + Duration::days(50))
    );
    assert_eq!(window.items.len(), 6);
    // Free text over name, domains, subject, issuer.
    assert_eq!(
        list(CertificateListQuery {
            q: Some("HOST07".into()),
            ..Default::default()
        })
        .await
        .items
        .len(),
        1
    );
    assert_eq!(
        list(CertificateListQuery {
            q: Some("cert-0".into()),
            ..Default::default()
        })
        .await
        .items
        .len(),
        10
    );
    assert_eq!(
        list(CertificateListQuery {
            q: Some("other ca".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .items
        .len(),
        10
    );
    assert!(
        list(CertificateListQuery {
            q: Some("100%_".into()),
            ..Default::default()
        })
        .await
        .items
        .is_empty()
    );
    // Issuer, key algorithm, group and label filters.
    assert_eq!(
        list(CertificateListQuery {
            issuer: Some("acme issuing".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .items
        .len(),
        20
    );
    assert_eq!(
        list(CertificateListQuery {
            key_algorithm: Some("rsa".into()),
            ..Default::default()
        })
        .await
        .items
        .len(),
        6
    );
    assert_eq!(
        list(CertificateListQuery {
            group: Some("even".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .items
        .len(),
        15
    );
    let l = list(CertificateListQuery {
        label: Some("idx=7".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(l.items.len(), 1);
    assert_eq!(l.items[0].domains, vec!["host07.example.test".to_string()]);
    assert_eq!(
        list(CertificateListQuery {
            label: Some("idx".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .items
        .len(),
        30
    );
    assert!(
        list(CertificateListQuery {
            label: Some("idx=7,nope".into()),
            ..Default::default()
        })
        .await
        .items
        .is_empty()
    );
    // Keyset pagination visits every entry once, in order, by name and by expiry.
    for sort in [
        CertificateSort::Name,
        CertificateSort::NameDesc,
        CertificateSort::NotAfter,
        CertificateSort::NotAfterDesc,
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = list(CertificateListQuery {
                sort: Some(sort),
                limit: Some(7),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await;
            assert!(page.items.len() <= 7);
            seen.extend(page.items.into_iter().map(|m| (m.name, m.not_after)));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 30, "{sort:?}");
        let mut names: Vec<_> = seen.iter().map(|s| s.0.clone()).collect();
        names.dedup();
        assert_eq!(names.len(), 30, "{sort:?}: duplicates across pages");
        match sort {
            CertificateSort::Name => assert!(seen.windows(2).all(|w| w[0].0 < w[1].0)),
            CertificateSort::NameDesc => assert!(seen.windows(2).all(|w| w[0].0 > w[1].0)),
            CertificateSort::NotAfter => assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1)),
            CertificateSort::NotAfterDesc => assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1)),
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_scoped_tokens_see_and_touch_only_their_group() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let mut web = import("web", &fx);
    web.group = Some("web".into());
    let web = t.admin.certificate_import(&web).await.unwrap();
    let db = t
        .admin
        .certificate_import(&import("db", &fx))
        .await
        .unwrap();
    let (mgr, _) = t.client_with_role(Role::Manager, Some("web")).await;
    let seen = mgr.certificate_list(&Default::default()).await.unwrap();
    assert_eq!(seen.items.len(), 1);
    assert_eq!(seen.items[0].id, web.id);
    assert_eq!(
        mgr.certificate_get(db.id).await.unwrap_err().status(),
        Some(404)
    );
    assert_eq!(
        mgr.certificate_delete(db.id).await.unwrap_err().status(),
        Some(404)
    );
    // Imports land in the token's group; another group is refused.
    let m = mgr.certificate_import(&import("mine", &fx)).await.unwrap();
    assert_eq!(m.group.as_deref(), Some("web"));
    let mut elsewhere = import("x", &fx);
    elsewhere.group = Some("db".into());
    assert_eq!(
        mgr.certificate_import(&elsewhere)
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    // Nor can it move its certificate out of its group.
    let e = mgr
        .certificate_edit(
            web.id,
            &EditCertificateRequest {
                group: Some("db".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    // A writer may edit but not import or delete.
    let (writer, _) = t.client_with_role(Role::Writer, None).await;
    assert_eq!(
        writer
            .certificate_import(&import("w", &fx))
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    assert_eq!(
        writer.certificate_delete(db.id).await.unwrap_err().status(),
        Some(403)
    );
    writer
        .certificate_edit(
            db.id,
            &EditCertificateRequest {
                description: Some("ok".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    t.stop().await;
}

/// Everything the database holds, as raw bytes: the SQLite files, or every row of every table.
pub async fn raw_database_bytes(t: &TestApp) -> Vec<u8> {
    if is_postgres() {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(&t.database_url).await.unwrap();
        let mut out = Vec::new();
        for table in [
            "certificates",
            "certificate_versions",
            "certificate_labels",
            "api_tokens",
            "audit_events",
            "settings",
            "notification_channels",
            "notification_outbox",
        ] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT row_to_json(t)::text FROM {table} t"
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for r in rows {
                out.extend_from_slice(r.get::<String, _>(0).as_bytes());
            }
        }
        // Binary columns raw too (row_to_json shows them as hex).
        let rows =
            sqlx::query("SELECT key_sealed FROM certificate_versions WHERE key_sealed IS NOT NULL")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        for r in rows {
            out.extend_from_slice(&r.get::<Vec<u8>, _>(0));
        }
        out
    } else {
        let mut out = Vec::new();
        for f in std::fs::read_dir(t.data_dir()).unwrap() {
            let p = f.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("certkeep.db")
            {
                out.extend(std::fs::read(&p).unwrap());
            }
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_are_sealed_at_rest() {
    let t = TestApp::spawn().await;
    let fx = fixtures_for(
        tk::KeyKind::Rsa2048,
        "sealed.example.test",
        OffsetDateTime::now_utc(),
    );
    let m = t
        .admin
        .certificate_import(&import("sealed", &fx))
        .await
        .unwrap();
    assert!(m.has_private_key);
    let raw = raw_database_bytes(&t).await;
    assert!(raw.len() > 1000);
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    // The certificate is there in clear (a sanity check that the search works)…
    assert!(contains(&fx.leaf_der[..64]) || contains(hex::encode(&fx.leaf_der[..64]).as_bytes()));
    // …the key is not, in any encoding.
    let key = &fx.leaf_key_der;
    for (what, needle) in [
        ("DER", key[key.len() - 48..].to_vec()),
        (
            "DER middle",
            key[key.len() / 2..key.len() / 2 + 32].to_vec(),
        ),
        ("base64", b64(&key[40..100]).into_bytes()),
        (
            "base64 body of the PEM",
            fx.leaf_key_pem.lines().nth(3).unwrap().as_bytes().to_vec(),
        ),
        ("hex", hex::encode(&key[key.len() - 40..]).into_bytes()),
        (
            "HEX",
            hex::encode_upper(&key[key.len() - 40..]).into_bytes(),
        ),
        ("PEM label", b"PRIVATE KEY".to_vec()),
    ] {
        assert!(
            !contains(&needle),
            "private key found in the database as {what}"
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_imports_and_reads_are_safe() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let c = t.admin.clone();
        let fx = fixtures_for(tk::KeyKind::EcP256, &format!("c{i}.example.test"), now);
        tasks.push(tokio::spawn(async move {
            let m = c
                .certificate_import(&import(&format!("c{i}"), &fx))
                .await
                .unwrap();
            let got = c.certificate_get(m.id).await.unwrap();
            assert_eq!(got.fingerprint_sha256, m.fingerprint_sha256);
            c.certificate_list(&Default::default()).await.unwrap();
            m.id
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24);
    let all = t
        .admin
        .certificate_list(&CertificateListQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.items.len(), 24);
    let report = certkeep_server::audit::verify(&t.app.store).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_import_is_all_or_nothing_and_names_the_bad_item() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let mut items: Vec<_> = (0..5).map(|i| import(&format!("b{i}"), &fx)).collect();
    items[3].private_key = Some(fx.other_key_pem.clone());
    let e = t
        .admin
        .certificate_import_batch(&BatchImportRequest { items })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("items[3]"), "{e}");
    assert!(
        t.admin
            .certificate_list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let e = t
        .admin
        .certificate_import_batch(&BatchImportRequest { items: vec![] })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_follows_renames_reimports_and_purges() {
    let t = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let fx = fixtures_for(tk::KeyKind::EcP256, "alpha.example.test", now);
    let m = t
        .admin
        .certificate_import(&import("zebra-one", &fx))
        .await
        .unwrap();
    let search = |q: &str| {
        let c = t.admin.clone();
        let q = q.to_string();
        async move {
            c.certificate_list(&CertificateListQuery {
                q: Some(q),
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .len()
        }
    };
    assert_eq!(search("zebra").await, 1);
    assert_eq!(search("alpha.example").await, 1);
    t.admin
        .certificate_edit(
            m.id,
            &EditCertificateRequest {
                name: Some("yak-two".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        search("zebra").await,
        0,
        "the old name is gone from the index"
    );
    assert_eq!(search("YAK-T").await, 1);
    let fx2 = fixtures_for(tk::KeyKind::EcP256, "beta.example.test", now);
    t.admin
        .certificate_reimport(
            m.id,
            &ReimportCertificateRequest {
                certificate: fx2.leaf_pem.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(search("alpha.example").await, 0);
    assert_eq!(search("beta.example").await, 1);
    assert_eq!(
        search("be").await,
        1,
        "short patterns work without the index"
    );
    t.admin.certificate_delete(m.id).await.unwrap();
    assert_eq!(search("beta.example").await, 0);
    t.admin.certificate_purge(m.id).await.unwrap();
    assert_eq!(search("beta.example").await, 0);
    t.stop().await;
}
