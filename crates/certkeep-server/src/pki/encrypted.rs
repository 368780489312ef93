//! Password-protected private keys: encrypted PKCS#8 (PBES2 through the `pkcs8`/`pkcs5` crates;
//! PBES1 and the PKCS#12 PBE schemes implemented here) and legacy OpenSSL PEM encryption
//! (`Proc-Type: 4,ENCRYPTED` + `DEK-Info`, key from EVP_BytesToKey with MD5).
//!
//! Work factors in the input are capped so that a hostile file cannot pin a core or exhaust
//! memory: PBKDF2/PBES1 iterations ≤ 1,000,000 and scrypt memory ≤ 256 MiB.

use aws_lc_rs::digest;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipherDecrypt, BlockModeDecrypt, InnerIvInit, KeyInit, KeyIvInit};
use md5::{Digest as _, Md5};
use pkcs8::der::Decode as _;
use pkcs8::pkcs5::pbes2;
use zeroize::Zeroizing;

use super::PkiError;
use super::der::{self, Reader};

const MAX_ITERATIONS: u64 = 1_000_000;
const MAX_SCRYPT_BYTES: u64 = 256 * 1024 * 1024;

fn password_required() -> PkiError {
    PkiError::PasswordRequired("the private key is encrypted: give its password".into())
}

fn wrong_password() -> PkiError {
    PkiError::WrongPassword("wrong password for the encrypted private key".into())
}

fn unsupported_scheme(what: &str) -> PkiError {
    PkiError::UnsupportedKey(format!(
        "the private key is encrypted with {what}, which is not supported; \
         re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc` or give it unencrypted"
    ))
}

/// A password as tried against a file. `absent` is OpenSSL's NULL password, which PKCS#12
/// tools use for "no password": the PKCS#12 KDF then hashes zero bytes instead of a
/// NUL-terminated empty BMPString.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Password<'a> {
    pub text: &'a str,
    pub absent: bool,
}

impl<'a> Password<'a> {
    pub fn given(text: &'a str) -> Self {
        Password {
            text,
            absent: false,
        }
    }

    /// The PKCS#12 KDF encoding: UTF-16BE with a 2-byte NUL terminator (empty if absent).
    pub fn bmp(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.text.len() * 2 + 2));
        if !self.absent {
            for unit in self.text.encode_utf16() {
                out.extend_from_slice(&unit.to_be_bytes());
            }
            out.extend_from_slice(&[0, 0]);
        }
        out
    }
}

/// Decrypts an EncryptedPrivateKeyInfo; returns the PKCS#8 PrivateKeyInfo DER.
pub(crate) fn decrypt_pkcs8(
    der: &[u8],
    password: Option<&str>,
    origin: &str,
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let password = password.ok_or_else(password_required)?;
    decrypt_pkcs8_with(der, Password::given(password), origin)
}

pub(crate) fn decrypt_pkcs8_with(
    der: &[u8],
    password: Password<'_>,
    origin: &str,
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let bad = |what: String| {
        PkiError::Invalid(format!(
            "{origin}: not a valid encrypted PKCS#8 private key ({what})"
        ))
    };
    let (seq, _) = der::read(der).map_err(|e| bad(e.to_string()))?;
    let mut r = seq.reader();
    let alg = r
        .expect(der::SEQUENCE)
        .ok_or_else(|| bad("no algorithm identifier".into()))?;
    let data = r
        .next()
        .ok()
        .filter(|t| t.tag == der::OCTET_STRING || t.tag == 0x24)
        .and_then(der::octets)
        .ok_or_else(|| bad("no encrypted data".into()))?;
    let plain = decrypt_with_algorithm(alg, &data, password)?;
    // A wrong password passes the CBC padding check about once in 256 tries: the result must
    // also be a PrivateKeyInfo.
    let ok = der::read(&plain)
        .ok()
        .filter(|(t, rest)| t.is(der::SEQUENCE) && rest.iter().all(|b| *b == 0))
        .and_then(|(t, _)| {
            let mut r = t.reader();
            r.expect(der::INTEGER)?;
            r.expect(der::SEQUENCE)?;
            r.expect(der::OCTET_STRING)
        })
        .is_some();
    if !ok {
        return Err(wrong_password());
    }
    Ok(plain)
}

