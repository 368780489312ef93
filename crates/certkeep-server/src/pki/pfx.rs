//! Reading PKCS#12 (PFX) files: MAC check (PKCS#12 KDF with SHA-1/SHA-2), encrypted and plain
//! SafeContents, key bags (plain and shrouded) and X.509 certificate bags. Written over the
//! tolerant DER reader so that BER files (indefinite lengths, chunked OCTET STRINGs, as some
//! Windows and Java exports are) read too, and so that "no password" files from any tool open
//! (empty BMPString and OpenSSL's NULL password are both tried). Writing is in `export`.

use aws_lc_rs::{digest, hmac};
use zeroize::Zeroizing;

use super::PkiError;
use super::der::{self, Tlv, octets};
use super::encrypted::{self, Password};

const DATA: &str = "1.2.840.113549.1.7.1";
const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
const ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";
const X509_CERTIFICATE: &str = "1.2.840.113549.1.9.22.1";
const PBMAC1: &str = "1.2.840.113549.1.5.14";
const MAX_MAC_ITERATIONS: u64 = 1_000_000;

/// What a PKCS#12 file holds, in file order.
#[derive(Default)]
pub(crate) struct Pkcs12Contents {
    pub certs: Vec<Vec<u8>>,
    /// Unencrypted PKCS#8 DER.
    pub keys: Vec<Zeroizing<Vec<u8>>>,
}

fn corrupt(origin: &str, what: impl std::fmt::Display) -> PkiError {
    PkiError::Invalid(format!(
        "{origin}: the PKCS#12 file is corrupted or not supported ({what})"
    ))
}

/// The content of a ContentInfo `[0] EXPLICIT` wrapper.
fn explicit0(t: Tlv<'_>) -> Option<Tlv<'_>> {
    if t.tag != der::CTX0 {
        return None;
    }
    t.reader().next().ok()
}

/// Reads a PKCS#12 file. `password: None` tries the empty and the absent password.
pub(crate) fn read(
    input: &[u8],
    password: Option<&str>,
    origin: &str,
) -> Result<Pkcs12Contents, PkiError> {
    let (pfx, _) = der::read(input).map_err(|e| corrupt(origin, e))?;
    let mut r = pfx.reader();
    let version = r
        .expect(der::INTEGER)
        .ok_or_else(|| corrupt(origin, "no version"))?;
    if version.value != [3] {
        return Err(corrupt(
            origin,
            format!("version {}", hex::encode(version.value)),
        ));
    }
    let auth_safe = r
        .expect(der::SEQUENCE)
        .ok_or_else(|| corrupt(origin, "no authSafe"))?;
    let mac_data = r.optional(der::SEQUENCE).ok().flatten();
    let mut ar = auth_safe.reader();
    let content_type = ar
        .expect(der::OID)
        .map(|o| der::oid_to_string(o.value))
        .ok_or_else(|| corrupt(origin, "authSafe has no content type"))?;
    if content_type == SIGNED_DATA {
        return Err(PkiError::Invalid(format!(
            "{origin}: PKCS#12 files in public-key integrity mode (signed) are not supported"
        )));
    }
    if content_type != DATA {
        return Err(corrupt(
            origin,
            format!("authSafe content type {content_type}"),
        ));
    }
    let content = ar
        .next()
        .ok()
        .and_then(explicit0)
        .and_then(octets)
        .ok_or_else(|| corrupt(origin, "authSafe has no content"))?;

    let candidates: Vec<Password<'_>> = match password {
        Some(p) if !p.is_empty() => vec![Password::given(p)],
        _ => vec![
            Password::given(""),
            Password {
                text: "",
                absent: true,
            },
        ],
    };
    let refused = || match password {
        None => PkiError::PasswordRequired(format!(
            "{origin}: the PKCS#12 file is password-protected: give its password"
        )),
        Some(_) => PkiError::WrongPassword(format!(
            "{origin}: wrong password for the PKCS#12 file or corrupted file"
        )),
    };

    if let Some(mac) = mac_data {
        let mut verified = None;
        for pw in &candidates {
            if verify_mac(mac, &content, *pw, origin)? {
                verified = Some(*pw);
                break;
            }
        }
        let pw = verified.ok_or_else(refused)?;
        return read_auth_safe(&content, pw, origin).map_err(|e| match e {
            // The MAC proved the password; a decryption failure means damage.
            PkiError::WrongPassword(_) => corrupt(origin, "an encrypted part does not decrypt"),
            other => other,
        });
    }
    // No MAC: the first password under which everything decrypts wins.
    let mut last = refused();
    for pw in &candidates {
        match read_auth_safe(&content, *pw, origin) {
            Ok(c) => return Ok(c),
            Err(PkiError::WrongPassword(_)) => last = refused(),
            Err(other) => return Err(other),
        }
    }
    Err(last)
}

