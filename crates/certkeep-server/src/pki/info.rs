//! Certificate metadata (`CertInfo`) from x509-parser's view of a certificate, written so that
//! no input can make it fail once the certificate itself parsed: odd name encodings are
//! printed best effort, unknown algorithms as dotted OIDs, broken extensions are skipped.
//!
//! `domains` holds the DNS subjectAltNames in order, then the subject CN when it is a plausible
//! DNS name or wildcard (e.g. `example.com`, `*.example.com`, `localhost`) and not already
//! listed: a CN such as "My Root CA" is a label, not a name to monitor. A CN that is an IP
//! address goes to `ip_addresses` instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aws_lc_rs::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid_registry, oid2abbrev};
use x509_parser::x509::X509Name;

use super::CertInfo;
use super::der;
use super::key::{self, SpkiView, oids};

/// Subject or issuer as text: `C=US, O=Example, CN=example.com` (x509-parser's layout).
pub(crate) fn name_to_string(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push_str(" + ");
            }
            let oid = atv.attr_type();
            match oid2abbrev(oid, oid_registry()) {
                Ok(abbrev) => out.push_str(abbrev),
                Err(_) => out.push_str(&oid.to_id_string()),
            }
            out.push('=');
            out.push_str(&attribute_value(atv.attr_value()));
        }
    }
    out
}

/// Best-effort text of a directory string of any encoding.
pub(crate) fn attribute_value(value: &Any<'_>) -> String {
    let data = value.data;
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString
        | Tag::GeneralString
        | Tag::GraphicString
        | Tag::VideotexString
        | Tag::T61String => match std::str::from_utf8(data) {
            Ok(s) => s.to_string(),
            // T.61 / Teletex in the wild is mostly Latin-1.
            Err(_) => data.iter().map(|b| char::from(*b)).collect(),
        },
        Tag::BmpString => {
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Tag::UniversalString => data
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => format!("#{}", hex::encode(data)),
    }
}

/// The first value of the subject's CN, as text.
fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .map(|atv| attribute_value(atv.attr_value()))
}

/// Lowercase hex of the serial's raw bytes without leading zeros ("0" for zero).
pub(crate) fn serial_hex(raw: &[u8]) -> String {
    let hex = hex::encode(raw);
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

pub(crate) fn sha256_hex(der: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, der).as_ref())
}

/// A CN worth monitoring as a domain: LDH labels (underscores tolerated), at least two labels
/// or `localhost`, an optional leading `*.` wildcard, not an IP address.
pub(crate) fn plausible_dns_name(cn: &str) -> bool {
    let name = cn.strip_suffix('.').unwrap_or(cn);
    if name.is_empty() || name.len() > 253 || name.parse::<IpAddr>().is_ok() {
        return false;
    }
    let body = name.strip_prefix("*.").unwrap_or(name);
    if body.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let labels: Vec<&str> = body.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    // A top-level label is never all digits.
    labels_ok
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

fn ip_to_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Ipv6Addr::from(a).to_string()
        }
        _ => format!("#{}", hex::encode(bytes)),
    }
}

/// (key_algorithm, key_size, key_curve) of a SubjectPublicKeyInfo.
pub(crate) fn key_facts(spki_der: &[u8]) -> (String, Option<u32>, Option<String>) {
    let Some(view) = SpkiView::parse(spki_der) else {
        return ("unknown".into(), None, None);
    };
    match view.alg_oid {
        oids::RSA_ENCRYPTION | oids::RSASSA_PSS => {
            let name = if view.alg_oid == oids::RSA_ENCRYPTION {
                "RSA"
            } else {
                "RSA-PSS"
            };
            let bits = key::rsa_public_numbers(view.key).map(|(n, _)| der::bit_len(n));
            (name.into(), bits, None)
        }
        oids::EC_PUBLIC_KEY => {
            let (curve, bits) = match view.params {
                Some(p) if p.is(der::OID) => {
                    (Some(key::curve_name(p.value)), key::curve_bits(p.value))
                }
                Some(p) => match key::curve_from_params(p) {
                    Ok(Some(c)) => (Some(c.name().to_string()), Some(c.bits())),
                    _ => (None, None),
                },
                None => (None, None),
            };
            // Unknown curve: the size of an uncompressed point's coordinates.
            let bits = bits.or_else(|| {
                (view.key.first() == Some(&0x04) && view.key.len() > 1)
                    .then(|| u32::try_from((view.key.len() - 1) / 2 * 8).ok())
                    .flatten()
            });
            ("EC".into(), bits, curve)
        }
        oids::ED25519 => ("Ed25519".into(), Some(256), None),
        oids::ED448 => ("Ed448".into(), Some(456), None),
        oids::X25519 => ("X25519".into(), Some(253), None),
        oids::X448 => ("X448".into(), Some(448), None),
        oids::DSA => {
            let bits = view
                .params
                .filter(|p| p.is(der::SEQUENCE))
                .and_then(|p| p.reader().expect(der::INTEGER))
                .map(|p| der::bit_len(p.value));
            ("DSA".into(), bits, None)
        }
        other => (der::oid_to_string(other), None, None),
    }
}

