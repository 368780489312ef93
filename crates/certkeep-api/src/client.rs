//! Typed async client for the certkeep REST API.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{
    AcmeAccountInfo, AcmeAccountList, CreateAcmeAccountRequest, CreateDnsProviderRequest,
    CreateOrderRequest, DnsProviderInfo, DnsProviderList, OrderInfo, OrderList,
    RenewCertificateRequest, RenewalInfo, RevocationInfo, RevokeCertificateRequest,
    UpdateAcmeAccountRequest, UpdateRenewalRequest,
};
use crate::{
    AuditPage, AuditQuery, BatchImportRequest, BatchImportResponse, CertificateListQuery,
    CertificateMetadata, CertificatePage, CertificateVersionList, CreateTokenRequest, CreatedToken,
    DownloadQuery, EditCertificateRequest, ErrorBody, HealthStatus, ImportCertificateRequest,
    Pkcs12ExportRequest, ReimportCertificateRequest, TokenInfo, TokenList,
};
use crate::{
    ChannelInfo, ChannelList, ChannelTestResult, CreateChannelRequest, CreatedChannel,
    DeliveryPage, DeliveryQuery, UpdateChannelRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{} ({}, request {})", .body.message, .status, .body.request_id)]
    Api { status: u16, body: ErrorBody },
    /// The server answered with an error status but no certkeep error body.
    #[error("server answered {status}: {text}")]
    Http { status: u16, text: String },
    #[error("cannot reach the server: {0}")]
    Transport(String),
    #[error("unexpected response from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Http { status, .. } => Some(*status),
            ClientError::Transport(_) | ClientError::Decode(_) => None,
        }
    }

    /// The error body's code, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }
}

/// A transport error with its causes ("connection refused"), which reqwest's Display omits.
fn transport(e: reqwest::Error) -> ClientError {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    ClientError::Transport(msg)
}

/// A client bound to one server and one bearer token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { http, base, token } = self;
        f.debug_struct("Client")
            .field("http", http)
            .field("base", base)
            .field("token", &crate::Redacted::option(token))
            .finish()
    }
}

impl Client {
    /// `base_url` is the server root, e.g. `http://127.0.0.1:8080`.
    pub fn new(base_url: &str, token: Option<String>) -> Result<Client, ClientError> {
        Client::with_ca(base_url, token, None)
    }

