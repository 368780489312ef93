//! Unencrypted private keys: PKCS#8, PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`),
//! normalised to unencrypted PKCS#8 v1 and checked by aws-lc-rs; the public half derived from
//! the private key, for matching against a certificate's SubjectPublicKeyInfo.

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use num_bigint::BigUint;
use zeroize::Zeroizing;

use super::der;
use super::{PkiError, PrivateKey};

pub(crate) mod oids {
    //! OID content bytes (without tag and length).
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    pub const ED448: &[u8] = &[0x2b, 0x65, 0x71];
    pub const X25519: &[u8] = &[0x2b, 0x65, 0x6e];
    pub const X448: &[u8] = &[0x2b, 0x65, 0x6f];
    pub const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
}

/// The NIST curves aws-lc-rs signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P256 => oids::P256,
            Curve::P384 => oids::P384,
            Curve::P521 => oids::P521,
        }
    }

    /// Length of a private scalar / coordinate in bytes.
    fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    pub fn bits(self) -> u32 {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            Curve::P521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        }
    }

    fn from_oid(oid: &[u8]) -> Option<Curve> {
        match oid {
            oids::P256 => Some(Curve::P256),
            oids::P384 => Some(Curve::P384),
            oids::P521 => Some(Curve::P521),
            _ => None,
        }
    }

    /// Identifies explicit (specifiedCurve) parameters by their field prime.
    fn from_prime(p: &[u8]) -> Option<Curve> {
        const P256_P: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff,
        ];
        let p = der::unsigned(p);
        if p == P256_P {
            return Some(Curve::P256);
        }
        // P-384: 2^384 - 2^128 - 2^96 + 2^32 - 1
        let p384: Vec<u8> = [0xffu8; 31]
            .iter()
            .copied()
            .chain([0xfe])
            .chain([0xff; 4])
            .chain([0x00; 8])
            .chain([0xff; 4])
            .collect();
        if p == p384.as_slice() {
            return Some(Curve::P384);
        }
        // P-521: 2^521 - 1
        if p.len() == 66 && p[0] == 0x01 && p[1..].iter().all(|b| *b == 0xff) {
            return Some(Curve::P521);
        }
        None
    }
}

/// The public half of a supported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicMaterial {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

impl PublicMaterial {
    /// "RSA 2048 bits", "EC P-256", "Ed25519".
    pub fn describe(&self) -> String {
        match self {
            PublicMaterial::Rsa { n, .. } => format!("RSA {} bits", der::bit_len(n)),
            PublicMaterial::Ec { curve, .. } => format!("EC {}", curve.name()),
            PublicMaterial::Ed25519(_) => "Ed25519".to_string(),
        }
    }

    pub fn bits(&self) -> u32 {
        match self {
            PublicMaterial::Rsa { n, .. } => der::bit_len(n),
            PublicMaterial::Ec { curve, .. } => curve.bits(),
            PublicMaterial::Ed25519(_) => 256,
        }
    }

    /// The SubjectPublicKeyInfo DER this public key has in a certificate.
    pub fn spki_der(&self) -> Vec<u8> {
        let (alg, key) = match self {
            PublicMaterial::Rsa { n, e } => {
                let rsa_pub = der::constructed(der::SEQUENCE, &[&der::uint(n), &der::uint(e)]);
                let alg = der::constructed(
                    der::SEQUENCE,
                    &[
                        &der::tlv(der::OID, oids::RSA_ENCRYPTION),
                        &der::tlv(der::NULL, &[]),
                    ],
                );
                (alg, rsa_pub)
            }
            PublicMaterial::Ec { curve, point } => {
                let alg = der::constructed(
                    der::SEQUENCE,
                    &[
                        &der::tlv(der::OID, oids::EC_PUBLIC_KEY),
                        &der::tlv(der::OID, curve.oid()),
                    ],
                );
                (alg, point.clone())
            }
            PublicMaterial::Ed25519(pk) => {
                let alg = der::constructed(der::SEQUENCE, &[&der::tlv(der::OID, oids::ED25519)]);
                (alg, pk.clone())
            }
        };
        let mut bits = Vec::with_capacity(key.len() + 1);
        bits.push(0);
        bits.extend_from_slice(&key);
        der::constructed(der::SEQUENCE, &[&alg, &der::tlv(der::BIT_STRING, &bits)])
    }

