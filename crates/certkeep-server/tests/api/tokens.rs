//! Tokens: bearer authentication, roles, expiry, revocation, group scope.

use certkeep_api::{CertificateListQuery, CreateTokenRequest, Role};
use time::{Duration, OffsetDateTime};

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_a_valid_token() {
    let t = TestApp::spawn().await;
    let anon = t.client(None);
    let e = anon
        .certificate_list(&CertificateListQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.code(), Some("unauthenticated"));
    let bad = t.client(Some("ck_not-a-real-token"));
    let e = bad.token_list().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("unknown or malformed"), "{e}");
    // Health and the document need none.
    assert_eq!(anon.health().await.unwrap().status, "ok");
    assert_eq!(anon.ready().await.unwrap().status, "ready");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_stored_hashed_expire_and_revoke() {
    let t = TestApp::spawn().await;
    let created = t
        .admin
        .token_create(&CreateTokenRequest {
            name: "ci".into(),
            role: Some(Role::Reader),
            group: None,
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(created.token.starts_with("ck_"));
    let listed = t.admin.token_list().await.unwrap();
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(&created.token), "a listing shows a secret");
    assert!(
        listed
            .items
            .iter()
            .any(|i| i.id == created.info.id && i.role == Role::Reader)
    );

    // The database holds only a hash.
    let found = t
        .app
        .store
        .token_by_hash(&certkeep_server::authz::hash_secret(&created.token))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(found.token_hash, created.token);

    let reader = t.client(Some(&created.token));
    reader
        .certificate_list(&CertificateListQuery::default())
        .await
        .unwrap();
    let e = reader.token_list().await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("admin"), "{e}");

    let revoked = t.admin.token_revoke(created.info.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    let e = reader
        .certificate_list(&CertificateListQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("revoked"), "{e}");
    let e = t.admin.token_revoke(created.info.id).await.unwrap_err();
    assert_eq!(e.status(), Some(409));

    // Expiry in the past is refused; a token that expires is refused after it.
    let e = t
        .admin
        .token_create(&CreateTokenRequest {
            name: "old".into(),
            role: Some(Role::Reader),
            group: None,
            expires_at: Some(OffsetDateTime::now_utc() - Duration::hours(1)),
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    let short = t
        .admin
        .token_create(&CreateTokenRequest {
            name: "short".into(),
            role: Some(Role::Reader),
            group: None,
            expires_at: Some(OffsetDateTime::now_utc() + Duration::seconds(1)),
        })
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let e = t
        .client(Some(&short.token))
        .certificate_list(&CertificateListQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("expired"), "{e}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_admin_only_manages_its_group() {
    let t = TestApp::spawn().await;
    let (group_admin, _) = t.client_with_role(Role::Admin, Some("web")).await;
    let made = group_admin
        .token_create(&CreateTokenRequest {
            name: "web-reader".into(),
            role: Some(Role::Reader),
            group: None,
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(
        made.info.group.as_deref(),
        Some("web"),
        "inherits the group"
    );
    let e = group_admin
        .token_create(&CreateTokenRequest {
            name: "db".into(),
            role: Some(Role::Reader),
            group: Some("db".into()),
            expires_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let listed = group_admin.token_list().await.unwrap();
    assert!(
        listed
            .items
            .iter()
            .all(|i| i.group.as_deref() == Some("web"))
    );
    // The audit log spans all groups: only an unrestricted admin reads it.
    let e = group_admin
        .audit_list(&Default::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_token_create_prints_the_secret_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = assert_cmd::Command::cargo_bin("certkeepd").unwrap();
    cmd.args(["token", "create", "--role", "admin", "--data-dir"])
        .arg(dir.path());
    if let Some(url) = crate::helpers::fresh_postgres_url().await {
        cmd.args(["--database-url", &url]);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("ck_") && last.len() == 46, "{text}");
    assert!(dir.path().join("root.key").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("root.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let bad = assert_cmd::Command::cargo_bin("certkeepd")
        .unwrap()
        .args(["token", "create", "--role", "boss", "--data-dir"])
        .arg(dir.path())
        .assert()
        .failure();
    let err = String::from_utf8(bad.get_output().stderr.clone()).unwrap();
    assert!(err.contains("unknown role"), "{err}");
}