    /// [`Client::new`] that also trusts the CA certificates in `ca_pem` (PEM), for a server
    /// whose certificate comes from a private CA.
    pub fn with_ca(
        base_url: &str,
        token: Option<String>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("certkeep-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                ClientError::Transport(format!("the CA certificates are not PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(ClientError::Transport(
                    "the CA file holds no PEM certificate".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(transport)?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            token,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn send_raw(&self, rb: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = rb.send().await.map_err(transport)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(transport)?;
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(ClientError::Http { status, text }),
        }
    }

    async fn send_json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, ClientError> {
        let resp = self.send_raw(rb).await?;
        let bytes = resp.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn send_empty(&self, rb: RequestBuilder) -> Result<(), ClientError> {
        let resp = self.send_raw(rb).await?;
        if resp.status() == StatusCode::NO_CONTENT || resp.status().is_success() {
            Ok(())
        } else {
            Err(ClientError::Decode(format!(
                "unexpected status {}",
                resp.status()
            )))
        }
    }

    fn with_query<Q: Serialize>(rb: RequestBuilder, q: &Q) -> RequestBuilder {
        rb.query(q)
    }

    pub async fn health(&self) -> Result<HealthStatus, ClientError> {
        self.send_json(self.request(Method::GET, "/healthz")).await
    }

    pub async fn ready(&self) -> Result<HealthStatus, ClientError> {
        self.send_json(self.request(Method::GET, "/readyz")).await
    }

    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/openapi.json"))
            .await
    }

    pub async fn certificate_import(
        &self,
        req: &ImportCertificateRequest,
    ) -> Result<CertificateMetadata, ClientError> {
        self.send_json(self.request(Method::POST, "/api/v1/certificates").json(req))
            .await
    }

    pub async fn certificate_import_batch(
        &self,
        req: &BatchImportRequest,
    ) -> Result<BatchImportResponse, ClientError> {
        self.send_json(
            self.request(Method::POST, "/api/v1/certificates/batch")
                .json(req),
        )
        .await
    }

    pub async fn certificate_list(
        &self,
        q: &CertificateListQuery,
    ) -> Result<CertificatePage, ClientError> {
        self.send_json(Self::with_query(
            self.request(Method::GET, "/api/v1/certificates"),
            q,
        ))
        .await
    }

    pub async fn certificate_get(&self, id: Uuid) -> Result<CertificateMetadata, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/certificates/{id}")))
            .await
    }

    pub async fn certificate_reimport(
        &self,
        id: Uuid,
        req: &ReimportCertificateRequest,
    ) -> Result<CertificateMetadata, ClientError> {
        self.send_json(
            self.request(Method::POST, &format!("/api/v1/certificates/{id}/versions"))
                .json(req),
        )
        .await
    }

    pub async fn certificate_versions(
        &self,
        id: Uuid,
    ) -> Result<CertificateVersionList, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/certificates/{id}/versions")))
            .await
    }

    /// The latest notifications about a certificate, newest first.
    pub async fn certificate_notifications(&self, id: Uuid) -> Result<DeliveryPage, ClientError> {
        self.send_json(self.request(
            Method::GET,
            &format!("/api/v1/certificates/{id}/notifications"),
        ))
        .await
    }

    pub async fn certificate_edit(
        &self,
        id: Uuid,
        req: &EditCertificateRequest,
    ) -> Result<CertificateMetadata, ClientError> {
        self.send_json(
            self.request(Method::PATCH, &format!("/api/v1/certificates/{id}"))
                .json(req),
        )
        .await
    }

    /// Soft delete: the entry can be restored until it is purged.
    pub async fn certificate_delete(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &format!("/api/v1/certificates/{id}")))
            .await
    }

    pub async fn certificate_restore(&self, id: Uuid) -> Result<CertificateMetadata, ClientError> {
        self.send_json(self.request(Method::POST, &format!("/api/v1/certificates/{id}/restore")))
            .await
    }

    /// Irreversible removal of a soft-deleted entry, all versions and keys.
    pub async fn certificate_purge(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::POST, &format!("/api/v1/certificates/{id}/purge")))
            .await
    }

    pub async fn certificate_download(
        &self,
        id: Uuid,
        q: &DownloadQuery,
    ) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .send_raw(Self::with_query(
                self.request(Method::GET, &format!("/api/v1/certificates/{id}/download")),
                q,
            ))
            .await?;
        let bytes = resp.bytes().await.map_err(transport)?;
        Ok(bytes.to_vec())
    }

    pub async fn certificate_pkcs12(
        &self,
        id: Uuid,
        req: &Pkcs12ExportRequest,
    ) -> Result<Vec<u8>, ClientError> {
        let resp = self
            .send_raw(
                self.request(Method::POST, &format!("/api/v1/certificates/{id}/pkcs12"))
                    .json(req),
            )
            .await?;
        let bytes = resp.bytes().await.map_err(transport)?;
        Ok(bytes.to_vec())
    }

    pub async fn token_create(
        &self,
        req: &CreateTokenRequest,
    ) -> Result<CreatedToken, ClientError> {
        self.send_json(self.request(Method::POST, "/api/v1/tokens").json(req))
            .await
    }

    pub async fn token_list(&self) -> Result<TokenList, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/tokens"))
            .await
    }

    pub async fn token_revoke(&self, id: Uuid) -> Result<TokenInfo, ClientError> {
        self.send_json(self.request(Method::DELETE, &format!("/api/v1/tokens/{id}")))
            .await
    }

    pub async fn audit_list(&self, q: &AuditQuery) -> Result<AuditPage, ClientError> {
        self.send_json(Self::with_query(
            self.request(Method::GET, "/api/v1/audit-events"),
            q,
        ))
        .await
    }

    pub async fn channel_create(
        &self,
        req: &CreateChannelRequest,
    ) -> Result<CreatedChannel, ClientError> {
        self.send_json(
            self.request(Method::POST, "/api/v1/notification-channels")
                .json(req),
        )
        .await
    }

    pub async fn channel_list(&self) -> Result<ChannelList, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/notification-channels"))
            .await
    }

    pub async fn channel_get(&self, id: Uuid) -> Result<ChannelInfo, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/notification-channels/{id}")))
            .await
    }

    pub async fn channel_update(
        &self,
        id: Uuid,
        req: &UpdateChannelRequest,
    ) -> Result<ChannelInfo, ClientError> {
        self.send_json(
            self.request(
                Method::PATCH,
                &format!("/api/v1/notification-channels/{id}"),
            )
            .json(req),
        )
        .await
    }

    pub async fn channel_delete(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/api/v1/notification-channels/{id}"),
        ))
        .await
    }

    /// Send a `channel.test` event now and report the receiver's answer.
    pub async fn channel_test(&self, id: Uuid) -> Result<ChannelTestResult, ClientError> {
        self.send_json(self.request(
            Method::POST,
            &format!("/api/v1/notification-channels/{id}/test"),
        ))
        .await
    }

    pub async fn channel_deliveries(
        &self,
        id: Uuid,
        q: &DeliveryQuery,
    ) -> Result<DeliveryPage, ClientError> {
        self.send_json(Self::with_query(
            self.request(
                Method::GET,
                &format!("/api/v1/notification-channels/{id}/deliveries"),
            ),
            q,
        ))
        .await
    }

    /// The public keys that sign webhook bodies (no authentication).
    pub async fn notification_jwks(&self) -> Result<serde_json::Value, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/notifications/jwks.json"))
            .await
    }

    /// Replace the webhook signing key (Admin); returns the JWKS with the new and previous keys.
    pub async fn notification_signing_key_rotate(&self) -> Result<serde_json::Value, ClientError> {
        self.send_json(self.request(Method::POST, "/api/v1/notifications/signing-keys/rotate"))
            .await
    }

    /// Register an account with an ACME CA.
    pub async fn acme_account_create(
        &self,
        req: &CreateAcmeAccountRequest,
    ) -> Result<AcmeAccountInfo, ClientError> {
        self.send_json(
            self.request(Method::POST, "/api/v1/acme/accounts")
                .json(req),
        )
        .await
    }

    pub async fn acme_account_list(&self) -> Result<AcmeAccountList, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/acme/accounts"))
            .await
    }

    pub async fn acme_account_get(&self, id: Uuid) -> Result<AcmeAccountInfo, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/acme/accounts/{id}")))
            .await
    }

    pub async fn acme_account_delete(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &format!("/api/v1/acme/accounts/{id}")))
            .await
    }

    pub async fn dns_provider_create(
        &self,
        req: &CreateDnsProviderRequest,
    ) -> Result<DnsProviderInfo, ClientError> {
        self.send_json(
            self.request(Method::POST, "/api/v1/dns-providers")
                .json(req),
        )
        .await
    }

    pub async fn dns_provider_list(&self) -> Result<DnsProviderList, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/dns-providers"))
            .await
    }

    pub async fn dns_provider_get(&self, id: Uuid) -> Result<DnsProviderInfo, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/dns-providers/{id}")))
            .await
    }

    pub async fn dns_provider_delete(&self, id: Uuid) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &format!("/api/v1/dns-providers/{id}")))
            .await
    }

    /// Order a certificate; it is obtained in the background (see `order_get`).
    pub async fn order_create(&self, req: &CreateOrderRequest) -> Result<OrderInfo, ClientError> {
        self.send_json(self.request(Method::POST, "/api/v1/orders").json(req))
            .await
    }

    pub async fn order_list(&self) -> Result<OrderList, ClientError> {
        self.send_json(self.request(Method::GET, "/api/v1/orders"))
            .await
    }

    pub async fn order_get(&self, id: Uuid) -> Result<OrderInfo, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/orders/{id}")))
            .await
    }

    /// Change an ACME account's name or contacts, or roll its key over.
    pub async fn acme_account_update(
        &self,
        id: Uuid,
        req: &UpdateAcmeAccountRequest,
    ) -> Result<AcmeAccountInfo, ClientError> {
        self.send_json(
            self.request(Method::PATCH, &format!("/api/v1/acme/accounts/{id}"))
                .json(req),
        )
        .await
    }

    /// The TXT records of a manual DNS-01 order are in place: let it go on.
    pub async fn order_validate(&self, id: Uuid) -> Result<OrderInfo, ClientError> {
        self.send_json(self.request(Method::POST, &format!("/api/v1/orders/{id}/validate")))
            .await
    }

    /// The renewal state of an ordered certificate.
    pub async fn certificate_renewal_get(&self, id: Uuid) -> Result<RenewalInfo, ClientError> {
        self.send_json(self.request(Method::GET, &format!("/api/v1/certificates/{id}/renewal")))
            .await
    }

    /// Turn automatic renewal of an ordered certificate on or off.
    pub async fn certificate_renewal_update(
        &self,
        id: Uuid,
        req: &UpdateRenewalRequest,
    ) -> Result<RenewalInfo, ClientError> {
        self.send_json(
            self.request(Method::PATCH, &format!("/api/v1/certificates/{id}/renewal"))
                .json(req),
        )
        .await
    }

    /// Renew an ordered certificate now; the renewal order runs in the background.
    pub async fn certificate_renew(
        &self,
        id: Uuid,
        req: &RenewCertificateRequest,
    ) -> Result<OrderInfo, ClientError> {
        self.send_json(
            self.request(Method::POST, &format!("/api/v1/certificates/{id}/renew"))
                .json(req),
        )
        .await
    }

    /// Revoke the current version of an ordered certificate at its CA.
    pub async fn certificate_revoke(
        &self,
        id: Uuid,
        req: &RevokeCertificateRequest,
    ) -> Result<RevocationInfo, ClientError> {
        self.send_json(
            self.request(Method::POST, &format!("/api/v1/certificates/{id}/revoke"))
                .json(req),
        )
        .await
    }

    /// A raw request, for tests and tools that need to send what the typed methods cannot.
    pub fn raw(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path)
    }
}
