//! Turning the raw bytes of an import into certificates and private keys: format detection
//! from content (PEM, DER certificate / key / PKCS#12 / PKCS#7, bare base64, UTF-16 text),
//! with errors that name the field and block at fault.

use std::borrow::Cow;

use super::der::{self, DerError};
use super::key::{self, KeyFormat};
use super::pem_blocks::{self, PemBlock};
use super::{BundleInput, PkiError, PrivateKey, encrypted, pfx};

/// A certificate as found in the input (DER, possibly followed by trailing bytes).
pub(crate) struct CertIn {
    pub origin: String,
    pub der: Vec<u8>,
}

pub(crate) struct KeyIn {
    pub origin: String,
    pub key: PrivateKey,
}

#[derive(Default)]
pub(crate) struct Collected {
    pub certs: Vec<CertIn>,
    pub keys: Vec<KeyIn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Certificate,
    PrivateKey,
    Chain,
}

/// What a DER blob is, from its outer structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerKind {
    Certificate,
    CertRequest,
    Crl,
    Pkcs12,
    Pkcs7,
    Pkcs8,
    EncryptedPkcs8,
    Pkcs1,
    Sec1,
    DsaKey,
    PublicKey,
    Unknown,
}

impl DerKind {
    fn describe(self) -> &'static str {
        match self {
            DerKind::Certificate => "a DER certificate",
            DerKind::CertRequest => "a DER certificate signing request (CSR)",
            DerKind::Crl => "a DER certificate revocation list (CRL)",
            DerKind::Pkcs12 => "a PKCS#12 file",
            DerKind::Pkcs7 => "a PKCS#7 certificate bundle",
            DerKind::Pkcs8 => "a DER private key (PKCS#8)",
            DerKind::EncryptedPkcs8 => "a DER encrypted private key (PKCS#8)",
            DerKind::Pkcs1 => "a DER RSA private key (PKCS#1)",
            DerKind::Sec1 => "a DER EC private key (SEC1)",
            DerKind::DsaKey => "a DER DSA private key",
            DerKind::PublicKey => "a DER public key",
            DerKind::Unknown => "an unknown DER structure",
        }
    }

    fn is_key(self) -> bool {
        matches!(
            self,
            DerKind::Pkcs8
                | DerKind::EncryptedPkcs8
                | DerKind::Pkcs1
                | DerKind::Sec1
                | DerKind::DsaKey
        )
    }
}

const SIGNED_DATA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

pub(crate) fn classify(input: &[u8]) -> Result<DerKind, DerError> {
    let (top, _trailing) = der::read(input)?;
    if !top.is(der::SEQUENCE) {
        return Ok(DerKind::Unknown);
    }
    let mut r = top.reader();
    let c1 = r.next().ok();
    let c2 = r.next().ok();
    let c3 = r.next().ok();
    let tags = (c1.map(|t| t.tag), c2.map(|t| t.tag), c3.map(|t| t.tag));
    Ok(match tags {
        (Some(der::SEQUENCE), Some(der::SEQUENCE), Some(der::BIT_STRING)) => {
            let Some(tbs) = c1 else {
                return Ok(DerKind::Unknown);
            };
            let mut children = Vec::new();
            let mut tr = tbs.reader();
            while let Ok(t) = tr.next() {
                children.push(t.tag);
            }
            if children.first() == Some(&der::CTX0) {
                DerKind::Certificate
            } else if children.iter().any(|t| *t == 0x17 || *t == 0x18) {
                DerKind::Crl
            } else if children.len() == 4 && children.last() == Some(&der::CTX0) {
                DerKind::CertRequest
            } else {
                DerKind::Certificate
            }
        }
        (Some(der::INTEGER), Some(der::SEQUENCE), Some(der::OCTET_STRING)) => DerKind::Pkcs8,
        (Some(der::INTEGER), Some(der::SEQUENCE), _) if c1.is_some_and(|t| t.value == [3]) => {
            DerKind::Pkcs12
        }
        (Some(der::OID), _, _) if c1.is_some_and(|t| t.value == SIGNED_DATA_OID) => DerKind::Pkcs7,
        (Some(der::SEQUENCE), Some(der::OCTET_STRING), None) => DerKind::EncryptedPkcs8,
        (Some(der::SEQUENCE), Some(der::BIT_STRING), None) => DerKind::PublicKey,
        (Some(der::INTEGER), Some(der::OCTET_STRING), _) => DerKind::Sec1,
        (Some(der::INTEGER), Some(der::INTEGER), _) => {
            let mut count = 2 + usize::from(c3.is_some_and(|t| t.is(der::INTEGER)));
            while r.expect(der::INTEGER).is_some() {
                count += 1;
            }
            match count {
                2 => DerKind::PublicKey,
                6 => DerKind::DsaKey,
                n if n >= 9 => DerKind::Pkcs1,
                _ => DerKind::Unknown,
            }
        }
        _ => DerKind::Unknown,
    })
}

