//! PKI formats and facts, with no I/O and no clock: parsing of PEM / DER / PKCS#12 inputs and of
//! private keys (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1, legacy OpenSSL encrypted PEM), metadata
//! extraction, key–certificate matching, chain ordering, and the export encodings (PEM, PKCS#12).
//!
//! INTERFACE CONTRACT (the rest of the server is written against exactly these items).
//!
//! Formats are detected from content, never from names. Submodules: `input` (detection and
//! collection), `pem_blocks`, `der`, `key` (unencrypted keys), `encrypted` (password-protected
//! keys), `pfx` (PKCS#12 reading), `chain` (leaf selection and ordering), `info` (metadata),
//! `export` (PKCS#12 writing).
//!
//! Key policy: RSA of 1024 to 16384 bits (smaller keys are refused; 2048..=8192-bit keys are
//! checked by aws-lc's constant-time `RSA_check_key`, other sizes, which aws-lc-rs does not
//! load, by the same relations computed here), EC P-256/P-384/P-521 (named or explicit
//! parameters), Ed25519. Other key types are refused with `PkiError::UnsupportedKey`, while
//! certificates carrying them import fine.

use std::collections::HashSet;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use zeroize::Zeroizing;

mod chain;
mod der;
mod encrypted;
mod export;
mod info;
mod input;
mod key;
mod pem_blocks;
mod pfx;
#[cfg(test)]
mod tests;

/// The raw inputs of one import, as bytes (already base64-decoded by the caller; PEM is text bytes).
/// Field names used in error messages: `certificate`, `private_key`, `chain[0]`, `chain[1]`, ...
#[derive(Debug, Clone, Copy, Default)]
pub struct BundleInput<'a> {
    pub certificate: &'a [u8],
    pub private_key: Option<&'a [u8]>,
    pub chain: &'a [&'a [u8]],
    pub password: Option<&'a str>,
}

/// A parsed, consistent import: leaf, ordered chain, optional matching key, leaf metadata.
#[derive(Debug)]
pub struct Bundle {
    pub leaf_der: Vec<u8>,
    /// Leaf excluded, ordered leaf→root (the root kept when it was given).
    pub chain_der: Vec<Vec<u8>>,
    pub chain_complete: bool,
    pub chain_issues: Vec<String>,
    pub private_key: Option<PrivateKey>,
    pub info: CertInfo,
}

/// Metadata of one certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub domains: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_algorithm: String,
    pub key_size: Option<u32>,
    pub key_curve: Option<String>,
    pub signature_algorithm: String,
    pub fingerprint_sha256: String,
    pub is_ca: bool,
    pub x509_version: u32,
}

/// A supported private key, normalised to unencrypted PKCS#8 DER. Debug never shows the bytes.
pub struct PrivateKey {
    pkcs8_der: Zeroizing<Vec<u8>>,
    algorithm: &'static str,
    public: key::PublicMaterial,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }
    /// `RSA`, `EC`, `Ed25519`.
    pub fn algorithm(&self) -> &'static str {
        self.algorithm
    }
    /// RSA modulus bits, EC curve bits (256/384/521), 256 for Ed25519.
    pub fn key_size(&self) -> u32 {
        self.public.bits()
    }
    /// `RSA 2048 bits`, `EC P-256`, `Ed25519`.
    pub fn description(&self) -> String {
        self.public.describe()
    }
    /// The SubjectPublicKeyInfo DER of the public half.
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        self.public.spki_der()
    }
    /// Whether a certificate (DER) carries this key's public half.
    pub fn matches_certificate(&self, cert_der: &[u8]) -> bool {
        x509_parser::parse_x509_certificate(cert_der)
            .map(|(_, c)| self.public.matches_spki(c.tbs_certificate.subject_pki.raw))
            .unwrap_or(false)
    }
}

/// Why an input was refused. Display carries the evidence (which input, which block, what was
/// expected, which times or keys were compared) and never key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The input is malformed, inconsistent or of the wrong kind.
    #[error("{0}")]
    Invalid(String),
    /// An encrypted key or PKCS#12 file was given without a password.
    #[error("{0}")]
    PasswordRequired(String),
    /// The password does not open the encrypted key or PKCS#12 file.
    #[error("{0}")]
    WrongPassword(String),
    /// A private key of a type (or size, or encryption) this server does not handle.
    #[error("{0}")]
    UnsupportedKey(String),
    /// The private key belongs to none of the given certificates.
    #[error("{0}")]
    KeyMismatch(String),
    /// Encoding an export failed (a bug or an unencodable stored item).
    #[error("{0}")]
    Internal(String),
}