/// Checks the MacData HMAC; Ok(false) when the password does not fit.
fn verify_mac(
    mac: Tlv<'_>,
    content: &[u8],
    password: Password<'_>,
    origin: &str,
) -> Result<bool, PkiError> {
    let mut r = mac.reader();
    let digest_info = r
        .expect(der::SEQUENCE)
        .ok_or_else(|| corrupt(origin, "MAC without DigestInfo"))?;
    let salt = r
        .next()
        .ok()
        .and_then(octets)
        .ok_or_else(|| corrupt(origin, "MAC without salt"))?;
    let iterations = match r.expect(der::INTEGER) {
        Some(t) => der::small_uint(t.value).ok_or_else(|| corrupt(origin, "MAC iterations"))?,
        None => 1,
    };
    if iterations == 0 || iterations > MAX_MAC_ITERATIONS {
        return Err(PkiError::Invalid(format!(
            "{origin}: the PKCS#12 MAC asks for {iterations} iterations (1 to {MAX_MAC_ITERATIONS} are allowed)"
        )));
    }
    let mut dr = digest_info.reader();
    let alg = dr
        .expect(der::SEQUENCE)
        .and_then(|a| a.reader().expect(der::OID))
        .map(|o| der::oid_to_string(o.value))
        .ok_or_else(|| corrupt(origin, "MAC algorithm"))?;
    let expected = dr
        .next()
        .ok()
        .and_then(octets)
        .ok_or_else(|| corrupt(origin, "MAC value"))?;
    let (hash, hmac_alg) = match alg.as_str() {
        "1.3.14.3.2.26" => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        "2.16.840.1.101.3.4.2.4" => (&digest::SHA224, hmac::HMAC_SHA224),
        "2.16.840.1.101.3.4.2.1" => (&digest::SHA256, hmac::HMAC_SHA256),
        "2.16.840.1.101.3.4.2.2" => (&digest::SHA384, hmac::HMAC_SHA384),
        "2.16.840.1.101.3.4.2.3" => (&digest::SHA512, hmac::HMAC_SHA512),
        PBMAC1 => {
            return Err(PkiError::Invalid(format!(
                "{origin}: PKCS#12 files protected by PBMAC1 are not supported; re-export with a classic MAC"
            )));
        }
        other => {
            return Err(PkiError::Invalid(format!(
                "{origin}: the PKCS#12 MAC algorithm {other} is not supported"
            )));
        }
    };
    let key_bytes = encrypted::pkcs12_kdf(
        hash,
        &password.bmp(),
        &salt,
        3,
        iterations,
        hash.output_len(),
    );
    let key = hmac::Key::new(hmac_alg, &key_bytes);
    Ok(hmac::verify(&key, content, &expected).is_ok())
}