/// The certificates of a PKCS#7 SignedData (`.p7b`), in order.
fn pkcs7_certs(input: &[u8]) -> Option<Vec<&[u8]>> {
    let (top, _) = der::read(input).ok()?;
    let mut r = top.reader();
    r.expect(der::OID)?;
    let explicit = r.expect(der::CTX0)?;
    let (signed_data, _) = der::read(explicit.value).ok()?;
    let mut sr = signed_data.reader();
    sr.expect(der::INTEGER)?;
    sr.next().ok()?; // digestAlgorithms
    sr.next().ok()?; // encapContentInfo
    let mut certs = Vec::new();
    if let Some(set) = sr.expect(der::CTX0) {
        let mut cr = set.reader();
        while let Ok(t) = cr.next() {
            if t.is(der::SEQUENCE) {
                certs.push(t.raw);
            }
        }
    }
    Some(certs)
}

/// UTF-16 text (with a byte-order mark) re-encoded as UTF-8; other input unchanged.
fn normalise_text(bytes: &[u8]) -> Cow<'_, [u8]> {
    let decode = |be: bool| -> Vec<u8> {
        let units = bytes[2..].chunks_exact(2).map(|c| {
            if be {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into_bytes()
    };
    match bytes {
        [0xff, 0xfe, ..] => Cow::Owned(decode(false)),
        [0xfe, 0xff, ..] => Cow::Owned(decode(true)),
        _ => Cow::Borrowed(bytes),
    }
}

/// Base64 text without PEM armor (someone pasted only the body).
fn bare_base64(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let trimmed = bytes.trim_ascii();
    if trimmed.len() < 16
        || !trimmed.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') || b.is_ascii_whitespace()
        })
    {
        return None;
    }
    let compact: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let der = engine.decode(compact).ok()?;
    (der.first() == Some(&der::SEQUENCE)).then_some(der)
}

pub(crate) fn collect(input: &BundleInput<'_>) -> Result<Collected, PkiError> {
    let mut out = Collected::default();
    let password = input.password;
    field(
        input.certificate,
        "certificate",
        Role::Certificate,
        password,
        &mut out,
    )?;
    if out.certs.is_empty() {
        let holds = if out.keys.is_empty() {
            String::new()
        } else {
            " (it holds only a private key)".to_string()
        };
        return Err(PkiError::Invalid(format!(
            "no certificate found in `certificate`{holds}"
        )));
    }
    if let Some(key) = input.private_key {
        field(key, "private_key", Role::PrivateKey, password, &mut out)?;
    }
    for (i, item) in input.chain.iter().enumerate() {
        field(
            item,
            &format!("chain[{i}]"),
            Role::Chain,
            password,
            &mut out,
        )?;
    }
    // The same key given twice (in the bundle and as `private_key`) is one key.
    let mut unique: Vec<KeyIn> = Vec::with_capacity(out.keys.len());
    for k in out.keys {
        if !unique
            .iter()
            .any(|u| u.key.pkcs8_der() == k.key.pkcs8_der())
        {
            unique.push(k);
        }
    }
    out.keys = unique;
    Ok(out)
}