/// Parses one import: the leaf, its ordered chain, its private key (if given) and metadata.
pub fn parse_bundle(input: &BundleInput<'_>) -> Result<Bundle, PkiError> {
    let collected = input::collect(input)?;
    let key = match collected.keys.len() {
        0 => None,
        1 => collected.keys.first(),
        n => {
            let origins: Vec<&str> = collected.keys.iter().map(|k| k.origin.as_str()).collect();
            return Err(PkiError::Invalid(format!(
                "the input holds {n} different private keys ({}); give exactly one",
                origins.join(", ")
            )));
        }
    };

    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(collected.certs.len());
    let mut nodes: Vec<chain::Node<'_>> = Vec::with_capacity(collected.certs.len());
    for c in &collected.certs {
        let (cert, der) = parse_certificate(&c.der, &c.origin)?;
        let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        if seen.insert(fingerprint.as_ref().to_vec()) {
            nodes.push(chain::Node::new(c.origin.clone(), der, cert));
        }
    }

    if nodes.is_empty() {
        return Err(PkiError::Invalid(
            "no certificate found in `certificate`".into(),
        ));
    }
    let leaf = match key {
        None => chain::pick_leaf(&nodes)?,
        Some(k) => leaf_for_key(&nodes, k)?,
    };
    let ordered = chain::order(&nodes, leaf);
    let leaf_node = &nodes[leaf];
    Ok(Bundle {
        leaf_der: leaf_node.der.to_vec(),
        chain_der: ordered
            .chain
            .iter()
            .map(|i| nodes[*i].der.to_vec())
            .collect(),
        chain_complete: ordered.complete,
        chain_issues: ordered.issues,
        info: info::cert_info_of(&leaf_node.cert, leaf_node.der),
        private_key: match collected.keys.into_iter().next() {
            Some(k) => Some(k.key),
            None => None,
        },
    })
}

/// The certificate whose public key is the key's; refuses a mismatch with evidence.
fn leaf_for_key(nodes: &[chain::Node<'_>], key: &input::KeyIn) -> Result<usize, PkiError> {
    let matching: Vec<usize> = (0..nodes.len())
        .filter(|i| key.key.public.matches_spki(nodes[*i].spki_raw()))
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => {
            let shown = chain::pick_leaf(nodes).unwrap_or(0);
            let node = &nodes[shown];
            let others = if nodes.len() > 1 {
                format!(" (nor do the other {} given certificates)", nodes.len() - 1)
            } else {
                String::new()
            };
            Err(PkiError::KeyMismatch(format!(
                "private key does not match the certificate: the private key ({}) is {} with public key \
                 SHA-256 {}, but '{}' ({}) has {} with public key SHA-256 {}{others}",
                key.origin,
                key.key.public.describe(),
                info::sha256_hex(&key.key.public.spki_der()),
                node.subject(),
                node.origin,
                info::describe_spki(node.spki_raw()),
                info::sha256_hex(node.spki_raw()),
            )))
        }
        several => {
            // Same key in several certificates (a renewal and its predecessor, or a CA
            // certificate): the one that issued none of the others, end-entity first.
            let subset: Vec<&chain::Node<'_>> = several.iter().map(|i| &nodes[*i]).collect();
            let not_issuer: Vec<usize> = several
                .iter()
                .copied()
                .filter(|i| {
                    !subset
                        .iter()
                        .any(|o| !std::ptr::eq(*o, &nodes[*i]) && chain::issued(o, &nodes[*i]))
                })
                .collect();
            match not_issuer.as_slice() {
                [one] => Ok(*one),
                _ => {
                    let names: Vec<String> = several
                        .iter()
                        .map(|i| format!("'{}' ({})", nodes[*i].subject(), nodes[*i].origin))
                        .collect();
                    Err(PkiError::Invalid(format!(
                        "{} certificates match the private key: {}; give only the one to import",
                        several.len(),
                        names.join(", ")
                    )))
                }
            }
        }
    }
}

/// Parses one certificate; `der` may carry trailing bytes, the returned slice is exact.
fn parse_certificate<'a>(
    der: &'a [u8],
    origin: &str,
) -> Result<(X509Certificate<'a>, &'a [u8]), PkiError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((rest, cert)) => {
            let len = der.len() - rest.len();
            Ok((cert, &der[..len]))
        }
        Err(e) => match der::read(der) {
            Err(de) => Err(PkiError::Invalid(format!("{origin}: {de}"))),
            Ok(_) => Err(PkiError::Invalid(format!(
                "{origin}: not a valid X.509 certificate ({e})"
            ))),
        },
    }
}

/// Metadata of one DER certificate (trailing bytes after the certificate are ignored).
pub fn cert_info(der: &[u8]) -> Result<CertInfo, PkiError> {
    let (cert, exact) = parse_certificate(der, "certificate")?;
    Ok(info::cert_info_of(&cert, exact))
}

/// Re-load a key previously produced by this module (after unsealing).
pub fn private_key_from_pkcs8(der: &[u8]) -> Result<PrivateKey, PkiError> {
    key::from_pkcs8(der, "stored private key")
}

/// 64-column base64 PEM with a trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    pem_blocks::encode(label, der)
}

/// PKCS#12 with AES-256-CBC + PBKDF2-SHA256 and an HMAC-SHA256 MAC.
pub fn export_pkcs12(
    leaf_der: &[u8],
    chain_der: &[Vec<u8>],
    key: Option<&PrivateKey>,
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, PkiError> {
    export::pkcs12(leaf_der, chain_der, key, password, friendly_name)
}
