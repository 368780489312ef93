//! The instance's webhook signing key (ES256, P-256) and its JWKS.
//!
//! Webhook bodies are signed as a detached compact JWS (RFC 7515 Appendix F): the header
//! `{"alg":"ES256","kid":<kid>,"typ":"JOSE"}` and the signature travel in the
//! `certkeep-signature` header as `BASE64URL(header) ".." BASE64URL(signature)`; the signing
//! input is `BASE64URL(header) "." BASE64URL(body)`. The signature is the 64-byte `r || s`
//! form JWS requires (RFC 7518 §3.4). The `kid` is the RFC 7638 thumbprint of the public key,
//! so rotating the key changes the kid and receivers pick the right entry from the JWKS
//! while old and new keys are both published.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::Error;

/// Signs webhook bodies as detached compact JWS (ES256) with the instance key.
pub struct Signer {
    key: EcdsaKeyPair,
    /// Public point coordinates, base64url (32 bytes each).
    x: String,
    y: String,
    kid: String,
    /// `BASE64URL({"alg":"ES256","kid":…,"typ":"JOSE"})`: the same for every signature.
    header_b64: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// Generate a new P-256 key; returns the signer and its PKCS#8 (to be sealed and stored).
    pub fn generate() -> Result<(Signer, Zeroizing<Vec<u8>>), Error> {
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| {
                Error::Internal("generating the P-256 webhook signing key failed".into())
            })?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        let signer = Signer::from_pkcs8(&pkcs8)?;
        Ok((signer, pkcs8))
    }

    /// Load a stored key (PKCS#8 DER of a P-256 key).
    pub fn from_pkcs8(der: &[u8]) -> Result<Signer, Error> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| {
            Error::InvalidInput(format!(
                "the webhook signing key is not a PKCS#8 P-256 private key ({} bytes): {e}",
                der.len()
            ))
        })?;
        let point = key.public_key().as_ref();
        // Uncompressed SEC1 point: 0x04 || X (32) || Y (32).
        if point.len() != 65 || point[0] != 0x04 {
            return Err(Error::Internal(format!(
                "unexpected P-256 public key encoding ({} bytes)",
                point.len()
            )));
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638 §3.2: the required members only, lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, thumbprint_input.as_bytes()));
        let header = serde_json::json!({ "alg": "ES256", "kid": kid, "typ": "JOSE" });
        let header_b64 = URL_SAFE_NO_PAD.encode(header.to_string());
        Ok(Signer {
            key,
            x,
            y,
            kid,
            header_b64,
        })
    }

    /// RFC 7638 thumbprint of the public JWK, base64url: the `kid`.
    pub fn kid(&self) -> String {
        self.kid.clone()
    }

    /// The public key as a JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"alg":"ES256","use":"sig"}`).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// Detached compact JWS over `payload`: `<b64url(header)>..<b64url(signature)>` with the
    /// header `{"alg":"ES256","kid":…,"typ":"JOSE"}` (RFC 7515 Appendix F).
    pub fn sign_detached(&self, payload: &[u8]) -> Result<String, Error> {
        let mut signing_input =
            String::with_capacity(self.header_b64.len() + 1 + payload.len().div_ceil(3) * 4);
        signing_input.push_str(&self.header_b64);
        signing_input.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut signing_input);
        let signature = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| Error::Internal("ES256 signing failed".into()))?;
        Ok(format!(
            "{}..{}",
            self.header_b64,
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

/// The JWKS document served at `/api/v1/notifications/jwks.json`: `{"keys":[…]}`. Publish the
/// current key and, during a rotation, the previous one.
pub fn jwks(signers: &[&Signer]) -> serde_json::Value {
    serde_json::json!({ "keys": signers.iter().map(|s| s.public_jwk()).collect::<Vec<_>>() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    #[test]
    fn kid_matches_the_rfc7638_thumbprint_and_survives_a_reload() {
        let (signer, pkcs8) = Signer::generate().unwrap();
        let jwk = signer.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        let expected =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
        assert_eq!(signer.kid(), expected);
        assert_eq!(jwk["kid"], expected.as_str());
        assert_eq!(signer.kid().len(), 43);
        let reloaded = Signer::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(reloaded.kid(), signer.kid());
        assert_eq!(reloaded.public_jwk(), jwk);
    }

    #[test]
    fn detached_jws_verifies_over_header_dot_payload() {
        let (signer, _) = Signer::generate().unwrap();
        let body = br#"{"hello":"world"}"#;
        let jws = signer.sign_detached(body).unwrap();
        let (header_b64, sig_b64) = jws.split_once("..").unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg":"ES256","kid":signer.kid(),"typ":"JOSE"})
        );
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).unwrap();
        assert_eq!(sig.len(), 64);
        let jwk = signer.public_jwk();
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(body));
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point);
        key.verify(input.as_bytes(), &sig).unwrap();
        assert!(key.verify(b"tampered", &sig).is_err());
    }

    #[test]
    fn jwks_lists_every_key_and_rejects_garbage_keys() {
        let (a, _) = Signer::generate().unwrap();
        let (b, _) = Signer::generate().unwrap();
        let set = jwks(&[&a, &b]);
        assert_eq!(set["keys"].as_array().unwrap().len(), 2);
        assert_eq!(set["keys"][1]["kid"], b.kid().as_str());
        assert!(Signer::from_pkcs8(b"not a key").is_err());
    }
}

/// The signing keys of the instance: `current` signs; `previous`, after a rotation, stays in the
/// JWKS so receivers verify what was signed before every replica picked up the new key.
#[derive(Debug)]
pub struct SigningKeys {
    pub current: Signer,
    pub previous: Option<Signer>,
}

impl SigningKeys {
    pub fn jwks(&self) -> serde_json::Value {
        match &self.previous {
            Some(p) => jwks(&[&self.current, p]),
            None => jwks(&[&self.current]),
        }
    }
}