/// Decrypts `data` with a password-based AlgorithmIdentifier (PBES2, PBES1, PKCS#12 PBE).
/// Fails with `WrongPassword` when the padding does not check out.
pub(crate) fn decrypt_with_algorithm(
    alg: der::Tlv<'_>,
    data: &[u8],
    password: Password<'_>,
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let mut ar = alg.reader();
    let oid = ar.expect(der::OID).ok_or_else(|| {
        PkiError::Invalid("the encryption algorithm identifier has no OID".into())
    })?;
    let params = ar.next().map_err(|e| {
        PkiError::Invalid(format!("the encryption parameters are unreadable ({e})"))
    })?;
    let dotted = der::oid_to_string(oid.value);
    let text = password.text;
    Ok(match dotted.as_str() {
        "1.2.840.113549.1.5.13" => pbes2_decrypt(params.raw, text, data)?,
        // PBES1 (PKCS#5 v1.5): PBKDF1 with MD5 or SHA-1, DES or RC2 (64-bit key).
        "1.2.840.113549.1.5.3" => pbes1_decrypt(Pbkdf1::Md5, Pbes1Cipher::Des, params, text, data)?,
        "1.2.840.113549.1.5.6" => pbes1_decrypt(Pbkdf1::Md5, Pbes1Cipher::Rc2, params, text, data)?,
        "1.2.840.113549.1.5.10" => {
            pbes1_decrypt(Pbkdf1::Sha1, Pbes1Cipher::Des, params, text, data)?
        }
        "1.2.840.113549.1.5.11" => {
            pbes1_decrypt(Pbkdf1::Sha1, Pbes1Cipher::Rc2, params, text, data)?
        }
        // PKCS#12 PBE (PKCS#12 files; `openssl pkcs8 -topk8` before OpenSSL 1.1).
        "1.2.840.113549.1.12.1.3" => {
            p12_pbe_decrypt(P12Cipher::TripleDes3Key, params, password, data)?
        }
        "1.2.840.113549.1.12.1.4" => {
            p12_pbe_decrypt(P12Cipher::TripleDes2Key, params, password, data)?
        }
        "1.2.840.113549.1.12.1.5" => p12_pbe_decrypt(P12Cipher::Rc2_128, params, password, data)?,
        "1.2.840.113549.1.12.1.6" => p12_pbe_decrypt(P12Cipher::Rc2_40, params, password, data)?,
        "1.2.840.113549.1.12.1.1" => return Err(unsupported_scheme("PBE-SHA1-RC4-128")),
        "1.2.840.113549.1.12.1.2" => return Err(unsupported_scheme("PBE-SHA1-RC4-40")),
        "1.2.840.113549.1.5.1" => return Err(unsupported_scheme("PBE-MD2-DES")),
        "1.2.840.113549.1.5.4" => return Err(unsupported_scheme("PBE-MD2-RC2")),
        other => return Err(unsupported_scheme(&format!("the unknown scheme {other}"))),
    })
}

fn pbes2_decrypt(
    params_der: &[u8],
    password: &str,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let params = pbes2::Parameters::from_der(params_der).map_err(|e| {
        unsupported_scheme(&format!("PBES2 parameters this library cannot read ({e})"))
    })?;
    match &params.kdf {
        pbes2::Kdf::Pbkdf2(p) if u64::from(p.iteration_count) > MAX_ITERATIONS => {
            return Err(PkiError::Invalid(format!(
                "the encrypted private key asks for {} PBKDF2 iterations (at most {MAX_ITERATIONS} are allowed)",
                p.iteration_count
            )));
        }
        pbes2::Kdf::Scrypt(p) => {
            let bytes = 128u64
                .saturating_mul(p.cost_parameter)
                .saturating_mul(u64::from(p.block_size))
                .saturating_mul(u64::from(p.parallelization.max(1)));
            if bytes > MAX_SCRYPT_BYTES || p.parallelization > 16 {
                return Err(PkiError::Invalid(format!(
                    "the encrypted private key asks for scrypt N={} r={} p={} ({} MiB; at most {} MiB are allowed)",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    bytes / (1024 * 1024),
                    MAX_SCRYPT_BYTES / (1024 * 1024)
                )));
            }
        }
        _ => {}
    }
    let mut buf = Zeroizing::new(data.to_vec());
    match params.decrypt_in_place(password.as_bytes(), &mut buf) {
        Ok(plain) => {
            let len = plain.len();
            buf.truncate(len);
            Ok(buf)
        }
        Err(pkcs8::pkcs5::Error::DecryptFailed) => Err(wrong_password()),
        Err(e) => Err(unsupported_scheme(&format!("PBES2 ({e})"))),
    }
}