    /// Whether a certificate's SubjectPublicKeyInfo (DER) carries this public key.
    pub fn matches_spki(&self, spki_der: &[u8]) -> bool {
        let Some(view) = SpkiView::parse(spki_der) else {
            return false;
        };
        match self {
            PublicMaterial::Rsa { n, e } => {
                if view.alg_oid != oids::RSA_ENCRYPTION {
                    return false;
                }
                let Some((cn, ce)) = rsa_public_numbers(view.key) else {
                    return false;
                };
                der::unsigned(cn) == der::unsigned(n) && der::unsigned(ce) == der::unsigned(e)
            }
            PublicMaterial::Ec { curve, point } => {
                if view.alg_oid != oids::EC_PUBLIC_KEY {
                    return false;
                }
                let cert_curve = view
                    .params
                    .and_then(|p| curve_from_params(p).ok().flatten());
                if cert_curve != Some(*curve) {
                    return false;
                }
                ec_points_equal(view.key, point, curve.field_len())
            }
            PublicMaterial::Ed25519(pk) => {
                view.alg_oid == oids::ED25519 && view.key == pk.as_slice()
            }
        }
    }
}

/// An uncompressed point from the key against the certificate's point in any SEC1 form.
fn ec_points_equal(cert_point: &[u8], key_point: &[u8], field_len: usize) -> bool {
    if key_point.len() != 1 + 2 * field_len || key_point[0] != 0x04 {
        return cert_point == key_point;
    }
    let (kx, ky) = key_point[1..].split_at(field_len);
    match cert_point.first() {
        Some(0x04) => cert_point == key_point,
        Some(0x02 | 0x03) => {
            cert_point.len() == 1 + field_len
                && &cert_point[1..] == kx
                && ky.last().map(|b| b & 1) == Some(cert_point[0] & 1)
        }
        Some(0x06 | 0x07) => {
            cert_point.len() == key_point.len() && cert_point[1..] == key_point[1..]
        }
        _ => false,
    }
}

/// The parts of a SubjectPublicKeyInfo: algorithm OID, parameters element, key bits.
pub(crate) struct SpkiView<'a> {
    pub alg_oid: &'a [u8],
    pub params: Option<der::Tlv<'a>>,
    pub key: &'a [u8],
}

impl<'a> SpkiView<'a> {
    pub fn parse(spki: &'a [u8]) -> Option<SpkiView<'a>> {
        let (seq, _) = der::read(spki).ok()?;
        let mut r = seq.reader();
        let alg = r.expect(der::SEQUENCE)?;
        let mut ar = alg.reader();
        let oid = ar.expect(der::OID)?;
        let params = if ar.is_empty() { None } else { ar.next().ok() };
        let bits = r.expect(der::BIT_STRING)?;
        let key = bits.value.get(1..)?;
        Some(SpkiView {
            alg_oid: oid.value,
            params,
            key,
        })
    }
}

/// (n, e) of an RSAPublicKey.
pub(crate) fn rsa_public_numbers(rsa_public_key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, _) = der::read(rsa_public_key).ok()?;
    let mut r = seq.reader();
    let n = r.expect(der::INTEGER)?;
    let e = r.expect(der::INTEGER)?;
    Some((n.value, e.value))
}

/// The curve named by EC domain parameters: `Ok(None)` for implicitCA / absent, an error for a
/// named or explicit curve that is not P-256/P-384/P-521 (the error names it).
pub(crate) fn curve_from_params(params: der::Tlv<'_>) -> Result<Option<Curve>, String> {
    match params.tag {
        der::OID => Curve::from_oid(params.value)
            .map(Some)
            .ok_or_else(|| curve_name(params.value)),
        der::SEQUENCE => {
            // specifiedCurve: SEQUENCE { version, fieldID SEQUENCE { fieldType, prime }, ... }
            let mut r = params.reader();
            let _version = r.expect(der::INTEGER);
            let prime = r
                .expect(der::SEQUENCE)
                .and_then(|field| {
                    let mut fr = field.reader();
                    fr.expect(der::OID)?;
                    fr.expect(der::INTEGER)
                })
                .ok_or_else(|| "explicit curve parameters (unreadable)".to_string())?;
            Curve::from_prime(prime.value)
                .map(Some)
                .ok_or_else(|| "explicit curve parameters of an unknown curve".to_string())
        }
        der::NULL => Ok(None),
        _ => Err("unreadable curve parameters".to_string()),
    }
}

