//! ACME ordering: CA accounts, DNS-01 providers and certificate orders.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Redacted;

/// External Account Binding credentials, as the CA hands them out. Write-only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EabCredentials {
    /// The key identifier.
    pub kid: String,
    /// The MAC key, base64url (padding optional).
    pub hmac_key: String,
}

impl fmt::Debug for EabCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { kid, hmac_key: _ } = self;
        f.debug_struct("EabCredentials")
            .field("kid", kid)
            .field("hmac_key", &Redacted)
            .finish()
    }
}

/// A new ACME account, registered with the CA when it is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateAcmeAccountRequest {
    pub name: String,
    /// `letsencrypt`, `letsencrypt-staging`, or the `https://` URL of a directory.
    pub directory: String,
    /// Contact addresses (`mailto:ops@example.com` or bare e-mail addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// Must be true: the CA's terms of service are agreed to on the operator's behalf.
    #[serde(default)]
    pub terms_of_service_agreed: bool,
    /// For CAs that require External Account Binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab: Option<EabCredentials>,
    /// PEM root certificate(s) to trust for the directory's TLS (private ACME servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_root_pem: Option<String>,
}

/// Changes to an ACME account; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAcmeAccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new contact addresses, replacing the old ones at the CA (`[]` removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Vec<String>>,
    /// Replace the account key with a new one at the CA (RFC 8555 key rollover).
    #[serde(default)]
    pub rollover_key: bool,
}

/// An ACME account as the API shows it (its key never).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmeAccountInfo {
    pub id: Uuid,
    pub name: String,
    pub directory_url: String,
    pub contact: Vec<String>,
    /// The EAB key identifier the account was bound with.
    pub eab_kid: Option<String>,
    /// Whether a custom CA root is trusted for the directory.
    pub custom_ca_root: bool,
    /// The account's URL at the CA.
    pub account_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmeAccountList {
    pub items: Vec<AcmeAccountInfo>,
}

/// Kinds of DNS-01 provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DnsProviderKind {
    /// RFC 2136 dynamic updates signed with TSIG, sent to the zone's primary.
    Rfc2136,
    /// certkeep sends `dns.validation_required` to a webhook channel, waits until the zone's
    /// authoritative nameservers serve the record, and sends `dns.validation_completed` after.
    Callback,
    /// The order stops in `awaiting_dns` showing the TXT records; a person creates them and
    /// calls `POST /api/v1/orders/{id}/validate`.
    Manual,
}

impl DnsProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsProviderKind::Rfc2136 => "rfc2136",
            DnsProviderKind::Callback => "callback",
            DnsProviderKind::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<DnsProviderKind> {
        [
            DnsProviderKind::Rfc2136,
            DnsProviderKind::Callback,
            DnsProviderKind::Manual,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// TSIG algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TsigAlgorithm {
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }
}

/// A new DNS-01 provider.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDnsProviderRequest {
    pub name: String,
    /// `rfc2136` when absent.
    pub kind: Option<DnsProviderKind>,
    /// rfc2136: the primary server that takes updates, `host:port` (port 53 when absent).
    #[serde(default)]
    pub server: String,
    /// The zone the records go into, e.g. `example.com`; its authoritative nameservers are
    /// asked whether they serve a record.
    pub zone: String,
    /// rfc2136: the TSIG key name.
    #[serde(default)]
    pub tsig_key_name: String,
    #[serde(default)]
    pub tsig_algorithm: TsigAlgorithm,
    /// rfc2136: the TSIG secret, base64 (as in BIND's `secret "…";`). Write-only.
    #[serde(default)]
    pub tsig_secret: String,
    /// callback: the webhook channel that receives `dns.validation_required` and
    /// `dns.validation_completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Uuid>,
    /// How long to wait for every authoritative nameserver to serve the record (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_timeout_seconds: Option<u32>,
}

impl fmt::Debug for CreateDnsProviderRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            kind,
            server,
            zone,
            tsig_key_name,
            tsig_algorithm,
            tsig_secret: _,
            channel_id,
            propagation_timeout_seconds,
        } = self;
        f.debug_struct("CreateDnsProviderRequest")
            .field("name", name)
            .field("kind", kind)
            .field("server", server)
            .field("zone", zone)
            .field("tsig_key_name", tsig_key_name)
            .field("tsig_algorithm", tsig_algorithm)
            .field("tsig_secret", &Redacted)
            .field("channel_id", channel_id)
            .field("propagation_timeout_seconds", propagation_timeout_seconds)
            .finish()
    }
}

/// A DNS provider as the API shows it (its secret never).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsProviderInfo {
    pub id: Uuid,
    pub name: String,
    pub kind: DnsProviderKind,
    /// rfc2136: the primary taking updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub zone: String,
    /// rfc2136: the TSIG key name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// rfc2136: the TSIG algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<TsigAlgorithm>,
    /// callback: the webhook channel told about each record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Uuid>,
    pub propagation_timeout_seconds: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsProviderList {
    pub items: Vec<DnsProviderInfo>,
}

