//! The `certkeepd` binary as users run it: first start prints an admin token once, restarts keep
//! everything, and an acknowledged import survives `kill -9`.

use std::process::Command;

use certkeep_api::{Client, ImportCertificateRequest};

use crate::certificates::fixtures;
use crate::helpers::{fresh_postgres_url, start_certkeepd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_import_survives_kill_9_and_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_postgres_url().await;
    let mut s = start_certkeepd(dir.path(), db.as_deref(), &[]);
    let token = s
        .first_token
        .clone()
        .expect("first start prints an admin token");
    let client = Client::new(&s.url, Some(token.clone())).unwrap();
    let fx = fixtures();
    let m = client
        .certificate_import(&ImportCertificateRequest {
            name: "durable".into(),
            certificate: fx.leaf_pem.clone(),
            private_key: Some(fx.leaf_key_pem.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    // kill -9 right after the acknowledgement.
    s.child.kill().unwrap();
    s.child.wait().unwrap();

    let mut s2 = start_certkeepd(dir.path(), db.as_deref(), &[]);
    assert!(
        s2.first_token.is_none(),
        "a restart must not print a new admin token"
    );
    let client = Client::new(&s2.url, Some(token)).unwrap();
    let got = client.certificate_get(m.id).await.unwrap();
    assert_eq!(got.fingerprint_sha256, m.fingerprint_sha256);
    let key = client
        .certificate_download(
            m.id,
            &certkeep_api::DownloadQuery {
                part: Some(certkeep_api::DownloadPart::PrivateKey),
                format: Some(certkeep_api::DownloadFormat::Der),
                version: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(key, fx.leaf_key_der);
    s2.child.kill().unwrap();
    s2.child.wait().unwrap();

    // A different root key cannot open this database.
    let other_key = dir.path().join("other.key");
    let out = Command::new(env!("CARGO_BIN_EXE_certkeepd"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--root-key-file")
        .arg(&other_key)
        .args(
            db.as_deref()
                .map(|u| vec!["--database-url", u])
                .unwrap_or_default(),
        )
        .args(["token", "create", "--role", "reader"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root key"), "{err}");
}
