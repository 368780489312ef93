//! The default root key: 32 random bytes, hex-encoded in a file readable only by the owner,
//! generated on first start.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
use zeroize::Zeroizing;

use super::{DATA_KEY_LEN, RootKey};
use crate::error::{Error, Result};

pub struct FileRootKey {
    key: Zeroizing<[u8; 32]>,
    id: String,
    path: PathBuf,
}

impl std::fmt::Debug for FileRootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRootKey")
            .field("id", &self.id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileRootKey {
    /// Load the key at `path`, or create it (mode 0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<FileRootKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(path, text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(Error::Internal(format!(
                "cannot read root key file {}: {e}",
                path.display()
            ))),
        }
    }

    fn create(path: &Path) -> Result<FileRootKey> {
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(key.as_mut())
            .map_err(|_| Error::Internal("cannot generate the root key".into()))?;
        let hex_text = Zeroizing::new(hex::encode(key.as_ref()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| {
            Error::Internal(format!(
                "cannot create root key file {}: {e}",
                path.display()
            ))
        })?;
        f.write_all(hex_text.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(|e| {
                Error::Internal(format!(
                    "cannot write root key file {}: {e}",
                    path.display()
                ))
            })?;
        Ok(FileRootKey {
            id: key_id(&key),
            key,
            path: path.to_path_buf(),
        })
    }

    fn from_hex(path: &Path, text: &str) -> Result<FileRootKey> {
        let bytes = Zeroizing::new(hex::decode(text).map_err(|_| {
            Error::Internal(format!(
                "root key file {} is not 64 hexadecimal characters",
                path.display()
            ))
        })?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Error::Internal(format!(
                "root key file {} holds {} bytes; expected 32",
                path.display(),
                bytes.len()
            ))
        })?;
        let key = Zeroizing::new(key);
        Ok(FileRootKey {
            id: key_id(&key),
            key,
            path: path.to_path_buf(),
        })
    }
}

/// `file:` and the first 16 hex digits of SHA-256 over a domain separator and the key.
fn key_id(key: &[u8; 32]) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"certkeep root key id v1\0");
    ctx.update(key);
    let d = ctx.finish();
    format!("file:{}", hex::encode(&d.as_ref()[..8]))
}

impl RootKey for FileRootKey {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, data_key: &[u8; DATA_KEY_LEN]) -> Result<Vec<u8>> {
        let kek = AesKek::new(&AES_256, self.key.as_ref())
            .map_err(|_| Error::Internal("root key setup failed".into()))?;
        let mut out = vec![0u8; DATA_KEY_LEN + 8];
        let n = kek
            .wrap(data_key, &mut out)
            .map_err(|_| Error::Internal("data key wrap failed".into()))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
        let kek = AesKek::new(&AES_256, self.key.as_ref())
            .map_err(|_| Error::Internal("root key setup failed".into()))?;
        let mut out = Zeroizing::new([0u8; DATA_KEY_LEN + 8]);
        let n = kek
            .unwrap(wrapped, out.as_mut())
            .map_err(|_| {
                Error::Internal("data key unwrap failed: wrong root key or corrupt record".into())
            })?
            .len();
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        if n != DATA_KEY_LEN {
            return Err(Error::Internal(
                "unwrapped data key has the wrong length".into(),
            ));
        }
        key.copy_from_slice(&out[..DATA_KEY_LEN]);
        Ok(key)
    }
}
