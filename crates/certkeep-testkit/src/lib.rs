//! certkeep-testkit: the checked-in generator of test certificates, keys and PKCS#12 files used
//! by unit tests, the server's integration tests and the benchmark database filler.
//!
//! Certificates are made with rcgen (issued certificates carry an Authority Key Identifier),
//! keys with aws-lc-rs. Time is always an argument: nothing here reads the clock.
//!
//! ```no_run
//! use certkeep_testkit::{Ca, KeyKind, LeafSpec};
//! use time::{Duration, OffsetDateTime};
//!
//! let now = OffsetDateTime::now_utc();
//! let root = Ca::new_root(KeyKind::EcP256, "Test Root", now - Duration::days(1), now + Duration::days(3650))?;
//! let int = root.intermediate(KeyKind::EcP256, "Test Int", now - Duration::days(1), now + Duration::days(1825))?;
//! let leaf = int.leaf(&LeafSpec::new("www.example.com", now - Duration::days(1), now + Duration::days(90)))?;
//! let p12 = certkeep_testkit::pkcs12(&leaf, &[int.cert_der()], "secret")?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! Bulk generation (the benchmark filler): one P-256 issuing CA, fresh P-256 leaf keys
//! (`Ca::leaf`, about 0.1 ms each in release) or keys drawn from a [`KeyPool`]
//! (`Ca::leaf_with_key`, no key generation at all; RSA pools avoid seconds of RSA keygen).

use std::net::IpAddr;

use anyhow::{Context as _, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SanType,
    SerialNumber, SignatureAlgorithm,
};
use time::OffsetDateTime;

/// Subject attribute types for [`LeafSpec::subject`].
pub use rcgen::DnType as SubjectAttr;

/// Key types the generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
}

impl KeyKind {
    pub const ALL: [KeyKind; 7] = [
        KeyKind::Rsa2048,
        KeyKind::Rsa3072,
        KeyKind::Rsa4096,
        KeyKind::EcP256,
        KeyKind::EcP384,
        KeyKind::EcP521,
        KeyKind::Ed25519,
    ];

    fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyKind::Rsa2048 | KeyKind::Rsa3072 | KeyKind::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::EcP521 => &rcgen::PKCS_ECDSA_P521_SHA512,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// The key algorithm name as certkeep reports it (`RSA`, `EC`, `Ed25519`).
    pub fn algorithm(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 | KeyKind::Rsa3072 | KeyKind::Rsa4096 => "RSA",
            KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521 => "EC",
            KeyKind::Ed25519 => "Ed25519",
        }
    }

    /// Key size in bits as certkeep reports it.
    pub fn bits(self) -> u32 {
        match self {
            KeyKind::Rsa2048 => 2048,
            KeyKind::Rsa3072 => 3072,
            KeyKind::Rsa4096 => 4096,
            KeyKind::EcP256 | KeyKind::Ed25519 => 256,
            KeyKind::EcP384 => 384,
            KeyKind::EcP521 => 521,
        }
    }

    /// The EC curve name (`P-256`, ...), if any.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            KeyKind::EcP256 => Some("P-256"),
            KeyKind::EcP384 => Some("P-384"),
            KeyKind::EcP521 => Some("P-521"),
            _ => None,
        }
    }
}

/// A generated private key (unencrypted PKCS#8 inside).
pub struct Key {
    kind: KeyKind,
    pair: KeyPair,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A fresh random key.
    pub fn generate(kind: KeyKind) -> Result<Key> {
        let alg = kind.signature_algorithm();
        let pair = match kind {
            KeyKind::Rsa2048 => KeyPair::generate_rsa_for(alg, RsaKeySize::_2048),
            KeyKind::Rsa3072 => KeyPair::generate_rsa_for(alg, RsaKeySize::_3072),
            KeyKind::Rsa4096 => KeyPair::generate_rsa_for(alg, RsaKeySize::_4096),
            _ => KeyPair::generate_for(alg),
        }
        .with_context(|| format!("generating a {kind:?} key"))?;
        Ok(Key { kind, pair })
    }

    /// Loads an unencrypted PKCS#8 key of the given kind.
    pub fn from_pkcs8_der(kind: KeyKind, der: &[u8]) -> Result<Key> {
        let pair = KeyPair::from_pkcs8_der_and_sign_algo(&der.into(), kind.signature_algorithm())
            .with_context(|| format!("loading a {kind:?} PKCS#8 key"))?;
        Ok(Key { kind, pair })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        self.pair.serialized_der()
    }

    /// `-----BEGIN PRIVATE KEY-----` PEM.
    pub fn pkcs8_pem(&self) -> String {
        pem_encode("PRIVATE KEY", self.pkcs8_der())
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.pair)
    }
}

/// A pool of pre-generated keys handed out round-robin, for bulk generation where key
/// generation would dominate (RSA) or where distinct keys do not matter.
#[derive(Debug)]
pub struct KeyPool {
    keys: Vec<Key>,
    next: usize,
}

