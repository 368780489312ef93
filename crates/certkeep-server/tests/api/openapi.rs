//! The committed OpenAPI document matches what the server serves, and covers every route.

use std::path::PathBuf;

use crate::helpers::TestApp;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn committed_openapi_document_has_no_drift() {
    let generated =
        serde_json::to_string_pretty(&certkeep_server::web::openapi_document()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date: regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p certkeep-server --test api openapi` \
         (or `certkeepd openapi > docs/openapi.json`)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_is_openapi_3_1_and_covers_every_route() {
    let t = TestApp::spawn().await;
    let doc = t.client(None).openapi().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/certificates", "get"),
        ("/api/v1/certificates", "post"),
        ("/api/v1/certificates/batch", "post"),
        ("/api/v1/certificates/{id}", "get"),
        ("/api/v1/certificates/{id}", "patch"),
        ("/api/v1/certificates/{id}", "delete"),
        ("/api/v1/certificates/{id}/versions", "get"),
        ("/api/v1/certificates/{id}/versions", "post"),
        ("/api/v1/certificates/{id}/notifications", "get"),
        ("/api/v1/certificates/{id}/restore", "post"),
        ("/api/v1/certificates/{id}/purge", "post"),
        ("/api/v1/certificates/{id}/download", "get"),
        ("/api/v1/certificates/{id}/pkcs12", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/audit-events", "get"),
        ("/api/v1/notification-channels", "get"),
        ("/api/v1/notification-channels", "post"),
        ("/api/v1/notification-channels/{id}", "get"),
        ("/api/v1/notification-channels/{id}", "patch"),
        ("/api/v1/notification-channels/{id}", "delete"),
        ("/api/v1/notification-channels/{id}/test", "post"),
        ("/api/v1/notification-channels/{id}/deliveries", "get"),
        ("/api/v1/notifications/jwks.json", "get"),
        ("/api/v1/notifications/signing-keys/rotate", "post"),
        ("/api/v1/acme/accounts", "get"),
        ("/api/v1/acme/accounts", "post"),
        ("/api/v1/acme/accounts/{id}", "get"),
        ("/api/v1/acme/accounts/{id}", "delete"),
        ("/api/v1/acme/accounts/{id}", "patch"),
        ("/api/v1/dns-providers", "get"),
        ("/api/v1/dns-providers", "post"),
        ("/api/v1/dns-providers/{id}", "get"),
        ("/api/v1/dns-providers/{id}", "delete"),
        ("/api/v1/orders", "get"),
        ("/api/v1/orders", "post"),
        ("/api/v1/orders/{id}", "get"),
        ("/api/v1/orders/{id}/validate", "post"),
        ("/api/v1/certificates/{id}/renew", "post"),
        ("/api/v1/certificates/{id}/renewal", "get"),
        ("/api/v1/certificates/{id}/renewal", "patch"),
        ("/api/v1/certificates/{id}/revoke", "post"),
    ];
    for (p, m) in expected {
        assert!(
            paths.get(p).and_then(|v| v.get(m)).is_some(),
            "{m} {p} missing from the document"
        );
    }
    let documented: usize = paths.values().map(|v| v.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "the document has routes this test does not know"
    );
    // Every documented route really exists: none answers 404/405 from the router.
    for (p, m) in expected {
        let path = p.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        let resp = t.admin.raw(method, &path).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        assert!(
            status != 405 && !(status == 404 && body["message"] == "no such route"),
            "{m} {p} is documented but not routed ({status})"
        );
    }
    t.stop().await;
}
