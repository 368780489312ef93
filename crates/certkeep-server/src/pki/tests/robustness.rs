//! Mutated, truncated and random inputs: parse_bundle and cert_info must return, never panic.

use certkeep_testkit::KeyKind;

use super::super::{BundleInput, cert_info, parse_bundle, private_key_from_pkcs8};
use super::pki;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    match rng.below(5) {
        0 => out.truncate(rng.below(input.len() + 1)),
        1 => {
            for _ in 0..=rng.below(4) {
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    out[i] ^= 1 << rng.below(8);
                }
            }
        }
        2 => {
            let i = rng.below(out.len() + 1);
            let junk: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
            out.splice(i..i, junk);
        }
        3 => {
            if !out.is_empty() {
                let i = rng.below(out.len());
                let len = rng.below(out.len() - i + 1);
                out.drain(i..i + len);
            }
        }
        _ => {
            // DER length bytes are the interesting ones: set one to an extreme value.
            if !out.is_empty() {
                let i = rng.below(out.len());
                out[i] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff][rng.below(7)];
            }
        }
    }
    out
}

#[test]
fn mutated_inputs_never_panic() {
    let p = pki(KeyKind::EcP256);
    let r = pki(KeyKind::Rsa2048);
    let enc = certkeep_testkit::encrypted_pkcs8_pem(&p.leaf.key_pkcs8_der, "pw").unwrap();
    let p12 = certkeep_testkit::pkcs12(&r.leaf, &[r.int.cert_der()], "pw").unwrap();
    let bundle_pem = [
        p.leaf.cert_pem.clone(),
        p.int.cert_pem(),
        p.leaf.key_pem.clone(),
    ]
    .concat();
    let seeds: Vec<Vec<u8>> = vec![
        bundle_pem.into_bytes(),
        p.leaf.cert_der.clone(),
        p.leaf.key_pkcs8_der.clone(),
        r.leaf.key_pkcs8_der.clone(),
        enc.into_bytes(),
        p12,
        r.leaf.cert_der.clone(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = (0usize, 0usize);
    for round in 0..700 {
        let seed = &seeds[round % seeds.len()];
        let mutated = mutate(&mut rng, seed);
        let random: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        for (cert, key) in [
            (mutated.as_slice(), None),
            (p.leaf.cert_der.as_slice(), Some(mutated.as_slice())),
            (random.as_slice(), None),
        ] {
            let result = parse_bundle(&BundleInput {
                certificate: cert,
                private_key: key,
                chain: &[mutated.as_slice()],
                password: Some("pw"),
            });
            match result {
                Ok(_) => outcomes.0 += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    outcomes.1 += 1;
                }
            }
        }
        let _ = cert_info(&mutated);
        let _ = private_key_from_pkcs8(&mutated);
    }
    assert!(outcomes.1 > 0);
}

#[test]
fn degenerate_inputs() {
    let cases: [&[u8]; 12] = [
        b"",
        b"\0",
        b"\x30",
        b"\x30\x80",
        b"\x30\x80\x30\x80\x30\x80",
        b"\x30\x84\xff\xff\xff\xff",
        b"-----BEGIN CERTIFICATE-----",
        b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        b"-----BEGIN -----\nAAAA\n-----END -----\n",
        b"-----BEGIN CERTIFICATE-----\n====\n-----END CERTIFICATE-----\n",
        &[0xff, 0xfe, 0x41],
        &[0x30, 0x03, 0x02, 0x01, 0x03],
    ];
    for c in cases {
        let r = parse_bundle(&BundleInput {
            certificate: c,
            private_key: Some(c),
            chain: &[c, c],
            password: None,
        });
        assert!(r.is_err());
    }
    // Deep BER nesting must not overflow the stack.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend_from_slice(&[0x30, 0x80]);
    }
    assert!(cert_info(&deep).is_err());
    assert!(
        parse_bundle(&BundleInput {
            certificate: &deep,
            ..Default::default()
        })
        .is_err()
    );
}

/// The system trust store is a corpus of real-world certificates from many CAs and eras
/// (T61/BMP names, v1 roots, odd extensions). Every one must parse with sane metadata.
#[test]
fn system_trust_store_roots() {
    let path = "/etc/ssl/certs/ca-certificates.crt";
    let Ok(bundle) = std::fs::read(path) else {
        eprintln!("{path} not present: nothing to check");
        return;
    };
    let blocks = super::super::pem_blocks::parse(&bundle, "trust store").unwrap();
    assert!(blocks.len() > 50);
    for block in &blocks {
        let info = cert_info(&block.der).unwrap_or_else(|e| panic!("block {}: {e}", block.index));
        assert!(info.is_ca || info.x509_version == 1, "{}", info.subject);
        assert!(!info.subject.is_empty() && !info.key_algorithm.is_empty());
        assert!(info.key_size.is_some(), "{}", info.subject);
        // Each root alone is a complete one-certificate bundle.
        let b = parse_bundle(&BundleInput {
            certificate: &block.der,
            ..Default::default()
        })
        .unwrap();
        assert!(b.chain_der.is_empty() && b.chain_complete);
    }
    // The whole store at once has many unrelated candidates: refused with both names.
    let err = parse_bundle(&BundleInput {
        certificate: &bundle,
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("cannot tell which certificate is the leaf"),
        "{err}"
    );
}