impl KeyPool {
    pub fn generate(kind: KeyKind, size: usize) -> Result<KeyPool> {
        if size == 0 {
            return Err(anyhow!("a key pool needs at least one key"));
        }
        let keys = (0..size)
            .map(|_| Key::generate(kind))
            .collect::<Result<Vec<_>>>()?;
        Ok(KeyPool { keys, next: 0 })
    }

    pub fn from_keys(keys: Vec<Key>) -> Result<KeyPool> {
        if keys.is_empty() {
            return Err(anyhow!("a key pool needs at least one key"));
        }
        Ok(KeyPool { keys, next: 0 })
    }

    /// The next key, cycling through the pool.
    pub fn next_key(&mut self) -> &Key {
        let i = self.next % self.keys.len();
        self.next = self.next.wrapping_add(1);
        &self.keys[i]
    }

    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

/// A certificate with its private key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_der: Vec<u8>,
    pub cert_pem: String,
    pub key_kind: KeyKind,
    pub key_pkcs8_der: Vec<u8>,
    /// Unencrypted PKCS#8 PEM (`PRIVATE KEY`).
    pub key_pem: String,
}

impl Issued {
    fn new(cert_der: Vec<u8>, key: &Key) -> Issued {
        Issued {
            cert_pem: pem_encode("CERTIFICATE", &cert_der),
            cert_der,
            key_kind: key.kind,
            key_pkcs8_der: key.pkcs8_der().to_vec(),
            key_pem: key.pkcs8_pem(),
        }
    }
}

/// What a leaf certificate should say.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    pub cn: String,
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub key: KeyKind,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Raw serial bytes (big-endian, as encoded); `None` derives one from the public key.
    pub serial: Option<Vec<u8>>,
    /// Extra subject attributes after the CN, e.g. `(DnType::OrganizationName, "Example")`.
    pub subject_extra: Vec<(DnType, String)>,
}

