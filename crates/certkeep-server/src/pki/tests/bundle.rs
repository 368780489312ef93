//! Bundles built with certkeep-testkit: ordering, duplicates, gaps, leaf selection, key
//! matching, metadata, PEM and PKCS#12 export.

use certkeep_testkit::{KeyKind, LeafSpec};
use time::Duration;

use super::super::{PkiError, cert_info, export_pkcs12, pem_encode, private_key_from_pkcs8};
use super::{err_text, parse, pki};

fn cat(parts: &[&str]) -> Vec<u8> {
    parts.concat().into_bytes()
}

#[test]
fn shuffled_pem_with_root_and_duplicates_is_ordered() {
    let p = pki(KeyKind::EcP256);
    let input = cat(&[
        &p.root.cert_pem(),
        &p.leaf.cert_pem,
        &p.int.cert_pem(),
        &p.leaf.cert_pem,
        &p.root.cert_pem(),
    ]);
    let b = parse(&input, Some(p.leaf.key_pem.as_bytes()), &[], None).unwrap();
    assert_eq!(b.leaf_der, p.leaf.cert_der);
    assert_eq!(
        b.chain_der,
        vec![p.int.cert_der().to_vec(), p.root.cert_der().to_vec()]
    );
    assert!(b.chain_complete, "{:?}", b.chain_issues);
    assert!(b.chain_issues.is_empty());
    let key = b.private_key.unwrap();
    assert_eq!(key.algorithm(), "EC");
    assert_eq!(key.key_size(), 256);
}

#[test]
fn chain_items_in_der_and_pem_and_key_in_certificate() {
    let p = pki(KeyKind::Rsa2048);
    let certificate = cat(&[&p.leaf.key_pem, &p.leaf.cert_pem]);
    let root_pem = p.root.cert_pem();
    let chain: Vec<&[u8]> = vec![root_pem.as_bytes(), p.int.cert_der()];
    let b = parse(&certificate, None, &chain, None).unwrap();
    assert_eq!(
        b.chain_der,
        vec![p.int.cert_der().to_vec(), p.root.cert_der().to_vec()]
    );
    assert!(b.chain_complete);
    assert_eq!(b.private_key.unwrap().algorithm(), "RSA");
}

#[test]
fn leaf_without_key_is_the_certificate_that_issued_nothing() {
    let p = pki(KeyKind::EcP256);
    let input = cat(&[&p.int.cert_pem(), &p.leaf.cert_pem]);
    let b = parse(&input, None, &[], None).unwrap();
    assert_eq!(b.leaf_der, p.leaf.cert_der);
    assert_eq!(b.chain_der, vec![p.int.cert_der().to_vec()]);
    // Root not included: the chain ends at a non-self-signed CA, which is normal.
    assert!(b.chain_complete);
    assert!(b.private_key.is_none());

    // A CA-only import: the intermediate is the "leaf".
    let input = cat(&[&p.root.cert_pem(), &p.int.cert_pem()]);
    let b = parse(&input, None, &[], None).unwrap();
    assert_eq!(b.leaf_der, p.int.cert_der());
    assert!(b.info.is_ca);
}

#[test]
fn gaps_are_reported_not_fatal() {
    let p = pki(KeyKind::EcP256);
    let other = pki(KeyKind::EcP256);
    let input = cat(&[&p.leaf.cert_pem, &p.root.cert_pem(), &other.int.cert_pem()]);
    let b = parse(&input, Some(p.leaf.key_pem.as_bytes()), &[], None).unwrap();
    assert_eq!(b.leaf_der, p.leaf.cert_der);
    assert!(!b.chain_complete);
    assert_eq!(b.chain_der.len(), 2);
    let issues = b.chain_issues.join("; ");
    assert!(
        issues.contains(
            "no issuer given for 'CN=www.example.com' (issued by 'O=certkeep test, CN=Test Int')"
        ),
        "{issues}"
    );
    assert!(
        issues.contains("'O=certkeep test, CN=Test Root' is not linked to the leaf's chain"),
        "{issues}"
    );
    assert!(
        issues.contains("'O=certkeep test, CN=Test Int' is not linked"),
        "{issues}"
    );
}

