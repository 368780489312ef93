//! Envelope encryption of secrets at rest. Each sealed secret has its own random 256-bit data
//! key (AES-256-GCM, AAD binds the ciphertext to its record); the data key is wrapped by the root
//! key of a [`RootKey`] backend (AES key wrap, RFC 3394). The database only ever holds the
//! sealed form.

mod file;

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

pub use file::FileRootKey;

use crate::error::{Error, Result};

const SEALED_FORMAT_V1: u8 = 1;
pub const DATA_KEY_LEN: usize = 32;

/// Where the root key lives. It wraps and unwraps data keys and never hands out its own bytes.
pub trait RootKey: Send + Sync {
    /// Stable identifier of this root key, stored beside every wrapped data key.
    fn id(&self) -> &str;
    fn wrap(&self, data_key: &[u8; DATA_KEY_LEN]) -> Result<Vec<u8>>;
    fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>>;
}

/// Seals and opens secrets with per-secret data keys under one root key.
#[derive(Clone)]
pub struct Keyring {
    root: Arc<dyn RootKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("root_key_id", &self.root.id())
            .finish()
    }
}

fn crypto_err(what: &str) -> Error {
    Error::Internal(format!("keyring: {what} failed"))
}

impl Keyring {
    pub fn new(root: Arc<dyn RootKey>) -> Keyring {
        Keyring { root }
    }

    pub fn root_key_id(&self) -> &str {
        self.root.id()
    }

    /// Seal `plaintext` bound to `context` (e.g. `certificate-key:<id>:<version>`).
    ///
    /// Layout: `1 | id_len u8 | root key id | wrapped_len u16be | wrapped data key | nonce | ct+tag`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        aws_lc_rs::rand::fill(data_key.as_mut()).map_err(|_| crypto_err("random data key"))?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, data_key.as_ref())
            .map_err(|_| crypto_err("data key setup"))?;
        let mut in_out = Zeroizing::new(plaintext.to_vec());
        let nonce = key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut *in_out)
            .map_err(|_| crypto_err("seal"))?;
        let wrapped = self.root.wrap(&data_key)?;
        let id = self.root.id().as_bytes();
        let id_len =
            u8::try_from(id.len()).map_err(|_| crypto_err("root key id longer than 255 bytes"))?;
        let wrapped_len =
            u16::try_from(wrapped.len()).map_err(|_| crypto_err("wrapped data key too long"))?;
        let mut out = Vec::with_capacity(4 + id.len() + wrapped.len() + NONCE_LEN + in_out.len());
        out.push(SEALED_FORMAT_V1);
        out.push(id_len);
        out.extend_from_slice(id);
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Open what [`Keyring::seal`] produced for the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let corrupt =
            || Error::Internal(format!("keyring: sealed secret for {context} is corrupt"));
        let (&format, rest) = sealed.split_first().ok_or_else(corrupt)?;
        if format != SEALED_FORMAT_V1 {
            return Err(Error::Internal(format!(
                "keyring: sealed secret for {context} has unknown format {format}"
            )));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(corrupt)?;
        let (id, rest) = rest
            .split_at_checked(usize::from(id_len))
            .ok_or_else(corrupt)?;
        if id != self.root.id().as_bytes() {
            return Err(Error::Internal(format!(
                "keyring: secret for {context} is wrapped by root key {:?}, but the configured root key is {:?}",
                String::from_utf8_lossy(id),
                self.root.id()
            )));
        }
        let (len, rest) = rest.split_at_checked(2).ok_or_else(corrupt)?;
        let wrapped_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (wrapped, rest) = rest.split_at_checked(wrapped_len).ok_or_else(corrupt)?;
        let (nonce, ct) = rest.split_at_checked(NONCE_LEN).ok_or_else(corrupt)?;
        let data_key = self.root.unwrap(wrapped)?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, data_key.as_ref())
            .map_err(|_| crypto_err("data key setup"))?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let plain_len = key
            .open_in_place(nonce, Aad::from(context.as_bytes()), buf.as_mut_slice())
            .map_err(|_| {
                Error::Internal(format!(
                    "keyring: sealed secret for {context} failed authentication (tampered or wrong record)"
                ))
            })?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ring() -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        let root = FileRootKey::load_or_create(&dir.path().join("root.key")).unwrap();
        (dir, Keyring::new(Arc::new(root)))
    }

    #[test]
    fn seal_open_roundtrip_and_context_binding() {
        let (_d, k) = ring();
        let secret = b"-----BEGIN PRIVATE KEY----- not really";
        let sealed = k.seal("certificate-key:a:1", secret).unwrap();
        assert!(!sealed.windows(secret.len()).any(|w| w == secret));
        assert_eq!(&*k.open("certificate-key:a:1", &sealed).unwrap(), secret);
        // Moving a sealed blob to another record fails authentication.
        assert!(k.open("certificate-key:b:1", &sealed).is_err());
        // Two seals of the same plaintext differ (fresh data key and nonce).
        assert_ne!(sealed, k.seal("certificate-key:a:1", secret).unwrap());
        // A flipped bit anywhere is detected.
        for i in [2usize, sealed.len() / 2, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(k.open("certificate-key:a:1", &bad).is_err(), "bit {i}");
        }
        assert!(k.open("certificate-key:a:1", &sealed[..10]).is_err());
    }

    #[test]
    fn another_root_key_cannot_open() {
        let (_d1, k1) = ring();
        let (_d2, k2) = ring();
        let sealed = k1.seal("x", b"secret").unwrap();
        let e = k2.open("x", &sealed).unwrap_err().to_string();
        assert!(e.contains("root key"), "{e}");
    }
}
