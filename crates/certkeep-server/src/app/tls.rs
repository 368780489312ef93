//! certkeepd's own TLS certificate: read from PEM files, or taken from the inventory (its
//! current version, chain and key) so that a certificate certkeep keeps renewed is the one it
//! serves.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{App, RequestCtx, actions, key_context};
use crate::error::{Error, Result};
use crate::pki::{self, BundleInput};

/// A certificate to serve, with its key.
pub struct TlsMaterial {
    /// The leaf first, then its chain (DER).
    pub chain: Vec<Vec<u8>>,
    /// Unencrypted PKCS#8 DER.
    pub key_pkcs8: Zeroizing<Vec<u8>>,
    /// What this material was read from: a digest of the files, or the inventory version.
    pub revision: String,
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("revision", &self.revision)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn read(what: &str, path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::InvalidInput(format!(
            "cannot read the TLS {what} {}: {e}",
            path.display()
        ))
    })
}

/// The revision of the TLS files as they are now (a digest of both).
pub fn tls_files_revision(cert: &Path, key: &Path) -> Result<String> {
    let mut h = Sha256::new();
    h.update(read("certificate file", cert)?.as_slice());
    h.update(read("key file", key)?.as_slice());
    Ok(hex::encode(h.finalize()))
}

/// The certificate (PEM or DER; a PEM file may carry the chain after the leaf) and its private
/// key (PEM or DER, unencrypted) from files; the key must belong to the certificate.
pub fn tls_from_files(cert: &Path, key: &Path) -> Result<TlsMaterial> {
    let cert_bytes = read("certificate file", cert)?;
    let key_bytes = read("key file", key)?;
    let bundle = pki::parse_bundle(&BundleInput {
        certificate: &cert_bytes,
        private_key: Some(&key_bytes),
        chain: &[],
        password: None,
    })
    .map_err(|e| {
        Error::InvalidInput(format!(
            "TLS certificate {} with key {}: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    let private_key = bundle
        .private_key
        .ok_or_else(|| Error::InvalidInput(format!("{} holds no private key", key.display())))?;
    let mut chain = vec![bundle.leaf_der];
    chain.extend(bundle.chain_der);
    Ok(TlsMaterial {
        chain,
        key_pkcs8: Zeroizing::new(private_key.pkcs8_der().to_vec()),
        revision: tls_files_revision(cert, key)?,
        not_after: bundle.info.not_after,
    })
}

/// The revision of inventory entry `id` as served: its current version.
fn inventory_revision(id: Uuid, version: u32) -> String {
    format!("{id}:{version}")
}

impl App {
    /// The current revision of inventory entry `id` (cheap; nothing is unsealed).
    pub async fn tls_inventory_revision(&self, id: Uuid) -> Result<String> {
        let rec = self.store.certificate_get(id).await?.ok_or_else(|| {
            Error::NotFound(format!("the TLS certificate {id} is not in the inventory"))
        })?;
        Ok(inventory_revision(id, rec.current_version))
    }

    /// The current version of inventory entry `id` with its chain and unsealed key, for the
    /// server to present. Recorded in the audit log like any key read.
    pub async fn tls_from_inventory(&self, ctx: &RequestCtx, id: Uuid) -> Result<TlsMaterial> {
        const ACTION: &str = actions::SERVER_TLS_KEY_LOAD;
        let target = id.to_string();
        let result = async {
            let rec = self.store.certificate_get(id).await?.ok_or_else(|| {
                Error::NotFound(format!("the TLS certificate {id} is not in the inventory"))
            })?;
            if rec.deleted_at.is_some() {
                return Err(Error::Conflict(format!(
                    "the TLS certificate {id} was deleted; restore it or choose another"
                )));
            }
            let v = self.load_version(&rec, None).await?;
            let sealed = v.key_sealed.as_deref().ok_or_else(|| {
                Error::InvalidInput(format!(
                    "certificate {id} ({}) has no private key stored, so it cannot be served",
                    rec.name
                ))
            })?;
            let key = self.keyring.open(&key_context(id, v.version), sealed)?;
            let mut chain = vec![v.leaf_der];
            chain.extend(v.chain_der);
            Ok(TlsMaterial {
                chain,
                key_pkcs8: key,
                revision: inventory_revision(id, v.version),
                not_after: rec.info.not_after,
            })
        }
        .await;
        let version = result.as_ref().ok().map(|m| m.revision.clone());
        self.record(
            ctx,
            None,
            ACTION,
            Some(&target),
            &result,
            json!({ "revision": version }),
        )
        .await?;
        result
    }
}
