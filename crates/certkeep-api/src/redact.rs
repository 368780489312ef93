//! `Debug` for the types that carry secrets (keys, passwords, tokens, TSIG and EAB keys, channel
//! URLs and routing keys): each writes its fields by hand, destructuring the whole value so that
//! a new field does not compile until someone decides whether it is secret, and shows a secret
//! only as [`Redacted`] (`"<redacted>"`, or `Some("<redacted>")`/`None` for an optional one, so
//! whether it was given stays visible), and certificate input, which may carry a key, only by
//! its size. The serde and OpenAPI forms are the derived ones, untouched.

use std::fmt;

/// Stands for a secret in `Debug` output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted;

impl Redacted {
    /// `Some(Redacted)` when the secret is there, `None` when it is not.
    pub fn option<T>(value: &Option<T>) -> Option<Redacted> {
        value.as_ref().map(|_| Redacted)
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Stands for certificate input in `Debug` output: only its size. A PEM input may hold the
/// private key beside the certificate, and a PKCS#12 input always does, so the text is not shown.
pub(crate) struct Material(pub(crate) usize);

impl Material {
    pub(crate) fn all(inputs: &[String]) -> Vec<Material> {
        inputs.iter().map(|i| Material(i.len())).collect()
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"<{} bytes, not shown>\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;

    use crate::*;

    const SECRET: &str = "s3cr3t-Value-That-Must-Not-Leak";

    fn assert_redacted(value: &impl std::fmt::Debug, visible: &[&str]) {
        for text in [format!("{value:?}"), format!("{value:#?}")] {
            assert!(!text.contains(SECRET), "the secret leaked: {text}");
            assert!(text.contains("\"<redacted>\""), "{text}");
            for v in visible {
                assert!(text.contains(v), "`{v}` should still be shown: {text}");
            }
        }
    }

    fn smtp() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.com".into(),
            port: Some(587),
            tls: SmtpTlsMode::Starttls,
            username: Some("certkeep".into()),
            password: Some(SECRET.into()),
            ca_pem: None,
        }
    }

    #[test]
    fn acme_and_dns_credentials() {
        let eab = EabCredentials {
            kid: "kid-1".into(),
            hmac_key: SECRET.into(),
        };
        assert_redacted(&eab, &["kid-1"]);
        assert_redacted(
            &CreateAcmeAccountRequest {
                name: "le".into(),
                directory: "letsencrypt".into(),
                eab: Some(eab),
                ..Default::default()
            },
            &["letsencrypt", "kid-1"],
        );
        assert_redacted(
            &CreateDnsProviderRequest {
                name: "bind".into(),
                kind: Some(DnsProviderKind::Rfc2136),
                server: "ns1.example.com:53".into(),
                zone: "example.com".into(),
                tsig_key_name: "certkeep".into(),
                tsig_algorithm: TsigAlgorithm::HmacSha256,
                tsig_secret: SECRET.into(),
                channel_id: None,
                propagation_timeout_seconds: None,
            },
            &["ns1.example.com:53", "certkeep", "HmacSha256"],
        );
    }

    #[test]
    fn keys_passwords_and_tokens() {
        // One PEM input may hold the key beside the certificate; chain inputs too.
        let bundle = format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----");
        let import = ImportCertificateRequest {
            name: "www".into(),
            certificate: bundle.clone(),
            private_key: Some(SECRET.into()),
            chain: vec![bundle.clone()],
            password: Some(SECRET.into()),
            ..Default::default()
        };
        let shown = format!("\"<{} bytes, not shown>\"", bundle.len());
        assert_redacted(&import, &["www", &shown]);
        assert_redacted(
            &BatchImportRequest {
                items: vec![import],
            },
            &["www"],
        );
        assert_redacted(
            &ReimportCertificateRequest {
                certificate: bundle.clone(),
                private_key: Some(SECRET.into()),
                chain: vec![bundle],
                password: Some(SECRET.into()),
            },
            &[&shown],
        );
        assert_redacted(
            &Pkcs12ExportRequest {
                password: SECRET.into(),
                version: Some(2),
                include_key: Some(true),
            },
            &["include_key"],
        );
        let info = TokenInfo {
            id: uuid::Uuid::nil(),
            name: "ci".into(),
            role: Role::Reader,
            group: None,
            prefix: "ck_abcd".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            created_by: None,
        };
        assert_redacted(
            &CreatedToken {
                token: SECRET.into(),
                info,
            },
            &["ck_abcd"],
        );
        // Absent secrets stay visibly absent.
        let text = format!(
            "{:?}",
            ReimportCertificateRequest {
                certificate: String::new(),
                private_key: None,
                chain: vec![],
                password: None,
            }
        );
        assert!(
            text.contains("private_key: None") && text.contains("password: None"),
            "{text}"
        );
    }

    #[test]
    fn channel_secrets() {
        let slack = format!("https://hooks.slack.com/services/T000/B000/{SECRET}");
        assert_redacted(&smtp(), &["smtp.example.com", "certkeep", "587"]);
        assert_redacted(
            &CreateChannelRequest {
                name: "ops".into(),
                kind: Some(ChannelKind::Slack),
                url: Some(slack.clone()),
                secret: Some(SECRET.into()),
                routing_key: Some(SECRET.into()),
                events_url: Some("https://events.pagerduty.com/v2/enqueue".into()),
                smtp: Some(smtp()),
                email_from: Some("certkeep@example.com".into()),
                email_to: vec!["team@example.com".into()],
                scope: Some(ChannelScope {
                    group: Some("web".into()),
                    labels: BTreeMap::new(),
                }),
                ..Default::default()
            },
            &[
                "ops",
                "Slack",
                "events.pagerduty.com",
                "team@example.com",
                "web",
            ],
        );
        assert_redacted(
            &UpdateChannelRequest {
                name: Some("ops".into()),
                url: Some(slack),
                secret: Some(SECRET.into()),
                routing_key: Some(SECRET.into()),
                smtp: Some(smtp()),
                ..Default::default()
            },
            &["ops", "smtp.example.com"],
        );
    }

    #[cfg(feature = "client")]
    #[test]
    fn client_token() {
        let client = Client::new("http://127.0.0.1:8080", Some(SECRET.into())).unwrap();
        assert_redacted(&client, &["http://127.0.0.1:8080"]);
    }
}