/// Names of well-known curves by OID content (OpenSSL short names).
pub(crate) fn curve_name(oid: &[u8]) -> String {
    let dotted = der::oid_to_string(oid);
    let name = match dotted.as_str() {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.36.3.3.2.8.1.1.1" => "brainpoolP160r1",
        "1.3.36.3.3.2.8.1.1.3" => "brainpoolP192r1",
        "1.3.36.3.3.2.8.1.1.5" => "brainpoolP224r1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.9" => "brainpoolP320r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        "1.2.156.10197.1.301" => "SM2",
        _ => return dotted,
    };
    name.to_string()
}

/// Bit size of well-known curves by OID content.
pub(crate) fn curve_bits(oid: &[u8]) -> Option<u32> {
    Some(match der::oid_to_string(oid).as_str() {
        "1.2.840.10045.3.1.7" | "1.3.132.0.10" | "1.3.36.3.3.2.8.1.1.7" | "1.2.156.10197.1.301" => {
            256
        }
        "1.3.132.0.34" | "1.3.36.3.3.2.8.1.1.11" => 384,
        "1.3.132.0.35" => 521,
        "1.3.132.0.33" | "1.3.36.3.3.2.8.1.1.5" => 224,
        "1.2.840.10045.3.1.1" | "1.3.36.3.3.2.8.1.1.3" => 192,
        "1.3.36.3.3.2.8.1.1.1" => 160,
        "1.3.36.3.3.2.8.1.1.9" => 320,
        "1.3.36.3.3.2.8.1.1.13" => 512,
        _ => return None,
    })
}

/// Human name of a public-key algorithm OID (for "not supported" messages).
pub(crate) fn algorithm_name(oid: &[u8]) -> String {
    match oid {
        oids::RSA_ENCRYPTION => "RSA".into(),
        oids::RSASSA_PSS => "RSA-PSS".into(),
        oids::EC_PUBLIC_KEY => "EC".into(),
        oids::ED25519 => "Ed25519".into(),
        oids::ED448 => "Ed448".into(),
        oids::X25519 => "X25519".into(),
        oids::X448 => "X448".into(),
        oids::DSA => "DSA".into(),
        _ => match der::oid_to_string(oid).as_str() {
            "1.2.840.113549.1.3.1" => "DH".into(),
            "1.2.840.10046.2.1" => "X9.42 DH".into(),
            "1.2.156.10197.1.301" => "SM2".into(),
            "2.16.840.1.101.3.4.3.17" => "ML-DSA-44".into(),
            "2.16.840.1.101.3.4.3.18" => "ML-DSA-65".into(),
            "2.16.840.1.101.3.4.3.19" => "ML-DSA-87".into(),
            other => other.to_string(),
        },
    }
}

pub(crate) fn unsupported(kind: &str) -> PkiError {
    PkiError::UnsupportedKey(format!(
        "private key type {kind} is not supported (supported: RSA, EC P-256/P-384/P-521, Ed25519); \
         import the certificate without its key"
    ))
}

fn invalid(msg: impl Into<String>) -> PkiError {
    PkiError::Invalid(msg.into())
}

/// How the DER bytes of an unencrypted key are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFormat {
    Pkcs8,
    Pkcs1,
    Sec1,
}

/// Loads an unencrypted key of a known format. `origin` names it in errors.
pub(crate) fn load(der: &[u8], format: KeyFormat, origin: &str) -> Result<PrivateKey, PkiError> {
    match format {
        KeyFormat::Pkcs8 => from_pkcs8(der, origin),
        KeyFormat::Pkcs1 => from_pkcs1(der, origin),
        KeyFormat::Sec1 => from_sec1(der, None, origin),
    }
}