fn field(
    raw: &[u8],
    name: &str,
    role: Role,
    password: Option<&str>,
    out: &mut Collected,
) -> Result<(), PkiError> {
    let bytes = normalise_text(raw);
    if bytes.trim_ascii().is_empty() {
        return match role {
            Role::Certificate => Err(PkiError::Invalid("`certificate` is empty".into())),
            // An empty optional field means "not given".
            Role::PrivateKey | Role::Chain => Ok(()),
        };
    }
    if pem_blocks::looks_like_pem(&bytes) {
        let blocks = pem_blocks::parse(&bytes, &format!("`{name}`")).map_err(PkiError::Invalid)?;
        for block in &blocks {
            pem_block(block, name, role, password, out)?;
        }
        return Ok(());
    }
    if let Some(der) = bare_base64(&bytes) {
        return der_blob(
            &der,
            name,
            &format!("`{name}` (base64)"),
            role,
            password,
            out,
        );
    }
    der_blob(&bytes, name, &format!("`{name}`"), role, password, out)
}

fn expected(role: Role) -> &'static str {
    match role {
        Role::Certificate => "expected CERTIFICATE or a private key",
        Role::PrivateKey => "expected a private key",
        Role::Chain => "expected CERTIFICATE",
    }
}

fn pem_block(
    block: &PemBlock,
    name: &str,
    role: Role,
    password: Option<&str>,
    out: &mut Collected,
) -> Result<(), PkiError> {
    let origin = format!("PEM block {} in `{name}`", block.index);
    let label = block.label.as_str();
    match label {
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            out.certs.push(CertIn {
                origin,
                der: block.der.clone(),
            });
            Ok(())
        }
        "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => {
            let certs = pkcs7_certs(&block.der).ok_or_else(|| {
                PkiError::Invalid(format!(
                    "{origin} ({label}) is not a readable PKCS#7 bundle"
                ))
            })?;
            for (k, c) in certs.into_iter().enumerate() {
                out.certs.push(CertIn {
                    origin: format!("{origin} (PKCS#7 certificate {})", k + 1),
                    der: c.to_vec(),
                });
            }
            Ok(())
        }
        "EC PARAMETERS" => Ok(()),
        l if l.ends_with("PRIVATE KEY") => {
            if role == Role::Chain {
                return Err(PkiError::Invalid(format!(
                    "{origin} is a {label}, expected CERTIFICATE; give the key as `private_key`"
                )));
            }
            let key = pem_key(block, &origin, password)?;
            out.keys.push(KeyIn { origin, key });
            Ok(())
        }
        other => Err(PkiError::Invalid(format!(
            "{origin} is a {other}, {}",
            expected(role)
        ))),
    }
}

fn pem_key(block: &PemBlock, origin: &str, password: Option<&str>) -> Result<PrivateKey, PkiError> {
    let label = block.label.as_str();
    match label {
        "OPENSSH PRIVATE KEY" => {
            return Err(PkiError::UnsupportedKey(format!(
                "{origin} is an OpenSSH private key; convert it with `ssh-keygen -p -m PKCS8 -f FILE`"
            )));
        }
        "DSA PRIVATE KEY" => return Err(key::unsupported("DSA")),
        _ => {}
    }
    let legacy_encrypted = block
        .header("Proc-Type")
        .is_some_and(|v| v.to_ascii_uppercase().contains("ENCRYPTED"));
    let plain;
    let der: &[u8] = if legacy_encrypted {
        let dek = block.header("DEK-Info").ok_or_else(|| {
            PkiError::Invalid(format!(
                "{origin} is marked encrypted (Proc-Type) but has no DEK-Info header"
            ))
        })?;
        plain = encrypted::decrypt_legacy_pem(dek, &block.der, password, origin)?;
        &plain
    } else {
        &block.der
    };
    // The structure decides; the label only breaks ties (some tools mislabel blocks).
    let kind = classify(der).map_err(|e| PkiError::Invalid(format!("{origin}: {e}")))?;
    let fallback = match label {
        "RSA PRIVATE KEY" => Some(KeyFormat::Pkcs1),
        "EC PRIVATE KEY" => Some(KeyFormat::Sec1),
        "PRIVATE KEY" => Some(KeyFormat::Pkcs8),
        _ => None,
    };
    der_key(der, kind, fallback, origin, password)
}

