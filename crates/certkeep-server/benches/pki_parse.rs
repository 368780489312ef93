//! Throughput of `pki::parse_bundle` on typical imports: a leaf with its private key and one
//! intermediate, PEM text, for P-256 and RSA-2048 leaves. The batch-import target is
//! ≥ 5,000 certificates/s on 2 cores, so one parse must stay well under 200 µs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use certkeep_server::pki::{BundleInput, cert_info, parse_bundle, private_key_from_pkcs8};
use certkeep_testkit::{Ca, KeyKind, LeafSpec};
use criterion::{Criterion, criterion_group, criterion_main};
use time::{Duration, OffsetDateTime};

struct Fixture {
    cert_pem: String,
    key_pem: String,
    chain_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    chain_der: Vec<u8>,
}

fn fixture(kind: KeyKind) -> Fixture {
    let now = OffsetDateTime::now_utc();
    let (nb, na) = (now - Duration::days(1), now + Duration::days(365));
    let root = Ca::new_root(KeyKind::EcP384, "Bench Root", nb, na).unwrap();
    let int = root
        .intermediate(KeyKind::EcP256, "Bench Int", nb, na)
        .unwrap();
    let leaf = int
        .leaf(
            &LeafSpec::new("bench.example.com", nb, na)
                .dns(["bench.example.com", "www.bench.example.com"])
                .key(kind),
        )
        .unwrap();
    Fixture {
        cert_pem: leaf.cert_pem.clone(),
        key_pem: leaf.key_pem.clone(),
        chain_pem: int.cert_pem(),
        cert_der: leaf.cert_der.clone(),
        key_der: leaf.key_pkcs8_der.clone(),
        chain_der: int.cert_der().to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    for (name, kind) in [("p256", KeyKind::EcP256), ("rsa2048", KeyKind::Rsa2048)] {
        let f = fixture(kind);
        c.bench_function(&format!("parse_bundle/{name}/pem_leaf_key_int"), |b| {
            let chain = [f.chain_pem.as_bytes()];
            b.iter(|| {
                let bundle = parse_bundle(&BundleInput {
                    certificate: black_box(f.cert_pem.as_bytes()),
                    private_key: Some(black_box(f.key_pem.as_bytes())),
                    chain: &chain,
                    password: None,
                })
                .unwrap();
                black_box(bundle)
            })
        });
        c.bench_function(&format!("parse_bundle/{name}/der_leaf_key_int"), |b| {
            let chain = [f.chain_der.as_slice()];
            b.iter(|| {
                let bundle = parse_bundle(&BundleInput {
                    certificate: black_box(&f.cert_der),
                    private_key: Some(black_box(&f.key_der)),
                    chain: &chain,
                    password: None,
                })
                .unwrap();
                black_box(bundle)
            })
        });
        c.bench_function(&format!("parse_bundle/{name}/pem_cert_only"), |b| {
            b.iter(|| {
                let bundle = parse_bundle(&BundleInput {
                    certificate: black_box(f.cert_pem.as_bytes()),
                    ..Default::default()
                })
                .unwrap();
                black_box(bundle)
            })
        });
        c.bench_function(&format!("private_key_from_pkcs8/{name}"), |b| {
            b.iter(|| black_box(private_key_from_pkcs8(black_box(&f.key_der)).unwrap()))
        });
        c.bench_function(&format!("cert_info/{name}"), |b| {
            b.iter(|| black_box(cert_info(black_box(&f.cert_der)).unwrap()))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