/// PKCS#8 PrivateKeyInfo / OneAsymmetricKey.
pub(crate) fn from_pkcs8(der: &[u8], origin: &str) -> Result<PrivateKey, PkiError> {
    let bad = |what: &str| invalid(format!("{origin}: not a valid PKCS#8 private key ({what})"));
    let (seq, _) = der::read(der).map_err(|e| bad(&e.to_string()))?;
    if !seq.is(der::SEQUENCE) {
        return Err(bad("not a SEQUENCE"));
    }
    let mut r = seq.reader();
    r.expect(der::INTEGER).ok_or_else(|| bad("no version"))?;
    let alg = r
        .expect(der::SEQUENCE)
        .ok_or_else(|| bad("no algorithm identifier"))?;
    let key = r
        .expect(der::OCTET_STRING)
        .ok_or_else(|| bad("no private key octets"))?;
    let mut ar = alg.reader();
    let oid = ar.expect(der::OID).ok_or_else(|| bad("no algorithm OID"))?;
    let params = if ar.is_empty() { None } else { ar.next().ok() };
    match oid.value {
        oids::RSA_ENCRYPTION => from_pkcs1(key.value, origin),
        oids::EC_PUBLIC_KEY => {
            let curve = match params {
                Some(p) => {
                    curve_from_params(p).map_err(|name| unsupported(&format!("EC {name}")))?
                }
                None => None,
            };
            from_sec1(key.value, curve, origin)
        }
        oids::ED25519 => {
            // The octets hold a CurvePrivateKey ::= OCTET STRING (32 bytes).
            let (inner, _) = der::read(key.value).map_err(|e| bad(&e.to_string()))?;
            if !inner.is(der::OCTET_STRING) || inner.value.len() != 32 {
                return Err(bad("Ed25519 seed is not 32 bytes"));
            }
            // Skip the optional [0] attributes; the [1] public key of v2 is checked below.
            let _attributes = r.optional(der::CTX0).ok().flatten();
            let embedded_public = r
                .next()
                .ok()
                .filter(|t| t.tag == 0x81 || t.tag == der::CTX1);
            from_ed25519_seed(inner.value, embedded_public.map(|t| t.value), origin)
        }
        other => Err(unsupported(&algorithm_name(other))),
    }
}

fn from_ed25519_seed(
    seed: &[u8],
    embedded_public: Option<&[u8]>,
    origin: &str,
) -> Result<PrivateKey, PkiError> {
    let inner = der::tlv(der::OCTET_STRING, seed);
    let pkcs8 = Zeroizing::new(der::constructed(
        der::SEQUENCE,
        &[
            &der::uint(&[0]),
            &der::constructed(der::SEQUENCE, &[&der::tlv(der::OID, oids::ED25519)]),
            &der::tlv(der::OCTET_STRING, &inner),
        ],
    ));
    let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|e| {
        invalid(format!(
            "{origin}: the Ed25519 private key is invalid ({e})"
        ))
    })?;
    let public = kp.public_key().as_ref().to_vec();
    if let Some(embedded) = embedded_public {
        // [1] IMPLICIT BIT STRING (first octet: unused bits) or an explicit BIT STRING.
        let matches = embedded.get(1..) == Some(public.as_slice())
            || der::read(embedded)
                .ok()
                .and_then(|(t, _)| t.value.get(1..).map(|k| k == public.as_slice()))
                .unwrap_or(false);
        if !matches {
            return Err(invalid(format!(
                "{origin}: the Ed25519 private key is inconsistent (its embedded public key does not belong to it)"
            )));
        }
    }
    Ok(PrivateKey {
        pkcs8_der: pkcs8,
        algorithm: "Ed25519",
        public: PublicMaterial::Ed25519(public),
    })
}

/// The smallest RSA modulus accepted. Smaller keys (e.g. 512 bits) are refused: they are
/// factorable and no client should be served with them.
pub(crate) const RSA_MIN_BITS: u32 = 1024;
const RSA_MAX_BITS: u32 = 16384;