/// Key types certkeep generates for ordered certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyType {
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    #[default]
    #[serde(rename = "ec-p256")]
    EcP256,
    #[serde(rename = "ec-p384")]
    EcP384,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
        }
    }

    pub fn parse(s: &str) -> Option<KeyType> {
        [
            KeyType::Rsa2048,
            KeyType::Rsa3072,
            KeyType::Rsa4096,
            KeyType::EcP256,
            KeyType::EcP384,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// How the CA checks control of the domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChallengeType {
    /// certkeep answers on its HTTP-01 listener (`/.well-known/acme-challenge/`).
    #[serde(rename = "http-01")]
    Http01,
    /// A TXT record at `_acme-challenge.<domain>`, written through a DNS provider.
    #[serde(rename = "dns-01")]
    Dns01,
}

impl ChallengeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeType::Http01 => "http-01",
            ChallengeType::Dns01 => "dns-01",
        }
    }

    pub fn parse(s: &str) -> Option<ChallengeType> {
        [ChallengeType::Http01, ChallengeType::Dns01]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A certificate to order. The key is generated inside certkeep and stored sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Name of the inventory entry the certificate becomes.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// DNS names (the first is the subject); `*.example.com` needs `dns-01`.
    pub domains: Vec<String>,
    /// `ec-p256` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
    pub account_id: Uuid,
    pub challenge: ChallengeType,
    /// Required with `dns-01`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_provider_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Renew automatically before expiry (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew: Option<bool>,
}

/// A renewal asked for now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenewCertificateRequest {
    /// Generate a new key (default: keep the entry's current key).
    #[serde(default)]
    pub rekey: bool,
}

/// Turning automatic renewal of an ordered certificate on or off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateRenewalRequest {
    pub auto_renew: bool,
}

/// The renewal state of an ordered certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenewalInfo {
    pub certificate_id: Uuid,
    /// The order that issued the current version; renewals repeat its settings.
    pub order_id: Uuid,
    /// Whether the renewal job renews it (manual renewal works either way).
    pub auto_renew: bool,
    /// When the renewal job starts the next renewal (if `auto_renew`).
    #[serde(with = "time::serde::rfc3339")]
    pub renew_at: OffsetDateTime,
    /// Failed renewals in a row, and the last reason.
    pub failures: u32,
    pub last_error: Option<String>,
}

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted; waiting for a worker.
    Pending,
    /// A worker is proving control of the domains to the CA.
    Validating,
    /// Manual DNS-01: waiting for someone to create `dns_records` and call `validate`.
    AwaitingDns,
    /// The certificate is in the inventory (`certificate_id`).
    Issued,
    /// It failed; `error` says why, `problem` is the CA's problem document.
    Failed,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Validating => "validating",
            OrderStatus::AwaitingDns => "awaiting_dns",
            OrderStatus::Issued => "issued",
            OrderStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        [
            OrderStatus::Pending,
            OrderStatus::Validating,
            OrderStatus::AwaitingDns,
            OrderStatus::Issued,
            OrderStatus::Failed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// An RFC 8555 / RFC 7807 problem document from the CA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmeProblem {
    /// e.g. `urn:ietf:params:acme:error:unauthorized`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<AcmeSubproblem>,
}

/// A problem about one identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmeSubproblem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderInfo {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub domains: Vec<String>,
    pub key_type: KeyType,
    pub account_id: Uuid,
    pub challenge: ChallengeType,
    pub dns_provider_id: Option<Uuid>,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub auto_renew: bool,
    /// The inventory entry this order renews (a new version of it), for renewals.
    pub renews_certificate_id: Option<Uuid>,
    /// Whether a renewal makes a new key (first orders always do).
    pub rekey: bool,
    pub status: OrderStatus,
    /// Why it failed, in words.
    pub error: Option<String>,
    /// The CA's problem document, when the CA refused something.
    pub problem: Option<AcmeProblem>,
    /// The domain whose validation failed.
    pub failed_domain: Option<String>,
    /// The inventory entry, once issued.
    pub certificate_id: Option<Uuid>,
    /// Manual DNS-01: the TXT records to create before calling `validate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<DnsRecordInfo>,
    /// How many times a worker has run the order.
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub finished_at: Option<OffsetDateTime>,
}

/// A DNS-01 TXT record to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsRecordInfo {
    /// The name validated, as ordered (`*.example.com` for a wildcard).
    pub domain: String,
    /// Fully qualified, after any CNAME at `_acme-challenge.<domain>`. A wildcard and its base
    /// name share one name with two values.
    pub record_name: String,
    pub record_type: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderList {
    /// Newest first.
    pub items: Vec<OrderInfo>,
}

/// Why a certificate is revoked (RFC 5280 reason codes a subscriber may give).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    #[default]
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key_compromise",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation_of_operation",
        }
    }
}

/// Revoke the current version of an ordered certificate at its CA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RevokeCertificateRequest {
    /// `unspecified` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RevocationReason>,
}

/// What the CA revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevocationInfo {
    pub certificate_id: Uuid,
    pub version: u32,
    pub serial: String,
    pub reason: RevocationReason,
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}
