//! Generic webhook: `POST <url>` with the [`Notification`] as JSON, signed twice.
//!
//! * Standard Webhooks (<https://www.standardwebhooks.com/>): `webhook-id` (the notification id,
//!   stable across retries), `webhook-timestamp` (unix seconds of this attempt),
//!   `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>` where `key`
//!   is the base64-decoded part of the channel secret after `whsec_`.
//! * `certkeep-signature`: a detached compact JWS (ES256) over the body with the instance key,
//!   verifiable with the public JWKS at `/api/v1/notifications/jwks.json` (see
//!   [`crate::notify::signing`]).
//!
//! docs/webhooks.md is the receiver-facing description of this format.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{SendContext, SendResult, post_json};
use crate::notify::event::Notification;

pub(super) async fn send(
    url: &str,
    hmac_secret: &str,
    n: &Notification,
    ctx: &SendContext<'_>,
) -> SendResult {
    let body = match serde_json::to_vec(n) {
        Ok(body) => body,
        Err(e) => {
            return SendResult::Failed {
                status: None,
                error: format!("the notification cannot be serialized: {e}"),
            };
        }
    };
    let Some(key) = hmac_key(hmac_secret) else {
        return SendResult::Failed {
            status: None,
            error: "the channel's webhook secret is not `whsec_` followed by base64".into(),
        };
    };
    let id = n.id.to_string();
    let timestamp = ctx.now.unix_timestamp().to_string();
    let signature = standard_signature(&key, &id, &timestamp, &body);
    let jws = match ctx.signer.sign_detached(&body) {
        Ok(jws) => jws,
        Err(e) => {
            return SendResult::Retry {
                status: None,
                error: format!("signing the body: {e}"),
                retry_after: None,
            };
        }
    };
    let headers = [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
        ("certkeep-signature", jws),
    ];
    post_json(ctx, url, body, &headers).await
}

/// The HMAC key of a Standard Webhooks secret: base64 after an optional `whsec_` prefix.
fn hmac_key(secret: &str) -> Option<hmac::Key> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let raw = zeroize::Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
    if raw.is_empty() {
        return None;
    }
    Some(hmac::Key::new(hmac::HMAC_SHA256, &raw))
}

/// `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`.
fn standard_signature(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks reference libraries' test suites.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let key = hmac_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = standard_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rejects_secrets_that_are_not_base64() {
        assert!(hmac_key("whsec_not base64!").is_none());
        assert!(hmac_key("whsec_").is_none());
        assert!(hmac_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_some());
    }
}