/// PKCS#1 RSAPrivateKey.
pub(crate) fn from_pkcs1(der: &[u8], origin: &str) -> Result<PrivateKey, PkiError> {
    let bad = |what: &str| invalid(format!("{origin}: not a valid RSA private key ({what})"));
    let (seq, _) = der::read(der).map_err(|e| bad(&e.to_string()))?;
    if !seq.is(der::SEQUENCE) {
        return Err(bad("not a SEQUENCE"));
    }
    let mut r = seq.reader();
    let mut ints: Vec<&[u8]> = Vec::with_capacity(9);
    while let Some(t) = r.expect(der::INTEGER) {
        ints.push(t.value);
        if ints.len() == 9 {
            break;
        }
    }
    if ints.len() < 9 {
        return Err(bad(&format!("{} of 9 integers", ints.len())));
    }
    if ints[0] != [0] {
        return Err(unsupported("multi-prime RSA"));
    }
    let (n, e) = (ints[1], ints[2]);
    let bits = der::bit_len(n);
    if bits < RSA_MIN_BITS {
        return Err(PkiError::UnsupportedKey(format!(
            "{origin}: the RSA private key has only {bits} bits; keys under {RSA_MIN_BITS} bits are refused"
        )));
    }
    if bits > RSA_MAX_BITS {
        return Err(PkiError::UnsupportedKey(format!(
            "{origin}: the RSA private key has {bits} bits; keys over {RSA_MAX_BITS} bits are refused"
        )));
    }
    let raw = seq.raw;
    if (2048..=8192).contains(&bits) {
        // aws-lc's RSA_check_key: n = p*q, d*e = 1 mod (p-1)(q-1), CRT values.
        aws_lc_rs::rsa::KeyPair::from_der(raw).map_err(|e| {
            invalid(format!(
                "{origin}: the RSA private key is invalid ({e}): its components are inconsistent"
            ))
        })?;
    } else {
        // aws-lc-rs only loads 2048..=8192-bit keys; check the same relations here.
        check_rsa_components(&ints).map_err(|what| {
            invalid(format!("{origin}: the RSA private key is invalid ({what})"))
        })?;
    }
    let pkcs8 = Zeroizing::new(der::constructed(
        der::SEQUENCE,
        &[
            &der::uint(&[0]),
            &der::constructed(
                der::SEQUENCE,
                &[
                    &der::tlv(der::OID, oids::RSA_ENCRYPTION),
                    &der::tlv(der::NULL, &[]),
                ],
            ),
            &der::tlv(der::OCTET_STRING, raw),
        ],
    ));
    Ok(PrivateKey {
        pkcs8_der: pkcs8,
        algorithm: "RSA",
        public: PublicMaterial::Rsa {
            n: der::unsigned(n).to_vec(),
            e: der::unsigned(e).to_vec(),
        },
    })
}

fn check_rsa_components(ints: &[&[u8]]) -> Result<(), &'static str> {
    let big = |b: &[u8]| BigUint::from_bytes_be(b);
    let [_, n, e, d, p, q, dp, dq, qinv] = ints else {
        return Err("missing components");
    };
    let (n, e, d, p, q) = (big(n), big(e), big(d), big(p), big(q));
    let (dp, dq, qinv) = (big(dp), big(dq), big(qinv));
    let one = BigUint::from(1u8);
    if p <= one || q <= one || &p * &q != n {
        return Err("n is not p*q");
    }
    let (p1, q1) = (&p - &one, &q - &one);
    let ed = &e * &d;
    if &ed % &p1 != one || &ed % &q1 != one {
        return Err("d is not the inverse of e");
    }
    if &d % &p1 != dp || &d % &q1 != dq || (&qinv * &q) % &p != one {
        return Err("CRT values do not match");
    }
    Ok(())
}