fn salt_and_iterations<'a>(params: der::Tlv<'a>) -> Result<(&'a [u8], u64), PkiError> {
    let bad = || PkiError::Invalid("the key encryption parameters are unreadable".into());
    let mut r: Reader<'a> = params.reader();
    let salt = r.expect(der::OCTET_STRING).ok_or_else(bad)?;
    let iterations = r
        .expect(der::INTEGER)
        .and_then(|t| der::small_uint(t.value))
        .ok_or_else(bad)?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(PkiError::Invalid(format!(
            "the encrypted private key asks for {iterations} iterations (1 to {MAX_ITERATIONS} are allowed)"
        )));
    }
    Ok((salt.value, iterations))
}

#[derive(Clone, Copy)]
enum Pbkdf1 {
    Md5,
    Sha1,
}

#[derive(Clone, Copy)]
enum Pbes1Cipher {
    Des,
    Rc2,
}

fn pbes1_decrypt(
    kdf: Pbkdf1,
    cipher: Pbes1Cipher,
    params: der::Tlv<'_>,
    password: &str,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let (salt, iterations) = salt_and_iterations(params)?;
    let mut t: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(20));
    match kdf {
        Pbkdf1::Md5 => {
            let mut h = Md5::new();
            h.update(password.as_bytes());
            h.update(salt);
            t.extend_from_slice(&h.finalize());
            for _ in 1..iterations {
                let next = Md5::digest(t.as_slice());
                t.clear();
                t.extend_from_slice(&next);
            }
        }
        Pbkdf1::Sha1 => {
            let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(password.as_bytes());
            ctx.update(salt);
            t.extend_from_slice(ctx.finish().as_ref());
            for _ in 1..iterations {
                let next = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &t);
                t.clear();
                t.extend_from_slice(next.as_ref());
            }
        }
    }
    let (key, iv) = (&t[..8], &t[8..16]);
    match cipher {
        Pbes1Cipher::Des => cbc_decrypt::<des::Des>(key, iv, data),
        Pbes1Cipher::Rc2 => rc2_cbc_decrypt(key, 64, iv, data),
    }
    .ok_or_else(wrong_password)
}

#[derive(Clone, Copy)]
enum P12Cipher {
    TripleDes3Key,
    TripleDes2Key,
    Rc2_128,
    Rc2_40,
}

fn p12_pbe_decrypt(
    cipher: P12Cipher,
    params: der::Tlv<'_>,
    password: Password<'_>,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let (salt, iterations) = salt_and_iterations(params)?;
    let key_len = match cipher {
        P12Cipher::TripleDes3Key => 24,
        P12Cipher::TripleDes2Key | P12Cipher::Rc2_128 => 16,
        P12Cipher::Rc2_40 => 5,
    };
    let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    let pass = password.bmp();
    let key = pkcs12_kdf(sha1, &pass, salt, 1, iterations, key_len);
    let iv = pkcs12_kdf(sha1, &pass, salt, 2, iterations, 8);
    match cipher {
        P12Cipher::TripleDes3Key => cbc_decrypt::<des::TdesEde3>(&key, &iv, data),
        P12Cipher::TripleDes2Key => cbc_decrypt::<des::TdesEde2>(&key, &iv, data),
        P12Cipher::Rc2_128 => rc2_cbc_decrypt(&key, 128, &iv, data),
        P12Cipher::Rc2_40 => rc2_cbc_decrypt(&key, 40, &iv, data),
    }
    .ok_or_else(wrong_password)
}

