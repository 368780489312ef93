//! Export encodings: PKCS#12 written with p12-keystore using PBES2 (PBKDF2-HMAC-SHA256,
//! AES-256-CBC) for every bag and an HMAC-SHA256 MAC, the profile OpenSSL 3 writes by default.

use aws_lc_rs::digest;
use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain,
};

use super::{PkiError, PrivateKey};

/// PBKDF2 iterations for the bag encryption and the MAC (Java's and OpenSSL's order of magnitude).
const ITERATIONS: u32 = 10_000;

fn internal(what: &str, e: impl std::fmt::Display) -> PkiError {
    PkiError::Internal(format!("PKCS#12 export failed: {what} ({e})"))
}

/// friendlyName is a BMPString: characters outside the BMP become '?'.
fn bmp_safe(name: &str) -> String {
    name.chars()
        .map(|c| if u32::from(c) > 0xffff { '?' } else { c })
        .collect()
}

pub(crate) fn pkcs12(
    leaf_der: &[u8],
    chain_der: &[Vec<u8>],
    key: Option<&PrivateKey>,
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, PkiError> {
    let name = bmp_safe(friendly_name);
    let name = if name.is_empty() {
        "certificate".to_string()
    } else {
        name
    };
    let leaf = Certificate::from_der(leaf_der).map_err(|e| internal("leaf certificate", e))?;
    let mut chain = Vec::with_capacity(chain_der.len());
    for (i, der) in chain_der.iter().enumerate() {
        chain.push(
            Certificate::from_der(der)
                .map_err(|e| internal(&format!("chain certificate {i}"), e))?,
        );
    }
    let mut store = KeyStore::new();
    match key {
        Some(key) => {
            let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der())
                .map_err(|e| internal("private key", e))?;
            // localKeyId = SHA-1 of the leaf certificate, as OpenSSL sets it.
            let local_key_id = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, leaf_der)
                .as_ref()
                .to_vec();
            let certs = std::iter::once(leaf).chain(chain);
            store.add_entry(
                &name,
                KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, p12_key, certs)),
            );
        }
        None => {
            store.add_entry(&name, KeyStoreEntry::Certificate(leaf));
            for (i, cert) in chain.into_iter().enumerate() {
                store.add_entry(
                    &format!("{name} (chain {})", i + 1),
                    KeyStoreEntry::Certificate(cert),
                );
            }
        }
    }
    store
        .writer(password)
        .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(MacAlgorithm::HmacSha256)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(|e| internal("encoding", e))
}