#[test]
fn two_unrelated_leaves_without_key_are_refused() {
    let a = pki(KeyKind::EcP256);
    let now = a.now;
    let b_leaf = a
        .int
        .leaf(&LeafSpec::new(
            "other.example.net",
            now - Duration::days(1),
            now + Duration::days(9),
        ))
        .unwrap();
    let input = cat(&[&a.leaf.cert_pem, &b_leaf.cert_pem]);
    let msg = err_text(parse(&input, None, &[], None));
    assert!(
        msg.contains("CN=www.example.com") && msg.contains("CN=other.example.net"),
        "{msg}"
    );
    // With the key, the leaf is known.
    let b = parse(&input, Some(b_leaf.key_pem.as_bytes()), &[], None).unwrap();
    assert_eq!(b.leaf_der, b_leaf.cert_der);
    assert!(!b.chain_complete);
}

#[test]
fn mismatched_key_is_refused_with_evidence() {
    let a = pki(KeyKind::EcP256);
    let b = pki(KeyKind::Rsa2048);
    let r = parse(
        a.leaf.cert_pem.as_bytes(),
        Some(b.leaf.key_pem.as_bytes()),
        &[],
        None,
    );
    assert!(matches!(r, Err(PkiError::KeyMismatch(_))));
    let msg = err_text(r);
    assert!(
        msg.contains("private key does not match the certificate"),
        "{msg}"
    );
    assert!(
        msg.contains("RSA 2048 bits") && msg.contains("EC P-256"),
        "{msg}"
    );
    assert!(msg.contains("'CN=www.example.com'"), "{msg}");
    assert!(!msg.contains("PRIVATE"), "{msg}");
}

#[test]
fn several_keys_are_refused_but_a_repeated_key_is_one() {
    let a = pki(KeyKind::EcP256);
    let b = pki(KeyKind::EcP256);
    let input = cat(&[&a.leaf.cert_pem, &a.leaf.key_pem, &b.leaf.key_pem]);
    let msg = err_text(parse(&input, None, &[], None));
    assert!(msg.contains("2 different private keys"), "{msg}");
    let input = cat(&[&a.leaf.cert_pem, &a.leaf.key_pem]);
    let ok = parse(&input, Some(a.leaf.key_pem.as_bytes()), &[], None).unwrap();
    assert!(ok.private_key.is_some());
}

#[test]
fn evidence_for_wrong_blocks_and_inputs() {
    let p = pki(KeyKind::EcP256);
    let spki_pem = pem_encode("PUBLIC KEY", &p.int.key().spki_der());
    let input = cat(&[&p.leaf.cert_pem, &spki_pem]);
    let msg = err_text(parse(&input, None, &[], None));
    assert_eq!(
        msg,
        "PEM block 2 in `certificate` is a PUBLIC KEY, expected CERTIFICATE or a private key"
    );
    let msg = err_text(parse(p.leaf.key_pem.as_bytes(), None, &[], None));
    assert!(
        msg.starts_with("no certificate found in `certificate`"),
        "{msg}"
    );
    let msg = err_text(parse(b"", None, &[], None));
    assert_eq!(msg, "`certificate` is empty");
    let truncated = &p.int.cert_der()[..p.int.cert_der().len() - 10];
    let msg = err_text(parse(
        p.leaf.cert_pem.as_bytes(),
        None,
        &[p.root.cert_der(), truncated],
        None,
    ));
    assert!(msg.starts_with("`chain[1]`: truncated DER ("), "{msg}");
    let msg = err_text(parse(b"hello world, not a certificate", None, &[], None));
    assert!(msg.contains("neither PEM nor DER"), "{msg}");
    let key_in_chain = err_text(parse(
        p.leaf.cert_pem.as_bytes(),
        None,
        &[p.leaf.key_pem.as_bytes()],
        None,
    ));
    assert!(
        key_in_chain
            .starts_with("PEM block 1 in `chain[0]` is a PRIVATE KEY, expected CERTIFICATE"),
        "{key_in_chain}"
    );
    let der_key = err_text(parse(&p.leaf.key_pkcs8_der, None, &[], None));
    assert!(
        der_key.contains("`certificate` is a DER private key (PKCS#8)"),
        "{der_key}"
    );
}