fn der_key(
    der: &[u8],
    kind: DerKind,
    fallback: Option<KeyFormat>,
    origin: &str,
    password: Option<&str>,
) -> Result<PrivateKey, PkiError> {
    match kind {
        DerKind::Pkcs8 => key::load(der, KeyFormat::Pkcs8, origin),
        DerKind::Pkcs1 => key::load(der, KeyFormat::Pkcs1, origin),
        DerKind::Sec1 => key::load(der, KeyFormat::Sec1, origin),
        DerKind::EncryptedPkcs8 => {
            let plain = encrypted::decrypt_pkcs8(der, password, origin)?;
            key::from_pkcs8(&plain, origin)
        }
        DerKind::DsaKey => Err(key::unsupported("DSA")),
        other => match fallback {
            Some(format) => key::load(der, format, origin),
            None => Err(PkiError::Invalid(format!(
                "{origin} is {}, expected a private key",
                other.describe()
            ))),
        },
    }
}

fn der_blob(
    der: &[u8],
    name: &str,
    origin: &str,
    role: Role,
    password: Option<&str>,
    out: &mut Collected,
) -> Result<(), PkiError> {
    let kind = match classify(der) {
        Ok(kind) => kind,
        Err(e @ DerError::Truncated { .. }) if der.first() == Some(&der::SEQUENCE) => {
            return Err(PkiError::Invalid(format!("{origin}: {e}")));
        }
        Err(_) => {
            let start = hex::encode(&der[..der.len().min(8)]);
            return Err(PkiError::Invalid(format!(
                "{origin} is neither PEM nor DER ({} bytes, starting with 0x{start})",
                der.len()
            )));
        }
    };
    match kind {
        DerKind::Certificate => {
            if role == Role::PrivateKey {
                return Err(PkiError::Invalid(format!(
                    "{origin} is a DER certificate, expected a private key"
                )));
            }
            out.certs.push(CertIn {
                origin: origin.to_string(),
                der: der.to_vec(),
            });
            Ok(())
        }
        DerKind::Pkcs7 => {
            let certs = pkcs7_certs(der).ok_or_else(|| {
                PkiError::Invalid(format!("{origin} is not a readable PKCS#7 bundle"))
            })?;
            for (k, c) in certs.into_iter().enumerate() {
                out.certs.push(CertIn {
                    origin: format!("{origin} (PKCS#7 certificate {})", k + 1),
                    der: c.to_vec(),
                });
            }
            Ok(())
        }
        DerKind::Pkcs12 => {
            if role == Role::Chain {
                return Err(PkiError::Invalid(format!(
                    "{origin} is a PKCS#12 file; give it as `certificate`"
                )));
            }
            let contents = pfx::read(der, password, &format!("`{name}`"))?;
            for (k, c) in contents.certs.into_iter().enumerate() {
                out.certs.push(CertIn {
                    origin: format!("{origin} (PKCS#12 certificate {})", k + 1),
                    der: c,
                });
            }
            for (k, pkcs8) in contents.keys.iter().enumerate() {
                let key_origin = format!("{origin} (PKCS#12 key {})", k + 1);
                let key = key::from_pkcs8(pkcs8, &key_origin)?;
                out.keys.push(KeyIn {
                    origin: key_origin,
                    key,
                });
            }
            Ok(())
        }
        k if k.is_key() => {
            if role != Role::PrivateKey {
                let hint = if role == Role::Certificate {
                    "; give the key as `private_key`"
                } else {
                    ""
                };
                return Err(PkiError::Invalid(format!(
                    "{origin} is {}, {}{hint}",
                    k.describe(),
                    expected(role)
                )));
            }
            let key = der_key(der, k, None, origin, password)?;
            out.keys.push(KeyIn {
                origin: origin.to_string(),
                key,
            });
            Ok(())
        }
        other => {
            let wanted = match role {
                Role::Certificate => "expected a certificate (PEM, DER or PKCS#12)",
                Role::PrivateKey => "expected a private key",
                Role::Chain => "expected a certificate",
            };
            Err(PkiError::Invalid(format!(
                "{origin} is {}, {wanted}",
                other.describe()
            )))
        }
    }
}