/// "RSA 2048 bits", "EC P-256", "Ed25519" for a SubjectPublicKeyInfo (error evidence).
pub(crate) fn describe_spki(spki_der: &[u8]) -> String {
    let (alg, bits, curve) = key_facts(spki_der);
    match (curve, bits) {
        (Some(c), _) => format!("{alg} {c}"),
        (None, Some(b)) if alg.starts_with("RSA") || alg == "DSA" => format!("{alg} {b} bits"),
        _ => alg,
    }
}

/// OpenSSL short names of signature algorithms.
pub(crate) fn signature_algorithm_name(dotted: &str) -> String {
    let name = match dotted {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.15" => "sha512-224WithRSAEncryption",
        "1.2.840.113549.1.1.16" => "sha512-256WithRSAEncryption",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "2.16.840.1.101.3.4.3.9" => "ecdsa_with_SHA3-224",
        "2.16.840.1.101.3.4.3.10" => "ecdsa_with_SHA3-256",
        "2.16.840.1.101.3.4.3.11" => "ecdsa_with_SHA3-384",
        "2.16.840.1.101.3.4.3.12" => "ecdsa_with_SHA3-512",
        "2.16.840.1.101.3.4.3.13" => "RSA-SHA3-224",
        "2.16.840.1.101.3.4.3.14" => "RSA-SHA3-256",
        "2.16.840.1.101.3.4.3.15" => "RSA-SHA3-384",
        "2.16.840.1.101.3.4.3.16" => "RSA-SHA3-512",
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "2.16.840.1.101.3.4.3.3" => "dsa_with_SHA384",
        "2.16.840.1.101.3.4.3.4" => "dsa_with_SHA512",
        "1.2.156.10197.1.501" => "SM2-with-SM3",
        "1.2.643.7.1.1.3.2" => "id-tc26-signwithdigest-gost3410-2012-256",
        "1.2.643.7.1.1.3.3" => "id-tc26-signwithdigest-gost3410-2012-512",
        other => other,
    };
    name.to_string()
}

/// All of `CertInfo` for one parsed certificate; `der` is exactly its encoding.
pub(crate) fn cert_info_of(cert: &X509Certificate<'_>, der: &[u8]) -> CertInfo {
    let tbs = &cert.tbs_certificate;
    let mut domains: Vec<String> = Vec::new();
    let mut ips: Vec<String> = Vec::new();
    let mut is_ca = false;
    let mut seen_san = false;
    let mut seen_bc = false;
    for ext in tbs.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) if !seen_san => {
                seen_san = true;
                for gn in &san.general_names {
                    match gn {
                        GeneralName::DNSName(d)
                            if !domains.iter().any(|x| x.eq_ignore_ascii_case(d)) =>
                        {
                            domains.push((*d).to_string());
                        }
                        GeneralName::IPAddress(b) => {
                            let ip = ip_to_string(b);
                            if !ips.contains(&ip) {
                                ips.push(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::BasicConstraints(bc) if !seen_bc => {
                seen_bc = true;
                is_ca = bc.ca;
            }
            _ => {}
        }
    }
    if let Some(cn) = common_name(&tbs.subject) {
        let cn = cn.trim();
        if let Ok(ip) = cn.parse::<IpAddr>() {
            let ip = ip.to_string();
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        } else if plausible_dns_name(cn) && !domains.iter().any(|d| d.eq_ignore_ascii_case(cn)) {
            domains.push(cn.to_string());
        }
    }
    let (key_algorithm, key_size, key_curve) = key_facts(tbs.subject_pki.raw);
    CertInfo {
        subject: name_to_string(&tbs.subject),
        issuer: name_to_string(&tbs.issuer),
        serial: serial_hex(tbs.raw_serial()),
        domains,
        ip_addresses: ips,
        not_before: tbs.validity.not_before.to_datetime(),
        not_after: tbs.validity.not_after.to_datetime(),
        key_algorithm,
        key_size,
        key_curve,
        signature_algorithm: signature_algorithm_name(
            &cert.signature_algorithm.algorithm.to_id_string(),
        ),
        fingerprint_sha256: sha256_hex(der),
        is_ca,
        x509_version: tbs.version.0.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(serial_hex(&[0x00]), "0");
        assert_eq!(serial_hex(&[]), "0");
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x0f, 0xa0]), "fa0");
        assert_eq!(serial_hex(&[0xff, 0x01]), "ff01");
    }

    #[test]
    fn dns_plausibility() {
        for ok in [
            "example.com",
            "*.example.com",
            "a-b.c_d.example.org",
            "localhost",
            "x.io.",
        ] {
            assert!(plausible_dns_name(ok), "{ok}");
        }
        for bad in [
            "My Root CA",
            "ExampleCA",
            "10.0.0.1",
            "::1",
            "-a.com",
            "a..b",
            "",
            "a.123",
            "*",
        ] {
            assert!(!plausible_dns_name(bad), "{bad}");
        }
    }

    #[test]
    fn names_of_algorithms() {
        assert_eq!(
            signature_algorithm_name("1.2.840.113549.1.1.11"),
            "sha256WithRSAEncryption"
        );
        assert_eq!(signature_algorithm_name("1.2.3.4"), "1.2.3.4");
    }
}
