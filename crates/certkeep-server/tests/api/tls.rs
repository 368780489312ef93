//! certkeepd serving HTTPS: from PEM files and from a certificate of its own inventory, picking
//! up a new certificate while running; the typed client and a plain reqwest trusting the test
//! CA; what it refuses.

use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use certkeep_api::Client;
use certkeep_api::{AuditQuery, ImportCertificateRequest, ReimportCertificateRequest};
use certkeep_testkit as tk;
use time::{Duration, OffsetDateTime};

use crate::certificates::root_ca;
use crate::helpers::{fresh_postgres_url, start_certkeepd};

fn server_leaf(ca: &tk::Ca, cn: &str) -> tk::Issued {
    let now = OffsetDateTime::now_utc();
    ca.leaf(
        &tk::LeafSpec::new(cn, now - Duration::hours(1), now + Duration::days(90))
            .dns(["localhost"])
            .ip("127.0.0.1".parse().unwrap()),
    )
    .unwrap()
}

/// The certificate the server at `url` presents on a new connection (DER).
async fn served_certificate(url: &str, ca_pem: &str) -> Vec<u8> {
    let http = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap())
        .tls_info(true)
        .build()
        .unwrap();
    let resp = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|t| t.peer_certificate())
        .expect("a peer certificate")
        .to_vec()
}

/// Wait until the server presents `want` (it checks for a new certificate every second).
async fn wait_for_certificate(url: &str, ca_pem: &str, want: &[u8]) {
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        if served_certificate(url, ca_pem).await == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_files_serves_the_api_and_picks_up_rewritten_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_postgres_url().await;
    let ca = root_ca("TLS Files CA", OffsetDateTime::now_utc());
    let first = server_leaf(&ca, "certkeep one");
    let files = tempfile::tempdir().unwrap();
    let cert_path = files.path().join("server.pem");
    let key_path = files.path().join("server.key");
    std::fs::write(&cert_path, &first.cert_pem).unwrap();
    std::fs::write(&key_path, &first.key_pem).unwrap();
    let mut p = start_certkeepd(
        dir.path(),
        db.as_deref(),
        &[
            "--tls-cert-file",
            cert_path.to_str().unwrap(),
            "--tls-key-file",
            key_path.to_str().unwrap(),
            "--tls-reload-secs",
            "1",
        ],
    );
    assert!(p.url.starts_with("https://127.0.0.1:"), "{}", p.url);
    let ca_pem = ca.cert_pem();
    assert_eq!(served_certificate(&p.url, &ca_pem).await, first.cert_der);

    // The typed client, trusting the CA, does real work; without the CA it is refused.
    let token = p.first_token.clone().unwrap();
    let client = Client::with_ca(&p.url, Some(token.clone()), Some(ca_pem.as_bytes())).unwrap();
    let imported = client
        .certificate_import(&ImportCertificateRequest {
            name: "over-https".into(),
            certificate: server_leaf(&ca, "app.example.test").cert_pem,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        client.certificate_get(imported.id).await.unwrap().name,
        "over-https"
    );
    let untrusting = Client::new(&p.url, Some(token)).unwrap();
    let err = untrusting.certificate_get(imported.id).await.unwrap_err();
    assert_eq!(err.status(), None, "{err}");

    // Rewritten files: a broken pair is ignored (the current certificate stays), a good one
    // is served.
    let second = server_leaf(&ca, "certkeep two");
    std::fs::write(&cert_path, &second.cert_pem).unwrap();
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(
        served_certificate(&p.url, &ca_pem).await,
        first.cert_der,
        "a certificate without its key is not served"
    );
    std::fs::write(&key_path, &second.key_pem).unwrap();
    wait_for_certificate(&p.url, &ca_pem, &second.cert_der).await;
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_the_inventory_follows_reimports_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_postgres_url().await;
    let ca = root_ca("TLS Inventory CA", OffsetDateTime::now_utc());
    let ca_pem = ca.cert_pem();
    let first = server_leaf(&ca, "certkeep inventory one");

    // Plain HTTP on loopback to import the server's own certificate and key.
    let mut p = start_certkeepd(dir.path(), db.as_deref(), &[]);
    let token = p.first_token.clone().unwrap();
    let plain = Client::new(&p.url, Some(token.clone())).unwrap();
    let entry = plain
        .certificate_import(&ImportCertificateRequest {
            name: "certkeep itself".into(),
            certificate: first.cert_pem.clone(),
            private_key: Some(first.key_pem.clone()),
            chain: vec![ca_pem.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let without_key = plain
        .certificate_import(&ImportCertificateRequest {
            name: "no key".into(),
            certificate: server_leaf(&ca, "nokey").cert_pem,
            ..Default::default()
        })
        .await
        .unwrap();
    p.child.kill().unwrap();
    p.child.wait().unwrap();

    // A certificate without a stored key cannot be served: certkeepd says so and exits.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkeepd"));
    cmd.arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(["--tls-certificate-id", &without_key.id.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = &db {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no private key stored"), "{stderr}");

    let id = entry.id.to_string();
    let mut p = start_certkeepd(
        dir.path(),
        db.as_deref(),
        &["--tls-certificate-id", &id, "--tls-reload-secs", "1"],
    );
    assert!(p.url.starts_with("https://"), "{}", p.url);
    // The stored chain is presented too.
    let http = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        http.get(format!("{}/healthz", p.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(served_certificate(&p.url, &ca_pem).await, first.cert_der);

    // Renewed in the inventory: served without a restart.
    let client = Client::with_ca(&p.url, Some(token), Some(ca_pem.as_bytes())).unwrap();
    let second = server_leaf(&ca, "certkeep inventory two");
    client
        .certificate_reimport(
            entry.id,
            &ReimportCertificateRequest {
                certificate: second.cert_pem.clone(),
                private_key: Some(second.key_pem.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wait_for_certificate(&p.url, &ca_pem, &second.cert_der).await;

    // Each time the server read the key from the inventory is in the audit log.
    let events = client
        .audit_list(&AuditQuery {
            action: Some("server.tls_key_load".into()),
            target: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let revisions: Vec<String> = events
        .iter()
        .map(|e| {
            e.detail["revision"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(revisions.contains(&format!("{id}:1")), "{revisions:?}");
    assert!(revisions.contains(&format!("{id}:2")), "{revisions:?}");
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

#[test]
fn plain_http_on_a_public_address_is_refused_but_https_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certkeepd"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-cert-file"), "{stderr}");

    let ca = root_ca("Public CA", OffsetDateTime::now_utc());
    let leaf = server_leaf(&ca, "public");
    let cert = dir.path().join("c.pem");
    let key = dir.path().join("k.pem");
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkeepd"));
    cmd.arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "0.0.0.0:0"])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let listening = lines
        .find_map(|l| l.ok().filter(|l| l.starts_with("certkeepd: listening on ")))
        .expect("certkeepd listens");
    assert!(listening.contains("https://0.0.0.0:"), "{listening}");
    child.kill().unwrap();
    child.wait().unwrap();

    // Only one of the two files: refused by the argument parser, naming the missing one.
    let out = Command::new(env!("CARGO_BIN_EXE_certkeepd"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--tls-cert-file")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key-file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