#[test]
fn metadata_of_a_leaf() {
    let p = pki(KeyKind::EcP384);
    let b = parse(p.leaf.cert_pem.as_bytes(), None, &[], None).unwrap();
    let i = &b.info;
    assert_eq!(i.subject, "CN=www.example.com");
    assert_eq!(i.issuer, "O=certkeep test, CN=Test Int");
    assert_eq!(i.domains, vec!["www.example.com", "example.com"]);
    assert_eq!(i.ip_addresses, vec!["192.0.2.7", "2001:db8::1"]);
    assert_eq!(i.key_algorithm, "EC");
    assert_eq!(i.key_size, Some(384));
    assert_eq!(i.key_curve.as_deref(), Some("P-384"));
    assert_eq!(i.signature_algorithm, "ecdsa-with-SHA256");
    assert!(!i.is_ca);
    assert_eq!(i.x509_version, 3);
    assert_eq!(
        i.not_after.unix_timestamp(),
        (p.now + Duration::days(90)).unix_timestamp()
    );
    assert_eq!(i.fingerprint_sha256.len(), 64);
    assert_eq!(
        i.fingerprint_sha256,
        super::super::info::sha256_hex(&p.leaf.cert_der)
    );
    assert!(!i.serial.starts_with('0') && i.serial == i.serial.to_lowercase());

    let root = cert_info(p.root.cert_der()).unwrap();
    assert!(root.is_ca);
    assert!(root.domains.is_empty(), "CN 'Test Root' is not a DNS name");
    assert_eq!(root.signature_algorithm, "ecdsa-with-SHA384");

    for (kind, alg, size, sig) in [
        (KeyKind::Rsa2048, "RSA", 2048, "ecdsa-with-SHA256"),
        (KeyKind::EcP521, "EC", 521, "ecdsa-with-SHA256"),
        (KeyKind::Ed25519, "Ed25519", 256, "ecdsa-with-SHA256"),
    ] {
        let q = pki(kind);
        let b = parse(
            q.leaf.cert_pem.as_bytes(),
            Some(q.leaf.key_pem.as_bytes()),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(b.info.key_algorithm, alg);
        assert_eq!(b.info.key_size, Some(size));
        assert_eq!(b.info.signature_algorithm, sig);
        assert_eq!(b.private_key.unwrap().algorithm(), alg);
    }
}

#[test]
fn cn_rules_for_domains_and_serial_zero() {
    let p = pki(KeyKind::EcP256);
    let now = p.now;
    let leaf = p
        .int
        .leaf(
            &LeafSpec::new("cn-only.example.org", now, now + Duration::days(1))
                .dns(["alt.example.org"])
                .serial(&[0x00]),
        )
        .unwrap();
    let i = cert_info(&leaf.cert_der).unwrap();
    assert_eq!(i.domains, vec!["alt.example.org", "cn-only.example.org"]);
    assert_eq!(i.serial, "0");
    let ip_cn = p
        .int
        .leaf(&LeafSpec::new("10.1.2.3", now, now + Duration::days(1)).dns(Vec::<String>::new()))
        .unwrap();
    let i = cert_info(&ip_cn.cert_der).unwrap();
    assert!(i.domains.is_empty());
    assert_eq!(i.ip_addresses, vec!["10.1.2.3"]);
}

#[test]
fn keys_normalise_and_reload() {
    for kind in [
        KeyKind::Rsa2048,
        KeyKind::EcP256,
        KeyKind::EcP384,
        KeyKind::EcP521,
        KeyKind::Ed25519,
    ] {
        let p = pki(kind);
        let b = parse(
            p.leaf.cert_pem.as_bytes(),
            Some(&p.leaf.key_pkcs8_der),
            &[],
            None,
        )
        .unwrap();
        let key = b.private_key.unwrap();
        let again = private_key_from_pkcs8(key.pkcs8_der()).unwrap();
        assert_eq!(again.pkcs8_der(), key.pkcs8_der());
        assert_eq!(again.algorithm(), key.algorithm());
        assert!(again.matches_certificate(&p.leaf.cert_der));
        assert_eq!(
            Some(key.public_key_spki_der()),
            super::super::key::aws_lc_spki(&key),
            "{kind:?}"
        );
        // Debug never shows key bytes.
        assert!(!format!("{key:?}").contains("pkcs8"));
    }
}

#[test]
fn encrypted_pkcs8_from_testkit() {
    let p = pki(KeyKind::EcP256);
    let enc = certkeep_testkit::encrypted_pkcs8_pem(&p.leaf.key_pkcs8_der, "s3cret").unwrap();
    let b = parse(
        p.leaf.cert_pem.as_bytes(),
        Some(enc.as_bytes()),
        &[],
        Some("s3cret"),
    )
    .unwrap();
    assert!(b.private_key.is_some());
    let r = parse(p.leaf.cert_pem.as_bytes(), Some(enc.as_bytes()), &[], None);
    assert!(matches!(r, Err(PkiError::PasswordRequired(_))));
    assert_eq!(
        err_text(r),
        "the private key is encrypted: give its password"
    );
    let r = parse(
        p.leaf.cert_pem.as_bytes(),
        Some(enc.as_bytes()),
        &[],
        Some("nope"),
    );
    assert!(matches!(r, Err(PkiError::WrongPassword(_))));
    assert_eq!(err_text(r), "wrong password for the encrypted private key");
}

#[test]
fn pem_encoding_shape() {
    let der: Vec<u8> = (0..100u8).collect();
    let pem = pem_encode("CERTIFICATE", &der);
    let lines: Vec<&str> = pem.lines().collect();
    assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
    assert_eq!(lines[1].len(), 64);
    assert_eq!(*lines.last().unwrap(), "-----END CERTIFICATE-----");
    assert!(pem.ends_with("-----\n"));
}

#[test]
fn pkcs12_round_trip_through_our_reader() {
    let p = pki(KeyKind::EcP256);
    let b = parse(
        p.leaf.cert_pem.as_bytes(),
        Some(p.leaf.key_pem.as_bytes()),
        &[p.int.cert_der()],
        None,
    )
    .unwrap();
    let key = b.private_key.as_ref().unwrap();
    let p12 = export_pkcs12(
        &b.leaf_der,
        &b.chain_der,
        Some(key),
        "pw",
        "www.example.com",
    )
    .unwrap();
    let back = parse(&p12, None, &[], Some("pw")).unwrap();
    assert_eq!(back.leaf_der, b.leaf_der);
    assert_eq!(back.chain_der, b.chain_der);
    assert_eq!(back.private_key.unwrap().pkcs8_der(), key.pkcs8_der());
    let r = parse(&p12, None, &[], Some("wrong"));
    assert_eq!(
        err_text(r),
        "`certificate`: wrong password for the PKCS#12 file or corrupted file"
    );
    let r = parse(&p12, None, &[], None);
    assert!(matches!(r, Err(PkiError::PasswordRequired(_))));

    // Without a key, and from the testkit generator.
    let certs_only = export_pkcs12(&b.leaf_der, &b.chain_der, None, "", "x").unwrap();
    let back = parse(&certs_only, None, &[], None).unwrap();
    assert_eq!(back.leaf_der, b.leaf_der);
    let tk =
        certkeep_testkit::pkcs12(&p.leaf, &[p.int.cert_der(), p.root.cert_der()], "pw").unwrap();
    let back = parse(&tk, None, &[], Some("pw")).unwrap();
    assert_eq!(back.chain_der.len(), 2);
    assert!(back.chain_complete);
}

/// BER re-encoding of a DER tree: constructed elements get indefinite lengths and OCTET
/// STRINGs become chunked, without touching what OCTET STRINGs contain (so MACs still hold).
fn to_ber(der: &[u8]) -> Vec<u8> {
    use super::super::der;
    let (t, _) = der::read(der).unwrap();
    if t.tag == der::OCTET_STRING && t.value.len() > 8 {
        let mut out = vec![0x24, 0x80];
        for chunk in t.value.chunks(7) {
            out.extend(der::tlv(der::OCTET_STRING, chunk));
        }
        out.extend([0, 0]);
        return out;
    }
    if t.tag & 0x20 == 0 {
        return t.raw.to_vec();
    }
    let mut out = vec![t.tag, 0x80];
    let mut r = t.reader();
    while let Ok(child) = r.next() {
        out.extend(to_ber(child.raw));
    }
    out.extend([0, 0]);
    out
}

#[test]
fn ber_encoded_pkcs12() {
    let p = pki(KeyKind::EcP256);
    let p12 = certkeep_testkit::pkcs12(&p.leaf, &[p.int.cert_der()], "pw").unwrap();
    let ber = to_ber(&p12);
    assert_ne!(ber, p12);
    assert_eq!(&ber[..2], &[0x30, 0x80]);
    let b = parse(&ber, None, &[], Some("pw")).unwrap();
    assert_eq!(b.leaf_der, p.leaf.cert_der);
    assert_eq!(b.chain_der.len(), 1);
    assert!(b.private_key.is_some());
    assert!(matches!(
        parse(&ber, None, &[], Some("nope")),
        Err(PkiError::WrongPassword(_))
    ));
}