/// RFC 7292 appendix B.2 key derivation (id 1: key, 2: IV, 3: MAC key). `pass` is the
/// BMPString encoding from [`Password::bmp`].
pub(crate) fn pkcs12_kdf(
    hash: &'static digest::Algorithm,
    pass: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u64,
    out_len: usize,
) -> Zeroizing<Vec<u8>> {
    let v = hash.block_len();
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = v * src.len().div_ceil(v);
        src.iter().copied().cycle().take(len).collect()
    };
    let mut i_buf: Zeroizing<Vec<u8>> = Zeroizing::new(fill(salt));
    i_buf.extend_from_slice(&fill(pass));
    let d = vec![id; v];
    let mut out: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(out_len + 64));
    while out.len() < out_len {
        let mut ctx = digest::Context::new(hash);
        ctx.update(&d);
        ctx.update(&i_buf);
        let mut a = ctx.finish();
        for _ in 1..iterations {
            a = digest::digest(hash, a.as_ref());
        }
        out.extend_from_slice(a.as_ref());
        if out.len() >= out_len {
            break;
        }
        let b: Vec<u8> = a.as_ref().iter().copied().cycle().take(v).collect();
        for block in i_buf.chunks_mut(v) {
            // block = (block + b + 1) mod 2^(8v)
            let mut carry: u16 = 1;
            for k in (0..block.len()).rev() {
                let sum = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = (sum & 0xff) as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(out_len);
    out
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>>
where
    C: BlockCipherDecrypt + KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    let mut buf = Zeroizing::new(data.to_vec());
    let len = dec.decrypt_padded::<Pkcs7>(&mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

fn rc2_cbc_decrypt(
    key: &[u8],
    effective_bits: usize,
    iv: &[u8],
    data: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = rc2::Rc2::new_with_eff_key_len(key, effective_bits);
    let dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, iv).ok()?;
    let mut buf = Zeroizing::new(data.to_vec());
    let len = dec.decrypt_padded::<Pkcs7>(&mut buf).ok()?.len();
    buf.truncate(len);
    Some(buf)
}

/// Decrypts the body of a legacy OpenSSL-encrypted PEM block (`DEK-Info: CIPHER,IV-HEX`).
/// Returns the traditional DER (PKCS#1, SEC1, ...).
pub(crate) fn decrypt_legacy_pem(
    dek_info: &str,
    body: &[u8],
    password: Option<&str>,
    origin: &str,
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    let (cipher, iv_hex) = dek_info.split_once(',').ok_or_else(|| {
        PkiError::Invalid(format!(
            "{origin}: malformed DEK-Info header {dek_info:?} (expected CIPHER,IV)"
        ))
    })?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let iv = hex::decode(iv_hex.trim()).map_err(|_| {
        PkiError::Invalid(format!("{origin}: the DEK-Info IV {iv_hex:?} is not hex"))
    })?;
    let (key_len, iv_len) = match cipher.as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        "DES-EDE-CBC" => (16, 8),
        "DES-CBC" => (8, 8),
        other => {
            return Err(PkiError::UnsupportedKey(format!(
                "{origin}: the legacy PEM encryption {other} is not supported (supported: \
                 AES-128/192/256-CBC, DES-EDE3-CBC, DES-CBC); convert the key with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            )));
        }
    };
    if iv.len() != iv_len {
        return Err(PkiError::Invalid(format!(
            "{origin}: the DEK-Info IV has {} bytes, {cipher} needs {iv_len}",
            iv.len()
        )));
    }
    let password = password.ok_or_else(password_required)?;
    // EVP_BytesToKey(MD5, salt = first 8 IV bytes, count = 1).
    let salt = &iv[..8];
    let mut key: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Vec<u8> = Vec::new();
    while key.len() < key_len {
        let mut h = Md5::new();
        h.update(&prev);
        h.update(password.as_bytes());
        h.update(salt);
        prev = h.finalize().to_vec();
        key.extend_from_slice(&prev);
    }
    key.truncate(key_len);
    let plain = match cipher.as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, body),
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, body),
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, body),
        "DES-EDE3-CBC" => cbc_decrypt::<des::TdesEde3>(&key, &iv, body),
        "DES-EDE-CBC" => cbc_decrypt::<des::TdesEde2>(&key, &iv, body),
        _ => cbc_decrypt::<des::Des>(&key, &iv, body),
    }
    .ok_or_else(wrong_password)?;
    let whole = der::read(&plain)
        .ok()
        .is_some_and(|(t, rest)| t.is(der::SEQUENCE) && rest.is_empty());
    if !whole {
        return Err(wrong_password());
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn pkcs12_kdf_matches_known_vector() {
        // OpenSSL test vector (test/pkcs12_format_test / RFC 7292 style): password "smeg",
        // salt 0A58CF64530D823F, id 1, 1 iteration, 24 bytes.
        let salt = hex::decode("0A58CF64530D823F").unwrap();
        let pass = Password::given("smeg").bmp();
        let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
        let key = pkcs12_kdf(sha1, &pass, &salt, 1, 1, 24);
        assert_eq!(
            hex::encode_upper(key.as_slice()),
            "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3"
        );
        let iv = pkcs12_kdf(sha1, &pass, &salt, 2, 1, 8);
        assert_eq!(hex::encode_upper(iv.as_slice()), "79993DFE048D3B76");
    }
}
