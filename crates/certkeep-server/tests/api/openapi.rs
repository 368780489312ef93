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

/// The names between braces in a path template, in order.
fn template_params(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Whether a query type accepts a request that gives none of its parameters, i.e. each of its
/// fields is an `Option` (or has a default); its parameters must then all be optional.
fn query_type_is_all_optional(path: &str, method: &str) -> bool {
    use certkeep_api::{AuditQuery, CertificateListQuery, DeliveryQuery, DownloadQuery};
    let empty = serde_json::json!({});
    match (path, method) {
        ("/api/v1/certificates", "get") => {
            serde_json::from_value::<CertificateListQuery>(empty).is_ok()
        }
        ("/api/v1/certificates/{id}/download", "get") => {
            serde_json::from_value::<DownloadQuery>(empty).is_ok()
        }
        ("/api/v1/audit-events", "get") => serde_json::from_value::<AuditQuery>(empty).is_ok(),
        ("/api/v1/notification-channels/{id}/deliveries", "get") => {
            serde_json::from_value::<DeliveryQuery>(empty).is_ok()
        }
        _ => panic!(
            "{method} {path} has query parameters this test does not know: add its query type here"
        ),
    }
}

#[test]
fn every_parameter_is_where_its_path_says() {
    let doc = serde_json::to_value(certkeep_server::web::openapi_document()).unwrap();
    let mut query_params = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let in_template = template_params(path);
        for (method, op) in ops.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared_in_path: Vec<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for name in &declared_in_path {
                assert!(
                    in_template.contains(name),
                    "{method} {path}: parameter `{name}` is declared \"in\": \"path\" \
                     but the template has no {{{name}}}"
                );
            }
            for name in &in_template {
                assert!(
                    declared_in_path.contains(name),
                    "{method} {path}: the template's {{{name}}} is not declared as a path parameter"
                );
            }
            for p in &params {
                let (name, location) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                assert!(
                    ["path", "query", "header", "cookie"].contains(&location),
                    "{method} {path}: parameter `{name}` is \"in\": \"{location}\""
                );
                if location == "path" {
                    assert_eq!(
                        p["required"], true,
                        "{method} {path}: path parameter `{name}` must be required"
                    );
                }
            }
            let query: Vec<&serde_json::Value> =
                params.iter().filter(|p| p["in"] == "query").collect();
            if !query.is_empty() && query_type_is_all_optional(path, method) {
                for p in query {
                    query_params += 1;
                    assert_ne!(
                        p["required"], true,
                        "{method} {path}: query parameter `{}` is an Option but documented as required",
                        p["name"]
                    );
                }
            }
        }
    }
    // The listing endpoints' filters and paging really are documented as query parameters.
    assert!(
        query_params >= 20,
        "only {query_params} query parameters documented"
    );
}

fn collect_refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => out.push(target),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_schema_reference_resolves() {
    let doc = serde_json::to_value(certkeep_server::web::openapi_document()).unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("`{target}` is not a local reference"));
        assert!(
            doc.pointer(pointer).is_some(),
            "`$ref: {target}` points at nothing in the document"
        );
    }
}