fn read_auth_safe(
    content: &[u8],
    password: Password<'_>,
    origin: &str,
) -> Result<Pkcs12Contents, PkiError> {
    let mut out = Pkcs12Contents::default();
    let (seq, _) = der::read(content).map_err(|e| corrupt(origin, e))?;
    let mut r = seq.reader();
    while !r.is_empty() {
        let ci = r.next().map_err(|e| corrupt(origin, e))?;
        let mut cr = ci.reader();
        let ct = cr
            .expect(der::OID)
            .map(|o| der::oid_to_string(o.value))
            .ok_or_else(|| corrupt(origin, "ContentInfo without type"))?;
        let body = cr.next().ok().and_then(explicit0);
        match ct.as_str() {
            DATA => {
                let bytes = body
                    .and_then(octets)
                    .ok_or_else(|| corrupt(origin, "empty data ContentInfo"))?;
                read_safe_contents(&bytes, password, origin, &mut out, 0)?;
            }
            ENCRYPTED_DATA => {
                let bytes = decrypt_encrypted_data(body, password, origin)?;
                read_safe_contents(&bytes, password, origin, &mut out, 0)?;
            }
            ENVELOPED_DATA => {
                return Err(PkiError::Invalid(format!(
                    "{origin}: PKCS#12 files in public-key privacy mode (enveloped) are not supported"
                )));
            }
            other => return Err(corrupt(origin, format!("ContentInfo type {other}"))),
        }
    }
    Ok(out)
}

fn decrypt_encrypted_data(
    body: Option<Tlv<'_>>,
    password: Password<'_>,
    origin: &str,
) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo }
    let body = body.ok_or_else(|| corrupt(origin, "empty encryptedData"))?;
    let mut r = body.reader();
    r.expect(der::INTEGER)
        .ok_or_else(|| corrupt(origin, "encryptedData version"))?;
    let eci = r
        .expect(der::SEQUENCE)
        .ok_or_else(|| corrupt(origin, "encryptedData content info"))?;
    let mut er = eci.reader();
    er.expect(der::OID)
        .ok_or_else(|| corrupt(origin, "encrypted content type"))?;
    let alg = er
        .expect(der::SEQUENCE)
        .ok_or_else(|| corrupt(origin, "encryption algorithm"))?;
    let Some(ciphertext) = er.next().ok().and_then(octets) else {
        return Ok(Zeroizing::new(Vec::new()));
    };
    let plain = encrypted::decrypt_with_algorithm(alg, &ciphertext, password)?;
    // Without a MAC, a wrong password shows as plaintext that is not DER.
    let whole = der::read(&plain).is_ok_and(|(t, _)| t.is(der::SEQUENCE));
    if !whole {
        return Err(PkiError::WrongPassword(String::new()));
    }
    Ok(plain)
}

fn read_safe_contents(
    bytes: &[u8],
    password: Password<'_>,
    origin: &str,
    out: &mut Pkcs12Contents,
    depth: usize,
) -> Result<(), PkiError> {
    if bytes.is_empty() {
        return Ok(());
    }
    if depth > 4 {
        return Err(corrupt(origin, "SafeContents nested too deep"));
    }
    let (seq, _) = der::read(bytes).map_err(|e| corrupt(origin, e))?;
    let mut r = seq.reader();
    while !r.is_empty() {
        let bag = r.next().map_err(|e| corrupt(origin, e))?;
        let mut br = bag.reader();
        let bag_id = br
            .expect(der::OID)
            .map(|o| der::oid_to_string(o.value))
            .ok_or_else(|| corrupt(origin, "SafeBag without type"))?;
        let Some(value) = br.next().ok().and_then(explicit0) else {
            continue;
        };
        match bag_id.as_str() {
            KEY_BAG => out.keys.push(Zeroizing::new(value.raw.to_vec())),
            SHROUDED_KEY_BAG => {
                let key = encrypted::decrypt_pkcs8_with(value.raw, password, origin)?;
                out.keys.push(key);
            }
            CERT_BAG => {
                let mut cr = value.reader();
                let cert_type = cr.expect(der::OID).map(|o| der::oid_to_string(o.value));
                if cert_type.as_deref() != Some(X509_CERTIFICATE) {
                    continue;
                }
                let cert = cr
                    .next()
                    .ok()
                    .and_then(explicit0)
                    .and_then(octets)
                    .ok_or_else(|| corrupt(origin, "empty certificate bag"))?;
                out.certs.push(cert.into_owned());
            }
            SAFE_CONTENTS_BAG => {
                read_safe_contents(value.raw, password, origin, out, depth + 1)?;
            }
            // CRL and secret bags carry nothing to import.
            _ => {}
        }
    }
    Ok(())
}
