//! Bad input never gets a 500 or a partial write: hundreds of malformed requests, each answered
//! with a 4xx JSON error `{code, message, request_id}`, and nothing stored.

use base64::Engine;
use certkeep_api::{CertificateListQuery, ImportCertificateRequest};
use reqwest::Method;
use serde_json::json;

use crate::certificates::fixtures;
use crate::helpers::TestApp;

/// Deterministic xorshift, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Between 1 and `max` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = 1 + self.below(max);
        self.bytes(n)
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn assert_clean_4xx(resp: reqwest::Response, what: &str) -> serde_json::Value {
    let status = resp.status().as_u16();
    let rid = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    assert!(
        (400..500).contains(&status),
        "{what}: status {status}: {text}"
    );
    let body: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{what}: error body is not JSON: {text}"));
    assert!(
        body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: {text}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| m.len() > 5),
        "{what}: {text}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        rid.as_deref(),
        "{what}: {text}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_malformed_requests_get_clean_4xx_and_write_nothing() {
    let t = TestApp::spawn().await;
    let fx = fixtures();
    let good_der = fx.leaf_der.clone();
    let good_pem = fx.leaf_pem.clone();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases: Vec<(String, serde_json::Value)> = Vec::new();

    // Garbage, truncated and bit-flipped certificates, as base64 and as PEM.
    for i in 0..120 {
        let cert = match i % 6 {
            0 => b64(&rng.some_bytes(600)),
            1 => b64(&good_der[..rng.below(good_der.len())]),
            2 => {
                // Cut inside the structure: never a whole certificate.
                let cut = 4 + rng.below(good_der.len() - 8);
                let mut d = good_der[..cut].to_vec();
                let extra = rng.below(3);
                d.extend(rng.bytes(extra));
                b64(&d)
            }
            3 => {
                // Cut inside the base64 body (a cut in the END line leaves the DER whole).
                let body_end = good_pem.rfind("-----END").unwrap() - 2;
                good_pem[..1 + rng.below(body_end)].to_string()
            }
            4 => format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                b64(&rng.some_bytes(300))
            ),
            _ => "not base64 at all %%%".repeat(1 + rng.below(5)),
        };
        cases.push((
            format!("garbage certificate #{i}"),
            json!({"name": "x", "certificate": cert}),
        ));
    }
    // Bit flips may still leave a parseable certificate (a flipped bit in the signature):
    // those are accepted; anything else must be a clean 4xx, never a 5xx.
    let mut accepted = 0;
    for i in 0..60 {
        let mut d = good_der.clone();
        for _ in 0..(1 + rng.below(4)) {
            let at = rng.below(d.len());
            d[at] ^= 1 << rng.below(8);
        }
        let resp = t
            .admin
            .raw(Method::POST, "/api/v1/certificates")
            .json(&json!({"name": format!("flip{i}"), "certificate": b64(&d)}))
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 201 {
            accepted += 1;
        } else {
            assert_clean_4xx(resp, &format!("bit flip #{i}")).await;
        }
    }

    // A good certificate with broken keys and passwords.
    for i in 0..60 {
        let key = match i % 4 {
            0 => b64(&rng.some_bytes(400)),
            1 => fx.other_key_pem.clone(),
            2 => {
                // Cut inside the base64 body (a cut in the END line leaves the key whole).
                let body_end = fx.leaf_key_pem.rfind("-----END").unwrap() - 2;
                fx.leaf_key_pem[..1 + rng.below(body_end)].to_string()
            }
            _ => fx.leaf_key_encrypted_pem.clone(),
        };
        cases.push((
            format!("bad key #{i}"),
            json!({"name": "x", "certificate": good_pem, "private_key": key, "password": if i % 8 == 3 { json!("wrong") } else { json!(null) }}),
        ));
    }
    // Malformed JSON shapes.
    let shapes = [
        json!({}),
        json!({"name": "x"}),
        json!({"certificate": good_pem}),
        json!({"name": 5, "certificate": good_pem}),
        json!({"name": "x", "certificate": good_pem, "unknown": true}),
        json!({"name": "", "certificate": good_pem}),
        json!({"name": "n".repeat(257), "certificate": good_pem}),
        json!({"name": "x", "description": "d".repeat(1025), "certificate": good_pem}),
        json!({"name": "x", "group": "bad group!", "certificate": good_pem}),
        json!({"name": "x", "labels": {"bad key!": "v"}, "certificate": good_pem}),
        json!({"name": "x", "labels": ["a"], "certificate": good_pem}),
        json!({"name": "x", "chain": "notalist", "certificate": good_pem}),
        json!({"name": "x", "chain": [b64(b"junk")], "certificate": good_pem}),
        json!({"name": "x\u{0007}", "certificate": good_pem}),
        json!([1, 2, 3]),
        json!("string"),
        json!(null),
    ];
    for (i, s) in shapes.into_iter().enumerate() {
        cases.push((format!("shape #{i}"), s));
    }
    // Oversized input (over 100 KiB decoded, under the body limit).
    cases.push((
        "oversized certificate".into(),
        json!({"name": "x", "certificate": b64(&vec![0x30; 150 * 1024])}),
    ));

    for (what, body) in &cases {
        let resp = t
            .admin
            .raw(Method::POST, "/api/v1/certificates")
            .json(body)
            .send()
            .await
            .unwrap();
        assert_clean_4xx(resp, what).await;
    }
    // Raw bodies that are not JSON at all, and wrong content types.
    for i in 0..60 {
        let bytes = match i % 3 {
            0 => rng.some_bytes(200),
            1 => b"{\"name\": \"x\", \"certificate\": ".to_vec(),
            _ => format!(
                "{{\"name\": \"x\", \"certificate\": \"{}\"",
                "a".repeat(rng.below(50))
            )
            .into_bytes(),
        };
        let ct = if i % 5 == 0 {
            "text/plain"
        } else {
            "application/json"
        };
        let resp = t
            .admin
            .raw(Method::POST, "/api/v1/certificates")
            .header("content-type", ct)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_clean_4xx(resp, &format!("raw body #{i}")).await;
    }
    // A body over the limit.
    let resp = t
        .admin
        .raw(Method::POST, "/api/v1/certificates")
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let body = assert_clean_4xx(resp, "huge body").await;
    assert_eq!(body["code"], "payload_too_large");
    // Bad paths and queries.
    for path in [
        "/api/v1/certificates/not-a-uuid",
        "/api/v1/certificates/00000000-0000-0000-0000-000000000000",
        "/api/v1/certificates?limit=0",
        "/api/v1/certificates?limit=100000",
        "/api/v1/certificates?limit=abc",
        "/api/v1/certificates?status=bogus",
        "/api/v1/certificates?sort=size",
        "/api/v1/certificates?cursor=%%%",
        "/api/v1/certificates?cursor=bm90IGEgY3Vyc29y",
        "/api/v1/certificates?expires_before=yesterday",
        "/api/v1/certificates?label==x",
        "/api/v1/certificates?nope=1",
        "/api/v1/certificates/00000000-0000-0000-0000-000000000000/download?part=everything",
        "/api/v1/audit-events?after=-1",
        "/api/v1/nothing-here",
    ] {
        let resp = t.admin.raw(Method::GET, path).send().await.unwrap();
        assert_clean_4xx(resp, path).await;
    }
    let resp = t
        .admin
        .raw(
            Method::PATCH,
            "/api/v1/certificates/00000000-0000-0000-0000-000000000000",
        )
        .json(&json!({"name": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_clean_4xx(resp, "patch missing").await["code"],
        "not_found"
    );

    // Nothing was written: no certificate, live or deleted.
    let live = t
        .admin
        .certificate_list(&CertificateListQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        live.items.len(),
        accepted,
        "only the parseable bit flips were stored"
    );
    assert!(live.items.iter().all(|m| m.name.starts_with("flip")));
    let deleted = t
        .admin
        .certificate_list(&CertificateListQuery {
            deleted: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deleted.items.is_empty());
    // The errors name the problem.
    let e = t
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "x".into(),
            certificate: good_pem.clone(),
            private_key: Some(fx.other_key_pem.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    t.stop().await;
}