impl LeafSpec {
    /// A TLS server leaf for `cn` with `cn` as its only DNS name and a P-256 key.
    pub fn new(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> LeafSpec {
        LeafSpec {
            cn: cn.to_string(),
            dns: vec![cn.to_string()],
            ips: Vec::new(),
            key: KeyKind::EcP256,
            not_before,
            not_after,
            serial: None,
            subject_extra: Vec::new(),
        }
    }

    pub fn dns<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> LeafSpec {
        self.dns = names.into_iter().map(Into::into).collect();
        self
    }

    pub fn ip(mut self, ip: IpAddr) -> LeafSpec {
        self.ips.push(ip);
        self
    }

    pub fn key(mut self, kind: KeyKind) -> LeafSpec {
        self.key = kind;
        self
    }

    pub fn serial(mut self, raw: &[u8]) -> LeafSpec {
        self.serial = Some(raw.to_vec());
        self
    }

    pub fn subject(mut self, attr: DnType, value: &str) -> LeafSpec {
        self.subject_extra.push((attr, value.to_string()));
        self
    }

    fn params(&self) -> Result<CertificateParams> {
        let mut params = CertificateParams::default();
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, DnValue::Utf8String(self.cn.clone()));
        for (attr, value) in &self.subject_extra {
            dn.push(attr.clone(), DnValue::Utf8String(value.clone()));
        }
        params.distinguished_name = dn;
        let mut sans = Vec::with_capacity(self.dns.len() + self.ips.len());
        for d in &self.dns {
            sans.push(SanType::DnsName(
                d.clone()
                    .try_into()
                    .with_context(|| format!("DNS name {d:?}"))?,
            ));
        }
        sans.extend(self.ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.subject_alt_names = sans;
        params.serial_number = self.serial.as_deref().map(SerialNumber::from_slice);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// A certificate authority that can issue intermediates and leaves.
pub struct Ca {
    key: Key,
    params: CertificateParams,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn ca_params(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certkeep test");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl Ca {
    /// A self-signed root CA named `O=certkeep test, CN={cn}`.
    pub fn new_root(
        kind: KeyKind,
        cn: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Ca> {
        let key = Key::generate(kind)?;
        let params = ca_params(cn, not_before, not_after);
        let cert = params
            .self_signed(&key.pair)
            .with_context(|| format!("self-signing root {cn:?}"))?;
        Ok(Ca {
            key,
            params,
            cert_der: cert.der().to_vec(),
        })
    }

    /// An intermediate CA issued by this one.
    pub fn intermediate(
        &self,
        kind: KeyKind,
        cn: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Ca> {
        let key = Key::generate(kind)?;
        let mut params = ca_params(cn, not_before, not_after);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key.pair, &self.issuer())
            .with_context(|| format!("issuing intermediate {cn:?}"))?;
        Ok(Ca {
            key,
            params,
            cert_der: cert.der().to_vec(),
        })
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key.pair)
    }

    /// A leaf with a fresh key of `spec.key`.
    pub fn leaf(&self, spec: &LeafSpec) -> Result<Issued> {
        let key = Key::generate(spec.key)?;
        self.leaf_with_key(spec, &key)
    }

    /// A leaf for an existing key (`spec.key` is ignored): the fast path for bulk generation.
    pub fn leaf_with_key(&self, spec: &LeafSpec, key: &Key) -> Result<Issued> {
        let cert = spec
            .params()?
            .signed_by(&key.pair, &self.issuer())
            .with_context(|| format!("issuing leaf {:?}", spec.cn))?;
        Ok(Issued::new(cert.der().to_vec(), key))
    }

    /// A leaf whose certificate is issued for a raw public key (SubjectPublicKeyInfo DER):
    /// lets tests issue certificates for keys rcgen cannot hold.
    pub fn leaf_for_spki(&self, spec: &LeafSpec, spki_der: &[u8]) -> Result<Vec<u8>> {
        let spki = rcgen::SubjectPublicKeyInfo::from_der(spki_der)
            .context("parsing SubjectPublicKeyInfo")?;
        let cert = spec
            .params()?
            .signed_by(&spki, &self.issuer())
            .with_context(|| format!("issuing leaf {:?}", spec.cn))?;
        Ok(cert.der().to_vec())
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// This CA's certificate and key as an [`Issued`].
    pub fn issued(&self) -> Issued {
        Issued::new(self.cert_der.clone(), &self.key)
    }
}

/// 64-column PEM with a trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// `ENCRYPTED PRIVATE KEY` PEM: PBES2 with PBKDF2-HMAC-SHA256 (2048 iterations) and
/// AES-256-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
pub fn encrypted_pkcs8_pem(key_pkcs8_der: &[u8], password: &str) -> Result<String> {
    use pkcs8::der::pem::LineEnding;
    use pkcs8::pkcs5::pbes2;

    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| anyhow!("random salt"))?;
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| anyhow!("random IV"))?;
    let params = pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &salt, iv)
        .map_err(|e| anyhow!("PBES2 parameters: {e}"))?;
    let info = pkcs8::PrivateKeyInfoRef::try_from(key_pkcs8_der)
        .map_err(|e| anyhow!("not PKCS#8: {e}"))?;
    let doc = info
        .encrypt_with_params(params, password)
        .map_err(|e| anyhow!("encrypting: {e}"))?;
    let pem = doc
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| anyhow!("PEM: {e}"))?;
    Ok(pem.to_string())
}

/// PKCS#12 with the leaf, its key and `chain` (leaf→root order), modern encryption
/// (PBES2 AES-256-CBC, HMAC-SHA256 MAC).
pub fn pkcs12(leaf: &Issued, chain: &[&[u8]], password: &str) -> Result<Vec<u8>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};

    let mut certs = vec![Certificate::from_der(&leaf.cert_der).map_err(|e| anyhow!("leaf: {e}"))?];
    for der in chain {
        certs.push(Certificate::from_der(der).map_err(|e| anyhow!("chain: {e}"))?);
    }
    let key = PrivateKey::from_der(&leaf.key_pkcs8_der).map_err(|e| anyhow!("key: {e}"))?;
    let mut store = KeyStore::new();
    store.add_entry(
        "certkeep-test",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            b"certkeep-test".as_slice(),
            key,
            certs,
        )),
    );
    store
        .writer(password)
        .encryption_iterations(2048)
        .mac_iterations(2048)
        .write()
        .map_err(|e| anyhow!("writing PKCS#12: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::Duration;

    #[test]
    fn chain_of_every_key_kind() {
        let now = OffsetDateTime::now_utc();
        let (nb, na) = (now - Duration::days(1), now + Duration::days(30));
        let root = Ca::new_root(KeyKind::EcP384, "Root", nb, na).unwrap();
        let int = root.intermediate(KeyKind::EcP256, "Int", nb, na).unwrap();
        for kind in [
            KeyKind::Rsa2048,
            KeyKind::EcP256,
            KeyKind::EcP384,
            KeyKind::EcP521,
            KeyKind::Ed25519,
        ] {
            let leaf = int
                .leaf(&LeafSpec::new("a.example.com", nb, na).key(kind))
                .unwrap();
            assert_eq!(leaf.key_kind, kind);
            assert!(leaf.cert_pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
            assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        }
        let p12 = pkcs12(
            &int.leaf(&LeafSpec::new("b.example.com", nb, na)).unwrap(),
            &[int.cert_der(), root.cert_der()],
            "pw",
        )
        .unwrap();
        assert!(!p12.is_empty());
        let enc = encrypted_pkcs8_pem(int.key().pkcs8_der(), "pw").unwrap();
        assert!(enc.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    }

    #[test]
    fn key_pool_cycles() {
        let mut pool = KeyPool::generate(KeyKind::EcP256, 2).unwrap();
        let a = pool.next_key().pkcs8_der().to_vec();
        let _ = pool.next_key();
        assert_eq!(pool.next_key().pkcs8_der(), a.as_slice());
    }
}