/// SEC1 ECPrivateKey. `outer_curve` comes from a PKCS#8 wrapper when there is one.
pub(crate) fn from_sec1(
    der: &[u8],
    outer_curve: Option<Curve>,
    origin: &str,
) -> Result<PrivateKey, PkiError> {
    let bad = |what: &str| invalid(format!("{origin}: not a valid EC private key ({what})"));
    let (seq, _) = der::read(der).map_err(|e| bad(&e.to_string()))?;
    if !seq.is(der::SEQUENCE) {
        return Err(bad("not a SEQUENCE"));
    }
    let mut r = seq.reader();
    let version = r.expect(der::INTEGER).ok_or_else(|| bad("no version"))?;
    if version.value != [1] {
        return Err(bad("version is not 1"));
    }
    let scalar = r
        .expect(der::OCTET_STRING)
        .ok_or_else(|| bad("no private scalar"))?;
    let mut inner_curve = None;
    let mut public_bits: Option<&[u8]> = None;
    while !r.is_empty() {
        let t = r.next().map_err(|e| bad(&e.to_string()))?;
        match t.tag {
            der::CTX0 => {
                let (params, _) = der::read(t.value).map_err(|e| bad(&e.to_string()))?;
                inner_curve =
                    curve_from_params(params).map_err(|name| unsupported(&format!("EC {name}")))?;
            }
            der::CTX1 => {
                let (bits, _) = der::read(t.value).map_err(|e| bad(&e.to_string()))?;
                public_bits = bits.value.get(1..);
            }
            _ => {}
        }
    }
    let curve = match (outer_curve, inner_curve) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad(&format!(
                "its parameters name {} but its wrapper names {}",
                b.name(),
                a.name()
            )));
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => match der::unsigned(scalar.value).len() {
            // No parameters anywhere: infer the curve from the scalar length.
            0..=32 => Curve::P256,
            33..=48 => Curve::P384,
            49..=66 => Curve::P521,
            _ => return Err(bad("private scalar too long for P-256/P-384/P-521")),
        },
    };
    let field_len = curve.field_len();
    let mag = der::unsigned(scalar.value);
    if mag.is_empty() || mag.len() > field_len {
        return Err(bad(&format!(
            "private scalar does not fit {}",
            curve.name()
        )));
    }
    let mut padded = Zeroizing::new(vec![0u8; field_len]);
    padded[field_len - mag.len()..].copy_from_slice(mag);
    let mut sec1_children: Vec<Vec<u8>> =
        vec![der::uint(&[1]), der::tlv(der::OCTET_STRING, &padded)];
    if let Some(pub_bits) = public_bits {
        let mut bits = Vec::with_capacity(pub_bits.len() + 1);
        bits.push(0);
        bits.extend_from_slice(pub_bits);
        sec1_children.push(der::tlv(der::CTX1, &der::tlv(der::BIT_STRING, &bits)));
    }
    let child_refs: Vec<&[u8]> = sec1_children.iter().map(Vec::as_slice).collect();
    let sec1 = Zeroizing::new(der::constructed(der::SEQUENCE, &child_refs));
    sec1_children.iter_mut().for_each(zeroize::Zeroize::zeroize);
    let pkcs8_in = Zeroizing::new(der::constructed(
        der::SEQUENCE,
        &[
            &der::uint(&[0]),
            &der::constructed(
                der::SEQUENCE,
                &[
                    &der::tlv(der::OID, oids::EC_PUBLIC_KEY),
                    &der::tlv(der::OID, curve.oid()),
                ],
            ),
            &der::tlv(der::OCTET_STRING, &sec1),
        ],
    ));
    // aws-lc computes the public point, or checks the embedded one against the scalar.
    let kp = EcdsaKeyPair::from_pkcs8(curve.signing(), &pkcs8_in).map_err(|e| {
        invalid(format!(
            "{origin}: the EC {} private key is invalid ({e})",
            curve.name()
        ))
    })?;
    let point = kp.public_key().as_ref().to_vec();
    // One canonical form whatever the input held: scalar padded to the field size, no
    // inner parameters, the public point included.
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(&point);
    let canonical_sec1 = Zeroizing::new(der::constructed(
        der::SEQUENCE,
        &[
            &der::uint(&[1]),
            &der::tlv(der::OCTET_STRING, &padded),
            &der::tlv(der::CTX1, &der::tlv(der::BIT_STRING, &bits)),
        ],
    ));
    let canonical = der::constructed(
        der::SEQUENCE,
        &[
            &der::uint(&[0]),
            &der::constructed(
                der::SEQUENCE,
                &[
                    &der::tlv(der::OID, oids::EC_PUBLIC_KEY),
                    &der::tlv(der::OID, curve.oid()),
                ],
            ),
            &der::tlv(der::OCTET_STRING, &canonical_sec1),
        ],
    );
    Ok(PrivateKey {
        pkcs8_der: Zeroizing::new(canonical),
        algorithm: "EC",
        public: PublicMaterial::Ec { curve, point },
    })
}

/// The SPKI DER of a key, from aws-lc-rs (used by tests to cross-check `spki_der`).
#[cfg(test)]
pub(crate) fn aws_lc_spki(key: &PrivateKey) -> Option<Vec<u8>> {
    use aws_lc_rs::encoding::AsDer as _;
    match key.public {
        PublicMaterial::Ec { curve, .. } => {
            let kp = EcdsaKeyPair::from_pkcs8(curve.signing(), key.pkcs8_der()).ok()?;
            Some(kp.public_key().as_der().ok()?.as_ref().to_vec())
        }
        PublicMaterial::Ed25519(_) => {
            let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.pkcs8_der()).ok()?;
            Some(kp.public_key().as_der().ok()?.as_ref().to_vec())
        }
        PublicMaterial::Rsa { .. } => {
            let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(key.pkcs8_der()).ok()?;
            Some(kp.public_key().as_der().ok()?.as_ref().to_vec())
        }
    }
}
